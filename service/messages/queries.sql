-- name: insert_operation
INSERT INTO operations (id, account_sid, status, tags, content, sender, validity_period,
                        total, created_at, updated_at, status_callback, status_callback_secret,
                        request_id, traceparent)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13);

-- name: status_callback_secret
SELECT status_callback_secret FROM operations WHERE id = $1;

-- name: get_message
-- The operation is joined for the sender and the unrendered tags; the account check keeps
-- other tenants' messages invisible.
SELECT m.id, m.operation_id, m.channel, m.address, m.status, m.content, m.variables,
       coalesce(m.tags, o.tags) AS tags, o.content AS operation_content,
       CASE WHEN m.routes IS NULL THEN o.sender
            -- The sender of the route in use (fallback may have moved to another).
            ELSE jsonb_strip_nulls(jsonb_build_object(
                'address', m.routes -> m.route_index ->> 'from',
                'channel', m.routes -> m.route_index ->> 'channel',
                'senderId', m.routes -> m.route_index -> 'senderId'))
       END AS sender,
       m.scheduled_for, m.created_at, m.updated_at, m.deleted_at
FROM messages m JOIN operations o ON o.id = m.operation_id
WHERE m.id = $1 AND m.account_sid = $2;

-- name: list_attempts
SELECT id, channel, from_address, to_address, status, provider_sid, segments, encoding,
       error_code, error_message, attempted_at, updated_at
FROM attempts WHERE message_id = $1 ORDER BY attempted_at, id;

-- name: list_messages
-- The list without an operation filter (list_operation_messages has one; tags with only dates
-- are list_tagged_messages'). store.list_statement composes it per shape of filters: each filter
-- given adds its condition where the comment `filters` stands ($3 on), so one generic plan per
-- shape serves every call (db.create_read_pool: generic plans, neither bitmap scans nor sorts).
-- The page is then one index range read in list order that stops after $2 rows (one more than
-- a page, telling whether a next page exists), whatever the statistics say:
--   status → messages_status_created_idx      channel → messages_channel_created_idx
--   address → messages_address_created_idx    none, or only dates → messages_account_created_idx
--   tags with any of those → that index, checking the tags on each row it reads.
-- A bitmap (of messages_tags_idx, or two ANDed) reads every match and sorts them all, on every
-- page: that is what a planner with stale statistics picks for a send of 10,000 messages just
-- stored, which it takes for a handful of rows.
-- The btree indexes end in (created_at DESC, id DESC), the list order: the date range and the
-- page position bound the same range read. Rows sharing one created_at (every message of a send
-- has its accept's) cost nothing extra: the row comparison is an index condition, so a page
-- starts at its position, not at the first row of the tie; the position's created_at alone
-- also bounds the day partitions read (pruned when the plan starts). A message's tags are
-- coalesce(tags, operation_tags), the expression messages_tags_idx indexes. The operations (for
-- the sender and the unrendered tags) are joined to the page's rows only.
SELECT m.id, m.operation_id, m.channel, m.address, m.status,
       coalesce(m.tags, o.tags) AS tags,
       CASE WHEN m.routes IS NULL THEN o.sender
            -- The sender of the route in use (fallback may have moved to another).
            ELSE jsonb_strip_nulls(jsonb_build_object(
                'address', m.routes -> m.route_index ->> 'from',
                'channel', m.routes -> m.route_index ->> 'channel',
                'senderId', m.routes -> m.route_index -> 'senderId'))
       END AS sender,
       m.scheduled_for, m.created_at, m.updated_at, m.deleted_at
FROM (
    SELECT id, operation_id, channel, address, status, tags, scheduled_for,
           created_at, updated_at, deleted_at, routes, route_index
    FROM messages
    WHERE account_sid = $1
      /* filters */
    ORDER BY created_at DESC, id DESC
    LIMIT $2
) m
JOIN operations o ON o.id = m.operation_id
ORDER BY m.created_at DESC, m.id DESC;

-- name: list_operation_messages
-- One operation's messages ($3), with any of the other filters (composed as list_messages):
-- messages_operation_created_idx read in list order from the page position, stopping after $2
-- rows. The account is checked on the operation and on the page's rows, after the range read,
-- not inside it: an account condition there could be served by another index (any starting
-- with account_sid) and invite a plan that reads the whole operation. An operation and its
-- messages belong to one account, so another account's operation yields no row.
SELECT m.id, m.operation_id, m.channel, m.address, m.status,
       coalesce(m.tags, o.tags) AS tags,
       CASE WHEN m.routes IS NULL THEN o.sender
            -- The sender of the route in use (fallback may have moved to another).
            ELSE jsonb_strip_nulls(jsonb_build_object(
                'address', m.routes -> m.route_index ->> 'from',
                'channel', m.routes -> m.route_index ->> 'channel',
                'senderId', m.routes -> m.route_index -> 'senderId'))
       END AS sender,
       m.scheduled_for, m.created_at, m.updated_at, m.deleted_at
FROM (
    SELECT id, operation_id, account_sid, channel, address, status, tags, scheduled_for,
           created_at, updated_at, deleted_at, routes, route_index
    FROM messages
    WHERE operation_id = $3
      /* filters */
    ORDER BY created_at DESC, id DESC
    LIMIT $2
) m
JOIN operations o ON o.id = m.operation_id
WHERE o.account_sid = $1 AND m.account_sid = $1
ORDER BY m.created_at DESC, m.id DESC;

-- name: list_tagged_messages
-- Messages whose tags ($3) match, with only dates as other filters (list_messages serves tags
-- with status, channel or address). No btree index holds tags in list order, and reading the
-- account's messages in list order checks every newer message when a common tag is old (an
-- earlier campaign's), while the tag bitmap (messages_tags_idx) reads and sorts every match.
-- So the walk is over the account's operations, newest first (operations_account_created_idx,
-- checking each one's tags): every message of a send has its operation's created_at, so an
-- operation's messages (messages_operation_created_idx, in list order from the page position)
-- come in list order one operation after another, and the walk stops once a page is full. The
-- messages of operations with the same created_at are merged by the incremental sort on m.id.
-- An operation may match when each tag asked for is either its own value or a Liquid template
-- (then its messages' rendered tags may match: each message is checked). Composed as
-- list_messages: the dates bound both the operations (`operation filters`) and their messages
-- (`filters`); the page position bounds the operations by its created_at and the first one's
-- messages by (created_at, id), so a page costs the same at any depth. The account is checked
-- on the operations and, after the walk, on the messages (an operation and its messages share
-- one account).
SELECT m.id, m.operation_id, m.channel, m.address, m.status,
       coalesce(m.tags, o.tags) AS tags,
       CASE WHEN m.routes IS NULL THEN o.sender
            -- The sender of the route in use (fallback may have moved to another).
            ELSE jsonb_strip_nulls(jsonb_build_object(
                'address', m.routes -> m.route_index ->> 'from',
                'channel', m.routes -> m.route_index ->> 'channel',
                'senderId', m.routes -> m.route_index -> 'senderId'))
       END AS sender,
       m.scheduled_for, m.created_at, m.updated_at, m.deleted_at
FROM (
    SELECT id, tags, sender, created_at
    FROM operations
    WHERE account_sid = $1
      -- Each pair asked for: the operation's value, or a template its messages render.
      AND NOT EXISTS (
          SELECT FROM jsonb_each_text($3::jsonb) AS f(key, value)
          WHERE NOT coalesce(
              tags ->> f.key = f.value
              OR strpos(tags ->> f.key, '{{') > 0 OR strpos(tags ->> f.key, '{%') > 0,
              false))
      /* operation filters */
    ORDER BY created_at DESC, id DESC
) o
CROSS JOIN LATERAL (
    SELECT id, operation_id, account_sid, channel, address, status, tags, scheduled_for,
           created_at, updated_at, deleted_at, routes, route_index
    FROM messages
    WHERE operation_id = o.id
      AND coalesce(tags, operation_tags) @> $3
      /* filters */
    ORDER BY created_at DESC, id DESC
    LIMIT $2
) m
WHERE m.account_sid = $1
ORDER BY o.created_at DESC, m.id DESC
LIMIT $2;

-- name: find_message_by_provider_sid
-- attempts_provider_sid_key finds the attempt; both account checks keep other tenants' out.
SELECT a.message_id
FROM attempts a JOIN messages m ON m.id = a.message_id
WHERE a.provider_sid = $1 AND a.account_sid = $2 AND m.account_sid = $2;

-- name: sender_backlogs
-- Messages of each sender waiting to be handed over now (messages_sender_due_idx), for several
-- senders in one round trip.
SELECT k AS sender_key,
       (SELECT count(*) FROM messages WHERE sender_key = k AND due_at <= $2) AS backlog
FROM unnest($1::text[]) AS k;

-- name: stage_recipients
-- In the accept's transaction: a large send's recipients, a chunk a row (migrations/0023).
INSERT INTO operation_recipients (operation_id, chunk, recipients)
SELECT $1, c.chunk, c.recipients
FROM unnest($2::int[], $3::bytea[]) AS c(chunk, recipients);

-- name: next_staged_chunk
-- The expansion's next page of a large send (operation_recipients_pkey), under the operation's
-- row lock; whether another chunk follows it.
SELECT chunk, recipients,
       EXISTS (SELECT FROM operation_recipients n
               WHERE n.operation_id = $1 AND n.chunk > c.chunk) AS more
FROM operation_recipients c
WHERE operation_id = $1
ORDER BY chunk
LIMIT 1;

-- name: drop_staged_chunk
DELETE FROM operation_recipients WHERE operation_id = $1 AND chunk = $2;
