-- bosun schema, version 4: invariants the database itself holds.

-- Every change to a task bumps its version, so a decision evaluated against one version of
-- the task can be applied only if nothing changed it since (compare-and-set). The trigger is
-- the only writer of the column: no code path can forget it. Its WHEN clause stops it from
-- firing on its own update.
ALTER TABLE tasks ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER tasks_version AFTER UPDATE ON tasks
WHEN NEW.version = OLD.version
BEGIN
    UPDATE tasks SET version = OLD.version + 1 WHERE id = NEW.id;
END;

-- At most one open (queued or running) job per task. Duplicates left by earlier versions
-- (concurrent decisions could create them) are resolved first, deterministically: a task
-- keeps its running job with the lowest id, else its queued job with the lowest id; the
-- others are cancelled, saying why.
UPDATE jobs
SET status = 'cancelled',
    last_error = 'duplicate open job of its task, cancelled by schema version 4',
    finished_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000,
    updated_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE status IN ('queued', 'running')
  AND id <> (
      SELECT k.id FROM jobs k
      WHERE k.task_id = jobs.task_id AND k.status IN ('queued', 'running')
      ORDER BY k.status = 'running' DESC, k.id
      LIMIT 1
  );
CREATE UNIQUE INDEX jobs_one_open ON jobs(task_id) WHERE status IN ('queued', 'running');
