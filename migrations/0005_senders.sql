-- Registered senders (numbers, short codes, WhatsApp senders) with their rate, and the sender
-- each message goes out from, so the send queue can be claimed per sender.
CREATE TABLE senders (
    id uuid CONSTRAINT senders_pkey PRIMARY KEY,
    account_sid text NOT NULL CONSTRAINT senders_account_fkey REFERENCES accounts (sid),
    address text NOT NULL,
    channel text NOT NULL CONSTRAINT senders_channel_check
        CHECK (channel IN ('SMS', 'WHATSAPP', 'CONVERSATIONS')),
    kind text NOT NULL CONSTRAINT senders_kind_check
        CHECK (kind IN ('LONG_CODE', 'TOLL_FREE', 'SHORT_CODE', 'ALPHANUMERIC', 'WHATSAPP')),
    -- Message segments per second.
    mps double precision NOT NULL CONSTRAINT senders_mps_check CHECK (mps > 0),
    created_at timestamptz NOT NULL,
    CONSTRAINT senders_account_address_key UNIQUE (account_sid, channel, address)
);
CREATE INDEX senders_account_idx ON senders (account_sid, id DESC);
-- The provider limits a number whoever uses it: rates are looked up by channel and address.
CREATE INDEX senders_address_idx ON senders (channel, address);

-- `<channel>:<address>` of the sender; the limiter and the per-sender claim use it.
ALTER TABLE messages ADD COLUMN sender_key text NOT NULL DEFAULT '';
-- The per-sender send queue: due messages of one sender in due order.
CREATE INDEX messages_sender_due_idx ON messages (sender_key, due_at) WHERE due_at IS NOT NULL;
