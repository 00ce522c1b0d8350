//! Claude Code's subagents' session records (issue 22): a subagent's API calls are recorded
//! in a record of its own, not in the session's, so a run's usage is its session record's
//! plus its subagents' ([`RunReader`]). Pure: no I/O here (the supervisor lists and reads the
//! files, `supervisor::usage`).
//!
//! Checked on Claude Code 2.1.332 against the scripted model server (fixtures in
//! `tests/fixtures/claude-2.1.332/session-with-subagents*`, README.md there):
//!
//! - Every subagent the `Agent` tool starts (`general-purpose` and the other types, a `fork`,
//!   one started by another subagent, in the foreground or in the background) writes
//!   `<dir>/<session>/subagents/agent-<id>.jsonl` beside the session's record
//!   `<dir>/<session>.jsonl`, with `agent-<id>.meta.json` next to it. Every hook, a
//!   subagent's own included, sends the session's record as `transcript_path`; so the
//!   directory is found from that path ([`dir_of`]), never from text inside a record.
//! - Its lines carry `isSidechain: true` and `agentId`; its responses are `type: "assistant"`
//!   lines as in the session's record, counted by the same rule ([`super::usage`]).
//! - The session's record does not repeat them as `assistant` lines: it gets the subagent's
//!   last response's `usage` in the `Agent` tool result's `toolUseResult` (a `user` line) and
//!   a `<usage>subagent_tokens: N` summary in text, neither of which is counted.
//! - A fork's record starts with a copy of the parent's response that called it: counted
//!   from its prompt on ([`UsageReader::subagent`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::transcript::TranscriptFormat;
use super::usage::{Usage, UsageReader};

/// Subagents' records read per run, at most: the saved state stays bounded (a few hundred
/// bytes each once compacted). Records found beyond it are not read.
pub const RECORDS_MAX: usize = 256;

/// Responses kept open per subagent record in the saved state ([`UsageReader::compact`]).
pub const OPEN_PER_RECORD: usize = 2;

/// Longest subagent id taken from a file name, bytes (2.1.332 writes `a` and 16 hex digits).
const ID_MAX: usize = 64;

/// The directory of the subagents' records of the Claude Code session whose record is
/// `transcript` (`<dir>/<session>.jsonl` → `<dir>/<session>/subagents`); `None` for a path
/// that does not end in a `.jsonl` file name.
pub fn dir_of(transcript: &Path) -> Option<PathBuf> {
    let name = transcript.file_name()?.to_str()?;
    let session = name.strip_suffix(".jsonl")?;
    if session.is_empty() || session.starts_with('.') {
        return None;
    }
    Some(transcript.with_file_name(session).join("subagents"))
}

/// Whether `name` is a subagent's record in that directory: `agent-<id>.jsonl`, the id of
/// ASCII letters, digits, `-` and `_` (at most 64 bytes).
pub fn is_record(name: &str) -> bool {
    name.strip_prefix("agent-")
        .and_then(|n| n.strip_suffix(".jsonl"))
        .is_some_and(|id| {
            !id.is_empty()
                && id.len() <= ID_MAX
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// One subagent's record read so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subrecord {
    /// Its file name in the subagents' directory ([`is_record`]).
    pub name: String,
    /// Bytes of it read.
    pub offset: u64,
    /// Its reader ([`UsageReader::subagent`]).
    pub reader: UsageReader,
}

impl Subrecord {
    /// Takes `bytes` read from the record at [`Subrecord::offset`], and moves the offset on.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.reader.feed(TranscriptFormat::Claude, bytes);
        self.offset += bytes.len() as u64;
    }

    /// Starts reading the record again from its start (it was truncated or replaced).
    pub fn restart(&mut self) {
        self.offset = 0;
        self.reader = UsageReader::subagent();
    }
}

/// A run's usage read so far: its session record's reader and, for Claude Code, its
/// subagents' records' (serialisable, saved with the run's offset; at most
/// [`RECORDS_MAX`] subagents). The session record's reader is stored flat, so a state saved
/// before subagents were read loads as one with none.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunReader {
    /// The session record's reader.
    #[serde(flatten)]
    pub main: UsageReader,
    /// The subagents' records, in the order first seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subagents: Vec<Subrecord>,
}

impl RunReader {
    /// The run's usage: its session record's and every subagent's.
    pub fn usage(&self) -> Usage {
        self.subagents
            .iter()
            .fold(self.main.usage(), |sum, s| sum.plus(s.reader.usage()))
    }

    /// The model the session record named last.
    pub fn model(&self) -> Option<&str> {
        self.main.model.as_deref()
    }

    /// The state of the subagent record `name` (an [`is_record`] name), added when new;
    /// `None` when it is not a record's name, or is new and [`RECORDS_MAX`] are kept already.
    pub fn subagent(&mut self, name: &str) -> Option<&mut Subrecord> {
        if !is_record(name) {
            return None;
        }
        match self.subagents.iter().position(|s| s.name == name) {
            Some(i) => self.subagents.get_mut(i),
            None if self.subagents.len() < RECORDS_MAX => {
                self.subagents.push(Subrecord {
                    name: name.to_string(),
                    offset: 0,
                    reader: UsageReader::subagent(),
                });
                self.subagents.last_mut()
            }
            None => None,
        }
    }

    /// The state to save, as JSON: the subagents' readers compacted
    /// ([`UsageReader::compact`], [`OPEN_PER_RECORD`] responses kept open, a line not read
    /// to its end to be read again), the session record's as it is.
    pub fn save(&mut self) -> Option<String> {
        for s in &mut self.subagents {
            let dropped = s.reader.compact(OPEN_PER_RECORD);
            s.offset = s.offset.saturating_sub(dropped);
        }
        serde_json::to_string(self).ok()
    }

    /// A saved state ([`RunReader::save`], or a session record's [`UsageReader`] saved
    /// alone); a fresh one when it cannot be read.
    pub fn load(saved: &str) -> RunReader {
        serde_json::from_str(saved).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_comes_from_the_session_records_path() {
        assert_eq!(
            dir_of(Path::new("/h/.claude/projects/-p/5e55.jsonl")),
            Some(PathBuf::from("/h/.claude/projects/-p/5e55/subagents"))
        );
        for bad in ["/h/p/session.json", "/h/p/.jsonl", "/h/p/..jsonl", "/"] {
            assert_eq!(dir_of(Path::new(bad)), None, "{bad}");
        }
    }

    #[test]
    fn only_agent_records_are_read() {
        assert!(is_record("agent-a26114e08c6060904.jsonl"));
        for bad in [
            "agent-a26114e08c6060904.meta.json",
            "agent-.jsonl",
            "agent-../x.jsonl",
            "agent-a b.jsonl",
            "other.jsonl",
            &format!("agent-{}.jsonl", "a".repeat(65)),
        ] {
            assert!(!is_record(bad), "{bad}");
        }
    }

    fn line(id: &str, output: i64) -> String {
        format!(
            "{{\"type\":\"assistant\",\"message\":{{\"id\":\"{id}\",\"usage\":{{\"input_tokens\":10,\"output_tokens\":{output}}}}}}}\n"
        )
    }

    #[test]
    fn the_saved_state_is_bounded_and_reads_on_where_it_stopped() {
        let mut r = RunReader::default();
        for n in 0..RECORDS_MAX + 10 {
            let Some(sub) = r.subagent(&format!("agent-a{n}.jsonl")) else {
                assert!(n >= RECORDS_MAX, "{n}");
                continue;
            };
            let mut text = String::from("{\"type\":\"user\"}\n");
            for k in 0..100 {
                text.push_str(&line(&format!("m{n}-{k}"), 5));
            }
            sub.feed(text.as_bytes());
            // A line of the next response not written to its end yet.
            sub.feed(&line(&format!("m{n}-x"), 5).as_bytes()[..20]);
        }
        assert_eq!(r.subagents.len(), RECORDS_MAX);
        let before = r.usage();
        assert_eq!(before.output, (RECORDS_MAX * 100 * 5) as i64);
        let saved = r.save().expect("saved");
        assert!(saved.len() < RECORDS_MAX * 600, "{} bytes", saved.len());
        let mut again = RunReader::load(&saved);
        assert_eq!(again.usage(), before);
        // The cut line is read again whole from the offset saved.
        let sub = again.subagent("agent-a0.jsonl").expect("kept");
        let whole = line("m0-x", 5);
        let at = usize::try_from(sub.offset).expect("offset");
        let text = format!(
            "{{\"type\":\"user\"}}\n{}{whole}",
            (0..100)
                .map(|k| line(&format!("m0-{k}"), 5))
                .collect::<String>()
        );
        sub.feed(&text.as_bytes()[at..]);
        assert_eq!(again.usage().output, before.output + 5);
    }

    #[test]
    fn a_state_saved_before_subagents_loads() {
        let mut main = UsageReader::default();
        main.feed(TranscriptFormat::Claude, line("m1", 7).as_bytes());
        let old = serde_json::to_string(&main).expect("save");
        let r = RunReader::load(&old);
        assert!(r.subagents.is_empty());
        assert_eq!(r.usage().output, 7);
    }
}
