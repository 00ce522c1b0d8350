-- bosun schema, version 1. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE projects (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    path           TEXT NOT NULL UNIQUE,
    key_prefix     TEXT NOT NULL UNIQUE,
    default_branch TEXT,
    test_command   TEXT,
    next_seq       INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL
);

CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    project_id   INTEGER NOT NULL REFERENCES projects(id),
    title        TEXT NOT NULL,
    spec         TEXT NOT NULL DEFAULT '',
    branch       TEXT,
    worktree     TEXT,
    stage        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN
                   ('active','needs_input','awaiting_approval','blocked','done','cancelled')),
    state_reason TEXT,
    -- while awaiting_approval: the gate index waiting and the run it judges
    pending_gate INTEGER,
    pending_run  INTEGER,
    priority     INTEGER NOT NULL DEFAULT 100,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX tasks_state ON tasks(state, stage);

CREATE TABLE jobs (
    id                     INTEGER PRIMARY KEY,
    task_id                INTEGER NOT NULL REFERENCES tasks(id),
    stage                  TEXT NOT NULL,
    role                   TEXT NOT NULL,
    provider               TEXT NOT NULL,
    priority               INTEGER NOT NULL DEFAULT 100,
    status                 TEXT NOT NULL CHECK (status IN
                             ('queued','running','done','failed','cancelled')),
    attempts               INTEGER NOT NULL DEFAULT 0,
    max_attempts           INTEGER NOT NULL,
    transient_attempts     INTEGER NOT NULL DEFAULT 0,
    max_transient_attempts INTEGER NOT NULL,
    available_at           INTEGER NOT NULL,
    feedback               TEXT,
    last_error             TEXT,
    owner                  TEXT,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    claimed_at             INTEGER,
    finished_at            INTEGER
);
-- Matches the claim's WHERE status = 'queued' ORDER BY priority, id: no sort step.
CREATE INDEX jobs_claim ON jobs(status, priority, id);
CREATE INDEX jobs_task ON jobs(task_id);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    task_id       INTEGER NOT NULL REFERENCES tasks(id),
    stage         TEXT NOT NULL,
    role          TEXT NOT NULL,
    provider      TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    status        TEXT NOT NULL,
    pane_id       TEXT,
    log_path      TEXT,
    exit_code     INTEGER,
    error         TEXT,
    final_message TEXT,
    feedback      TEXT,
    started_at    INTEGER NOT NULL,
    status_at     INTEGER NOT NULL,
    ended_at      INTEGER
);
CREATE INDEX runs_task ON runs(task_id, id);
CREATE INDEX runs_job ON runs(job_id);

CREATE TABLE gate_results (
    id         INTEGER PRIMARY KEY,
    task_id    INTEGER NOT NULL REFERENCES tasks(id),
    run_id     INTEGER,
    stage      TEXT NOT NULL,
    gate_index INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('pass','fail','pending')),
    reason     TEXT NOT NULL,
    output     TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX gate_results_task ON gate_results(task_id, id);

-- Per-task counters of retries and rollbacks, for the caps in the pipeline.
CREATE TABLE counters (
    task_id INTEGER NOT NULL REFERENCES tasks(id),
    name    TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (task_id, name)
) WITHOUT ROWID;

-- One circuit breaker per provider.
CREATE TABLE breakers (
    provider             TEXT PRIMARY KEY,
    state                TEXT NOT NULL CHECK (state IN ('closed','open','half_open')),
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    opened_at            INTEGER,
    probe_job_id         INTEGER,
    updated_at           INTEGER NOT NULL
);

-- Append-only activity log.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    ts      INTEGER NOT NULL,
    task_id INTEGER,
    job_id  INTEGER,
    run_id  INTEGER,
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    message TEXT NOT NULL,
    data    TEXT
);
CREATE INDEX events_task ON events(task_id, id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
