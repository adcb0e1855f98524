-- name: insert_suppressions
-- One row per account; an account that has the address already keeps its row (and its source
-- and date): suppressing twice is harmless. Returns each account's row, new or kept, from one
-- statement (the second SELECT reads the statement's snapshot, so it sees the kept rows and
-- not the inserted ones), so no concurrent DELETE can slip between insert and read.
WITH inserted AS (
    INSERT INTO suppressions (account_sid, address, id, source, created_at)
    SELECT a.account_sid, $2, a.id, $4, $5
    FROM unnest($1::text[], $3::uuid[]) AS a(account_sid, id)
    ON CONFLICT ON CONSTRAINT suppressions_pkey DO NOTHING
    RETURNING address, source, id, created_at
)
SELECT address, source, id, created_at FROM inserted
UNION ALL
SELECT address, source, id, created_at FROM suppressions
WHERE account_sid = ANY($1::text[]) AND address = $2;

-- name: delete_suppressions
DELETE FROM suppressions WHERE account_sid = ANY($1::text[]) AND address = $2
RETURNING account_sid;

-- name: list_suppressions
-- Keyset page, newest first (suppressions_account_idx); `address` ($2) narrows it to at most
-- one row through the primary key.
SELECT address, source, id, created_at
FROM suppressions
WHERE account_sid = $1 AND ($2::text IS NULL OR address = $2)
  AND ($3::uuid IS NULL OR id < $3)
ORDER BY id DESC LIMIT $4;

-- name: suppressed_pairs
-- The worker's check of a whole claimed batch in one statement: which of the (account,
-- address) pairs are suppressed, each found through the primary key.
SELECT DISTINCT s.account_sid, s.address
FROM unnest($1::text[], $2::text[]) AS c(account_sid, address)
JOIN suppressions s ON s.account_sid = c.account_sid AND s.address = c.address;

-- name: suppressed_addresses
SELECT address FROM suppressions WHERE account_sid = $1 AND address = ANY($2::text[]);

-- name: accounts_of_sender
-- The accounts an inbound message to our number `$1` from the handset `$2` opts out: those
-- that registered the number as a sender on one of the channels `$3` (senders_address_idx),
-- and those that sent from it to this handset (attempts_recipient_idx), registered or not.
SELECT account_sid FROM senders WHERE channel = ANY($3::text[]) AND address = $1
UNION
SELECT account_sid FROM attempts
WHERE to_address = $2 AND from_address = $1 AND channel = ANY($3::text[]);

-- name: note_inbound_keyword
-- Returns the sid only the first time it is seen: a repeated webhook changes nothing.
INSERT INTO inbound_keywords (message_sid, received_at) VALUES ($1, $2)
ON CONFLICT ON CONSTRAINT inbound_keywords_pkey DO NOTHING
RETURNING message_sid;

-- name: purge_inbound_keywords
DELETE FROM inbound_keywords WHERE received_at < $1;

-- name: cancel_waiting_to
-- Cancel's guarantee (operations' cancel_waiting_messages), for one recipient's messages of
-- these accounts instead of one operation's: only messages still due and not `sending` are
-- locked (FOR UPDATE waits for a worker claiming or marking one right now, then re-checks
-- the WHERE on the new row version), so a message marked `sending` is never canceled and
-- mark_sending skips one canceled first. Locked in id order, as cancel does; the caller
-- retries on a deadlock with a worker's batch update. messages_address_created_idx finds the
-- recipient's messages. Returns the operations touched, to complete those left with nothing.
WITH waiting AS (
    SELECT id FROM messages
    WHERE account_sid = ANY($1::text[]) AND address = $2
      AND due_at IS NOT NULL AND NOT sending AND status IN ('SCHEDULED', 'QUEUED')
    ORDER BY id
    FOR UPDATE
)
UPDATE messages m
SET status = 'CANCELED', due_at = NULL, updated_at = $3
FROM waiting
WHERE m.id = waiting.id
RETURNING m.operation_id;
