-- name: claim_key
-- Exactly one of several concurrent requests with the same key inserts the row; the others
-- get nothing back and read the row instead.
INSERT INTO idempotency_keys (account_sid, key, request_hash, state, created_at)
VALUES ($1, $2, $3, 'IN_FLIGHT', $4)
ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO NOTHING
RETURNING key;

-- name: get_key
SELECT request_hash, state, operation_id, created_at
FROM idempotency_keys WHERE account_sid = $1 AND key = $2;

-- name: drop_expired_key
-- An expired key may be reused: remove it so a fresh claim can win.
DELETE FROM idempotency_keys WHERE account_sid = $1 AND key = $2 AND created_at < $3;

-- name: release_key
-- The first request failed before storing anything: the key is free again.
DELETE FROM idempotency_keys WHERE account_sid = $1 AND key = $2 AND state = 'IN_FLIGHT';

-- name: complete_key
UPDATE idempotency_keys SET state = 'DONE', operation_id = $3
WHERE account_sid = $1 AND key = $2;

-- name: purge_expired
DELETE FROM idempotency_keys
WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2));
