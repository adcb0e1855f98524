-- name: insert_account
INSERT INTO accounts (sid, name, auth_token_hash) VALUES ($1, $2, $3)
RETURNING sid, name, created_at;

-- name: insert_api_key
INSERT INTO api_keys (sid, account_sid, secret_hash) VALUES ($1, $2, $3)
RETURNING sid, account_sid, created_at;

-- name: account_exists
SELECT EXISTS (SELECT 1 FROM accounts WHERE sid = $1);

-- name: credential_hash
-- The username is either an account sid or an API key sid; both are primary keys. A disabled
-- account's token and keys, and a revoked key, are no credentials (0014).
SELECT sid AS account_sid, auth_token_hash AS secret_hash
FROM accounts WHERE sid = $1 AND disabled_at IS NULL
UNION ALL
SELECT k.account_sid, k.secret_hash
FROM api_keys k JOIN accounts a ON a.sid = k.account_sid
WHERE k.sid = $1 AND k.revoked_at IS NULL AND a.disabled_at IS NULL;

-- name: list_accounts
-- An administrator's list (the CLI): a few rows, so the key counts come from one grouped scan
-- of api_keys rather than an index lookup per account.
SELECT a.sid, a.name, a.created_at, a.disabled_at,
       count(k.sid) FILTER (WHERE k.revoked_at IS NULL) AS keys
FROM accounts a LEFT JOIN api_keys k ON k.account_sid = a.sid
GROUP BY a.sid
ORDER BY a.created_at, a.sid;

-- name: set_account_disabled
-- $2: true disables (keeping the first time it was disabled), false enables. Returns the row,
-- or nothing for an unknown sid.
UPDATE accounts
SET disabled_at = CASE WHEN $2::boolean THEN coalesce(disabled_at, now()) END
WHERE sid = $1
RETURNING sid, name, created_at, disabled_at,
          (SELECT count(*) FROM api_keys k WHERE k.account_sid = $1 AND k.revoked_at IS NULL)
              AS keys;

-- name: replace_auth_token
UPDATE accounts SET auth_token_hash = $2 WHERE sid = $1 RETURNING sid;

-- name: list_api_keys
-- $1 NULL lists every account's keys; api_keys_account_idx serves one account's.
SELECT sid, account_sid, created_at, revoked_at FROM api_keys
WHERE $1::text IS NULL OR account_sid = $1
ORDER BY created_at, sid;

-- name: revoke_api_key
-- Keeps the first revocation's time; returns nothing for an unknown sid.
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE sid = $1
RETURNING sid, account_sid, created_at, revoked_at;
