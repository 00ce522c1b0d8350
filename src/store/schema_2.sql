-- bosun schema, version 2: the supervisor lease and the run fields the runtime needs.

-- Exactly one supervisor per database holds the lease (ARCHITECTURE.md, `store/`).
CREATE TABLE lease (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    owner        TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    acquired_at  INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

-- When the prompt went into the pane (NULL until delivered), and the window's name.
ALTER TABLE runs ADD COLUMN prompt_sent_at INTEGER;
ALTER TABLE runs ADD COLUMN window TEXT;
