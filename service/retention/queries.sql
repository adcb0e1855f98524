-- name: create_day_partitions
-- Maintenance: the day partitions from $1 for $2 days (migration 0019); returns those made.
SELECT create_day_partitions($1::date, $2::integer);

-- name: expired_partitions
-- Partitions of the day-partitioned tables whose whole range ends at or before $1 (the first
-- key of the retention cutoff's millisecond), oldest first. The default partition has no upper
-- bound and is never among them (its old rows go row by row, with their operations).
-- `lower` is NULL for the legacy partition (FROM MINVALUE).
SELECT c.relname AS name, p.relname AS table_name, b.lower, b.upper
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
JOIN day_partitioned d ON d.table_name = p.relname
CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) e
CROSS JOIN LATERAL (
    SELECT substring(e.bound FROM 'FROM \(''([0-9a-f-]+)''\)')::uuid AS lower,
           substring(e.bound FROM 'TO \(''([0-9a-f-]+)''\)')::uuid AS upper
) b
WHERE p.relnamespace = 'public'::regnamespace
  AND b.upper <= $1
ORDER BY b.upper, p.relname;

-- name: cutoff_key
SELECT uuid7_floor($1);

-- name: kept_operations
-- Operations of a day and before it (operation ids are UUIDv7) with a message still due:
-- scheduled further ahead than retention, or still being sent. Their rows stay when the day's
-- partitions go (messages_pending_idx, one short range per partition).
-- Only operations still there: one deleted by an earlier batch is not brought back.
SELECT DISTINCT m.operation_id FROM messages m
WHERE m.due_at IS NOT NULL AND m.operation_id < $1
  AND EXISTS (SELECT 1 FROM operations o WHERE o.id = m.operation_id);

-- name: day_operations
-- The operations of a day ($1 <= id < $2; from the first for the legacy partition) that go
-- with it, a batch at a time after $3 (operations_pkey).
SELECT id FROM operations
WHERE id >= $1 AND id < $2 AND id > $3 AND id <> ALL($4::uuid[])
ORDER BY id
LIMIT $5;

-- name: count_day_messages
-- The messages of these operations in the day's partition ($1 <= id < $2).
SELECT count(*) FROM messages WHERE id >= $1 AND id < $2 AND operation_id = ANY($3::uuid[]);

-- name: release_provider_sids
-- The provider sids of these operations' attempts: dropped partitions fire no trigger.
DELETE FROM attempt_provider_sids
WHERE provider_sid IN (SELECT provider_sid FROM attempts
                       WHERE operation_id = ANY($1::uuid[]) AND provider_sid IS NOT NULL);

-- name: delete_later_attempts
-- Attempts of a day's operations made on a later day (a send scheduled ahead, a fallback): in
-- partitions that stay, so deleted as rows.
DELETE FROM attempts WHERE id >= $1 AND operation_id = ANY($2::uuid[]);

-- name: lock_partitioned
-- Taken first, in the order receipts and the send path take them (attempts, then messages,
-- then the events their triggers write), so dropping a partition never deadlocks with them.
LOCK TABLE attempts, messages, events IN ACCESS EXCLUSIVE MODE;

-- name: drop_day_partition
SELECT drop_day_partition($1::regclass, $2::uuid[]);

-- name: delete_straddling_messages
-- Messages of a day's operations whose ids fell just past midnight (ids are made one by one
-- after the operation's): in the next day's partition, deleted as rows.
DELETE FROM messages
WHERE id >= $2 AND id < $3 AND operation_id >= $1 AND operation_id < $2
  AND operation_id <> ALL($4::uuid[]);

-- name: delete_straddling_messages_of
-- The same, for these operations.
DELETE FROM messages WHERE id >= $1 AND id < $2 AND operation_id = ANY($3::uuid[]);

-- name: delete_day_operations
DELETE FROM operations WHERE id >= $1 AND id < $2 AND id <> ALL($3::uuid[]);

-- name: expired_operations
-- The oldest operations past retention, a bounded batch at a time (operations_created_idx).
-- One with a message still due (scheduled further ahead than retention, or still being sent)
-- stays until nothing of it is left to send: retention never drops a message before it went.
-- After the day partitions went, what is left here is in the legacy or default partitions, or
-- an operation kept earlier whose messages have gone out since.
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
