-- name: apply_receipt
-- Moves the attempt forward, then its message, in one statement; a receipt that would move
-- either backwards matches no row and changes nothing (repeats and reordering are harmless).
-- The attempt is found by our id (carried in the StatusCallback URL) or by the provider sid.
-- Only the attempt on the message's current route moves the message. When that attempt ends
-- UNDELIVERED or FAILED and the message has another route, the message falls back instead:
-- it is QUEUED again on the next route, due now, and only the attempt keeps the failure.
WITH attempt AS (
    UPDATE attempts
    SET status = $3,
        provider_sid = coalesce(provider_sid, $2),
        error_code = coalesce($4, error_code),
        error_message = coalesce($5, error_message),
        updated_at = $6
    WHERE (id = $1 OR ($1::uuid IS NULL AND provider_sid = $2))
      AND status = ANY($7::text[])
    RETURNING message_id, route_index
), target AS (
    SELECT m.id,
           $3 IN ('UNDELIVERED', 'FAILED')
           AND m.status IN ('QUEUED', 'SENT')
           AND m.route_index + 1 < coalesce(jsonb_array_length(m.routes), 0) AS fallback
    FROM attempt a JOIN messages m ON m.id = a.message_id AND m.route_index = a.route_index
)
UPDATE messages m
SET status = CASE WHEN t.fallback THEN 'QUEUED' ELSE $8 END,
    error_code = CASE WHEN t.fallback THEN m.error_code ELSE coalesce($4, m.error_code) END,
    error_message = CASE WHEN t.fallback THEN m.error_message
                         ELSE coalesce($5, m.error_message) END,
    route_index = m.route_index + t.fallback::int,
    channel = CASE WHEN t.fallback
                   THEN m.routes -> (m.route_index + 1) ->> 'recipientChannel'
                   ELSE m.channel END,
    address = CASE WHEN t.fallback THEN m.routes -> (m.route_index + 1) ->> 'to'
                   ELSE m.address END,
    sender_key = CASE WHEN t.fallback THEN route_sender_key(m.routes, m.route_index + 1)
                      ELSE m.sender_key END,
    due_at = CASE WHEN t.fallback THEN $6 ELSE m.due_at END,
    sending = CASE WHEN t.fallback THEN false ELSE m.sending END,
    updated_at = $6
FROM target t
WHERE m.id = t.id AND (t.fallback OR m.status = ANY($9::text[]))
RETURNING m.operation_id, t.fallback;

-- name: keep_early_receipt
-- Only while no attempt has the sid: once one has, the receipt is applied instead.
INSERT INTO early_receipts (provider_sid, status, error_code, error_message, received_at)
SELECT $1, $2, $3, $4, $5
WHERE NOT EXISTS (SELECT 1 FROM attempts WHERE provider_sid = $1)
RETURNING provider_sid;

-- name: take_early_receipts
DELETE FROM early_receipts WHERE provider_sid = ANY($1::text[])
RETURNING provider_sid, status, error_code, error_message, received_at;
