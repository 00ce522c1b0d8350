//! Tokens a run used, from its CLI's own session record (issue 22), read incrementally like
//! the second witness reads it ([`super::transcript`]): bounded lines, from a saved offset.
//! Pure: no I/O here. One rule per CLI, on the pinned versions (fixtures in
//! `tests/fixtures/<cli>-<version>/transcript.jsonl`):
//!
//! - **Claude Code**: `type: "assistant"` lines' `message.usage` (`input_tokens`,
//!   `output_tokens`, `cache_creation_input_tokens`, `cache_read_input_tokens`,
//!   `output_tokens_details.thinking_tokens`). One API response is written as one line per
//!   content block, each with the response's usage so far: each (`message.id`, `requestId`)
//!   counts once, with its largest `output_tokens` (summing every line over-counts, ccusage
//!   #389). A subagent's record ([`UsageReader::subagent`], [`super::subagents`]) counts only
//!   its lines after its first `type: "user"` line: a fork's record starts with a copy of the
//!   response that called it (Claude Code 2.1.332).
//! - **Codex**: `event_msg` records of `payload.type = "token_count"`:
//!   `info.total_token_usage` is the session's running total (a high-water mark); its
//!   `input_tokens` include `cached_input_tokens`, its `output_tokens` include
//!   `reasoning_output_tokens`.
//! - **Gemini CLI**: `type: "gemini"` messages' `tokens` (`input` including `cached`,
//!   `output`, `thoughts` apart from `output`, `tool`); a message written again as it is
//!   updated counts once, as last written.
//!
//! Normalised to: `input` without cache reads, `cache_read`, `cache_write`, `output`
//! including reasoning, and `reasoning` (a part of `output`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::transcript::{LINE_MAX, TranscriptFormat};

/// Tokens, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens not read from a cache.
    pub input: i64,
    /// Output tokens, reasoning included.
    pub output: i64,
    /// Input tokens read from the prompt cache.
    pub cache_read: i64,
    /// Input tokens written to the prompt cache.
    pub cache_write: i64,
    /// Of `output`, the model's reasoning ("thinking", "thoughts").
    pub reasoning: i64,
}

impl Usage {
    /// Every token counted once: input, cache reads and writes, output.
    pub fn total(&self) -> i64 {
        self.input + self.cache_read + self.cache_write + self.output
    }

    /// `self` plus `other`, field by field.
    #[must_use]
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            input: self.input + other.input,
            output: self.output + other.output,
            cache_read: self.cache_read + other.cache_read,
            cache_write: self.cache_write + other.cache_write,
            reasoning: self.reasoning + other.reasoning,
        }
    }
}

/// Responses (Claude) or messages (Gemini) kept open to be counted again: a response's lines
/// follow each other, a message is rewritten while it is written; older ones are settled.
/// Bounds the saved state whatever the record's length.
pub const OPEN_KEYS: usize = 64;

/// A session record's usage read so far (serialisable, to be saved with the offset; its size
/// is bounded by [`OPEN_KEYS`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UsageReader {
    /// Usage of the responses or messages no longer open.
    settled: Usage,
    /// Usage per open response or message key (Claude: `id|requestId`; Gemini: message id),
    /// the most recent last.
    open: Vec<(String, Usage)>,
    /// Codex's running total.
    high_water: Usage,
    /// The model last named.
    pub model: Option<String>,
    /// The start of a line not read to its end yet.
    #[serde(default)]
    partial: Vec<u8>,
    /// Skipping an over-long line up to its newline.
    #[serde(default)]
    skipping: bool,
    /// A Claude Code subagent's record: its `assistant` lines count only once its first
    /// `user` line (the subagent's prompt) has been read.
    #[serde(default, skip_serializing_if = "is_false")]
    after_prompt: bool,
    /// That first `user` line has been read.
    #[serde(default, skip_serializing_if = "is_false")]
    prompted: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

impl UsageReader {
    /// A reader of a Claude Code subagent's record: the `assistant` lines before its first
    /// `user` line are not its own. A fork's record (Claude Code 2.1.332) opens with a
    /// `fork-context-ref` line and a copy of its parent's response that called the `Agent`
    /// tool (same `message.id`, `parentUuid: null`), counted in the parent's record already;
    /// every subagent's own work starts with its prompt, a `user` line.
    pub fn subagent() -> UsageReader {
        UsageReader {
            after_prompt: true,
            ..UsageReader::default()
        }
    }

    /// Shrinks the state to be saved: settles every open response or message but the last
    /// `keep` (a record's responses are written one after the other, so only its last can get
    /// more lines), and drops the start of a line not read to its end. Returns the bytes
    /// dropped: the caller moves its offset back by as many, so the line is read whole next
    /// time (at most [`LINE_MAX`]).
    pub fn compact(&mut self, keep: usize) -> u64 {
        while self.open.len() > keep {
            let (_, old) = self.open.remove(0);
            self.settled = self.settled.plus(old);
        }
        let dropped = std::mem::take(&mut self.partial).len();
        u64::try_from(dropped).unwrap_or(u64::MAX)
    }

    /// Takes the next bytes of a `format` record.
    pub fn feed(&mut self, format: TranscriptFormat, mut bytes: &[u8]) {
        while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
            let (head, rest) = bytes.split_at(nl);
            bytes = &rest[1..];
            if std::mem::take(&mut self.skipping) || self.partial.len() + head.len() > LINE_MAX {
                self.partial.clear();
                continue;
            }
            self.partial.extend_from_slice(head);
            let line = std::mem::take(&mut self.partial);
            if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                self.line(format, &v);
            }
        }
        if !self.skipping {
            if self.partial.len() + bytes.len() > LINE_MAX {
                self.partial.clear();
                self.skipping = true;
            } else {
                self.partial.extend_from_slice(bytes);
            }
        }
    }

    fn line(&mut self, format: TranscriptFormat, v: &Value) {
        match format {
            TranscriptFormat::Claude => {
                let kind = v.get("type").and_then(Value::as_str);
                if kind == Some("user") {
                    self.prompted = true;
                }
                if kind != Some("assistant") || (self.after_prompt && !self.prompted) {
                    return;
                }
                let Some(m) = v.get("message") else { return };
                let Some(u) = m.get("usage") else { return };
                let key = format!(
                    "{}|{}",
                    m.get("id").and_then(Value::as_str).unwrap_or(""),
                    v.get("requestId").and_then(Value::as_str).unwrap_or("")
                );
                let this = Usage {
                    input: int(u, "input_tokens"),
                    output: int(u, "output_tokens"),
                    cache_read: int(u, "cache_read_input_tokens"),
                    cache_write: int(u, "cache_creation_input_tokens"),
                    reasoning: u
                        .get("output_tokens_details")
                        .map_or(0, |d| int(d, "thinking_tokens")),
                };
                if let Some(model) = m.get("model").and_then(Value::as_str) {
                    self.model = Some(model.to_string());
                }
                self.keep(key, this, |kept, new| new.output >= kept.output);
            }
            TranscriptFormat::Codex => {
                if let Some(model) = v
                    .get("payload")
                    .filter(|_| v.get("type").and_then(Value::as_str) == Some("turn_context"))
                    .and_then(|p| p.get("model"))
                    .and_then(Value::as_str)
                {
                    self.model = Some(model.to_string());
                }
                let Some(p) = v.get("payload") else { return };
                if p.get("type").and_then(Value::as_str) != Some("token_count") {
                    return;
                }
                let Some(t) = p.get("info").and_then(|i| i.get("total_token_usage")) else {
                    return;
                };
                let cached = int(t, "cached_input_tokens");
                let this = Usage {
                    input: int(t, "input_tokens") - cached,
                    output: int(t, "output_tokens"),
                    cache_read: cached,
                    cache_write: int(t, "cache_write_input_tokens"),
                    reasoning: int(t, "reasoning_output_tokens"),
                };
                if this.total() >= self.high_water.total() {
                    self.high_water = this;
                }
            }
            TranscriptFormat::Gemini => {
                if v.get("type").and_then(Value::as_str) != Some("gemini") {
                    return;
                }
                let (Some(id), Some(t)) = (v.get("id").and_then(Value::as_str), v.get("tokens"))
                else {
                    return;
                };
                if let Some(model) = v.get("model").and_then(Value::as_str) {
                    self.model = Some(model.to_string());
                }
                let cached = int(t, "cached");
                let thoughts = int(t, "thoughts");
                let this = Usage {
                    input: int(t, "input") - cached + int(t, "tool"),
                    output: int(t, "output") + thoughts,
                    cache_read: cached,
                    cache_write: 0,
                    reasoning: thoughts,
                };
                self.keep(id.to_string(), this, |_, _| true);
            }
        }
    }

    /// Keeps `this` as `key`'s usage when `replace(kept, this)` says so (or `key` is new),
    /// settling the oldest open key past [`OPEN_KEYS`].
    fn keep(&mut self, key: String, this: Usage, replace: impl Fn(&Usage, &Usage) -> bool) {
        if let Some(i) = self.open.iter().position(|(k, _)| *k == key) {
            let (k, kept) = self.open.remove(i);
            let u = if replace(&kept, &this) { this } else { kept };
            self.open.push((k, u));
            return;
        }
        self.open.push((key, this));
        if self.open.len() > OPEN_KEYS {
            let (_, old) = self.open.remove(0);
            self.settled = self.settled.plus(old);
        }
    }

    /// The usage read so far.
    pub fn usage(&self) -> Usage {
        self.open
            .iter()
            .fold(self.settled.plus(self.high_water), |sum, (_, u)| {
                sum.plus(*u)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(format: TranscriptFormat, text: &str, chunk: usize) -> UsageReader {
        let mut r = UsageReader::default();
        for c in text.as_bytes().chunks(chunk) {
            r.feed(format, c);
        }
        r
    }

    #[test]
    fn claude_counts_each_response_once_with_its_largest_output() {
        let lines = [
            r#"{"type":"assistant","requestId":"r1","message":{"id":"m1","model":"claude-x","usage":{"input_tokens":10,"output_tokens":2,"cache_read_input_tokens":100,"cache_creation_input_tokens":7}}}"#,
            r#"{"type":"assistant","requestId":"r1","message":{"id":"m1","model":"claude-x","usage":{"input_tokens":10,"output_tokens":9,"cache_read_input_tokens":100,"cache_creation_input_tokens":7}}}"#,
            r#"{"type":"user","message":{"content":"tool result"}}"#,
            r#"{"type":"assistant","requestId":"r2","message":{"id":"m2","model":"claude-x","usage":{"input_tokens":5,"output_tokens":3,"output_tokens_details":{"thinking_tokens":1}}}}"#,
        ];
        let text = lines.join("\n") + "\n";
        for chunk in [1, 7, 4096] {
            let r = read(TranscriptFormat::Claude, &text, chunk);
            assert_eq!(
                r.usage(),
                Usage {
                    input: 15,
                    output: 12,
                    cache_read: 100,
                    cache_write: 7,
                    reasoning: 1
                },
                "chunks of {chunk}"
            );
            assert_eq!(r.model.as_deref(), Some("claude-x"));
        }
    }

    #[test]
    fn a_long_record_settles_old_responses_and_keeps_a_small_state() {
        let mut text = String::new();
        for n in 0..500 {
            for out in [3, 9, 9] {
                text.push_str(&format!(
                    "{{\"type\":\"assistant\",\"requestId\":\"r{n}\",\"message\":{{\"id\":\"m{n}\",\"usage\":{{\"input_tokens\":1,\"output_tokens\":{out}}}}}}}\n"
                ));
            }
        }
        let r = read(TranscriptFormat::Claude, &text, 1000);
        assert_eq!((r.usage().input, r.usage().output), (500, 500 * 9));
        assert!(serde_json::to_string(&r).expect("state").len() < 8_000);
    }

    #[test]
    fn the_pinned_versions_fixtures() {
        let claude = include_str!("../../tests/fixtures/claude-2.1.332/transcript.jsonl");
        let u = read(TranscriptFormat::Claude, claude, 512).usage();
        assert_eq!((u.input, u.output), (14353 + 14464, 50 + 21));
        let codex = include_str!("../../tests/fixtures/codex-0.171.0/transcript.jsonl");
        let u = read(TranscriptFormat::Codex, codex, 512).usage();
        assert!(u.input >= 23056 && u.output >= 124, "{u:?}");
        let gemini = include_str!("../../tests/fixtures/gemini-0.61.0/transcript.jsonl");
        let u = read(TranscriptFormat::Gemini, gemini, 512).usage();
        assert_eq!((u.input, u.output), (13686 + 13849, 43 + 18), "{u:?}");
    }

    /// Claude Code 2.1.332's records of a session whose model ran a `general-purpose`
    /// subagent (a `Write`, then its report) and a `fork` (README.md of the fixtures): the
    /// session's record and its subagents' add up to what the scripted model server reported
    /// for that session, in every field.
    #[test]
    fn a_claude_session_and_its_subagents_add_up_to_the_servers_tally() {
        const DIR: &str = "tests/fixtures/claude-2.1.332/session-with-subagents";
        let main = include_str!("../../tests/fixtures/claude-2.1.332/session-with-subagents.jsonl");
        let general = include_str!(
            "../../tests/fixtures/claude-2.1.332/session-with-subagents/subagents/agent-adb89cbbb618840b1.jsonl"
        );
        let fork = include_str!(
            "../../tests/fixtures/claude-2.1.332/session-with-subagents/subagents/agent-a26114e08c6060904.jsonl"
        );
        let session = read(TranscriptFormat::Claude, main, 512).usage();
        // The session's own three responses; its tool results' echoes of the subagents'
        // usage (`toolUseResult.usage`) are not counted.
        assert_eq!(
            (session.input, session.output),
            (13842 + 14110 + 14368, 44 + 42 + 8)
        );
        let mut total = session;
        for (text, input) in [(general, 8129 + 8908), (fork, 14468)] {
            for chunk in [1, 97, 4096] {
                let mut r = UsageReader::subagent();
                for c in text.as_bytes().chunks(chunk) {
                    r.feed(TranscriptFormat::Claude, c);
                }
                assert_eq!(r.usage().input, input, "chunks of {chunk}");
            }
            let mut r = UsageReader::subagent();
            r.feed(TranscriptFormat::Claude, text.as_bytes());
            total = total.plus(r.usage());
        }
        // What the server reported for the session's six requests (README.md).
        assert_eq!(
            total,
            Usage {
                input: 73825,
                output: 144,
                cache_read: 36912,
                cache_write: 384,
                reasoning: 0
            }
        );
        // Read as a session's record, the fork's would count its parent's response again.
        let naive = read(TranscriptFormat::Claude, fork, 512).usage();
        assert_eq!(naive.input, 14110 + 14468);
        // The directory is where the session's record says.
        let dir = super::super::subagents::dir_of(std::path::Path::new(&format!("{DIR}.jsonl")));
        assert_eq!(
            dir,
            Some(std::path::PathBuf::from(format!("{DIR}/subagents")))
        );
    }

    #[test]
    fn compacting_settles_all_but_the_last_responses_and_drops_a_cut_line() {
        let lines = [
            r#"{"type":"assistant","message":{"id":"m1","usage":{"input_tokens":1,"output_tokens":2}}}"#,
            r#"{"type":"assistant","message":{"id":"m2","usage":{"input_tokens":1,"output_tokens":2}}}"#,
            r#"{"type":"assistant","message":{"id":"m2","usage":{"input_tokens":1,"output_tokens":5}}}"#,
        ];
        let text = format!("{}\n{}\n{}", lines[0], lines[1], lines[2]);
        let mut r = read(TranscriptFormat::Claude, &text, 4096);
        assert_eq!(
            r.compact(1),
            lines[2].len() as u64,
            "the cut line is dropped"
        );
        assert_eq!(r.open.len(), 1);
        assert_eq!(r.usage().output, 4);
        // Read again whole, the last response keeps its largest count.
        r.feed(
            TranscriptFormat::Claude,
            format!("{}\n", lines[2]).as_bytes(),
        );
        assert_eq!((r.usage().input, r.usage().output), (2, 7));
    }

    #[test]
    fn the_state_survives_a_restart_mid_line() {
        let text = r#"{"type":"gemini","id":"a","tokens":{"input":10,"output":2,"cached":4,"thoughts":1,"tool":0}}"#;
        let mut r = UsageReader::default();
        r.feed(TranscriptFormat::Gemini, &text.as_bytes()[..20]);
        let saved = serde_json::to_string(&r).expect("save");
        let mut r: UsageReader = serde_json::from_str(&saved).expect("load");
        r.feed(TranscriptFormat::Gemini, &text.as_bytes()[20..]);
        r.feed(TranscriptFormat::Gemini, b"\n");
        assert_eq!(
            r.usage(),
            Usage {
                input: 6,
                output: 3,
                cache_read: 4,
                cache_write: 0,
                reasoning: 1
            }
        );
    }
}
