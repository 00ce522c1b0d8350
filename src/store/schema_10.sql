-- bosun schema, version 10: a run knows its tmux server and its pane's size, so answers,
-- sends, attaches and the console's pane view reach the right server (a daemon may run on
-- another socket than the config's) and emulate the agent's screen at its real size.
ALTER TABLE runs ADD COLUMN socket TEXT;
ALTER TABLE runs ADD COLUMN rows INTEGER;
ALTER TABLE runs ADD COLUMN cols INTEGER;
