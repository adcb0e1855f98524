-- name: insert_operation
INSERT INTO operations (id, account_sid, status, tags, content, sender, validity_period,
                        total, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9);

-- name: get_message
-- The operation is joined for the sender and the unrendered tags; the account check keeps
-- other tenants' messages invisible.
SELECT m.id, m.operation_id, m.channel, m.address, m.status, m.content, m.variables,
       coalesce(m.tags, o.tags) AS tags, o.sender, o.content AS operation_content,
       m.scheduled_for, m.created_at, m.updated_at, m.deleted_at
FROM messages m JOIN operations o ON o.id = m.operation_id
WHERE m.id = $1 AND m.account_sid = $2;

-- name: list_attempts
SELECT id, channel, from_address, to_address, status, provider_sid, segments, encoding,
       error_code, error_message, attempted_at, updated_at
FROM attempts WHERE message_id = $1 ORDER BY attempted_at, id;

-- name: list_messages_by_operation
-- Keyset page, newest first, served by messages_operation_id_idx; $3 is the last id seen
-- (NULL for the first page). One row more than the page tells whether a next page exists.
SELECT m.id, m.operation_id, m.channel, m.address, m.status,
       coalesce(m.tags, o.tags) AS tags, o.sender,
       m.scheduled_for, m.created_at, m.updated_at, m.deleted_at
FROM messages m JOIN operations o ON o.id = m.operation_id
WHERE m.operation_id = $1 AND m.account_sid = $2 AND ($3::uuid IS NULL OR m.id < $3)
ORDER BY m.id DESC
LIMIT $4;

-- name: list_messages_by_account
SELECT m.id, m.operation_id, m.channel, m.address, m.status,
       coalesce(m.tags, o.tags) AS tags, o.sender,
       m.scheduled_for, m.created_at, m.updated_at, m.deleted_at
FROM messages m JOIN operations o ON o.id = m.operation_id
WHERE m.account_sid = $1 AND ($2::uuid IS NULL OR m.id < $2)
ORDER BY m.id DESC
LIMIT $3;
