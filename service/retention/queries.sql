-- name: expired_operations
-- The oldest operations past retention, a bounded batch at a time (operations_created_idx).
SELECT id FROM operations WHERE created_at < $1 ORDER BY created_at LIMIT $2;

-- name: delete_attempts
DELETE FROM attempts WHERE operation_id = ANY($1::uuid[]);

-- name: delete_messages
DELETE FROM messages WHERE operation_id = ANY($1::uuid[]);

-- name: delete_operations
DELETE FROM operations WHERE id = ANY($1::uuid[]);

-- name: purge_early_receipts
-- Receipts whose sid no attempt ever took (a provider's own sends, or sids of purged rows).
DELETE FROM early_receipts WHERE received_at < $1;
