-- name: expired_operations
-- The oldest operations past retention, a bounded batch at a time (operations_created_idx).
-- One with a message still due (scheduled further ahead than retention, or still being sent)
-- stays until nothing of it is left to send: retention never drops a message before it went.
SELECT o.id FROM operations o
WHERE o.created_at < $1
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.operation_id = o.id AND m.due_at IS NOT NULL)
ORDER BY o.created_at
LIMIT $2;

-- name: delete_attempts
DELETE FROM attempts WHERE operation_id = ANY($1::uuid[]);

-- name: delete_messages
DELETE FROM messages WHERE operation_id = ANY($1::uuid[]);

-- name: delete_operations
DELETE FROM operations WHERE id = ANY($1::uuid[]);

-- name: purge_early_receipts
-- Receipts whose sid no attempt ever took (a provider's own sends, or sids of purged rows).
DELETE FROM early_receipts WHERE received_at < $1;
