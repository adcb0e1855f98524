-- name: get_operation
SELECT id, status, tags, total, created_at, updated_at
FROM operations WHERE id = $1 AND account_sid = $2;

-- name: status_counts
-- Stats are derived, not kept as counters: one consistent snapshot (index-only on
-- messages_operation_idx) always sums to the total, and receipts never contend on a shared row.
SELECT status, count(*)::int AS n FROM messages WHERE operation_id = $1 GROUP BY status;

-- name: attempt_count
SELECT count(*)::int FROM attempts WHERE operation_id = $1;
