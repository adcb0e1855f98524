-- Idempotency keys of POST /v1/Messages, kept 24 hours per account.
-- A row is IN_FLIGHT from the first request until its operation commits; the DONE row is
-- written in the same transaction as the operation, so a key never points at nothing.
CREATE TABLE idempotency_keys (
    account_sid text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    state text NOT NULL CONSTRAINT idempotency_keys_state_check
        CHECK (state IN ('IN_FLIGHT', 'DONE')),
    operation_id uuid,
    created_at timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (account_sid, key)
);
-- Expiry sweeps by age.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
