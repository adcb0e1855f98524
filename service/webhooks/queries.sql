-- name: lock_account_endpoints
-- Serialises endpoint creation per account, so the per-account limit holds under concurrent
-- creates (an advisory lock: the accounts row, which foreign keys lock, is left alone).
SELECT pg_advisory_xact_lock(hashtext('webhook_endpoints:' || $1));

-- name: count_endpoints
SELECT count(*) FROM webhook_endpoints WHERE account_sid = $1;

-- name: insert_endpoint
INSERT INTO webhook_endpoints (id, account_sid, url, event_types, secret, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, url, event_types, secret, created_at;

-- name: list_endpoints
-- Keyset page, newest first (webhook_endpoints_account_idx).
SELECT id, url, event_types, secret, created_at FROM webhook_endpoints
WHERE account_sid = $1 AND ($2::uuid IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3;

-- name: get_endpoint
SELECT id, url, event_types, secret, created_at FROM webhook_endpoints
WHERE id = $1 AND account_sid = $2;

-- name: delete_endpoint
-- Its deliveries and their tries go with it (ON DELETE CASCADE).
DELETE FROM webhook_endpoints WHERE id = $1 AND account_sid = $2 RETURNING id;

-- name: list_deliveries
-- An endpoint's delivery log, newest first (webhook_deliveries_endpoint_idx); the caller has
-- checked that the endpoint is the account's.
SELECT id, operation_id, event_id, event_type, status, tries, next_try_at, retry_until,
       created_at, updated_at
FROM webhook_deliveries
WHERE endpoint_id = $1 AND ($2::uuid IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3;

-- name: list_callback_deliveries
-- An operation's statusCallback delivery log, newest first (webhook_deliveries_callback_idx);
-- the caller has checked that the operation is the account's.
SELECT id, operation_id, event_id, event_type, status, tries, next_try_at, retry_until,
       created_at, updated_at
FROM webhook_deliveries
WHERE operation_id = $1 AND endpoint_id IS NULL AND ($2::uuid IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3;

-- name: operation_owned
SELECT EXISTS (SELECT 1 FROM operations WHERE id = $1 AND account_sid = $2);

-- name: delivery_attempts
SELECT delivery_id, attempted_at, status_code, error, response_body, duration_ms
FROM webhook_attempts WHERE delivery_id = ANY($1::uuid[])
ORDER BY attempted_at, id;

-- name: redeliver
-- Due now, with a new retry window; a delivery that succeeded is sent once more.
UPDATE webhook_deliveries
SET status = 'PENDING', next_try_at = $3, retry_until = $4, updated_at = $3
WHERE id = $1 AND endpoint_id = $2
RETURNING id, operation_id, event_id, event_type, status, tries, next_try_at, retry_until,
          created_at, updated_at;

-- name: redeliver_callback
-- As redeliver, for one of an operation's statusCallback deliveries.
UPDATE webhook_deliveries
SET status = 'PENDING', next_try_at = $3, retry_until = $4, updated_at = $3
WHERE id = $1 AND operation_id = $2 AND endpoint_id IS NULL
RETURNING id, operation_id, event_id, event_type, status, tries, next_try_at, retry_until,
          created_at, updated_at;

-- name: try_fanout_lock
-- Session-level, so taking it assigns no xid (which would keep marks from settling).
SELECT pg_try_advisory_lock(hashtext('event_fanout'));

-- name: fanout_unlock
SELECT pg_advisory_unlock(hashtext('event_fanout'));

-- name: fanout_state
SELECT cursor, mark_id, mark_xmax FROM event_fanout;

-- name: save_fanout_mark
UPDATE event_fanout SET mark_id = $1, mark_xmax = $2;

-- name: advance_fanout
-- In the transaction that inserts the range's deliveries: a crash leaves both undone.
UPDATE event_fanout
SET cursor = $1,
    mark_id = CASE WHEN $1 >= mark_id THEN NULL ELSE mark_id END,
    mark_xmax = CASE WHEN $1 >= mark_id THEN NULL ELSE mark_xmax END;

-- name: event_targets
-- Who gets the events of an id range (by primary key): the account's endpoints subscribed to
-- the event's type, and the operation's statusCallback (operations_status_callback_idx).
-- Events nobody subscribed to cost one index probe each and produce nothing.
SELECT e.id AS event_id, e.account_sid, e.operation_id, e.type, w.id AS endpoint_id, w.url
FROM events e
JOIN webhook_endpoints w
  ON w.account_sid = e.account_sid AND 'com.twilio.comms-api.' || e.type = ANY(w.event_types)
WHERE e.id > $1 AND e.id <= $2
UNION ALL
SELECT e.id, e.account_sid, e.operation_id, e.type, NULL, o.status_callback
FROM events e
JOIN operations o ON o.id = e.operation_id AND o.status_callback IS NOT NULL
WHERE e.id > $1 AND e.id <= $2
ORDER BY event_id, endpoint_id NULLS FIRST;

-- name: insert_deliveries
-- A range fanned out again after a crash meets its earlier rows and adds nothing.
INSERT INTO webhook_deliveries (id, account_sid, endpoint_id, operation_id, event_id, event_type,
                                url, body, status, next_try_at, retry_until, created_at,
                                updated_at)
SELECT d.id, d.account_sid, d.endpoint_id, d.operation_id, d.event_id, d.event_type, d.url,
       d.body, 'PENDING', $9, $10, $9, $9
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::bigint[], $6::text[],
            $7::text[], $8::text[])
     AS d(id, account_sid, endpoint_id, operation_id, event_id, event_type, url, body)
ON CONFLICT ON CONSTRAINT webhook_deliveries_event_target_key DO NOTHING;

-- name: claim_due_deliveries
-- Pushes the due time forward by a lease (a worker that dies mid-call leaves the delivery due
-- again); SKIP LOCKED lets workers claim side by side; webhook_deliveries_due_idx serves the
-- scan. Deliveries come in event order within the batch, so one endpoint's events are sent
-- in order when they are due together. The secret is the endpoint's, or the operation's for a
-- statusCallback.
WITH due AS (
    SELECT id FROM webhook_deliveries
    WHERE next_try_at <= $1
    ORDER BY next_try_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET next_try_at = $3
FROM due
WHERE d.id = due.id
RETURNING d.id, d.event_id, d.event_type, d.url, d.body, d.tries, d.retry_until,
          CASE WHEN d.endpoint_id IS NULL
               THEN (SELECT o.status_callback_secret FROM operations o WHERE o.id = d.operation_id)
               ELSE (SELECT w.secret FROM webhook_endpoints w WHERE w.id = d.endpoint_id)
          END AS secret;

-- name: record_attempts
-- Only for deliveries still there: deleting an endpoint meanwhile deletes its deliveries, and
-- their tries are dropped rather than failing the batch. FOR KEY SHARE keeps a delete from
-- slipping in before the foreign key is checked (a row deleted first is skipped).
WITH live AS (
    SELECT id FROM webhook_deliveries WHERE id = ANY($2::uuid[]) FOR KEY SHARE
)
INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, error, response_body,
                              duration_ms)
SELECT a.id, a.delivery_id, $7, a.status_code, a.error, a.response_body, a.duration_ms
FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::int[])
     AS a(id, delivery_id, status_code, error, response_body, duration_ms)
JOIN live ON live.id = a.delivery_id;

-- name: record_delivery_outcomes
-- A delivery whose due time is no longer the lease this try set ($5) was redelivered while the
-- try was in flight: the try counts, and the redelivery's due time and status stand.
UPDATE webhook_deliveries d
SET status = CASE WHEN d.next_try_at = $5 THEN o.status ELSE d.status END,
    next_try_at = CASE WHEN d.next_try_at = $5 THEN o.next_try_at ELSE d.next_try_at END,
    tries = d.tries + 1,
    updated_at = $4
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS o(id, status, next_try_at)
WHERE d.id = o.id;

-- name: delete_operations_deliveries
-- Retention: deliveries of operations being deleted (their tries cascade).
DELETE FROM webhook_deliveries WHERE operation_id = ANY($1::uuid[]);
