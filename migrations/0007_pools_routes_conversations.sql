-- Sender pools, per-message routes for channel fallback, and the conversations the service
-- opened with recipients.

CREATE TABLE sender_pools (
    id uuid CONSTRAINT sender_pools_pkey PRIMARY KEY,
    account_sid text NOT NULL CONSTRAINT sender_pools_account_fkey REFERENCES accounts (sid),
    display_name text NOT NULL,
    -- Senders in priority order: the order channels are tried in.
    sender_ids uuid[] NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX sender_pools_account_idx ON sender_pools (account_sid, id DESC);
-- At most one default pool per account.
CREATE UNIQUE INDEX sender_pools_default_key ON sender_pools (account_sid) WHERE is_default;

-- Every way to reach the recipient, in the order to try them: [{channel, from, to, senderId}].
-- `route_index` is the one in use; a permanent failure or a failed receipt moves to the next.
ALTER TABLE messages ADD COLUMN routes jsonb;
ALTER TABLE messages ADD COLUMN route_index integer NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN route_index integer NOT NULL DEFAULT 0;

-- One conversation per (proxy address, recipient address), reused by later sends. The provider
-- is one account, so this is not per tenant.
CREATE TABLE conversations (
    proxy_address text NOT NULL,
    recipient_address text NOT NULL,
    conversation_sid text NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT conversations_pkey PRIMARY KEY (proxy_address, recipient_address)
);

-- The limiter/queue key of a message's route i: `<sender channel>:<sender address>`.
CREATE FUNCTION route_sender_key(routes jsonb, i integer) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN (routes -> i ->> 'channel') || ':' || (routes -> i ->> 'from');

-- Receipts that arrived before the worker recorded the provider sid they name (the provider
-- can call back faster than the worker writes); applied when the sid is recorded.
CREATE TABLE early_receipts (
    provider_sid text NOT NULL,
    status text NOT NULL,
    error_code integer,
    error_message text,
    received_at timestamptz NOT NULL
);
CREATE INDEX early_receipts_sid_idx ON early_receipts (provider_sid);
