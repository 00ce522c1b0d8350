-- bosun schema, version 19: what each run used (issue 22), read from its CLI's own session
-- record incrementally: the totals, the model, and where the reader stopped (the record's
-- path, the byte offset and the reader's state), so a restart reads only what is new.
CREATE TABLE run_usage (
    run_id        INTEGER PRIMARY KEY REFERENCES runs(id),
    provider      TEXT NOT NULL,
    model         TEXT,
    input         INTEGER NOT NULL DEFAULT 0 CHECK (input >= 0),
    output        INTEGER NOT NULL DEFAULT 0 CHECK (output >= 0),
    cache_read    INTEGER NOT NULL DEFAULT 0 CHECK (cache_read >= 0),
    cache_write   INTEGER NOT NULL DEFAULT 0 CHECK (cache_write >= 0),
    reasoning     INTEGER NOT NULL DEFAULT 0 CHECK (reasoning >= 0 AND reasoning <= output),
    record        TEXT,
    record_offset INTEGER NOT NULL DEFAULT 0 CHECK (record_offset >= 0),
    reader        TEXT CHECK (reader IS NULL OR json_valid(reader)),
    updated_at    INTEGER NOT NULL
);
