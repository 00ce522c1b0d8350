-- bosun schema, version 9: an answer to an agent's dialog is claimed before its keys are
-- pressed, so of two operators answering the same dialog at once exactly one presses. A
-- dialog is told by the hash of its text; a claim older than a minute does not hold (the
-- same question asked again later is a new dialog).
CREATE TABLE answer_claims (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    dialog TEXT NOT NULL,
    by     TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (run_id, dialog)
);
