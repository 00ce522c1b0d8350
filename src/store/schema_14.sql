-- bosun schema, version 14: hook tokens are stored as their SHA-256 hash, never in clear
-- (issue 18). The migration's hook hashes the clear tokens of existing runs into the new
-- column and drops the old one (with secure_delete on, so the freed pages are zeroed).
ALTER TABLE runs ADD COLUMN hook_token_sha256 TEXT;
-- Refused hook calls are counted in place, one row per run (run_id 0: unknown runs), and
-- reported as one `hook_rejected` event at most once a minute per row.
CREATE TABLE hook_rejections (
    run_id      INTEGER PRIMARY KEY,
    pending     INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    first_at    INTEGER,
    last_at     INTEGER NOT NULL,
    reported_at INTEGER,
    last_reason TEXT NOT NULL DEFAULT ''
);
