-- bosun schema, version 17: the conflict radar. For each pair of a project's branches in
-- flight (every task branch against the base, every two task branches, `a` before `b`), the
-- files a merge of the two would conflict in, computed for the tips they had; a pair is
-- recomputed only when one of its tips moved.
CREATE TABLE radar (
    project_id  INTEGER NOT NULL REFERENCES projects(id),
    a           TEXT NOT NULL,
    b           TEXT NOT NULL,
    a_tip       TEXT NOT NULL,
    b_tip       TEXT NOT NULL,
    -- JSON array of the conflicting paths; empty: the two merge cleanly
    files       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(files)),
    computed_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, a, b),
    CHECK (a < b OR a NOT LIKE 'bosun/%')
);
