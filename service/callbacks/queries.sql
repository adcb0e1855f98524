-- name: trace_of_provider_sid
-- The W3C traceparent of the request that made the send a provider sid belongs to (a
-- Conversations webhook carries no trace context of its own); attempts_provider_sid_key.
SELECT o.traceparent
FROM attempts a JOIN operations o ON o.id = a.operation_id
WHERE a.provider_sid = $1;

-- name: keep_early_receipt
-- Only while no attempt has the sid: once one has, the receipt is applied instead.
INSERT INTO early_receipts (provider_sid, status, error_code, error_message, received_at)
SELECT $1, $2, $3, $4, $5
WHERE NOT EXISTS (SELECT 1 FROM attempts WHERE provider_sid = $1)
RETURNING provider_sid;

-- name: take_early_receipts
DELETE FROM early_receipts WHERE provider_sid = ANY($1::text[])
RETURNING provider_sid, status, error_code, error_message, received_at;

-- name: resolve_attempts
-- The attempt (and its message) each receipt is for: by our attempt id, or the provider sid.
-- A message never changes attempts' message_id, so what this finds stays true.
SELECT r.ordinal, a.id AS attempt_id, a.message_id, a.attempted_at
FROM unnest($1::int[], $2::uuid[], $3::text[]) AS r(ordinal, attempt_id, provider_sid)
JOIN attempts a ON a.id = r.attempt_id OR (r.attempt_id IS NULL AND a.provider_sid = r.provider_sid);

-- name: apply_receipts
-- Moves each receipt's attempt forward, then its message, in one statement for many receipts;
-- a receipt that would move either backwards matches no row and changes nothing (repeats and
-- reordering are harmless). Only the attempt on the message's current route moves the
-- message. When that attempt ends UNDELIVERED or FAILED and the message has another route
-- (has_next_route, migrations/0012), the message is left for fall_back (service/sending),
-- which the caller runs next in the same transaction: it comes back with its route, and only
-- the attempt keeps the failure. Its row stays locked (FOR UPDATE) until then.
-- The caller passes at most one receipt per message: UPDATE ... FROM applies only one of two
-- source rows that join the same target row. $7 and $8 hold, per receipt, the statuses its
-- attempt and its message may move from, as comma-separated lists.
WITH receipt AS (
    SELECT *
    FROM unnest($1::int[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[],
                $7::text[], $8::text[], $9::timestamptz[])
        AS r(ordinal, attempt_id, provider_sid, status, error_code, error_message,
             attempt_from, message_from, received_at)
), attempt AS (
    UPDATE attempts a
    SET status = r.status,
        provider_sid = coalesce(a.provider_sid, r.provider_sid),
        error_code = coalesce(r.error_code, a.error_code),
        error_message = coalesce(r.error_message, a.error_message),
        updated_at = r.received_at
    FROM receipt r
    WHERE a.id = r.attempt_id AND a.status = ANY(string_to_array(r.attempt_from, ','))
      -- Prunes to the day partitions of these ids (migrations/0019).
      AND a.id = ANY($2::uuid[])
    RETURNING a.message_id, a.route_index, r.ordinal, r.status, r.error_code, r.error_message,
              r.message_from, r.received_at
), target AS (
    SELECT m.id, m.operation_id, a.ordinal, a.route_index, a.status, a.error_code,
           a.error_message, a.message_from, a.received_at,
           a.status IN ('UNDELIVERED', 'FAILED')
           AND m.status IN ('QUEUED', 'SENT')
           AND has_next_route(m.routes, m.route_index) AS fallback
    FROM attempt a JOIN messages m ON m.id = a.message_id AND m.route_index = a.route_index
    FOR UPDATE OF m
), moved AS (
    UPDATE messages m
    SET status = t.status,
        error_code = coalesce(t.error_code, m.error_code),
        error_message = coalesce(t.error_message, m.error_message),
        updated_at = t.received_at
    FROM target t
    WHERE m.id = t.id AND NOT t.fallback AND m.status = ANY(string_to_array(t.message_from, ','))
    RETURNING t.ordinal, m.operation_id
)
SELECT ordinal, operation_id, NULL::uuid AS message_id, NULL::int AS route_index,
       NULL::timestamptz AS received_at
FROM moved
UNION ALL
SELECT ordinal, operation_id, id, route_index, received_at FROM target WHERE fallback;
