-- name: sender_backlogs
-- Per sender with messages due now: how many, and how long the oldest has waited. The senders
-- come from a loose index scan of messages_sender_due_idx (as due_senders does), and each
-- sender's count and oldest due time from a range of the same index.
WITH RECURSIVE waiting AS (
    (SELECT sender_key FROM messages WHERE due_at IS NOT NULL ORDER BY sender_key LIMIT 1)
    UNION ALL
    SELECT (SELECT m.sender_key FROM messages m
            WHERE m.due_at IS NOT NULL AND m.sender_key > waiting.sender_key
            ORDER BY m.sender_key LIMIT 1)
    FROM waiting WHERE waiting.sender_key IS NOT NULL
)
SELECT w.sender_key, d.due, d.oldest
FROM waiting w
CROSS JOIN LATERAL (
    SELECT count(*) AS due, min(m.due_at) AS oldest
    FROM messages m WHERE m.sender_key = w.sender_key AND m.due_at <= $1
) d
WHERE w.sender_key IS NOT NULL AND d.due > 0;

-- name: scheduled_count
-- Messages waiting for a later time (scheduled sends and retries not yet due).
SELECT count(*) FROM messages WHERE due_at > $1;

-- name: registered_sender_ids
-- The sender id each (channel, address) is registered under (senders_address_idx), to label
-- its series by id rather than by phone number. A number several accounts registered is one
-- send queue: it takes the first registration's id.
SELECT DISTINCT ON (channel, address) channel, address, id
FROM senders
WHERE (channel, address) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY channel, address, id;
