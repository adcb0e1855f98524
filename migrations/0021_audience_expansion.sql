-- Sends to profiles and audiences: the operation keeps its profile sources and a cursor, and a
-- worker expands them into messages page by page (service/audiences/expansion.py).

-- What the send named besides addresses, and what the worker needs to make its messages:
-- {"profiles": [uuid, ...], "audiences": [uuid, ...], "senders": [{address, channel,
-- senderId?}, ...], "schedule": {"instant": iso | null, "local": iso | null} | null,
-- "firstPosition": int}. NULL for sends to addresses only.
ALTER TABLE operations ADD COLUMN expansion jsonb;
-- The last profile id made into a message: the next page starts strictly after it. Written in
-- the transaction that inserts the page's messages, so a crash repeats nothing and loses
-- nothing.
ALTER TABLE operations ADD COLUMN expansion_cursor uuid;
-- True until every profile source is expanded: the operation is not COMPLETED before.
ALTER TABLE operations ADD COLUMN expanding boolean NOT NULL DEFAULT false;
-- The workers' periodic look for expansions to take up (a lost enqueue, a killed worker).
CREATE INDEX operations_expanding_idx ON operations (id) WHERE expanding;

