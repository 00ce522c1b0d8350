-- bosun schema, version 22 (issue 22): money budgets. A raise is now one row per scope, key
-- and measure: tokens (a whole number) or US dollars, each with its own note, so raising a
-- task's dollars leaves its tokens to the config (and the other way round). The rows of
-- version 20 are token raises.
CREATE TABLE budgets_v22 (
    scope      TEXT NOT NULL CHECK (scope IN ('task', 'project', 'day')),
    key        TEXT NOT NULL,
    measure    TEXT NOT NULL CHECK (measure IN ('tokens', 'usd')),
    -- 0 or more and finite (SQLite stores NaN as NULL); tokens are whole numbers.
    amount     NUMERIC NOT NULL CHECK (amount >= 0 AND amount < 1e15
                                       AND (measure = 'usd' OR typeof(amount) = 'integer')),
    note       TEXT NOT NULL CHECK (length(note) > 0),
    decided_by TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (scope, key, measure)
);
INSERT INTO budgets_v22 (scope, key, measure, amount, note, decided_by, at)
    SELECT scope, key, 'tokens', tokens, note, decided_by, at FROM budgets;
DROP TABLE budgets;
ALTER TABLE budgets_v22 RENAME TO budgets;

-- Budget notices (`[notify] kinds = [..., "budget"]`, version 20's warnings) were refused by
-- this table's kinds and dropped without a word (INSERT OR IGNORE): the kind is allowed now, and
-- so is a provider parked at a usage limit (`limit`, version 21).
CREATE TABLE notifications_v22 (
    id      INTEGER PRIMARY KEY,
    cause   TEXT NOT NULL UNIQUE,
    task_id INTEGER REFERENCES tasks(id),
    kind    TEXT NOT NULL CHECK (kind IN
              ('approval','needs_input','blocked','waiting','done','failed','budget','limit')),
    sent    INTEGER NOT NULL CHECK (sent IN (0, 1)),
    at      INTEGER NOT NULL
);
INSERT INTO notifications_v22 (id, cause, task_id, kind, sent, at)
    SELECT id, cause, task_id, kind, sent, at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_v22 RENAME TO notifications;
CREATE INDEX notifications_task_kind ON notifications(task_id, kind, at);
