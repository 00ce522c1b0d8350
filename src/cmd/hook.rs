//! `bosun hook`: one call from an agent's own hooks (see `agent::hooks`).
//!
//! Prints nothing on standard output: Claude Code adds a `UserPromptSubmit` hook's output to
//! the agent's context. Does not load the config, so a broken config file cannot stop an
//! agent's status reaching bosun.
//!
//! A locked or full database is tried again for [`RETRY_FOR`] (at most [`BUSY_WAIT`] per try);
//! a call that still could not
//! be recorded leaves a line in the run's log (`runs/<id>.log` beside the database), where
//! the operator sees it next to the agent's output, and exits 1. The supervisor does not hang
//! on the lost call: a second witness ends the turn (`provider::witness`).

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::Ctx;
use crate::agent::hooks::{self, HookError};
use crate::store::{Store, StoreError};

/// Largest payload read, bytes (Claude Code sends a few hundred; `PreToolUse` carries the
/// tool input, which can be a whole file).
const PAYLOAD_MAX: u64 = 16 << 20;

/// How long a locked or full database is tried again before the call is given up. The
/// agent waits for its hook meanwhile, and kills it after the hook timeout bosun wires
/// (10 s): every try and the note of a lost call must fit in that.
const RETRY_FOR: Duration = Duration::from_secs(7);

/// How long one try waits for another connection's write lock (SQLite's busy timeout).
const BUSY_WAIT: Duration = Duration::from_secs(1);

/// The first pause between two tries; doubled each time, at most 1 s.
const FIRST_PAUSE: Duration = Duration::from_millis(100);

pub(super) fn run(ctx: &Ctx, run_id: i64, token: Option<String>) -> Result<()> {
    // An empty or missing token is refused (and counted) like a wrong one.
    let token = token
        .or_else(|| std::env::var("BOSUN_HOOK_TOKEN").ok())
        .unwrap_or_default();
    let mut payload = Vec::new();
    std::io::stdin()
        .take(PAYLOAD_MAX)
        .read_to_end(&mut payload)
        .context("cannot read the hook payload from standard input")?;
    let db = ctx.db_path();
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        let err = match Store::open(&db).and_then(|s| {
            s.conn().busy_timeout(BUSY_WAIT)?;
            Ok(s)
        }) {
            Ok(store) => match hooks::receive(&store, run_id, &token, &payload) {
                Ok(_) => return Ok(()),
                Err(HookError::Store(e)) => e,
                Err(e) => return Err(e.into()),
            },
            Err(e) => e,
        };
        if !err.is_transient() {
            return Err(anyhow::Error::new(err))
                .with_context(|| format!("cannot open the database {}", db.display()));
        }
        if started.elapsed() >= RETRY_FOR {
            let event = hooks::parse_payload(&payload)
                .map_or_else(|_| "hook".to_string(), |(e, _)| format!("{e} hook"));
            note_lost(&db, run_id, &event, &err, started.elapsed());
            return Err(anyhow::Error::new(err)).with_context(|| {
                format!(
                    "the {event} of run {run_id} could not be recorded in {} (tried for {} s)",
                    db.display(),
                    started.elapsed().as_secs()
                )
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// `text` as a line of its own in a run log that leaves the agent's emulated screen as it
/// was: the line sits inside an OSC string (`ESC ] 7777 ; … BEL`, a number no terminal uses),
/// whose bytes terminal emulators (the supervisor's, the console's pane view) skip, while
/// the log file and the console's log view show it as a line. A note written as plain text
/// would end up below the agent's prompt on its screen, where no status pattern matches.
fn note_line(text: &str) -> String {
    let text: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .collect();
    format!("\x1b]7777;\r\n[bosun] {text}\r\n\x07")
}

/// Appends a line saying the call was lost to the run's log (`runs/<id>.log` beside the
/// database), if that is a regular file: never creates one, never follows a symlink.
fn note_lost(db: &Path, run_id: i64, event: &str, err: &StoreError, took: Duration) {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let path = dir.join("runs").join(format!("{run_id}.log"));
    let line = note_line(&format!(
        "the agent's {event} was lost: {err} (tried for {} s); the supervisor ends the turn \
         from another witness",
        took.as_secs()
    ));
    let opened = std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&path);
    match opened {
        Ok(mut f) if f.metadata().is_ok_and(|m| m.is_file()) => {
            if let Err(e) = f.write_all(line.as_bytes()) {
                tracing::warn!(path = %path.display(), error = %e, "cannot note the lost hook");
            }
        }
        Ok(_) => tracing::warn!(path = %path.display(), "the run log is not a regular file"),
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot open the run log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_is_a_line_of_the_log_and_leaves_the_screen_as_it_was() {
        let screen = "\u{2713} Done in 3s: wrote out.md\r\n> ";
        let note = note_line("the agent's Stop hook was lost: database is locked\x07\x1b[2J");
        let mut before = vt100::Parser::new(24, 80, 0);
        before.process(screen.as_bytes());
        let mut after = vt100::Parser::new(24, 80, 0);
        after.process(screen.as_bytes());
        after.process(note.as_bytes());
        assert_eq!(before.screen().contents(), after.screen().contents());
        assert_eq!(
            before.screen().cursor_position(),
            after.screen().cursor_position()
        );
        let lines: Vec<&str> = note.split('\n').collect();
        assert_eq!(lines.len(), 3, "{note:?}");
        assert_eq!(
            lines[1].trim_end(),
            "[bosun] the agent's Stop hook was lost: database is locked[2J",
            "control characters of the error text cannot end the string early"
        );
    }
}
