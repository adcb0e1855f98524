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
-- Every combination of the list filters in one query: each filter is an optional parameter.
-- The caller plans it with the values (plan_cache_mode = force_custom_plan), so unused filters
-- fold away and the planner picks the index of the most selective one given:
--   $2 operation → messages_operation_created_idx    $3 status  → messages_status_created_idx
--   $4 channel   → messages_channel_created_idx      $5 address → messages_address_created_idx
--   $6 tags      → messages_tags_idx (a bitmap, then a top-N sort)
--   none, or only dates → messages_account_created_idx
-- The btree indexes end in (created_at DESC, id DESC), the list order: the date range ($7, $8)
-- and the page position ($9, $10) bound the same range read, which stops after $11 rows (one
-- more than a page, telling whether a next page exists). A message's tags are
-- coalesce(tags, operation_tags), the expression messages_tags_idx indexes. The operations
-- (for the sender and the unrendered tags) are joined to the page's rows only.
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
      AND ($2::uuid IS NULL OR operation_id = $2)
      AND ($3::text IS NULL OR status = $3)
      AND ($4::text IS NULL OR channel = $4)
      AND ($5::text IS NULL OR address = $5)
      AND ($6::jsonb IS NULL OR coalesce(tags, operation_tags) @> $6)
      AND ($7::timestamptz IS NULL OR created_at >= $7)
      AND ($8::timestamptz IS NULL OR created_at < $8)
      AND ($9::timestamptz IS NULL OR (created_at, id) < ($9, $10::uuid))
    ORDER BY created_at DESC, id DESC
    LIMIT $11
) m
JOIN operations o ON o.id = m.operation_id
ORDER BY m.created_at DESC, m.id DESC;

-- name: find_message_by_provider_sid
-- attempts_provider_sid_key finds the attempt; both account checks keep other tenants' out.
SELECT a.message_id
FROM attempts a JOIN messages m ON m.id = a.message_id
WHERE a.provider_sid = $1 AND a.account_sid = $2 AND m.account_sid = $2;

-- name: sender_backlog
-- Messages of this sender waiting to be handed over now (messages_sender_due_idx).
SELECT count(*) FROM messages WHERE sender_key = $1 AND due_at <= $2;
