-- name: insert_profile
-- Refused (no row) when the account has a profile with this external id already.
INSERT INTO profiles (id, account_sid, external_id, addresses, attributes, time_zone,
                      created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
ON CONFLICT (account_sid, external_id) WHERE external_id IS NOT NULL DO NOTHING
RETURNING id, external_id, addresses, attributes, time_zone, created_at, updated_at;

-- name: get_profile
SELECT id, external_id, addresses, attributes, time_zone, created_at, updated_at
FROM profiles WHERE id = $1 AND account_sid = $2;

-- name: lock_profile
SELECT id, external_id, addresses, attributes, time_zone, created_at, updated_at
FROM profiles WHERE id = $1 AND account_sid = $2
FOR UPDATE;

-- name: lock_by_external_ids
-- The account's profiles with these external ids (profiles_external_id_key), locked until the
-- transaction ends, in a stable order.
SELECT id, external_id, addresses, attributes, time_zone, created_at, updated_at
FROM profiles WHERE account_sid = $1 AND external_id = ANY($2::text[])
ORDER BY id
FOR UPDATE;

-- name: update_profiles
-- Writes each profile's whole new state (merged by the caller, under lock_* locks). The JSON
-- values come as text: a jsonb[] parameter would take a list value for a nested array.
UPDATE profiles p
SET external_id = u.external_id, addresses = u.addresses::jsonb, attributes = u.attributes::jsonb,
    time_zone = u.time_zone, updated_at = $7
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS u(id, external_id, addresses, attributes, time_zone)
WHERE p.id = u.id AND p.account_sid = $1
RETURNING p.id, p.external_id, p.addresses, p.attributes, p.time_zone, p.created_at,
    p.updated_at;

-- name: list_profiles
-- Keyset page, newest first (profiles_account_idx); `externalId` ($2) narrows it through
-- profiles_external_id_key, `address` ($3, a containment pattern) through
-- profiles_addresses_idx.
SELECT id, external_id, addresses, attributes, time_zone, created_at, updated_at
FROM profiles
WHERE account_sid = $1
  AND ($2::text IS NULL OR external_id = $2)
  AND ($3::jsonb IS NULL OR addresses @> $3)
  AND ($4::uuid IS NULL OR id < $4)
ORDER BY id DESC LIMIT $5;

-- name: delete_profile
DELETE FROM profiles WHERE id = $1 AND account_sid = $2 RETURNING id;

-- name: insert_import
INSERT INTO profile_imports (id, account_sid, status, format, columns, created_at, updated_at)
VALUES ($1, $2, 'PROCESSING', $3, $4, $5, $5);

-- name: set_rows_read
UPDATE profile_imports SET rows_read = $2 WHERE id = $1;

-- name: get_import
SELECT id, status, format, rows_read, rows_imported, rows_failed, errors, created_at,
    updated_at
FROM profile_imports WHERE id = $1 AND account_sid = $2;

-- name: claim_import
-- An import with rows to load that no other worker holds; its row stays locked until the
-- chunk's transaction ends, so one import's chunks are loaded one at a time, in order.
SELECT id, account_sid, format, columns, jsonb_array_length(errors) AS errors_kept
FROM profile_imports
WHERE status = 'PROCESSING'
ORDER BY id
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: staged_rows
-- The import's next chunk, in row order (profile_import_rows_pkey).
SELECT row_number, line FROM profile_import_rows
WHERE import_id = $1
ORDER BY row_number
LIMIT $2;

-- name: delete_staged_rows
DELETE FROM profile_import_rows WHERE import_id = $1 AND row_number <= $2;

-- name: record_progress
UPDATE profile_imports
SET rows_imported = rows_imported + $2, rows_failed = rows_failed + $3,
    errors = errors || $4::jsonb, updated_at = $5
WHERE id = $1;

-- name: finish_import
-- Every row loaded or refused: FAILED when not one could be loaded.
UPDATE profile_imports
SET status = CASE WHEN rows_imported = 0 AND rows_failed > 0 THEN 'FAILED' ELSE 'COMPLETED' END,
    updated_at = $2
WHERE id = $1;
