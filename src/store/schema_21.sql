-- bosun schema, version 21: providers parked at a usage limit (issue 22). While `until_at`
-- is ahead, no job of the provider is claimed; the runs that hit the limit wait in their
-- panes and resume at `resets_at` (staggered, the last at `until_at`).
CREATE TABLE provider_limits (
    provider     TEXT PRIMARY KEY,
    resets_at    INTEGER NOT NULL,
    until_at     INTEGER NOT NULL,
    words        TEXT NOT NULL,
    used_percent REAL CHECK (used_percent IS NULL OR used_percent >= 0),
    run_id       INTEGER REFERENCES runs(id),
    updated_at   INTEGER NOT NULL,
    CHECK (until_at >= resets_at)
);
