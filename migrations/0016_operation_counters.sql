-- Operation counters: an operation's messages by status, its unaddressable recipients and its
-- provider attempts, kept by triggers in the statements that change them, so reading an
-- operation's stats costs the same for 10 messages as for 100,000 (a few rows by primary key)
-- instead of a count over its messages and attempts.
--
-- Each operation's counts are split over up to 32 rows ("slots"). A writing transaction adds its
-- changes to its own slot's row, never to one row all receipts would queue on; a reader sums the
-- slots in one snapshot, so the stats are exact at every read. A slot's values may be negative
-- (messages counted QUEUED in one slot and SENT by a receipt in another); only the sums mean
-- anything.
CREATE TABLE operation_counters (
    operation_id uuid NOT NULL CONSTRAINT operation_counters_operation_fkey
        REFERENCES operations (id) ON DELETE CASCADE,
    slot smallint NOT NULL,
    scheduled integer NOT NULL DEFAULT 0,
    queued integer NOT NULL DEFAULT 0,
    sent integer NOT NULL DEFAULT 0,
    delivered integer NOT NULL DEFAULT 0,
    read integer NOT NULL DEFAULT 0,
    undelivered integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    canceled integer NOT NULL DEFAULT 0,
    -- FAILED with error 90020: no sender of the send could reach the recipient.
    unaddressable integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    CONSTRAINT operation_counters_pkey PRIMARY KEY (operation_id, slot)
-- Rows are updated in place over and over: room on each page keeps those updates HOT (no index
-- entry per update) and lets page pruning reclaim the old versions.
) WITH (fillfactor = 50);

-- The slot of the running transaction. A transaction claims a slot with a transaction-level
-- advisory lock (the two-integer key space, class 0x636f756e "coun"), trying its backend's own
-- first and then the next ones, and keeps it in a transaction-local setting, so every statement
-- of the transaction uses the same slot. No two running transactions share a slot, so a counter
-- row is only ever locked by the one transaction writing to it: counters add no row-lock waits
-- between writers, and no deadlocks whatever order statements touch operations in. With all 32
-- slots taken, the transaction waits for its backend's own slot (the owner's commit). A
-- rolled-back savepoint gives up its claim and its setting together.
CREATE FUNCTION operation_counter_slot() RETURNS smallint
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    claimed text := current_setting('comms.operation_counter_slot', true);
    own integer := pg_backend_pid() % 32;
    candidate integer;
BEGIN
    IF claimed <> '' THEN
        RETURN claimed::smallint;
    END IF;
    FOR step IN 0..31 LOOP
        candidate := (own + step) % 32;
        EXIT WHEN pg_try_advisory_xact_lock(x'636f756e'::integer, candidate);
        candidate := NULL;
    END LOOP;
    IF candidate IS NULL THEN
        candidate := own;
        PERFORM pg_advisory_xact_lock(x'636f756e'::integer, candidate);
    END IF;
    PERFORM set_config('comms.operation_counter_slot', candidate::text, true);
    RETURN candidate;
END
$$;

-- The counting of messages, one function for the three statement-level triggers below: a
-- statement's rows (COPY's 10,000 as much as a receipt's one) become a few changes per
-- operation and status, added to the counters in one upsert. Statement-level triggers over
-- transition tables, not row-level ones: a row-level trigger adding to the same counter row for
-- each of 10,000 rows would leave a chain of 10,000 row versions in one transaction, walked on
-- each addition. An UPDATE trigger with transition tables cannot be limited to `UPDATE OF
-- status`, so every UPDATE of messages runs this; one that changes no status nor unaddressable
-- count (claims pushing due_at, mark_sending, store_rendered) sums to zero and writes nothing.
-- Measured with EXPLAIN ANALYZE (trigger time, on a busy two-core machine): ~1.2 µs a row for
-- a 10,000-row COPY or INSERT (12 ms, beside the events trigger's 180 ms); ~2 µs a row for a
-- 10,000-row UPDATE whether or not it changes statuses; ~50-70 µs for a one-row UPDATE that
-- changes no status, ~150-200 µs for one that does (the upsert; claiming the slot is a small
-- part of it): per statement, so a batch of receipts in one statement pays it once.
-- Triggers on the messages table itself also hold for a partitioned messages table, on its
-- parent: statement-level triggers with transition tables are allowed there.
-- A statement's messages grouped by operation, status and whether unaddressable, with their
-- number: +n for rows as they are now, -n for rows as they were.
CREATE TYPE message_count AS (operation_id uuid, status text, unaddressable boolean, n integer);

CREATE FUNCTION count_message_changes() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    changes message_count[];
BEGIN
    -- Each branch names only the transition tables its trigger has.
    IF TG_OP = 'INSERT' THEN
        changes := ARRAY(
            SELECT ROW(operation_id, status, unaddressable, count(*))::message_count
            FROM (SELECT operation_id, status,
                         (status = 'FAILED' AND error_code = 90020) IS TRUE AS unaddressable
                  FROM new_messages) c
            GROUP BY operation_id, status, unaddressable);
    ELSIF TG_OP = 'DELETE' THEN
        changes := ARRAY(
            SELECT ROW(operation_id, status, unaddressable, -count(*))::message_count
            FROM (SELECT operation_id, status,
                         (status = 'FAILED' AND error_code = 90020) IS TRUE AS unaddressable
                  FROM old_messages) c
            GROUP BY operation_id, status, unaddressable);
    ELSE
        -- Rows whose status and unaddressability did not change cancel out.
        changes := ARRAY(
            SELECT ROW(operation_id, status, unaddressable, sum(n))::message_count
            FROM (SELECT operation_id, status,
                         (status = 'FAILED' AND error_code = 90020) IS TRUE AS unaddressable,
                         1 AS n
                  FROM new_messages
                  UNION ALL
                  SELECT operation_id, status,
                         (status = 'FAILED' AND error_code = 90020) IS TRUE, -1
                  FROM old_messages) c
            GROUP BY operation_id, status, unaddressable
            HAVING sum(n) <> 0);
    END IF;
    IF cardinality(changes) = 0 THEN
        RETURN NULL;
    END IF;
    -- Rows are locked in operation order, so two statements that touch several operations' rows
    -- of one slot cannot lock them in opposite orders.
    INSERT INTO operation_counters AS c (operation_id, slot, scheduled, queued, sent, delivered,
                                         read, undelivered, failed, canceled, unaddressable)
    SELECT d.operation_id, operation_counter_slot(), d.scheduled, d.queued, d.sent,
           d.delivered, d.read, d.undelivered, d.failed, d.canceled, d.unaddressable
    FROM (
        SELECT operation_id,
               coalesce(sum(n) FILTER (WHERE status = 'SCHEDULED'), 0) AS scheduled,
               coalesce(sum(n) FILTER (WHERE status = 'QUEUED'), 0) AS queued,
               coalesce(sum(n) FILTER (WHERE status = 'SENT'), 0) AS sent,
               coalesce(sum(n) FILTER (WHERE status = 'DELIVERED'), 0) AS delivered,
               coalesce(sum(n) FILTER (WHERE status = 'READ'), 0) AS read,
               coalesce(sum(n) FILTER (WHERE status = 'UNDELIVERED'), 0) AS undelivered,
               coalesce(sum(n) FILTER (WHERE status = 'FAILED'), 0) AS failed,
               coalesce(sum(n) FILTER (WHERE status = 'CANCELED'), 0) AS canceled,
               coalesce(sum(n) FILTER (WHERE unaddressable), 0) AS unaddressable
        FROM unnest(changes)
        GROUP BY operation_id
    ) d
    WHERE (d.scheduled, d.queued, d.sent, d.delivered, d.read, d.undelivered, d.failed,
           d.canceled, d.unaddressable) <> (0, 0, 0, 0, 0, 0, 0, 0, 0)
    ORDER BY d.operation_id
    ON CONFLICT ON CONSTRAINT operation_counters_pkey DO UPDATE
    SET scheduled = c.scheduled + excluded.scheduled,
        queued = c.queued + excluded.queued,
        sent = c.sent + excluded.sent,
        delivered = c.delivered + excluded.delivered,
        read = c.read + excluded.read,
        undelivered = c.undelivered + excluded.undelivered,
        failed = c.failed + excluded.failed,
        canceled = c.canceled + excluded.canceled,
        unaddressable = c.unaddressable + excluded.unaddressable;
    RETURN NULL;
END
$$;
-- Every insert, COPY included, whoever writes the rows (an accept, or rows added later).
CREATE TRIGGER messages_insert_counters
    AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION count_message_changes();
CREATE TRIGGER messages_update_counters
    AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_messages NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION count_message_changes();
-- Retention: its operations go too (their counter rows with them, by the foreign key).
CREATE TRIGGER messages_delete_counters
    AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_messages
    FOR EACH STATEMENT EXECUTE FUNCTION count_message_changes();

-- Attempts: counted when written (record_submitting), uncounted when dropped unsent
-- (release_unsent) or by retention. An attempt never changes operation, so updates (receipts,
-- outcomes) need no trigger.
CREATE FUNCTION count_attempt_changes() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO operation_counters AS c (operation_id, slot, attempts)
        SELECT operation_id, operation_counter_slot(), count(*)
        FROM new_attempts
        GROUP BY operation_id
        ORDER BY operation_id
        ON CONFLICT ON CONSTRAINT operation_counters_pkey DO UPDATE
        SET attempts = c.attempts + excluded.attempts;
    ELSE
        INSERT INTO operation_counters AS c (operation_id, slot, attempts)
        SELECT operation_id, operation_counter_slot(), -count(*)
        FROM old_attempts
        GROUP BY operation_id
        ORDER BY operation_id
        ON CONFLICT ON CONSTRAINT operation_counters_pkey DO UPDATE
        SET attempts = c.attempts + excluded.attempts;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER attempts_insert_counters
    AFTER INSERT ON attempts
    REFERENCING NEW TABLE AS new_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION count_attempt_changes();
CREATE TRIGGER attempts_delete_counters
    AFTER DELETE ON attempts
    REFERENCING OLD TABLE AS old_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION count_attempt_changes();

-- Existing operations: their counts as they stand, in slot 0. Writers wait (SHARE locks) until
-- this migration commits, so no change falls between the count and the triggers.
LOCK TABLE messages, attempts IN SHARE MODE;
INSERT INTO operation_counters (operation_id, slot, scheduled, queued, sent, delivered, read,
                                undelivered, failed, canceled, unaddressable, attempts)
SELECT o.id, 0,
       coalesce(m.scheduled, 0), coalesce(m.queued, 0), coalesce(m.sent, 0),
       coalesce(m.delivered, 0), coalesce(m.read, 0), coalesce(m.undelivered, 0),
       coalesce(m.failed, 0), coalesce(m.canceled, 0), coalesce(m.unaddressable, 0),
       coalesce(a.attempts, 0)
FROM operations o
LEFT JOIN (
    SELECT operation_id,
           count(*) FILTER (WHERE status = 'SCHEDULED') AS scheduled,
           count(*) FILTER (WHERE status = 'QUEUED') AS queued,
           count(*) FILTER (WHERE status = 'SENT') AS sent,
           count(*) FILTER (WHERE status = 'DELIVERED') AS delivered,
           count(*) FILTER (WHERE status = 'READ') AS read,
           count(*) FILTER (WHERE status = 'UNDELIVERED') AS undelivered,
           count(*) FILTER (WHERE status = 'FAILED') AS failed,
           count(*) FILTER (WHERE status = 'CANCELED') AS canceled,
           count(*) FILTER (WHERE status = 'FAILED' AND error_code = 90020) AS unaddressable
    FROM messages GROUP BY operation_id
) m ON m.operation_id = o.id
LEFT JOIN (
    SELECT operation_id, count(*) AS attempts FROM attempts GROUP BY operation_id
) a ON a.operation_id = o.id
WHERE m.operation_id IS NOT NULL OR a.operation_id IS NOT NULL;
