-- name: due_senders
-- The senders that have due messages, found by skipping through messages_sender_due_idx one
-- sender at a time (a loose index scan): cost grows with the number of senders, not with the
-- number of waiting messages.
WITH RECURSIVE waiting AS (
    (SELECT sender_key FROM messages WHERE due_at IS NOT NULL ORDER BY sender_key LIMIT 1)
    UNION ALL
    SELECT (SELECT m.sender_key FROM messages m
            WHERE m.due_at IS NOT NULL AND m.sender_key > waiting.sender_key
            ORDER BY m.sender_key LIMIT 1)
    FROM waiting WHERE waiting.sender_key IS NOT NULL
)
SELECT sender_key FROM waiting
WHERE sender_key IS NOT NULL
  AND EXISTS (SELECT 1 FROM messages m
              WHERE m.sender_key = waiting.sender_key AND m.due_at <= $1);

-- name: due_senders_of_operation
SELECT DISTINCT sender_key FROM messages WHERE operation_id = $2 AND due_at <= $1;

-- name: claim_due
-- Claims up to $2 due messages of one sender by pushing their due time forward by a lease: a
-- worker that dies mid-batch leaves them due again when the lease ends. SKIP LOCKED lets many
-- workers claim side by side without waiting on each other; messages_sender_due_idx serves
-- the scan in due order. $5 is the claim's token: what the claimer writes later applies only
-- while the message still carries it (migrations/0011).
WITH due AS (
    SELECT id FROM messages
    WHERE sender_key = $4 AND due_at <= $1
    ORDER BY due_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE messages m
SET due_at = $3,
    claim = $5,
    status = CASE WHEN m.status = 'SCHEDULED' THEN 'QUEUED' ELSE m.status END,
    updated_at = $1
-- ANY(ARRAY(…)) rather than a join: a lookup by primary key in each day partition (messages
-- are partitioned by id, migrations/0019), where a join is costed as if every partition were
-- read per row and planned as a hash join over all of them.
WHERE m.id = ANY(ARRAY(SELECT id FROM due))
RETURNING m.id, m.operation_id, m.account_sid, m.channel, m.address, m.variables,
          m.scheduled_for, m.created_at, m.routes, m.route_index;

-- name: load_operations
-- With whether the operation's account is disabled now (comms accounts disable): its waiting
-- messages fail with 30002 when they come due instead of being sent.
SELECT o.id, o.content, o.sender, o.tags, o.validity_period, o.request_id, o.traceparent,
       a.disabled_at IS NOT NULL AS account_disabled
FROM operations o JOIN accounts a ON a.sid = o.account_sid
WHERE o.id = ANY($1::uuid[]);

-- name: start_operations
UPDATE operations SET status = 'PROCESSING', updated_at = $2
WHERE id = ANY($1::uuid[]) AND status = 'SCHEDULED';

-- name: earlier_attempts
-- Every earlier attempt of the claimed messages (usually none): those with a provider sid
-- reached the provider, SUBMITTING ones may have (the worker stopped mid-call), the others
-- count the transient failures so far.
SELECT id, message_id, channel, status, provider_sid, from_address, to_address, attempted_at,
       route_index
FROM attempts
WHERE message_id = ANY($1::uuid[]);

-- name: mark_sending
-- Takes the row lock of each message about to be sent and skips any canceled meanwhile, or
-- claimed by another worker since (this claim's lease ran out); the caller inserts attempts
-- only for the ids returned, in the same transaction.
UPDATE messages SET sending = true
WHERE id = ANY($1::uuid[]) AND status IN ('SCHEDULED', 'QUEUED') AND claim = $2
RETURNING id;

-- name: record_submitting
-- Written before any provider call, in one statement for the whole batch.
INSERT INTO attempts (id, message_id, operation_id, account_sid, channel, from_address,
                      to_address, status, segments, encoding, route_index, attempted_at,
                      updated_at)
SELECT a.id, a.message_id, a.operation_id, a.account_sid, a.channel, a.from_address,
       a.to_address, 'SUBMITTING', a.segments, a.encoding, a.route_index, $11, $11
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::int[], $9::text[], $10::int[])
     AS a(id, message_id, operation_id, account_sid, channel, from_address, to_address,
          segments, encoding, route_index);

-- name: store_rendered
UPDATE messages m SET content = r.content, tags = r.tags
FROM unnest($1::uuid[], $2::jsonb[], $3::jsonb[]) AS r(id, content, tags)
WHERE m.id = r.id
  -- Prunes to the day partitions of these ids (migrations/0019).
  AND m.id = ANY($1::uuid[]);

-- name: record_attempt_outcomes
-- Attempts leave SUBMITTING only (a receipt may already have moved them further), and take
-- the moment their request went to the provider ($6; attempted_at was when the batch was
-- prepared). Run before record_message_outcomes, in one transaction: receipts lock an
-- attempt, then its message, so taking the locks in the same order here rules out deadlocks
-- with them. Ids come sorted.
UPDATE attempts t
SET provider_sid = coalesce(t.provider_sid, o.provider_sid),
    status = CASE WHEN t.status = 'SUBMITTING' THEN o.status ELSE t.status END,
    error_code = coalesce(t.error_code, o.error_code),
    error_message = coalesce(t.error_message, o.error_message),
    attempted_at = coalesce(o.sent_at, t.attempted_at),
    updated_at = $7
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::timestamptz[])
    AS o(attempt_id, provider_sid, status, error_code, error_message, sent_at)
WHERE t.id = o.attempt_id
  -- Prunes to the day partitions of these ids (migrations/0019).
  AND t.id = ANY($1::uuid[]);

-- name: owned_sids
SELECT provider_sid FROM attempts WHERE provider_sid = ANY($1::text[]);

-- name: release_unsent
-- Messages a worker claimed and prepared but never sent (it is stopping, or their claim's
-- lease is too near its end to start a call): their attempts never started, so they are
-- dropped (nothing to look up at the provider) and the messages are due again now, for any
-- worker. Only while the message still carries this claim ($3): one taken over by another
-- worker is that worker's, and it looks the attempt up before sending (finding nothing).
-- Attempts first, then messages: the order receipts lock in.
WITH unsent AS (
    DELETE FROM attempts a
    USING messages m
    WHERE a.id = ANY($1::uuid[]) AND a.status = 'SUBMITTING'
      AND m.id = a.message_id AND m.claim = $3
    RETURNING a.message_id
)
UPDATE messages m SET due_at = $2, sending = false, claim = NULL
FROM unsent
WHERE m.id = unsent.message_id AND m.due_at IS NOT NULL AND m.claim = $3;

-- name: close_lost_attempt
-- A SUBMITTING attempt the provider turns out never to have received: closed as failed. Only
-- the attempt: its message is claimed by the caller, which sends it again now.
UPDATE attempts SET status = 'FAILED', error_code = $2, error_message = $3, updated_at = $4
WHERE id = $1 AND status = 'SUBMITTING';

-- name: record_message_outcomes
-- Messages end FAILED on a permanent failure, are due again at next_due after a transient one
-- (or a fallback, which fall_back then moves to its next route), and are simply no longer
-- due once handed over. An outcome is for the route its attempt went out on: when a receipt
-- has already moved the message on to its next route (a failure reported before the create's
-- answer was recorded), the outcome changes nothing and the message stays due there. Only a
-- message still under this batch's claim ($9) changes: one another worker took over (this
-- claim's lease ran out) is that worker's to settle, from the attempt rows and the provider.
UPDATE messages m
SET due_at = CASE WHEN m.status = 'CANCELED' THEN NULL ELSE o.next_due END,
    sending = m.sending AND (o.next_due IS NULL OR o.status = 'SUBMITTING'),
    status = CASE WHEN o.ends_message AND m.status IN ('SCHEDULED', 'QUEUED')
                  THEN 'FAILED' ELSE m.status END,
    error_code = CASE WHEN o.ends_message THEN o.error_code ELSE m.error_code END,
    error_message = CASE WHEN o.ends_message THEN o.error_message ELSE m.error_message END,
    updated_at = $8
FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::bool[],
            $7::uuid[])
    AS o(message_id, status, error_code, error_message, next_due, ends_message, attempt_id)
WHERE m.id = o.message_id
  -- Prunes to the day partitions of these ids (migrations/0019).
  AND m.id = ANY($1::uuid[])
  AND m.claim = $9
  AND (o.attempt_id IS NULL
       OR m.route_index = (SELECT a.route_index FROM attempts a WHERE a.id = o.attempt_id));

-- name: fall_back
-- Channel fallback, the one statement that applies it: each message that failed for good on
-- route $2 moves on to its next route, QUEUED and due at $3. Used by the worker (a route
-- refused by the provider, or opted out; under the batch's claim $4) and by receipts (a
-- route that ended UNDELIVERED or FAILED; $4 NULL). A message no longer on that route (a
-- receipt or a worker moved it first), canceled, or ended, or with no next route
-- (has_next_route, migrations/0012, the SQL twin of service/sending/rules.has_next_route)
-- stays as it is.
UPDATE messages m
SET route_index = m.route_index + 1,
    channel = m.routes -> (m.route_index + 1) ->> 'recipientChannel',
    address = m.routes -> (m.route_index + 1) ->> 'to',
    sender_key = route_sender_key(m.routes, m.route_index + 1),
    status = 'QUEUED',
    due_at = f.due_at,
    sending = false,
    updated_at = f.due_at
FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS f(message_id, route_index, due_at)
WHERE m.id = f.message_id
  AND m.route_index = f.route_index
  AND m.status IN ('QUEUED', 'SENT')
  AND has_next_route(m.routes, m.route_index)
  AND ($4::uuid IS NULL OR m.claim = $4)
RETURNING m.id;

-- name: complete_operations
-- Run after the batch's outcomes are committed: the last worker to finish an operation's
-- messages sees every other worker's committed work and completes it. An opt-out that
-- cancels the last waiting messages of an operation still SCHEDULED completes it the same
-- way (service/suppressions); a CANCELED operation stays CANCELED. One whose profiles and
-- audiences are still being expanded is not complete however few of its messages wait: the
-- expansion completes it once its last page is in (service/audiences/expansion.py).
UPDATE operations o SET status = 'COMPLETED', updated_at = $2
WHERE o.id = ANY($1::uuid[]) AND o.status IN ('SCHEDULED', 'PROCESSING')
  AND NOT o.expanding
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.operation_id = o.id AND m.due_at IS NOT NULL);

-- name: find_conversation
SELECT conversation_sid FROM conversations
WHERE proxy_address = $1 AND recipient_address = $2;

-- name: remember_conversation
-- Two workers may open one for the same pair at once: the first stored wins, and both use it.
WITH stored AS (
    INSERT INTO conversations (proxy_address, recipient_address, conversation_sid, created_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT ON CONSTRAINT conversations_pkey DO NOTHING
    RETURNING conversation_sid
)
SELECT conversation_sid FROM stored
UNION ALL
SELECT conversation_sid FROM conversations
WHERE proxy_address = $1 AND recipient_address = $2
LIMIT 1;

-- name: replace_conversation
-- Swaps a conversation the provider no longer takes (gone or closed) for its replacement,
-- only while the row still names it: another worker may have replaced it first, and then that
-- replacement stands (no row comes back; the caller reads it). An update in place rather than
-- a delete and an insert: the row never goes missing, so a concurrent send finds a
-- conversation to try, and a lookup after a crash finds where the replacements begin.
UPDATE conversations SET conversation_sid = $4, created_at = $5
WHERE proxy_address = $1 AND recipient_address = $2 AND conversation_sid = $3
RETURNING conversation_sid;
