-- bosun schema, version 7: a run's completion is a recorded sequence. `turn_done_at` is
-- written (with the final message) the moment the agent's turn is complete, before the
-- worktree is committed, the gates evaluated and the decision applied; a supervisor that
-- died anywhere after it completes the run on restart instead of running the stage again.
ALTER TABLE runs ADD COLUMN turn_done_at INTEGER;
