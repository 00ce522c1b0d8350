-- bosun schema, version 8: infrastructure failures (the tmux server lost, a pane gone while
-- its agent lived, tmux unreachable) are not the agent's fault and spend a budget of their
-- own, never the job's permanent attempts.
ALTER TABLE jobs ADD COLUMN infra_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN max_infra_attempts INTEGER NOT NULL DEFAULT 10;
