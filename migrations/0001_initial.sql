-- Accounts, API keys, operations, messages and their provider attempts.
-- Ids are UUIDv7 (time-ordered) stored as uuid: shown to clients as TypeIDs, made in Python.
-- Messages carry no foreign keys: they are written with COPY, where a foreign key check per row
-- costs much of the speed; the operation row is written in the same transaction.

CREATE TABLE accounts (
    sid text CONSTRAINT accounts_pkey PRIMARY KEY
        CONSTRAINT accounts_sid_format CHECK (sid ~ '^AC[0-9a-f]{32}$'),
    name text NOT NULL,
    -- sha256 of the auth token: tokens are 128-bit random values, so a fast hash is enough.
    auth_token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    sid text CONSTRAINT api_keys_pkey PRIMARY KEY
        CONSTRAINT api_keys_sid_format CHECK (sid ~ '^SK[0-9a-f]{32}$'),
    account_sid text NOT NULL CONSTRAINT api_keys_account_fkey REFERENCES accounts (sid),
    secret_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_account_idx ON api_keys (account_sid);

CREATE TABLE operations (
    id uuid CONSTRAINT operations_pkey PRIMARY KEY,
    account_sid text NOT NULL CONSTRAINT operations_account_fkey REFERENCES accounts (sid),
    status text NOT NULL CONSTRAINT operations_status_check
        CHECK (status IN ('SCHEDULED', 'PROCESSING', 'COMPLETED', 'CANCELED')),
    tags jsonb NOT NULL DEFAULT '{}',
    -- The request's content and sender as sent (templates unrendered).
    content jsonb NOT NULL,
    sender jsonb NOT NULL,
    validity_period integer NOT NULL,
    status_callback text,
    total integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- Listing an account's operations newest first (the id is time-ordered).
CREATE INDEX operations_account_idx ON operations (account_sid, id DESC);

CREATE TABLE messages (
    id uuid CONSTRAINT messages_pkey PRIMARY KEY,
    operation_id uuid NOT NULL,
    account_sid text NOT NULL,
    -- The recipient's position in the request's `to` array.
    position integer NOT NULL,
    channel text NOT NULL,
    address text NOT NULL,
    variables jsonb,
    status text NOT NULL CONSTRAINT messages_status_check
        CHECK (status IN ('SCHEDULED', 'QUEUED', 'SENT', 'DELIVERED', 'READ',
                          'UNDELIVERED', 'FAILED', 'CANCELED')),
    -- Rendered per recipient by the worker; NULL until then.
    content jsonb,
    tags jsonb,
    scheduled_for timestamptz,
    -- When the message should next be handed to a provider; NULL once it has been (or it
    -- ended without that). Claiming pushes it forward by a lease, so a worker that dies
    -- mid-batch leaves its messages due again.
    due_at timestamptz,
    error_code integer,
    error_message text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz
);
-- Stats and lists by operation.
CREATE INDEX messages_operation_idx ON messages (operation_id, status);
CREATE INDEX messages_operation_id_idx ON messages (operation_id, id DESC);
-- Lists by account, newest first.
CREATE INDEX messages_account_idx ON messages (account_sid, id DESC);
-- The send queue: only messages still waiting are in this index.
CREATE INDEX messages_due_idx ON messages (due_at) WHERE due_at IS NOT NULL;
-- Whether an operation still has messages waiting (completion check).
CREATE INDEX messages_pending_idx ON messages (operation_id) WHERE due_at IS NOT NULL;

CREATE TABLE attempts (
    id uuid CONSTRAINT attempts_pkey PRIMARY KEY,
    message_id uuid NOT NULL,
    operation_id uuid NOT NULL,
    account_sid text NOT NULL,
    channel text NOT NULL,
    from_address text NOT NULL,
    to_address text NOT NULL,
    -- SUBMITTING is written before the provider call so a crash mid-call is visible.
    status text NOT NULL CONSTRAINT attempts_status_check
        CHECK (status IN ('SUBMITTING', 'QUEUED', 'SENT', 'DELIVERED', 'READ',
                          'UNDELIVERED', 'FAILED')),
    provider_sid text,
    segments integer,
    encoding text,
    error_code integer,
    error_message text,
    attempted_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX attempts_provider_sid_key ON attempts (provider_sid)
    WHERE provider_sid IS NOT NULL;
CREATE INDEX attempts_message_idx ON attempts (message_id, attempted_at);
CREATE INDEX attempts_operation_idx ON attempts (operation_id);
