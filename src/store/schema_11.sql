-- bosun schema, version 11: messages to a task's agents (the operator's, other runs', other
-- tasks'). A message is delivered when its recipient's agent is idle: claimed for a run,
-- pasted (recorded), submitted (delivered), and acknowledged once the turn it started ends.
-- Every step is a compare-and-set on these columns, in this order.
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    sender       TEXT NOT NULL CHECK (length(sender) > 0),
    task_id      INTEGER NOT NULL REFERENCES tasks(id),
    role         TEXT,
    body         TEXT NOT NULL CHECK (length(body) > 0),
    created_at   INTEGER NOT NULL,
    run_id       INTEGER REFERENCES runs(id),
    claimed_at   INTEGER,
    pasted_at    INTEGER,
    delivered_at INTEGER,
    acked_at     INTEGER,
    CHECK ((run_id IS NULL) = (claimed_at IS NULL)),
    CHECK (pasted_at IS NULL OR claimed_at IS NOT NULL),
    CHECK (delivered_at IS NULL OR pasted_at IS NOT NULL),
    CHECK (acked_at IS NULL OR delivered_at IS NOT NULL)
);
CREATE INDEX messages_pending ON messages(task_id, id) WHERE delivered_at IS NULL;
CREATE INDEX messages_run ON messages(run_id) WHERE run_id IS NOT NULL;
