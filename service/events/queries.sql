-- name: last_event_id
-- The sequence's last value, read outside any snapshot (sequences are not transactional): every
-- event row with an id up to it has been inserted or is being inserted by a transaction that
-- already has its xid (the triggers insert events after the row they describe).
SELECT coalesce(pg_sequence_last_value('events_id_seq'), 0);

-- name: take_mark
-- A mark (service/events/logic.py): last_event_id, then an xid of the reader's own, assigned
-- after that read (the MATERIALIZED CTE is scanned before the outer SELECT computes its
-- columns), so above the xid of every transaction that took an id up to last_id. Not the
-- snapshot's xmax: that is one past the latest *completed* xid, and a transaction that took
-- ids and is still running with a newer xid is neither below it nor listed in the snapshot (a
-- mark bounded by it settled at once and its readers skipped the rows that transaction then
-- committed). Run outside any transaction: the xid is this statement's, ended with it. It
-- orders nothing durable, so its commit does not wait for the WAL flush.
WITH events_sequence AS MATERIALIZED (
    SELECT coalesce(pg_sequence_last_value('events_id_seq'), 0) AS last_id
)
SELECT last_id, pg_current_xact_id()::text::bigint AS xmax,
       set_config('synchronous_commit', 'off', true) AS synchronous_commit
FROM events_sequence;

-- name: settled
-- Whether every transaction with an xid below $1 has ended (committed or rolled back).
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint >= $1;

-- name: operation_events
-- One operation's events after $2 up to $3, in order (events_operation_idx), with what their
-- CloudEvents say (the event_details view).
SELECT id, operation_id, message_id, type, error_code, occurred_at, from_address, from_channel,
       to_address, to_channel, tags, tries, downstream_id, request_id, traceparent
FROM event_details
WHERE operation_id = $1 AND id > $2 AND id <= $3
ORDER BY id
LIMIT $4;

-- name: message_events
-- One message's status changes, in order. There is no index on message_id (every status change
-- would pay for one): events_operation_idx narrows the read to the message's operation (at most
-- a few events per message of it), and the message is picked from those.
SELECT type, error_code, route_index, occurred_at
FROM events
WHERE operation_id = $1 AND message_id = $2 AND account_sid = $3
ORDER BY id;

-- name: events_by_id
SELECT id, operation_id, message_id, type, error_code, occurred_at, from_address, from_channel,
       to_address, to_channel, tags, tries, downstream_id, request_id, traceparent
FROM event_details
WHERE id = ANY($1::bigint[])
ORDER BY id;

-- name: operation_state
-- Whether the operation has ended (COMPLETED or CANCELED) and every message is terminal (a SENT
-- message still waits for its receipt). messages_operation_idx answers the EXISTS.
SELECT o.status IN ('COMPLETED', 'CANCELED')
       AND NOT EXISTS (SELECT 1 FROM messages m
                       WHERE m.operation_id = o.id
                         AND m.status IN ('SCHEDULED', 'QUEUED', 'SENT')) AS finished
FROM operations o WHERE o.id = $1 AND o.account_sid = $2;

-- name: delete_operations_events
-- Retention: the events of operations being deleted (events_operation_idx).
DELETE FROM events WHERE operation_id = ANY($1::uuid[]);

-- name: feed_events
-- The feed's read: the events after $2 up to $3 of every operation followed in this process,
-- in order. Each id range is what settled since the feed's last read (a small range of the
-- primary key), or up to a round of the operations' own events (events_operation_idx).
SELECT id, operation_id, message_id, type, error_code, occurred_at, from_address, from_channel,
       to_address, to_channel, tags, tries, downstream_id, request_id, traceparent
FROM event_details
WHERE operation_id = ANY($1::uuid[]) AND id > $2 AND id <= $3
ORDER BY id
LIMIT $4;

-- name: finished_operations
-- Which of the operations $1 are finished (operation_state's test), or gone (retention
-- deleted it: nothing more will come either), with the events' sequence as it stands after
-- that look, read in the same statement: every event of theirs written before it is at most
-- that id.
SELECT w.id, coalesce(pg_sequence_last_value('events_id_seq'), 0) AS last_event_id
FROM unnest($1::uuid[]) AS w (id)
WHERE NOT EXISTS (
    SELECT 1 FROM operations o
    WHERE o.id = w.id
      AND (o.status NOT IN ('COMPLETED', 'CANCELED')
           OR EXISTS (SELECT 1 FROM messages m
                      WHERE m.operation_id = o.id
                        AND m.status IN ('SCHEDULED', 'QUEUED', 'SENT'))));
