-- bosun schema, version 13: helper jobs. An agent hands a sub-task to another role (handoff:
-- it waits for the answer; assign: it carries on and the answer comes as a message). A helper
-- job runs in the same task's worktree next to the stage's job, so the one-open-job rule
-- holds for stage jobs only; `helpers` records who asked, what, and the answer.
ALTER TABLE jobs ADD COLUMN helper INTEGER NOT NULL DEFAULT 0 CHECK (helper IN (0, 1));
DROP INDEX jobs_one_open;
CREATE UNIQUE INDEX jobs_one_open ON jobs(task_id)
    WHERE status IN ('queued', 'running') AND helper = 0;
CREATE TABLE helpers (
    job_id        INTEGER PRIMARY KEY REFERENCES jobs(id),
    parent_run_id INTEGER NOT NULL REFERENCES runs(id),
    mode          TEXT NOT NULL CHECK (mode IN ('handoff', 'assign')),
    request       TEXT NOT NULL CHECK (length(request) > 0),
    result        TEXT,
    failed        INTEGER NOT NULL DEFAULT 0 CHECK (failed IN (0, 1)),
    finished_at   INTEGER,
    CHECK (finished_at IS NOT NULL OR (result IS NULL AND failed = 0))
);
CREATE INDEX helpers_parent ON helpers(parent_run_id);
