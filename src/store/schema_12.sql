-- bosun schema, version 12: notifications sent (or held back by the rate limit), one per
-- cause, so a restarted supervisor never sends one twice; and how far the notifier has read
-- the event log.
CREATE TABLE notifications (
    id      INTEGER PRIMARY KEY,
    cause   TEXT NOT NULL UNIQUE,
    task_id INTEGER REFERENCES tasks(id),
    kind    TEXT NOT NULL CHECK (kind IN
              ('approval','needs_input','blocked','waiting','done','failed')),
    sent    INTEGER NOT NULL CHECK (sent IN (0, 1)),
    at      INTEGER NOT NULL
);
CREATE INDEX notifications_task_kind ON notifications(task_id, kind, at);
CREATE TABLE notify_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    event_id INTEGER NOT NULL
);
