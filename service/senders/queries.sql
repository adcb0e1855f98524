-- name: insert_sender
INSERT INTO senders (id, account_sid, address, channel, kind, mps, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT ON CONSTRAINT senders_account_address_key DO NOTHING
RETURNING id, address, channel, kind, mps, created_at;

-- name: get_sender
SELECT id, address, channel, kind, mps, created_at
FROM senders WHERE id = $1 AND account_sid = $2;

-- name: find_sender
SELECT id, address, channel, kind, mps, created_at
FROM senders WHERE account_sid = $1 AND channel = $2 AND address = $3;

-- name: list_senders
-- Keyset page, newest first (senders_account_idx).
SELECT id, address, channel, kind, mps, created_at
FROM senders WHERE account_sid = $1 AND ($2::uuid IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3;

-- name: delete_sender
DELETE FROM senders WHERE id = $1 AND account_sid = $2 RETURNING id;

-- name: registered_rates
-- The provider limits a number whoever registered it: the lowest registered rate applies.
SELECT channel, address, min(mps) AS mps
FROM senders
WHERE (channel, address) IN (SELECT * FROM unnest($1::text[], $2::text[]))
GROUP BY channel, address;
