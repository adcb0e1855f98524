-- name: apply_receipt
-- Moves the attempt forward, then its message, in one statement; a receipt that would move
-- either backwards matches no row and changes nothing (repeats and reordering are harmless).
-- The attempt is found by our id (carried in the StatusCallback URL) or by the provider sid.
WITH attempt AS (
    UPDATE attempts
    SET status = $3,
        provider_sid = coalesce(provider_sid, $2),
        error_code = coalesce($4, error_code),
        error_message = coalesce($5, error_message),
        updated_at = $6
    WHERE (id = $1 OR ($1::uuid IS NULL AND provider_sid = $2))
      AND status = ANY($7::text[])
    RETURNING message_id
)
UPDATE messages m
SET status = $8,
    error_code = coalesce($4, m.error_code),
    error_message = coalesce($5, m.error_message),
    updated_at = $6
FROM attempt
WHERE m.id = attempt.message_id AND m.status = ANY($9::text[])
RETURNING m.id;
