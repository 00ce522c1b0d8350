-- bosun schema, version 18: intake from the trackers. Webhook deliveries are recorded (once
-- per delivery id) before the server answers 202 and processed after; each tracker issue
-- becomes exactly one task (the ledger's unique key, written in the transaction that creates
-- the task); each source keeps what its polls and deliveries did.

CREATE TABLE intake_deliveries (
    id           INTEGER PRIMARY KEY,
    -- the `[[intake]]` source's name (`github:owner/name`)
    source       TEXT NOT NULL,
    -- the tracker's delivery id (X-GitHub-Delivery, X-Gitea-Delivery, X-Plane-Delivery, …)
    delivery     TEXT NOT NULL,
    -- the tracker's event name (issues, issue_comment, issue, …)
    event        TEXT NOT NULL,
    body         BLOB NOT NULL,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER,
    -- what processing it ran into (it is not tried again)
    error        TEXT,
    UNIQUE (source, delivery)
);
CREATE INDEX intake_deliveries_pending ON intake_deliveries(id) WHERE processed_at IS NULL;

CREATE TABLE intake_issues (
    id             INTEGER PRIMARY KEY,
    source         TEXT NOT NULL,
    -- `owner/name` (Plane: `workspace/project`)
    repo           TEXT NOT NULL,
    -- the issue's number (Plane: its sequence id)
    number         INTEGER NOT NULL,
    -- the tracker's own id where it is not the number (Plane's UUID)
    issue_id       TEXT,
    task_id        INTEGER NOT NULL UNIQUE REFERENCES tasks(id),
    url            TEXT NOT NULL,
    -- the status comment bosun edits in place, once written
    comment_id     TEXT,
    -- what the comment and labels say (the task's state as last reported)
    reported       TEXT,
    -- failed attempts to report since the last success, and when the next may be made
    report_attempts INTEGER NOT NULL DEFAULT 0,
    report_after   INTEGER NOT NULL DEFAULT 0,
    report_error   TEXT,
    -- the newest comment read for decisions (its id; comments up to it are done)
    seen_comment   TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (source, repo, number)
);

CREATE TABLE intake_sources (
    source           TEXT PRIMARY KEY,
    last_poll_at     INTEGER,
    last_delivery_at INTEGER,
    -- the list request's validator for the next conditional poll
    etag             TEXT,
    -- when the forge's rate limit resets (ms since the epoch), while it is spent
    limited_until    INTEGER,
    error            TEXT,
    error_at         INTEGER,
    poll_attempts    INTEGER NOT NULL DEFAULT 0,
    bad_signatures   INTEGER NOT NULL DEFAULT 0,
    ignored_comments INTEGER NOT NULL DEFAULT 0,
    tasks_created    INTEGER NOT NULL DEFAULT 0
);
