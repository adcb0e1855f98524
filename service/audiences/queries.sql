-- name: insert_audience
INSERT INTO audiences (id, account_sid, display_name, filter, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)
RETURNING id, display_name, filter, created_at, updated_at;

-- name: get_audience
-- The account check keeps other tenants' audiences invisible (they answer 404).
SELECT id, display_name, filter, created_at, updated_at
FROM audiences WHERE id = $1 AND account_sid = $2;

-- name: lock_audience
-- Member changes of one audience serialise on its row (a DELETE of the audience waits too).
SELECT id, display_name, filter, created_at, updated_at
FROM audiences WHERE id = $1 AND account_sid = $2 FOR NO KEY UPDATE;

-- name: list_audiences
-- Keyset page, newest first (audiences_account_idx).
SELECT id, display_name, filter, created_at, updated_at
FROM audiences WHERE account_sid = $1 AND ($2::uuid IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3;

-- name: delete_audience
-- Its memberships go with it (ON DELETE CASCADE). A send that named it and is still being
-- expanded finds it gone and expands the rest of its sources.
DELETE FROM audiences WHERE id = $1 AND account_sid = $2 RETURNING id;

-- name: member_count
SELECT count(*)::bigint FROM audience_members WHERE audience_id = $1;

-- name: account_profiles
-- Which of these ids are profiles of this account (the primary key finds each).
SELECT id FROM profiles WHERE id = ANY($1::uuid[]) AND account_sid = $2;

-- name: account_audiences
SELECT id FROM audiences WHERE id = ANY($1::uuid[]) AND account_sid = $2;

-- name: add_members
-- Members already there stay as they were (their added_at too) and are not counted.
INSERT INTO audience_members (audience_id, profile_id, added_at)
SELECT $1, p, $3 FROM unnest($2::uuid[]) AS p
ON CONFLICT ON CONSTRAINT audience_members_pkey DO NOTHING;

-- name: remove_members
DELETE FROM audience_members WHERE audience_id = $1 AND profile_id = ANY($2::uuid[]);

-- name: list_static_members
-- A static audience's profiles in id order from the page position: audience_members_pkey
-- (audience_id, profile_id) reads them in that order; the account check keeps the join honest.
SELECT p.id, p.external_id, p.addresses, p.attributes, p.time_zone, p.created_at, p.updated_at
FROM audience_members am
JOIN profiles p ON p.id = am.profile_id AND p.account_sid = $2
WHERE am.audience_id = $1 AND ($3::uuid IS NULL OR am.profile_id > $3)
ORDER BY am.profile_id
LIMIT $4;

-- name: begin_expansion
-- In the accept's transaction: what the worker expands, from the first profile id on.
UPDATE operations SET expansion = $2, expansion_cursor = NULL, expanding = true WHERE id = $1;

-- name: expanding_operations
-- Operations whose profile sources are not all expanded yet (operations_expanding_idx): the
-- workers' periodic look for a lost enqueue or a killed worker's unfinished expansion.
SELECT id FROM operations WHERE expanding ORDER BY id LIMIT $1;

-- name: has_profile_sources
-- By primary key: whether the send has profiles or audiences to expand (begin_expansion, in the
-- accept's transaction), expanded yet or not.
SELECT expansion IS NOT NULL FROM operations WHERE id = $1;

-- name: try_expansion_lock
-- One worker expands an operation at a time: a session lock held between pages, released
-- when the worker is done or its connection ends (a killed worker's lock goes with it).
SELECT pg_try_advisory_lock(hashtextextended('comms.expansion:' || $1::uuid::text, 0));

-- name: release_expansion_lock
SELECT pg_advisory_unlock(hashtextextended('comms.expansion:' || $1::uuid::text, 0));

-- name: lock_expansion
-- Each page locks the operation row first, then reads the cursor: pages of one operation never
-- overlap, whoever writes them. Lock order is operation, then its messages, as for cancels.
SELECT id, account_sid, status, tags, content, validity_period, expansion, expansion_cursor,
       expanding, total, created_at
FROM operations WHERE id = $1 FOR NO KEY UPDATE;

-- name: audiences_of
SELECT id, filter FROM audiences WHERE id = ANY($1::uuid[]) AND account_sid = $2 ORDER BY id;

-- name: advance_expansion
-- In the page's transaction, after its messages are inserted: the cursor, the count the
-- operation's stats show, and whether expansion is over.
UPDATE operations
SET expansion_cursor = $2, total = total + $3, expanding = NOT $4, updated_at = $5
WHERE id = $1;
