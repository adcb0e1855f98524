-- Opt-out: each account's suppression list of recipient addresses, and the inbound keyword
-- messages already applied to it.

-- One row per (account, recipient address): sends from the account to the address fail with
-- 21610 without a provider call. Addresses are stored as recipients' are: E.164 without a
-- `whatsapp:` prefix, so one opt-out covers every channel to that number.
CREATE TABLE suppressions (
    account_sid text NOT NULL CONSTRAINT suppressions_account_fkey REFERENCES accounts (sid),
    address text NOT NULL,
    -- UUIDv7 made in Python: the list's order and page position (newest first).
    id uuid NOT NULL,
    -- INBOUND: a STOP keyword from the handset; API: POST /v1/Suppressions.
    source text NOT NULL CONSTRAINT suppressions_source_check CHECK (source IN ('INBOUND', 'API')),
    created_at timestamptz NOT NULL,
    CONSTRAINT suppressions_pkey PRIMARY KEY (account_sid, address)
);
CREATE INDEX suppressions_account_idx ON suppressions (account_sid, id DESC);

-- Inbound keyword messages (STOP, START …) already applied, by provider message sid: a
-- webhook delivered twice (a retry after a lost answer) is applied once, so a repeated STOP
-- can never undo a START that came in between. Kept a day (retention).
CREATE TABLE inbound_keywords (
    message_sid text CONSTRAINT inbound_keywords_pkey PRIMARY KEY,
    received_at timestamptz NOT NULL
);
CREATE INDEX inbound_keywords_received_idx ON inbound_keywords (received_at);

-- Which accounts sent from one of our numbers to a handset: an inbound STOP from the handset
-- to that number opts it out of those accounts' sends.
CREATE INDEX attempts_recipient_idx ON attempts (to_address, from_address);
