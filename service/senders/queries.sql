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

-- name: senders_by_ids
SELECT id, address, channel, kind, mps, created_at
FROM senders WHERE account_sid = $1 AND id = ANY($2::uuid[]);

-- name: clear_default_pool
-- Only one default pool per account (sender_pools_default_key): unset the old one first.
UPDATE sender_pools SET is_default = false, updated_at = $2
WHERE account_sid = $1 AND is_default;

-- name: insert_pool
INSERT INTO sender_pools (id, account_sid, display_name, sender_ids, is_default, created_at,
                          updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
RETURNING id, display_name, sender_ids, is_default, created_at, updated_at;

-- name: update_pool
UPDATE sender_pools
SET display_name = coalesce($3, display_name),
    sender_ids = coalesce($4, sender_ids),
    is_default = coalesce($5, is_default),
    updated_at = $6
WHERE id = $1 AND account_sid = $2
RETURNING id, display_name, sender_ids, is_default, created_at, updated_at;

-- name: get_pool
SELECT id, display_name, sender_ids, is_default, created_at, updated_at
FROM sender_pools WHERE id = $1 AND account_sid = $2;

-- name: default_pool
SELECT id, display_name, sender_ids, is_default, created_at, updated_at
FROM sender_pools WHERE account_sid = $1 AND is_default;

-- name: list_pools
SELECT id, display_name, sender_ids, is_default, created_at, updated_at
FROM sender_pools WHERE account_sid = $1 AND ($2::uuid IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3;

-- name: delete_pool
DELETE FROM sender_pools WHERE id = $1 AND account_sid = $2 RETURNING id;
