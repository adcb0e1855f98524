-- name: get_operation
-- The operation and its stats in one read: its row by primary key, and the sums of its counter
-- rows (at most 32, by operation_counters_pkey; migrations/0016 keeps them in the statements
-- that change messages and attempts). One statement, one snapshot: the sums are exact and the
-- status counts sum to the messages there are. The cost does not grow with the operation.
SELECT o.id, o.status, o.tags, o.total, o.created_at, o.updated_at, o.status_callback, c.*
FROM operations o
CROSS JOIN LATERAL (
    SELECT coalesce(sum(k.scheduled), 0)::int AS scheduled,
           coalesce(sum(k.queued), 0)::int AS queued,
           coalesce(sum(k.sent), 0)::int AS sent,
           coalesce(sum(k.delivered), 0)::int AS delivered,
           coalesce(sum(k.read), 0)::int AS read,
           coalesce(sum(k.undelivered), 0)::int AS undelivered,
           coalesce(sum(k.failed), 0)::int AS failed,
           coalesce(sum(k.canceled), 0)::int AS canceled,
           coalesce(sum(k.unaddressable), 0)::int AS unaddressable,
           coalesce(sum(k.attempts), 0)::int AS attempts
    FROM operation_counters k WHERE k.operation_id = o.id
) c
WHERE o.id = $1 AND o.account_sid = $2;

-- name: list_operations
-- Every combination of the filters in one query, each an optional parameter; the caller plans
-- it with the values (plan_cache_mode = force_custom_plan) so unused filters fold away:
--   $2 status → operations_status_created_idx     $3 tags → operations_tags_idx (bitmap + sort)
--   none, or only dates → operations_account_created_idx
-- The btree indexes end in (created_at DESC, id DESC), the list order: the date range ($4, $5)
-- and the page position ($6, $7) bound one range read that stops after $8 rows. Each listed
-- operation's stats are the sums of its counter rows (as get_operation), read for the page's
-- rows only, in the same statement.
SELECT o.id, o.status, o.tags, o.total, o.created_at, o.updated_at, o.status_callback, c.*
FROM (
    SELECT id, status, tags, total, created_at, updated_at, status_callback
    FROM operations
    WHERE account_sid = $1
      AND ($2::text IS NULL OR status = $2)
      AND ($3::jsonb IS NULL OR tags @> $3)
      AND ($4::timestamptz IS NULL OR created_at >= $4)
      AND ($5::timestamptz IS NULL OR created_at < $5)
      AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7::uuid))
    ORDER BY created_at DESC, id DESC
    LIMIT $8
) o
CROSS JOIN LATERAL (
    SELECT coalesce(sum(k.scheduled), 0)::int AS scheduled,
           coalesce(sum(k.queued), 0)::int AS queued,
           coalesce(sum(k.sent), 0)::int AS sent,
           coalesce(sum(k.delivered), 0)::int AS delivered,
           coalesce(sum(k.read), 0)::int AS read,
           coalesce(sum(k.undelivered), 0)::int AS undelivered,
           coalesce(sum(k.failed), 0)::int AS failed,
           coalesce(sum(k.canceled), 0)::int AS canceled,
           coalesce(sum(k.unaddressable), 0)::int AS unaddressable,
           coalesce(sum(k.attempts), 0)::int AS attempts
    FROM operation_counters k WHERE k.operation_id = o.id
) c
ORDER BY o.created_at DESC, o.id DESC;

-- name: operation_exists
SELECT true FROM operations WHERE id = $1 AND account_sid = $2;

-- name: lock_operation
-- Cancels of one operation serialise on its row. Lock order is operation, then messages; no
-- worker transaction holds a message lock while waiting for an operation row, so this cannot
-- deadlock with the dispatcher.
-- An expansion (service/audiences/expansion.py) locks the row the same way for each page, so a
-- cancel falls between two pages: the next page sees CANCELED and ends the expansion.
SELECT status, expanding FROM operations WHERE id = $1 AND account_sid = $2 FOR NO KEY UPDATE;

-- name: cancel_waiting_messages
-- Exactly the messages not yet handed to a provider: still due (messages_pending_idx holds only
-- those) and not `sending`. A message a worker is claiming or marking `sending` right now is
-- row-locked: the FOR UPDATE waits for that transaction, then re-checks the WHERE on the row's
-- new version, so a message marked `sending` meanwhile is never canceled; mark_sending, which
-- re-checks the status under the same lock, skips one canceled first. No message is both
-- canceled and sent. Rows are locked in id order, the order mark_sending's `id = ANY(…)` reads
-- them in through the primary key, which keeps the two from deadlocking; a worker's batch
-- update that locks in another order can still deadlock with this, and the caller retries.
WITH waiting AS (
    SELECT id FROM messages
    WHERE operation_id = $1 AND due_at IS NOT NULL AND NOT sending
      AND status IN ('SCHEDULED', 'QUEUED')
    ORDER BY id
    FOR UPDATE
), canceled AS (
    UPDATE messages m
    SET status = 'CANCELED', due_at = NULL, updated_at = $2
    FROM waiting
    WHERE m.id = waiting.id
    RETURNING 1
)
SELECT count(*)::int FROM canceled;

-- name: mark_canceled
-- complete_operations (workers, opt-outs) moves only SCHEDULED or PROCESSING to COMPLETED and
-- start_operations only SCHEDULED to PROCESSING, so neither overwrites CANCELED.
-- A cancel also ends the expansion of its profiles and audiences: no more messages are made
-- for them. A large send's staged recipients (migrations/0023) are still made into messages,
-- CANCELED ones (service/audiences/expansion.py): every recipient it accepted is counted.
UPDATE operations
SET status = 'CANCELED',
    expanding = expanding
                AND EXISTS (SELECT FROM operation_recipients r WHERE r.operation_id = $1),
    updated_at = $2
WHERE id = $1;

-- name: list_errors
-- An operation's FAILED and UNDELIVERED messages newest first: messages_operation_errors_idx
-- (partial on those statuses) read in list order from the page position ($2, $3).
SELECT id, channel, address, status, error_code, error_message, created_at, updated_at
FROM messages
WHERE operation_id = $1 AND status IN ('FAILED', 'UNDELIVERED')
  AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $4;

-- name: error_counts
-- All of the operation's errors by code, from messages_operation_errors_idx (it includes
-- error_code, so the visibility map permitting, without touching the table).
SELECT error_code AS code, count(*)::int AS count
FROM messages
WHERE operation_id = $1 AND status IN ('FAILED', 'UNDELIVERED')
GROUP BY error_code
ORDER BY count(*) DESC, error_code NULLS LAST;
