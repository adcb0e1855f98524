-- Events: every status change of a message or an operation becomes a row, written by triggers
-- so that neither the send path nor the receipt path has to know. Webhook deliveries (ext) and
-- the operation's SSE stream read from here, in id order.

-- The id (a sequence) is the SSE `id:` and the order readers follow. A sequence hands out ids
-- in insert order, not commit order: readers only read up to a settled mark (see
-- service/events/logic.py), below which no transaction still running can add a row.
-- Only facts the row does not already hold are kept: from, to and channel are derived from the
-- message's routes (immutable) at `route_index`, tags from the message, the provider sid from
-- its attempts; so the trigger copies a few narrow columns and nothing else.
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT events_pkey PRIMARY KEY,
    operation_id uuid NOT NULL,
    account_sid text NOT NULL,
    -- NULL for an operation's own events.
    message_id uuid,
    -- `message.sent`, `operation.completed` …: the CloudEvents type without its
    -- `com.twilio.comms-api.` prefix.
    type text NOT NULL,
    route_index integer,
    error_code integer,
    occurred_at timestamptz NOT NULL
);
-- The SSE stream reads one operation's events in order; retention deletes by operation.
CREATE INDEX events_operation_idx ON events (operation_id, id);

-- Message inserts (the accept path's COPY of up to 10,000 rows): one INSERT … SELECT per
-- statement over its transition table, instead of a function call per row. SCHEDULED messages have no
-- event until they are QUEUED.
CREATE FUNCTION record_inserted_message_events() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (operation_id, account_sid, message_id, type, route_index, error_code,
                        occurred_at)
    SELECT n.operation_id, n.account_sid, n.id, 'message.' || lower(n.status), n.route_index,
           n.error_code, n.updated_at
    FROM inserted_messages n
    WHERE n.status NOT IN ('SCHEDULED', 'CANCELED')
    ORDER BY n.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_insert_events
    AFTER INSERT ON messages
    REFERENCING NEW TABLE AS inserted_messages
    FOR EACH STATEMENT EXECUTE FUNCTION record_inserted_message_events();

-- Message updates: a row-level trigger whose WHEN clause the executor checks without calling
-- any function, so the send path's batch updates that change no status (claims pushing due_at,
-- mark_sending, store_rendered, most outcomes) cost nothing, and a receipt (one row, one status
-- change) costs one small INSERT. Measured with EXPLAIN ANALYZE (trigger time) against a
-- statement-level trigger over transition tables: that one is cheaper only for large batches
-- that all change status (~6 µs/row against ~15 µs/row), but costs ~40 µs on every single-row
-- UPDATE and ~1-2 µs/row on every batch that changes no status, which is the common case
-- (UPDATE triggers with transition tables cannot name columns, so it would run for all).
CREATE FUNCTION record_message_status_event() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (operation_id, account_sid, message_id, type, route_index, error_code,
                        occurred_at)
    VALUES (NEW.operation_id, NEW.account_sid, NEW.id, 'message.' || lower(NEW.status),
            NEW.route_index, NEW.error_code, NEW.updated_at);
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_status_events
    AFTER UPDATE OF status ON messages
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status NOT IN ('SCHEDULED', 'CANCELED'))
    EXECUTE FUNCTION record_message_status_event();

-- Operations: one row at a time (a handful per send), on insert and on a status change.
CREATE FUNCTION record_operation_status_event() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (operation_id, account_sid, type, occurred_at)
    VALUES (NEW.id, NEW.account_sid, 'operation.' || lower(NEW.status), NEW.updated_at);
    RETURN NULL;
END
$$;
CREATE TRIGGER operations_insert_events
    AFTER INSERT ON operations
    FOR EACH ROW EXECUTE FUNCTION record_operation_status_event();
CREATE TRIGGER operations_status_events
    AFTER UPDATE OF status ON operations
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION record_operation_status_event();

-- What a CloudEvent says about an event, beside the event row: the route in use at the time
-- (from, to), the message's tags, and its provider attempts up to then (how many, and the
-- provider's id of the latest on that route). Readers select from here by event id or by
-- operation; both predicates reach the scan of `events`. The lateral aggregate reads
-- attempts_message_idx. `from` is NULL for a message no sender could reach (no routes).
CREATE VIEW event_details AS
SELECT e.id, e.operation_id, e.account_sid, e.message_id, e.type, e.error_code, e.occurred_at,
       m.routes -> e.route_index ->> 'from' AS from_address,
       m.routes -> e.route_index ->> 'channel' AS from_channel,
       coalesce(m.routes -> e.route_index ->> 'to', m.address) AS to_address,
       coalesce(m.routes -> e.route_index ->> 'recipientChannel', m.channel) AS to_channel,
       coalesce(m.tags, m.operation_tags) AS tags,
       coalesce(a.tries, 0) AS tries,
       a.downstream_id
FROM events e
LEFT JOIN messages m ON m.id = e.message_id
LEFT JOIN LATERAL (
    SELECT count(*)::integer AS tries,
           (array_agg(t.provider_sid ORDER BY t.attempted_at DESC)
               FILTER (WHERE t.provider_sid IS NOT NULL AND t.route_index = e.route_index))[1]
               AS downstream_id
    FROM attempts t
    WHERE t.message_id = e.message_id AND t.attempted_at <= e.occurred_at
) a ON e.message_id IS NOT NULL;

-- statusCallback (ext): deliveries to it are signed with a secret of the operation's own,
-- shown once in the send's answer.
ALTER TABLE operations ADD COLUMN status_callback_secret text;

-- Webhook endpoints (ext): an account's URLs and the event types each one receives.
CREATE TABLE webhook_endpoints (
    id uuid CONSTRAINT webhook_endpoints_pkey PRIMARY KEY,
    account_sid text NOT NULL CONSTRAINT webhook_endpoints_account_fkey REFERENCES accounts (sid),
    url text NOT NULL,
    -- Full CloudEvents types (com.twilio.comms-api.message.sent …).
    event_types text[] NOT NULL
        CONSTRAINT webhook_endpoints_event_types_check CHECK (cardinality(event_types) > 0),
    -- `whsec_<base64>`: the Standard Webhooks signing key, kept to sign every delivery.
    secret text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_account_idx ON webhook_endpoints (account_sid, id DESC);

-- One delivery per (event, target): the rendered CloudEvent, sent until the target answers 2xx
-- or the retry window ends. endpoint_id is NULL for an operation's statusCallback.
CREATE TABLE webhook_deliveries (
    id uuid CONSTRAINT webhook_deliveries_pkey PRIMARY KEY,
    account_sid text NOT NULL,
    endpoint_id uuid CONSTRAINT webhook_deliveries_endpoint_fkey
        REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    operation_id uuid NOT NULL,
    event_id bigint NOT NULL,
    event_type text NOT NULL,
    url text NOT NULL,
    body text NOT NULL,
    status text NOT NULL CONSTRAINT webhook_deliveries_status_check
        CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    tries integer NOT NULL DEFAULT 0,
    -- When the next try is due; NULL once it SUCCEEDED or FAILED. Claiming pushes it forward by
    -- a lease, so a worker that dies mid-call leaves the delivery due again.
    next_try_at timestamptz,
    -- Tries stop after this (24 h after the event, or after a redelivery request).
    retry_until timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    -- Fan-out may run again over the same events (a crash before its cursor moved): harmless.
    CONSTRAINT webhook_deliveries_event_target_key
        UNIQUE NULLS NOT DISTINCT (event_id, endpoint_id)
);
-- The delivery queue: only deliveries still to be tried are in this index.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_try_at)
    WHERE next_try_at IS NOT NULL;
-- An endpoint's delivery log, newest first; retention by operation.
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_operation_idx ON webhook_deliveries (operation_id);

-- Every try of a delivery: the audit trail and the debugger.
CREATE TABLE webhook_attempts (
    id uuid CONSTRAINT webhook_attempts_pkey PRIMARY KEY,
    delivery_id uuid NOT NULL CONSTRAINT webhook_attempts_delivery_fkey
        REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    -- NULL when no HTTP answer came (refused address, timeout, connection error).
    status_code integer,
    error text,
    -- The start of the answer's body, for debugging.
    response_body text,
    duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at);

-- Where webhook fan-out stands: events up to `cursor` have their deliveries. `mark_id` /
-- `mark_xmax` is a settled-mark candidate (service/events/logic.py). One row.
CREATE TABLE event_fanout (
    singleton boolean CONSTRAINT event_fanout_pkey PRIMARY KEY DEFAULT true
        CONSTRAINT event_fanout_singleton_check CHECK (singleton),
    cursor bigint NOT NULL,
    mark_id bigint,
    -- An xid8 kept as bigint (xid8 has no binary codec in the driver; the values fit).
    mark_xmax bigint
);
-- Fan-out starts at the events written from now on (none exist before this migration).
INSERT INTO event_fanout (cursor) VALUES (0);

-- Fan-out joins an id range of events to the operations that have a statusCallback: few, so
-- this small partial index is what it reads instead of the operations table.
CREATE INDEX operations_status_callback_idx ON operations (id) WHERE status_callback IS NOT NULL;
