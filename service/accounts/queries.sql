-- name: insert_account
INSERT INTO accounts (sid, name, auth_token_hash) VALUES ($1, $2, $3)
RETURNING sid, name, created_at;

-- name: insert_api_key
INSERT INTO api_keys (sid, account_sid, secret_hash) VALUES ($1, $2, $3)
RETURNING sid, account_sid, created_at;

-- name: account_exists
SELECT EXISTS (SELECT 1 FROM accounts WHERE sid = $1);

-- name: credential_hash
-- The username is either an account sid or an API key sid; both are primary keys.
SELECT sid AS account_sid, auth_token_hash AS secret_hash FROM accounts WHERE sid = $1
UNION ALL
SELECT account_sid, secret_hash FROM api_keys WHERE sid = $1;
