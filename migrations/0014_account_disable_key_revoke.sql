-- Accounts can be disabled and API keys revoked (`comms accounts disable`, `comms keys revoke`).
-- The rows stay: the operations and messages that name them, and the record of who had access.
-- The credential lookup (service/accounts/queries.sql, credential_hash) skips a disabled
-- account, a revoked key and every key of a disabled account.
ALTER TABLE accounts ADD COLUMN disabled_at timestamptz;
ALTER TABLE api_keys ADD COLUMN revoked_at timestamptz;

-- Each API process caches the credentials it verified (service/accounts/logic.py); a change to
-- a credential (disabled, enabled, token rotated, key revoked) tells every process listening on
-- this channel to forget them, whoever made the change (the CLI, the console, plain SQL). NOTIFY
-- is sent at commit, so no process hears of a change it could not see yet.
CREATE FUNCTION notify_credentials_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('comms_credentials_changed', '');
    RETURN NULL;
END $$;

CREATE TRIGGER accounts_credentials_changed
    AFTER UPDATE OR DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
CREATE TRIGGER api_keys_credentials_changed
    AFTER UPDATE OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
