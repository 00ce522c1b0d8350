-- bosun schema, version 16: landing. A task that passed its last stage lands (merged into its
-- project's base branch, or a pull request opened and followed on the forge) before it is
-- `landed`; `landing` and `in_review` are the states on the way.

-- The task states gain landing, in_review and landed. SQLite cannot change a CHECK in place:
-- the table is rebuilt with its rows, index and trigger. Its children (jobs, runs, gates,
-- counters, messages, …) reference it by name; the rows are put back in the same transaction
-- with foreign keys deferred, so no reference is ever left dangling at commit.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE tasks_v15 AS SELECT * FROM tasks;
DROP TABLE tasks;
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
                   ('active','needs_input','awaiting_approval','blocked','done','cancelled',
                    'landing','in_review','landed')),
    state_reason TEXT,
    -- while awaiting_approval: the gate index waiting and the run it judges
    pending_gate INTEGER,
    pending_run  INTEGER,
    priority     INTEGER NOT NULL DEFAULT 100,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO tasks (id, key, project_id, title, spec, branch, worktree, stage, state,
                   state_reason, pending_gate, pending_run, priority, created_at, updated_at,
                   version)
SELECT id, key, project_id, title, spec, branch, worktree, stage, state, state_reason,
       pending_gate, pending_run, priority, created_at, updated_at, version
FROM tasks_v15;
DROP TABLE tasks_v15;
CREATE INDEX tasks_state ON tasks(state, stage);
CREATE TRIGGER tasks_version AFTER UPDATE ON tasks
WHEN NEW.version = OLD.version
BEGIN
    UPDATE tasks SET version = OLD.version + 1 WHERE id = NEW.id;
END;

-- A project's own landing settings (JSON of `[projects.land]`'s keys), over the config's.
ALTER TABLE projects ADD COLUMN land TEXT;

-- One landing of a task: how (mode, strategy, base), where it stands, and each step recorded
-- before the next (the merge's commit, the pull request's number once opened, the cleanup).
-- At most one open landing per task: of two operators landing at once, one wins.
CREATE TABLE landings (
    id            INTEGER PRIMARY KEY,
    task_id       INTEGER NOT NULL REFERENCES tasks(id),
    mode          TEXT NOT NULL CHECK (mode IN ('merge','pr')),
    strategy      TEXT NOT NULL CHECK (strategy IN ('squash','merge','rebase')),
    base          TEXT NOT NULL,
    branch        TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('landing','in_review','landed','failed')),
    -- the commit the base branch moved to (merge), or the pull request's merge commit
    commit_sha    TEXT,
    pr_number     INTEGER,
    pr_url        TEXT,
    -- the forge's ETag of the pull request, for conditional polling
    etag          TEXT,
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    decided_by    TEXT NOT NULL,
    cleaned_at    INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- a merge is landed only with the commit the base moved to
    CHECK (state <> 'landed' OR mode = 'pr' OR commit_sha IS NOT NULL)
);
CREATE UNIQUE INDEX landings_one_open ON landings(task_id)
    WHERE state IN ('landing', 'in_review');
CREATE INDEX landings_state ON landings(state);
