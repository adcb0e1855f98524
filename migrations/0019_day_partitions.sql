-- Messages, attempts and events partitioned by UTC day, so retention drops a day's partitions
-- instead of deleting its rows (docs/partitioning.md: layout, maintenance, retention, locks).
--
-- Keys. Message and attempt ids are UUIDv7: their top 48 bits are the unix time in ms, and uuid
-- values compare bytewise, so a day is the id range [uuid7_floor(day), uuid7_floor(next day)).
-- Partitioning messages and attempts by RANGE (id) keeps `PRIMARY KEY (id)` (the key is the
-- primary key) and a lookup by id reads one partition.
-- Events are partitioned by RANGE (operation_id), with the same day bounds: operation ids are
-- UUIDv7 made when the send is accepted, so an operation's events all live in the partition of
-- the day it was accepted. Every reader that follows an operation (the SSE stream, a message's
-- status changes: WHERE operation_id = ... AND id > ...) reads one partition, and retention,
-- which goes by operation, drops an operation's events with its day. The alternatives were
-- worse: the bigint id has no day bounds known in advance (a sequence), and occurred_at would
-- scatter an operation's events over every day it was sending (a stream would read all
-- partitions) and force it into the primary key. The price: a unique index must contain the
-- partition key, so `events_pkey (id)` becomes a plain index on id in every partition (ids
-- still come from the one identity sequence, so they stay unique); readers by id (webhook
-- fan-out's id range, events_by_id) probe that index in each partition (one per day kept).
--
-- The same holds for attempts_provider_sid_key (unique provider_sid): it cannot be unique on
-- attempts partitioned by id. Its uniqueness moves to attempt_provider_sids, a narrow table
-- kept by triggers; a clash still raises unique_violation in the statement that caused it.
--
-- Missing days. A DEFAULT partition takes rows whose day has no partition (maintenance lagged,
-- or an id from far ahead), so an insert never fails. Trade-off: attaching a day's partition
-- scans the default partition (under an ACCESS EXCLUSIVE lock on it) to prove no row of that day
-- is there, so it must stay near empty; create_day_partitions makes days well ahead, and skips
-- a day that already has rows in the default partition (they stay there; retention deletes
-- them row by row once old).
--
-- Existing rows. The old table becomes the partition `<table>_legacy` for every key below the
-- start of the day after tomorrow (UTC) when the migration starts (so rows written until it ends
-- stay valid). Its CHECK constraint is added NOT VALID, then validated in a step of its own, so
-- ATTACH skips its own scan. Every index, constraint and trigger the old table had is made again
-- on the parent, read from the catalogue (pg_index, pg_trigger), whichever migration defined
-- it; an index the legacy table already has is attached, not built. A database with no rows yet
-- (a new one) keeps no legacy partition.
--
-- Steps, each its own transaction (`-- migrate:commit`, service/migrate.py), each safe to run
-- again: (1) definitions, and the CHECK constraints NOT VALID (brief locks, no read); (2) the
-- reads, under locks that let reads and writes go on; (3) the switch, catalog work under brief
-- ACCESS EXCLUSIVE locks. docs/partitioning.md has the locks and their durations.

-- Step 1.

-- The smallest UUIDv7 of a millisecond (a range bound: every UUIDv7 made at t or later is >= it).
CREATE OR REPLACE FUNCTION uuid7_floor(t timestamptz) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (lpad(to_hex(floor(extract(epoch FROM t) * 1000)::bigint), 12, '0')
            || repeat('0', 20))::uuid;

-- The first key of a UTC day.
CREATE OR REPLACE FUNCTION day_key(d date) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN uuid7_floor(d::timestamp AT TIME ZONE 'UTC');

-- The tables partitioned by day, and what they are partitioned on.
-- legacy_bound: the upper bound of the legacy partition, chosen by the first step below.
CREATE TABLE IF NOT EXISTS day_partitioned (
    table_name text CONSTRAINT day_partitioned_pkey PRIMARY KEY,
    key_column text NOT NULL,
    legacy_bound uuid
);
INSERT INTO day_partitioned (table_name, key_column)
VALUES ('messages', 'id'), ('attempts', 'id'), ('events', 'operation_id')
ON CONFLICT (table_name) DO NOTHING;

-- A partition's indexes carry the name of the parent's index they belong to, then the
-- partition's suffix (messages_tags_idx_p20261203), so plans say which index they read.
CREATE OR REPLACE FUNCTION name_partition_indexes(part regclass) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    suffix text;
    ix record;
BEGIN
    SELECT substring(c.relname FROM length(p.relname) + 2) INTO suffix
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    WHERE i.inhrelid = part;
    FOR ix IN
        SELECT c.relname AS name, left(pc.relname || '_' || suffix, 63) AS wanted
        FROM pg_index x
        JOIN pg_class c ON c.oid = x.indexrelid
        JOIN pg_inherits ih ON ih.inhrelid = x.indexrelid
        JOIN pg_class pc ON pc.oid = ih.inhparent
        WHERE x.indrelid = part
    LOOP
        IF ix.name <> ix.wanted THEN
            EXECUTE format('ALTER INDEX %I RENAME TO %I', ix.name, ix.wanted);
        END IF;
    END LOOP;
END
$$;

-- Maintenance (the migration, then the worker's retention job every hour): the partitions of
-- `days` days from first_day, `<table>_pYYYYMMDD`; those that exist are left alone. A table made
-- standalone then ATTACHed takes a SHARE UPDATE EXCLUSIVE lock on the parent (reads and writes
-- go on), where CREATE TABLE … PARTITION OF would take ACCESS EXCLUSIVE. A day that overlaps
-- another partition (the legacy one) or has rows in the default partition is skipped. Returns
-- the partitions made.
CREATE OR REPLACE FUNCTION create_day_partitions(first_day date, days integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    d date;
    t text;
    part text;
    made integer := 0;
BEGIN
    FOR i IN 0 .. days - 1 LOOP
        d := first_day + i;
        FOR t IN SELECT table_name FROM day_partitioned ORDER BY table_name LOOP
            part := format('%s_p%s', t, to_char(d, 'YYYYMMDD'));
            CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
            BEGIN
                EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                               ' INCLUDING STORAGE)', part, t);
                EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                               t, part, day_key(d), day_key(d + 1));
                PERFORM name_partition_indexes(part::regclass);
                made := made + 1;
            EXCEPTION WHEN invalid_object_definition OR check_violation THEN
                RAISE NOTICE 'no partition % (%)', part, SQLERRM;
            END;
        END LOOP;
    END LOOP;
    RETURN made;
END
$$;

-- Retention: a partition whose whole range is past retention goes. Rows of the operations in
-- `keep` (a send with messages still to go) stay: the partition is replaced by a copy of just
-- those rows, attached over the same range. Rows are copied, not inserted through the parent,
-- so no trigger sees them move. (The provider sids of the attempts that go are released by
-- retention beforehand, with their operations: this scans nothing but the kept rows.)
CREATE OR REPLACE FUNCTION drop_day_partition(part regclass, keep uuid[]) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    parent regclass;
    bound text;
    name text;
    kept boolean;
BEGIN
    SELECT i.inhparent::regclass, pg_get_expr(c.relpartbound, c.oid), c.relname
    INTO parent, bound, name
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhrelid = part;
    IF parent IS NULL THEN
        RAISE EXCEPTION '% is not a partition', part;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE operation_id = ANY($1))', part)
        USING keep INTO kept;
    IF kept THEN
        EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                       ' INCLUDING STORAGE)', name || '_kept', parent);
        EXECUTE format('INSERT INTO %I SELECT * FROM %s WHERE operation_id = ANY($1)',
                       name || '_kept', part) USING keep;
    END IF;
    EXECUTE format('DROP TABLE %s', part);
    IF kept THEN
        EXECUTE format('ALTER TABLE %I RENAME TO %I', name || '_kept', name);
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I %s', parent, name, bound);
        PERFORM name_partition_indexes(name::regclass);
    END IF;
END
$$;

-- Provider sids are unique across every attempt (a provider never gives two sends one sid; a
-- lookup must not adopt another attempt's): attempts partitioned by id cannot hold a unique
-- index on provider_sid, so this table does. Triggers on attempts keep it; a second attempt
-- with a sid fails with unique_violation as the index made it fail before.
CREATE TABLE IF NOT EXISTS attempt_provider_sids (
    provider_sid text CONSTRAINT attempt_provider_sids_pkey PRIMARY KEY
);

CREATE OR REPLACE FUNCTION claim_attempt_provider_sid() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.provider_sid IS NOT NULL THEN
        DELETE FROM attempt_provider_sids WHERE provider_sid = OLD.provider_sid;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.provider_sid IS NOT NULL THEN
        INSERT INTO attempt_provider_sids (provider_sid) VALUES (NEW.provider_sid);
    END IF;
    RETURN NULL;
END
$$;

-- Kept from now on, on the table as it is (the triggers move to the parent with the others).
CREATE OR REPLACE TRIGGER attempts_provider_sid_insert
    AFTER INSERT ON attempts
    FOR EACH ROW WHEN (NEW.provider_sid IS NOT NULL)
    EXECUTE FUNCTION claim_attempt_provider_sid();
CREATE OR REPLACE TRIGGER attempts_provider_sid_update
    AFTER UPDATE OF provider_sid ON attempts
    FOR EACH ROW WHEN (OLD.provider_sid IS DISTINCT FROM NEW.provider_sid)
    EXECUTE FUNCTION claim_attempt_provider_sid();
CREATE OR REPLACE TRIGGER attempts_provider_sid_delete
    AFTER DELETE ON attempts
    FOR EACH ROW WHEN (OLD.provider_sid IS NOT NULL)
    EXECUTE FUNCTION claim_attempt_provider_sid();


-- The legacy partition's bound: the start of the day after tomorrow (UTC), so rows written until
-- the last step runs, even past midnight, are below it. Each table gets a CHECK constraint saying
-- so, NOT VALID: adding it reads nothing (a brief ACCESS EXCLUSIVE lock); new rows are checked.
DO $bound$
DECLARE
    t record;
BEGIN
    UPDATE day_partitioned
    SET legacy_bound = day_key((now() AT TIME ZONE 'UTC')::date + 2)
    WHERE legacy_bound IS NULL;
    FOR t IN SELECT table_name, key_column, legacy_bound FROM day_partitioned
             ORDER BY table_name LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_constraint
                       WHERE conrelid = t.table_name::regclass
                         AND conname = t.table_name || '_partition_bound') THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I IS NOT NULL AND %I < %L)'
                           ' NOT VALID', t.table_name, t.table_name || '_partition_bound',
                           t.key_column, t.key_column, t.legacy_bound);
        END IF;
    END LOOP;
END
$bound$;

-- migrate:commit
-- Step 2: the reads, under locks that let reads and writes go on, one transaction each (a
-- VALIDATE takes an xid only for its catalog update at the end, so event readers, who wait for
-- older transactions to end, are not held up by its scan). VALIDATE takes SHARE UPDATE
-- EXCLUSIVE and scans the table once; the provider sids are copied from attempts (new ones are
-- added by the triggers meanwhile).
ALTER TABLE attempts VALIDATE CONSTRAINT attempts_partition_bound;
-- migrate:commit
ALTER TABLE events VALIDATE CONSTRAINT events_partition_bound;
-- migrate:commit
ALTER TABLE messages VALIDATE CONSTRAINT messages_partition_bound;
-- migrate:commit
INSERT INTO attempt_provider_sids (provider_sid)
SELECT provider_sid FROM attempts WHERE provider_sid IS NOT NULL
ON CONFLICT (provider_sid) DO NOTHING;

-- migrate:commit
-- Step 3: the switch, catalog work only (no scan, no index build, no row moved).
-- Every table of day_partitioned becomes a partitioned table, its rows kept in place.
DO $migrate$
DECLARE
    t record;
    legacy text;
    bound uuid;
    has_rows boolean;
    ix record;
    tg record;
    v record;
    indexes text[];
    triggers text[];
    statement text;
    seq text;
    new_seq text;
    last_value bigint;
    key_attnum smallint;
BEGIN
    FOR t IN SELECT table_name AS name, key_column AS key, legacy_bound FROM day_partitioned
             ORDER BY table_name LOOP
        legacy := t.name || '_legacy';
        bound := t.legacy_bound;
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t.name, legacy);
        SELECT attnum INTO key_attnum FROM pg_attribute
        WHERE attrelid = legacy::regclass AND attname = t.key;

        -- What the parent must have again: its indexes (and the constraints they back) and its
        -- triggers, as defined now, by whichever migration.
        indexes := '{}';
        FOR ix IN
            SELECT c.relname AS name, i.indisprimary AS is_primary, i.indisunique AS is_unique,
                   key_attnum = ANY(i.indkey::smallint[]) AS has_key,
                   con.conname AS constraint_name,
                   pg_get_constraintdef(con.oid) AS constraint_def,
                   substring(pg_get_indexdef(i.indexrelid) FROM ' USING .*$') AS using_clause
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid
                                       AND con.conrelid = i.indrelid
            WHERE i.indrelid = legacy::regclass
            ORDER BY c.relname
        LOOP
            -- The legacy partition keeps its indexes under other names.
            EXECUTE format('ALTER INDEX %I RENAME TO %I', ix.name, left(ix.name, 55) || '_legacy');
            IF ix.is_unique AND NOT ix.has_key THEN
                -- Unique without the partition key: impossible on the parent. The two known
                -- ones become plain indexes (their uniqueness is kept elsewhere, see above);
                -- any other stops the migration rather than silently losing a guarantee.
                -- ON ONLY: the legacy partition keeps its own unique index for its rows.
                IF ix.name = 'events_pkey' THEN
                    indexes := indexes || format('CREATE INDEX events_id_idx ON ONLY %I %s',
                                                 t.name, ix.using_clause);
                ELSIF ix.name = 'attempts_provider_sid_key' THEN
                    indexes := indexes || format(
                        'CREATE INDEX attempts_provider_sid_idx ON ONLY %I %s',
                        t.name, ix.using_clause);
                ELSE
                    RAISE EXCEPTION 'unique index % on % lacks the partition key %',
                        ix.name, t.name, t.key;
                END IF;
            ELSIF ix.constraint_name IS NOT NULL THEN
                indexes := indexes || format('ALTER TABLE %I ADD CONSTRAINT %I %s',
                                             t.name, ix.constraint_name, ix.constraint_def);
            ELSE
                indexes := indexes || format('CREATE %sINDEX %I ON %I %s',
                                             CASE WHEN ix.is_unique THEN 'UNIQUE ' ELSE '' END,
                                             ix.name, t.name, ix.using_clause);
            END IF;
        END LOOP;
        triggers := '{}';
        FOR tg IN
            SELECT tgname AS name, pg_get_triggerdef(oid) AS def FROM pg_trigger
            WHERE tgrelid = legacy::regclass AND NOT tgisinternal ORDER BY tgname
        LOOP
            triggers := triggers || replace(tg.def, ' ON public.' || legacy || ' ',
                                            ' ON public.' || t.name || ' ');
            EXECUTE format('DROP TRIGGER %I ON %I', tg.name, legacy);
        END LOOP;
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                       ' INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE'
                       ' INCLUDING COMMENTS) PARTITION BY RANGE (%I)', t.name, legacy, t.key);
        -- LIKE copied the step-1 bound; it is the legacy partition's alone.
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t.name, t.name || '_partition_bound');

        -- An identity column keeps its sequence's name and position (events_id_seq: readers
        -- take their settled marks from it).
        FOR ix IN
            SELECT attname FROM pg_attribute
            WHERE attrelid = legacy::regclass AND attidentity <> '' AND NOT attisdropped
        LOOP
            seq := pg_get_serial_sequence(legacy, ix.attname);
            new_seq := pg_get_serial_sequence(t.name, ix.attname);
            last_value := pg_sequence_last_value(seq::regclass);
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I DROP IDENTITY', legacy, ix.attname);
            EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', new_seq,
                           (parse_ident(seq))[array_length(parse_ident(seq), 1)]);
            IF last_value IS NOT NULL THEN
                PERFORM setval(seq, last_value);
            END IF;
        END LOOP;

        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', legacy) INTO has_rows;
        IF has_rows THEN
            -- The CHECK constraint validated in step 2 proves the partition constraint, so
            -- ATTACH does not scan; then it has served and goes.
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
                           t.name, legacy, bound);
        END IF;
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', legacy, t.name || '_partition_bound');
        FOREACH statement IN ARRAY indexes LOOP
            EXECUTE statement;
        END LOOP;
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t.name || '_default', t.name);
        PERFORM name_partition_indexes((t.name || '_default')::regclass);
        FOREACH statement IN ARRAY triggers LOOP
            EXECUTE statement;
        END LOOP;

        -- Views read the parent now (a view names the table it was created on).
        FOR v IN
            SELECT DISTINCT r.ev_class::regclass AS view
            FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
            WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = legacy::regclass
              AND r.ev_class <> legacy::regclass
        LOOP
            EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', v.view,
                           rtrim(regexp_replace(pg_get_viewdef(v.view),
                                                '\m(' || t.name || ')_legacy\M', '\1', 'g'),
                                 ';'));
        END LOOP;
        IF NOT has_rows THEN
            EXECUTE format('DROP TABLE %I', legacy);
        END IF;
    END LOOP;
END
$migrate$;

-- Today and the next days (today is skipped where the legacy partition holds it).
SELECT create_day_partitions((now() AT TIME ZONE 'UTC')::date, 4);
