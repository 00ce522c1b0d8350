//! agent-sim's hooks, the way Claude Code runs them: `--settings FILE` names a JSON file
//! whose `hooks.<Event>[].hooks[]` entries are `{"type": "command", "command": …,
//! "timeout": secs}`; each is run with `sh -c`, the event's JSON payload on standard input,
//! and waited for (up to its timeout) before the agent goes on. The events and payload
//! fields are Claude Code's (<https://docs.anthropic.com/en/docs/claude-code/hooks>):
//! `UserPromptSubmit` (`prompt`) when a prompt is taken, `PreToolUse` (`tool_name`) before a
//! write or a permission dialog, `Stop` (`last_assistant_message`) when a turn ends,
//! `StopFailure` (`error`, `last_assistant_message`) instead of `Stop` when it ends on an API
//! error. An interrupted or refused turn calls no hook, as with Claude Code.
//!
//! `BOSUN_SIM_HOOKS` breaks them on purpose, for tests: `no-stop` never calls `Stop` or
//! `StopFailure` (the screen shows the turn done while the hooks last said busy); `off` calls
//! nothing (hooks wired but silent).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

/// How faithfully hooks are called (`BOSUN_SIM_HOOKS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    NoStop,
    Off,
}

/// The hook commands of one agent-sim process.
#[derive(Debug, Default)]
pub struct Hooks {
    commands: HashMap<String, Vec<(String, Duration)>>,
    mode: Option<Mode>,
    /// The session record every call names as `transcript_path`, once there is one.
    pub transcript: Option<String>,
}

impl Hooks {
    /// No hooks.
    pub fn none() -> Hooks {
        Hooks::default()
    }

    /// The hooks of the Claude Code settings file at `path`.
    ///
    /// # Errors
    /// The file cannot be read or is not JSON.
    pub fn from_settings(path: &Path) -> anyhow::Result<Hooks> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the settings file {}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("the settings file {} is not JSON", path.display()))?;
        let mut commands: HashMap<String, Vec<(String, Duration)>> = HashMap::new();
        if let Some(events) = v["hooks"].as_object() {
            for (event, groups) in events {
                for group in groups.as_array().into_iter().flatten() {
                    for h in group["hooks"].as_array().into_iter().flatten() {
                        if let Some(cmd) = h["command"].as_str() {
                            let secs = h["timeout"].as_u64().unwrap_or(60);
                            commands
                                .entry(event.clone())
                                .or_default()
                                .push((cmd.to_string(), Duration::from_secs(secs)));
                        }
                    }
                }
            }
        }
        let mode = match std::env::var("BOSUN_SIM_HOOKS").as_deref() {
            Ok("off") => Mode::Off,
            Ok("no-stop") => Mode::NoStop,
            _ => Mode::All,
        };
        Ok(Hooks {
            commands,
            mode: Some(mode),
            transcript: None,
        })
    }

    /// Runs the commands for `event` with `fields` (plus `hook_event_name`, `session_id`,
    /// `cwd` and, once there is a session record, `transcript_path`) as the payload, one
    /// after the other, each waited for up to its timeout. Failures are logged, never fatal,
    /// as in Claude Code.
    pub fn fire(&self, event: &str, fields: Value, cwd: &Path) {
        let skip = match self.mode {
            None | Some(Mode::Off) => true,
            Some(Mode::NoStop) => matches!(event, "Stop" | "StopFailure"),
            Some(Mode::All) => false,
        };
        if skip {
            return;
        }
        let Some(commands) = self.commands.get(event) else {
            return;
        };
        let mut payload = json!({
            "session_id": format!("sim-{}", std::process::id()),
            "hook_event_name": event,
            "cwd": cwd.display().to_string(),
        });
        if let (Some(p), Some(f)) = (payload.as_object_mut(), fields.as_object()) {
            p.extend(f.clone());
            if let Some(t) = &self.transcript {
                p.insert("transcript_path".into(), t.clone().into());
            }
        }
        let payload = payload.to_string();
        for (cmd, timeout) in commands {
            if let Err(e) = run(cmd, &payload, *timeout, cwd) {
                tracing::warn!("agent-sim: {event} hook `{cmd}` failed: {e:#}");
            }
        }
    }
}

/// Runs `cmd` with `sh -c`, `payload` on its standard input, its output discarded; kills it
/// after `timeout`.
fn run(cmd: &str, payload: &str, timeout: Duration, cwd: &Path) -> anyhow::Result<()> {
    let mut child = Command::new("sh")
        .args(["-c", cmd])
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start sh")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its input is not an error.
        let _ = stdin.write_all(payload.as_bytes());
    }
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::ensure!(status.success(), "exited with {status}");
            return Ok(());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("timed out after {}", humantime::format_duration(timeout));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
