-- bosun schema, version 15: the CLI's own record of a run's session (Claude Code's transcript,
-- Codex's rollout, Gemini CLI's chat file), as its hooks named it (`transcript_path`). The
-- supervisor reads it as a second witness of a turn's end when a closing hook is lost.
ALTER TABLE runs ADD COLUMN transcript TEXT;
