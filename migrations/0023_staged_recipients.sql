-- A large send's recipients, staged by the accept and made into messages by the workers
-- (service/audiences/expansion.py), as a send to an audience is: writing 10,000 message rows
-- and their dozen index entries each took the accept 0.4 s, while a few chunks of recipients,
-- already validated and routed, take a few milliseconds. The operation's expansion says it has
-- them ({"staged": true}); each chunk is one page of the expansion, and the page's transaction
-- deletes it with inserting its messages: a crash repeats nothing and loses nothing.
CREATE TABLE operation_recipients (
    operation_id uuid NOT NULL CONSTRAINT operation_recipients_operation_fkey
        REFERENCES operations (id) ON DELETE CASCADE,
    chunk integer NOT NULL,
    -- The chunk's recipients (service/messages/logic.staged_chunks: msgpack).
    recipients bytea NOT NULL,
    CONSTRAINT operation_recipients_pkey PRIMARY KEY (operation_id, chunk)
);
