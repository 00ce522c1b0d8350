-- bosun schema, version 20: budgets raised by the operator (issue 22). A row overrides the
-- config's `[budget]` for one scope: a task (its key), a project (its name) or every day
-- (key ''); each raise is a decision, with who made it and why.
CREATE TABLE budgets (
    scope      TEXT NOT NULL CHECK (scope IN ('task', 'project', 'day')),
    key        TEXT NOT NULL,
    tokens     INTEGER NOT NULL CHECK (tokens >= 0),
    note       TEXT NOT NULL CHECK (length(note) > 0),
    decided_by TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
