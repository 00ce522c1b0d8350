//! agent-sim's session record, in the shape of Claude Code's transcript that bosun reads a
//! run's usage from (`type: "assistant"` lines with `message.usage`, one per model response,
//! and a closing `stop_reason: "end_turn"` line): what makes usage, budgets and
//! `[budget] hard` testable without a real CLI or model.
//!
//! It is written only by `tokens` steps, next to the `--settings` file the hooks came from
//! (its `.json` replaced by `.session.jsonl`: `runs/<run>.settings.session.jsonl` in bosun's
//! private data directory), mode 0600. Once written, every hook call names it as
//! `transcript_path`, as Claude Code names its own.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

/// The model the record names (price it with `[prices.models.agent-sim]`).
pub const MODEL: &str = "agent-sim";

/// The session record of one agent-sim process.
#[derive(Debug)]
pub struct Session {
    path: PathBuf,
    /// Responses written so far (numbers their ids).
    responses: u64,
    /// A response was written in the current turn (its end is recorded).
    in_turn: bool,
}

impl Session {
    /// The record that goes with the settings file `settings`.
    pub fn beside(settings: &Path) -> Session {
        Session {
            path: settings.with_extension("session.jsonl"),
            responses: 0,
            in_turn: false,
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True once a response was written.
    pub fn written(&self) -> bool {
        self.responses > 0
    }

    /// Appends one model response that read `tokens` input tokens and is followed by a tool
    /// call (`stop_reason: "tool_use"`: the turn goes on).
    ///
    /// # Errors
    /// The record cannot be written.
    pub fn respond(&mut self, tokens: u64) -> std::io::Result<()> {
        self.responses += 1;
        self.in_turn = true;
        self.append(tokens, "tool_use")
    }

    /// Records the end of a turn that had responses: a last response with no tokens and
    /// `stop_reason: "end_turn"`, as Claude Code closes a turn. Nothing for a turn without.
    ///
    /// # Errors
    /// The record cannot be written.
    pub fn end_turn(&mut self) -> std::io::Result<()> {
        if !std::mem::take(&mut self.in_turn) {
            return Ok(());
        }
        self.responses += 1;
        self.append(0, "end_turn")
    }

    fn append(&self, tokens: u64, stop_reason: &str) -> std::io::Result<()> {
        let (pid, n) = (std::process::id(), self.responses);
        let line = json!({
            "type": "assistant",
            "sessionId": format!("sim-{pid}"),
            "requestId": format!("req_sim_{pid}_{n}"),
            "message": {
                "id": format!("msg_sim_{pid}_{n}"),
                "role": "assistant",
                "model": MODEL,
                "stop_reason": stop_reason,
                "usage": {
                    "input_tokens": tokens,
                    "output_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "cache_creation_input_tokens": 0,
                },
            },
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        writeln!(f, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::transcript::TranscriptFormat;
    use crate::provider::usage::UsageReader;

    #[test]
    fn bosun_reads_the_tokens_a_session_record_says() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Session::beside(&dir.path().join("7.settings.json"));
        assert_eq!(s.path(), dir.path().join("7.settings.session.jsonl"));
        s.end_turn().expect("nothing to end");
        assert!(!s.written() && !s.path().exists());
        s.respond(1200).expect("respond");
        s.respond(800).expect("respond");
        s.end_turn().expect("end");
        let mut reader = UsageReader::default();
        reader.feed(
            TranscriptFormat::Claude,
            &std::fs::read(s.path()).expect("read"),
        );
        assert_eq!(reader.usage().total(), 2000);
        assert_eq!(reader.model.as_deref(), Some(MODEL));
        let text = std::fs::read_to_string(s.path()).expect("read");
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().last().is_some_and(|l| l.contains("end_turn")));
    }
}
