-- Profile imports: the rows a POST /v1/Profiles/Import streamed in, staged until a worker has
-- validated and loaded them, and what the worker needs to read them.

-- A CSV import's header (its column names, in order); NULL for NDJSON.
ALTER TABLE profile_imports ADD COLUMN columns text[];

-- The request stores the import and every one of its rows (COPY, in chunks) in one
-- transaction; a worker then takes them in row order, a chunk per transaction: it loads the
-- chunk's valid rows into profiles, counts and records the failed ones, and deletes the
-- chunk's staged rows, all in that transaction. A crash loses the chunk's work and leaves its
-- rows staged, so the next worker does it again once, and never twice.
CREATE TABLE profile_import_rows (
    import_id uuid NOT NULL CONSTRAINT profile_import_rows_import_fkey
        REFERENCES profile_imports (id) ON DELETE CASCADE,
    -- The line of the body the row starts on (1-based; a CSV header is line 1).
    row_number bigint NOT NULL,
    -- The row's raw bytes (decoded by the worker: a row that is not UTF-8 fails alone); NULL
    -- when the row was longer than the limit (it fails with a row error).
    line bytea,
    CONSTRAINT profile_import_rows_pkey PRIMARY KEY (import_id, row_number)
);

-- Workers find imports still to do.
CREATE INDEX profile_imports_processing_idx ON profile_imports (id) WHERE status = 'PROCESSING';

-- GET /v1/Profiles?address=… (containment on the addresses array).
CREATE INDEX profiles_addresses_idx ON profiles USING gin (addresses jsonb_path_ops);
