-- Profiles (the people an account sends to), audiences (static lists of profiles, or a filter
-- on their attributes) and profile imports (bulk NDJSON/CSV loads that run in the background).
-- Ids are UUIDv7 made in Python, as elsewhere.

CREATE TABLE profiles (
    id uuid CONSTRAINT profiles_pkey PRIMARY KEY,
    account_sid text NOT NULL CONSTRAINT profiles_account_fkey REFERENCES accounts (sid),
    -- The caller's own key for the profile: PUT /v1/Profiles/ExternalId/{externalId} upserts.
    external_id text,
    -- [{"address": "+14155550100", "channel": "SMS"}, ...] in priority order: a send to the
    -- profile tries them in this order (its fallback routes).
    addresses jsonb NOT NULL DEFAULT '[]',
    -- {"firstName": "Ada", "plan": "pro", "age": 36, "vip": true}: strings, numbers, booleans.
    attributes jsonb NOT NULL DEFAULT '{}',
    -- An IANA zone name ("Europe/Paris"): a recipient-local schedule uses it.
    time_zone text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX profiles_external_id_key ON profiles (account_sid, external_id)
    WHERE external_id IS NOT NULL;
-- Lists and keyset pages of an account's profiles, newest first.
CREATE INDEX profiles_account_idx ON profiles (account_sid, id DESC);
-- Audience filters on attributes (equality and containment).
CREATE INDEX profiles_attributes_idx ON profiles USING gin (attributes jsonb_path_ops);

CREATE TABLE audiences (
    id uuid CONSTRAINT audiences_pkey PRIMARY KEY,
    account_sid text NOT NULL CONSTRAINT audiences_account_fkey REFERENCES accounts (sid),
    display_name text NOT NULL,
    -- NULL: a static list (audience_members). Otherwise a filter on profile attributes,
    -- evaluated at send time, e.g. {"attributes.plan": "pro", "attributes.age": {"gte": 18}}.
    filter jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX audiences_account_idx ON audiences (account_sid, id DESC);

-- Members of static audiences. Deleting a profile or an audience removes its memberships.
CREATE TABLE audience_members (
    audience_id uuid NOT NULL CONSTRAINT audience_members_audience_fkey
        REFERENCES audiences (id) ON DELETE CASCADE,
    profile_id uuid NOT NULL CONSTRAINT audience_members_profile_fkey
        REFERENCES profiles (id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL,
    CONSTRAINT audience_members_pkey PRIMARY KEY (audience_id, profile_id)
);
CREATE INDEX audience_members_profile_idx ON audience_members (profile_id);

-- A bulk import (POST /v1/Profiles/Import): its progress, counts and per-row errors.
CREATE TABLE profile_imports (
    id uuid CONSTRAINT profile_imports_pkey PRIMARY KEY,
    account_sid text NOT NULL CONSTRAINT profile_imports_account_fkey REFERENCES accounts (sid),
    status text NOT NULL CONSTRAINT profile_imports_status_check
        CHECK (status IN ('PROCESSING', 'COMPLETED', 'FAILED')),
    format text NOT NULL CONSTRAINT profile_imports_format_check CHECK (format IN ('NDJSON', 'CSV')),
    rows_read bigint NOT NULL DEFAULT 0,
    rows_imported bigint NOT NULL DEFAULT 0,
    rows_failed bigint NOT NULL DEFAULT 0,
    -- The first errors, one per failed row: [{"row": 12, "code": 21211, "message": "..."}].
    errors jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX profile_imports_account_idx ON profile_imports (account_sid, id DESC);
