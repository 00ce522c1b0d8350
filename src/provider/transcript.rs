//! The CLIs' own session records, read as a second witness of a turn's end
//! (ARCHITECTURE.md, Invariants: "every witness can fail"; "everything an agent writes is
//! hostile"): Claude Code's transcript, Codex's rollout file, Gemini CLI's chat file — JSON lines,
//! written by the agent, so read bounded and incrementally ([`TranscriptState::feed`] takes
//! the bytes a caller read from its saved offset). Pure: no I/O here.
//!
//! Which record marks a finished turn, on the pinned versions:
//! - **Claude Code 2.1.332**: a `type: "assistant"` line whose `message.stop_reason` is
//!   `"end_turn"` (`"tool_use"` before tool results; one line per content block, the same
//!   `stop_reason` on each). A `type: "user"` line (a prompt, tool results) opens work again.
//! - **Codex 0.171.0**: an `event_msg` record whose `payload.type` is `"task_complete"` (the
//!   turn's end event, `turn_complete` in its newer name); any other `event_msg` (but
//!   `token_count`), a `response_item` or a `turn_context` means work.
//! - **Gemini CLI 0.61.0**: a `type: "gemini"` line with text and no tool calls is the
//!   model's final answer; one with `toolCalls`, or a `type: "user"` line, means work. The
//!   same message id may be written again as it is updated: only the last line counts.

use serde_json::Value;

use crate::config::HookStyle;

/// Longest line kept, bytes: a longer one (a whole file in a tool call or result) is skipped,
/// and counts as work.
pub const LINE_MAX: usize = 1 << 20;

/// Which CLI wrote a session record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptFormat {
    /// Claude Code's `~/.claude/projects/<dir>/<session>.jsonl`.
    Claude,
    /// Codex's `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`.
    Codex,
    /// Gemini CLI's `~/.gemini/tmp/<dir>/chats/session-*.jsonl`.
    Gemini,
}

impl TranscriptFormat {
    /// The record format of a provider's CLI, by its hook style: `None` for providers whose
    /// hooks name no session record (agent-sim wires Claude Code hooks but sends no
    /// `transcript_path`, so a path never arrives for it).
    pub fn for_hooks(style: HookStyle) -> Option<TranscriptFormat> {
        match style {
            HookStyle::ClaudeCode => Some(TranscriptFormat::Claude),
            HookStyle::Codex => Some(TranscriptFormat::Codex),
            HookStyle::Gemini => Some(TranscriptFormat::Gemini),
            HookStyle::None => None,
        }
    }
}

/// What one record says about the turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnMark {
    /// The agent works (a prompt taken, a tool called or answered, text on its way).
    Working,
    /// The turn is finished: the model's final answer is recorded.
    Finished,
}

/// What one JSON line of a `format` record says, if anything (metadata lines, token counts
/// and unreadable lines say nothing).
pub fn mark(format: TranscriptFormat, line: &str) -> Option<TurnMark> {
    let v: Value = serde_json::from_str(line).ok()?;
    let kind = v.get("type").and_then(Value::as_str)?;
    match format {
        TranscriptFormat::Claude => match kind {
            "user" => Some(TurnMark::Working),
            "assistant" => {
                let stop = v.pointer("/message/stop_reason").and_then(Value::as_str);
                Some(if stop == Some("end_turn") {
                    TurnMark::Finished
                } else {
                    TurnMark::Working
                })
            }
            _ => None,
        },
        TranscriptFormat::Codex => {
            let payload = v.pointer("/payload/type").and_then(Value::as_str);
            match (kind, payload) {
                ("event_msg", Some("task_complete" | "turn_complete")) => Some(TurnMark::Finished),
                ("event_msg", Some("token_count")) => None,
                ("event_msg" | "response_item" | "turn_context", _) => Some(TurnMark::Working),
                _ => None,
            }
        }
        TranscriptFormat::Gemini => match kind {
            "user" => Some(TurnMark::Working),
            "gemini" => {
                let tools = v
                    .get("toolCalls")
                    .and_then(Value::as_array)
                    .is_some_and(|t| !t.is_empty());
                let text = v
                    .get("content")
                    .and_then(Value::as_str)
                    .is_some_and(|c| !c.trim().is_empty());
                Some(if text && !tools {
                    TurnMark::Finished
                } else {
                    TurnMark::Working
                })
            }
            _ => None,
        },
    }
}

/// A session record read so far: the last turn mark, carried across reads that end
/// mid-line.
#[derive(Debug, Clone)]
pub struct TranscriptState {
    format: TranscriptFormat,
    /// The start of a line whose end has not been read yet (at most [`LINE_MAX`] bytes).
    partial: Vec<u8>,
    /// The line being read is longer than [`LINE_MAX`]: skipped up to its newline.
    skipping: bool,
    last: Option<TurnMark>,
}

impl TranscriptState {
    /// Nothing read yet.
    pub fn new(format: TranscriptFormat) -> TranscriptState {
        TranscriptState {
            format,
            partial: Vec::new(),
            skipping: false,
            last: None,
        }
    }

    /// The format being read.
    pub fn format(&self) -> TranscriptFormat {
        self.format
    }

    /// A record read from the middle of a file (the reader jumped past old bytes): the bytes
    /// up to the first newline are the end of a line whose start was not read, and are
    /// skipped.
    pub fn resync(&mut self) {
        self.partial.clear();
        self.skipping = true;
    }

    /// Takes the next bytes of the file. Returns true when they completed at least one record
    /// that says something about the turn (a line that is too long counts, as work).
    pub fn feed(&mut self, mut bytes: &[u8]) -> bool {
        let mut said = false;
        while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
            let (head, rest) = bytes.split_at(nl);
            bytes = &rest[1..];
            if self.skipping {
                self.skipping = false;
                continue;
            }
            if self.partial.len() + head.len() > LINE_MAX {
                self.partial.clear();
                self.last = Some(TurnMark::Working);
                said = true;
                continue;
            }
            self.partial.extend_from_slice(head);
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            if let Some(m) = mark(self.format, line.trim()) {
                self.last = Some(m);
                said = true;
            }
        }
        if !self.skipping {
            if self.partial.len() + bytes.len() > LINE_MAX {
                self.partial.clear();
                self.skipping = true;
                self.last = Some(TurnMark::Working);
                said = true;
            } else {
                self.partial.extend_from_slice(bytes);
            }
        }
        said
    }

    /// True when the last complete record says the turn is finished (and no line is half
    /// written after it).
    pub fn finished(&self) -> bool {
        self.last == Some(TurnMark::Finished) && self.partial.is_empty() && !self.skipping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as the pinned versions write them (tests/fixtures/), shortened.
    const CLAUDE: &[&str] = &[
        r#"{"parentUuid":null,"isSidechain":false,"type":"user","message":{"role":"user","content":"Write the analysis."},"uuid":"u1","sessionId":"s"}"#,
        r#"{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"I will write it."}],"stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5}},"requestId":"req_1","uuid":"a1"}"#,
        r#"{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"tool_use","id":"t1","name":"Write","input":{"file_path":"a.md","content":"x"}}],"stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5}},"requestId":"req_1","uuid":"a2"}"#,
        r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"t1","type":"tool_result","content":"File created"}]},"uuid":"u2"}"#,
        r#"{"type":"assistant","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Wrote a.md."}],"stop_reason":"end_turn","usage":{"input_tokens":20,"output_tokens":4}},"requestId":"req_2","uuid":"a3"}"#,
    ];

    const CODEX: &[&str] = &[
        r#"{"timestamp":"2026-12-06T10:00:00.000Z","type":"session_meta","payload":{"id":"s","cwd":"/w"}}"#,
        r#"{"timestamp":"2026-12-06T10:00:00.100Z","type":"turn_context","payload":{"cwd":"/w","model":"m"}}"#,
        r#"{"timestamp":"2026-12-06T10:00:00.100Z","type":"event_msg","payload":{"type":"task_started","model_context_window":1000}}"#,
        r#"{"timestamp":"2026-12-06T10:00:00.200Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"Write it."}]}}"#,
        r#"{"timestamp":"2026-12-06T10:00:01.000Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{}","call_id":"c1"}}"#,
        r#"{"timestamp":"2026-12-06T10:00:02.000Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Done."}]}}"#,
        r#"{"timestamp":"2026-12-06T10:00:02.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":30,"cached_input_tokens":0,"output_tokens":6,"reasoning_output_tokens":0,"total_tokens":36},"last_token_usage":{"input_tokens":30,"cached_input_tokens":0,"output_tokens":6,"reasoning_output_tokens":0,"total_tokens":36}}}}"#,
        r#"{"timestamp":"2026-12-06T10:00:02.001Z","type":"event_msg","payload":{"type":"task_complete","last_agent_message":"Done."}}"#,
    ];

    const GEMINI: &[&str] = &[
        r#"{"sessionId":"s","projectHash":"h","startTime":"t","kind":"main"}"#,
        r#"{"id":"1","timestamp":"t","type":"user","content":[{"text":"Write it."}]}"#,
        r#"{"id":"2","timestamp":"t","type":"gemini","content":"","toolCalls":[{"id":"c1","name":"write_file","args":{"file_path":"a.md","content":"x"},"status":"success"}],"tokens":{"input":10,"output":5,"cached":0,"thoughts":0,"tool":0,"total":15},"model":"gemini"}"#,
        r#"{"id":"3","timestamp":"t","type":"gemini","content":"Wrote a.md.","tokens":{"input":20,"output":4,"cached":0,"thoughts":0,"tool":0,"total":24},"model":"gemini"}"#,
        r#"{"$set":{"lastUpdated":"t"}}"#,
    ];

    /// The state after each line of `lines`, fed one line at a time.
    fn after_each(format: TranscriptFormat, lines: &[&str]) -> Vec<bool> {
        let mut s = TranscriptState::new(format);
        lines
            .iter()
            .map(|l| {
                s.feed(l.as_bytes());
                s.feed(b"\n");
                s.finished()
            })
            .collect()
    }

    #[test]
    fn claude_is_finished_at_its_end_turn_line_only() {
        assert_eq!(
            after_each(TranscriptFormat::Claude, CLAUDE),
            [false, false, false, false, true]
        );
    }

    #[test]
    fn codex_is_finished_at_task_complete_only() {
        assert_eq!(
            after_each(TranscriptFormat::Codex, CODEX),
            [false, false, false, false, false, false, false, true]
        );
        let newer = r#"{"type":"event_msg","payload":{"type":"turn_complete"}}"#;
        assert_eq!(
            mark(TranscriptFormat::Codex, newer),
            Some(TurnMark::Finished)
        );
    }

    #[test]
    fn gemini_is_finished_at_a_final_answer_and_metadata_changes_nothing() {
        assert_eq!(
            after_each(TranscriptFormat::Gemini, GEMINI),
            [false, false, false, true, true]
        );
    }

    #[test]
    fn a_new_prompt_opens_the_turn_again() {
        let mut lines = CLAUDE.to_vec();
        lines.push(CLAUDE[0]);
        assert_eq!(
            after_each(TranscriptFormat::Claude, &lines).last(),
            Some(&false)
        );
    }

    #[test]
    fn lines_split_across_reads_are_joined_and_half_lines_are_not_finished() {
        let whole = format!("{}\n{}\n", CLAUDE[0], CLAUDE[4]);
        for cut in [1, 10, CLAUDE[0].len() + 1, whole.len() - 3, whole.len() - 1] {
            let mut s = TranscriptState::new(TranscriptFormat::Claude);
            s.feed(&whole.as_bytes()[..cut]);
            assert!(!s.finished(), "cut at {cut}");
            s.feed(&whole.as_bytes()[cut..]);
            assert!(s.finished(), "cut at {cut}");
        }
    }

    #[test]
    fn an_overlong_line_is_skipped_as_work_without_being_kept() {
        let mut s = TranscriptState::new(TranscriptFormat::Claude);
        s.feed(CLAUDE[4].as_bytes());
        s.feed(b"\n");
        assert!(s.finished());
        let chunk = vec![b'x'; LINE_MAX / 2];
        for _ in 0..5 {
            s.feed(&chunk);
            assert!(s.partial.len() <= LINE_MAX);
        }
        assert!(!s.finished());
        s.feed(b"tail\n");
        s.feed(CLAUDE[4].as_bytes());
        s.feed(b"\n");
        assert!(s.finished(), "the next line is read again");
    }

    #[test]
    fn a_resync_skips_the_first_partial_line() {
        let mut s = TranscriptState::new(TranscriptFormat::Claude);
        s.resync();
        s.feed(b"ason\":\"end_turn\"}}\n");
        assert!(!s.finished());
        s.feed(format!("{}\n", CLAUDE[4]).as_bytes());
        assert!(s.finished());
    }

    /// Session records of the pinned CLIs, captured from `tests/*_supervised.rs` runs
    /// against the scripted model (the stage's write turn and final text); lines over 4 KB
    /// left out.
    const CLAUDE_REAL: &str = include_str!("../../tests/fixtures/claude-2.1.332/transcript.jsonl");
    const CODEX_REAL: &str = include_str!("../../tests/fixtures/codex-0.171.0/transcript.jsonl");
    const GEMINI_REAL: &str = include_str!("../../tests/fixtures/gemini-0.61.0/transcript.jsonl");

    /// Index of the line from which `text` reads finished, checking it stays so.
    fn finished_from(format: TranscriptFormat, text: &str) -> Option<usize> {
        let lines: Vec<&str> = text.lines().collect();
        let states = after_each(format, &lines);
        let first = states.iter().position(|f| *f)?;
        assert!(
            states[first..].iter().all(|f| *f),
            "{format:?}: finished, then working again: {states:?}"
        );
        Some(first)
    }

    #[test]
    fn real_records_read_finished_from_the_turns_final_record_on() {
        let line_of = |text: &str, needle: &str| {
            text.lines()
                .position(|l| l.contains(needle))
                .expect("the fixture has its final record")
        };
        assert_eq!(
            finished_from(TranscriptFormat::Claude, CLAUDE_REAL),
            Some(line_of(CLAUDE_REAL, r#""stop_reason":"end_turn""#)),
            "Claude Code 2.1.332: the end_turn line; system and cost lines after it say nothing"
        );
        assert_eq!(
            finished_from(TranscriptFormat::Codex, CODEX_REAL),
            Some(line_of(CODEX_REAL, r#""type":"task_complete""#)),
            "Codex 0.171.0: task_complete, after the last token_count"
        );
        let last_answer = GEMINI_REAL
            .lines()
            .collect::<Vec<_>>()
            .iter()
            .rposition(|l| l.contains(r#""type":"gemini""#))
            .expect("a gemini line");
        assert_eq!(
            finished_from(TranscriptFormat::Gemini, GEMINI_REAL),
            Some(last_answer),
            "Gemini CLI 0.61.0: its final answer; the thinking and tool-call lines before it \
             are work"
        );
    }

    #[test]
    fn garbage_and_unknown_records_say_nothing() {
        for f in [
            TranscriptFormat::Claude,
            TranscriptFormat::Codex,
            TranscriptFormat::Gemini,
        ] {
            assert_eq!(mark(f, "not json"), None);
            assert_eq!(mark(f, r#"{"type":"summary","summary":"x"}"#), None);
            assert_eq!(mark(f, "[]"), None);
        }
    }
}
