-- Indexes for the filtered lists (messages, operations, an operation's errors) and a copy of the
-- operation's tags on each message so one index answers tag filters.
--
-- Lists are newest first in (created_at DESC, id DESC) order, which is also the keyset of their
-- page tokens. Every equality filter has an index that ends in that order, so a filter (plus a
-- date range and the page position) is one index range read in list order that stops after a
-- page; other filters in the same request are checked on the rows it reads.

-- A message's tags are coalesce(tags, operation_tags): `tags` holds the rendered tags once the
-- worker has rendered Liquid tag values, `operation_tags` the operation's tags as sent (written
-- at accept time). Filtering on the operation's row would need a join no index can serve.
ALTER TABLE messages ADD COLUMN operation_tags jsonb;
UPDATE messages m SET operation_tags = o.tags FROM operations o WHERE o.id = m.operation_id;

-- Tag filters (`@>`, every pair must match); jsonb_path_ops: smaller, and only @> is needed.
CREATE INDEX messages_tags_idx ON messages
    USING gin ((coalesce(tags, operation_tags)) jsonb_path_ops);
-- The unfiltered list and date ranges.
CREATE INDEX messages_account_created_idx ON messages (account_sid, created_at DESC, id DESC);
-- One operation's messages (the operation belongs to one account; the account is rechecked).
CREATE INDEX messages_operation_created_idx ON messages (operation_id, created_at DESC, id DESC);
CREATE INDEX messages_status_created_idx
    ON messages (account_sid, status, created_at DESC, id DESC);
CREATE INDEX messages_channel_created_idx
    ON messages (account_sid, channel, created_at DESC, id DESC);
CREATE INDEX messages_address_created_idx
    ON messages (account_sid, address, created_at DESC, id DESC);
-- An operation's FAILED and UNDELIVERED messages (GET …/Operations/{id}/Errors), and their
-- counts per code from the index alone.
CREATE INDEX messages_operation_errors_idx
    ON messages (operation_id, created_at DESC, id DESC) INCLUDE (error_code)
    WHERE status IN ('FAILED', 'UNDELIVERED');
-- Superseded by the (…, created_at DESC, id DESC) indexes above.
DROP INDEX messages_account_idx;
DROP INDEX messages_operation_id_idx;

CREATE INDEX operations_tags_idx ON operations USING gin (tags jsonb_path_ops);
CREATE INDEX operations_account_created_idx
    ON operations (account_sid, created_at DESC, id DESC);
CREATE INDEX operations_status_created_idx
    ON operations (account_sid, status, created_at DESC, id DESC);
DROP INDEX operations_account_idx;
