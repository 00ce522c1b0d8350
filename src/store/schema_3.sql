-- bosun schema, version 3: agent hooks.

-- The secret an agent's hook calls must present for this run (`bosun hook --token`).
ALTER TABLE runs ADD COLUMN hook_token TEXT;

-- Hook calls received from agents (Claude Code's UserPromptSubmit, PreToolUse, Notification,
-- Stop, StopFailure), in arrival order; the supervisor reads the rows after the last it saw.
CREATE TABLE hooks (
    id     INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    event  TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at     INTEGER NOT NULL
);
CREATE INDEX hooks_run ON hooks(run_id, id);
