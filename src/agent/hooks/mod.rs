//! Agent hooks, received: the agent itself tells bosun what it is doing. How each CLI is
//! wired to call `bosun hook` (settings, arguments, a per-run home) is
//! [`crate::provider::wiring`]'s.
//!
//! [`receive`] checks the token, keeps the useful part of the payload and appends a
//! [`hooks`] row; the supervisor reads new rows every tick and takes them as the strongest
//! status signal ([`signal`]), with the screen as the fallback. A call with a wrong token is
//! refused, logged with `tracing` and counted ([`report_rejections`]).
//!
//! Observed with Claude Code 2.1.197: `UserPromptSubmit` when the prompt is taken,
//! `PreToolUse` before every tool (before its permission dialog), `Notification` with
//! `notification_type: permission_prompt` about 6 s after a permission dialog appears, `Stop`
//! with `last_assistant_message` when the turn ends, and `StopFailure` with
//! `error: rate_limit | server_error | …` instead of `Stop` when it ends on an API error.
//!
//! Observed with Codex 0.169.0 in its TUI with a custom model provider (payloads carry the
//! same `hook_event_name`s and fields as Claude Code's, plus `turn_id` and `model`):
//! `UserPromptSubmit` with `prompt` when the prompt is taken; `PreToolUse` before every tool
//! (`tool_name: "Bash"` for `exec_command`, `tool_input.command`); `PermissionRequest` with
//! `tool_input.description` (the model's justification) about 0.6 s *before* the approval
//! dialog is drawn, so it is recorded but not taken as waiting (a key sent then is lost; the
//! screen reports the dialog); `Stop` with `last_assistant_message` when the turn ends. A turn
//! that fails (a 429 given up) calls no hook at all: the screen reports the error.
//! (`SessionStart` comes with the first prompt, `PostToolUse` after each tool; neither is
//! subscribed.) Codex's legacy `notify` program is no substitute: it is called with
//! `agent-turn-complete` for the background thread-title request too.

mod rejected;

pub use rejected::{REJECTED_QUIET_MS, REJECTED_WINDOW_MS, report_rejections};

/// What Gemini CLI's `AfterAgent` hook says as the response of a turn that ended on an API
/// error (0.61.0).
const GEMINI_NO_RESPONSE: &str = "[no response text]";

use serde_json::Value;

use crate::provider::HookSignal;
use crate::store::hooks::{self, Hook, HookEvent};
use crate::store::{Store, StoreError, now_ms, rejections, runs};

/// Most bytes of a payload field kept in a hook row's detail.
const DETAIL_MAX: usize = 4096;

/// Why a hook call was refused.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The payload is not a JSON object with a known `hook_event_name`.
    #[error("bad hook payload: {0}")]
    Payload(String),
    /// No such run.
    #[error("hook for run {0} refused: no such run")]
    NoRun(i64),
    /// The token is not the run's.
    #[error("hook for run {0} refused: wrong token")]
    BadToken(i64),
}

/// A fresh run token (see [`crate::secret::new_token`]).
///
/// # Errors
/// The I/O error if `/dev/urandom` cannot be read.
pub fn new_token() -> std::io::Result<String> {
    crate::secret::new_token()
}

/// The hook named in a payload and what bosun keeps of it (see [`Hook::detail`]).
///
/// # Errors
/// [`HookError::Payload`] if it is not a JSON object or names an event bosun does not take.
pub fn parse_payload(payload: &[u8]) -> Result<(HookEvent, String), HookError> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| HookError::Payload(e.to_string()))?;
    let name = v
        .get("hook_event_name")
        .and_then(Value::as_str)
        .ok_or_else(|| HookError::Payload("no hook_event_name".into()))?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    // Gemini CLI's events, stored under the Claude Code names they mean.
    match name {
        "BeforeAgent" => return Ok((HookEvent::UserPromptSubmit, String::new())),
        "BeforeTool" => {
            return Ok((
                HookEvent::PreToolUse,
                truncate(field("tool_name"), DETAIL_MAX),
            ));
        }
        "Notification" if field("notification_type") == "ToolPermission" => {
            let detail = format!("permission_prompt: {}", field("message"));
            return Ok((HookEvent::Notification, truncate(detail, DETAIL_MAX)));
        }
        "AfterAgent" => {
            let response = field("prompt_response");
            return Ok(if response.trim() == GEMINI_NO_RESPONSE {
                let detail =
                    format!("api_error: the turn ended without a response {GEMINI_NO_RESPONSE}");
                (HookEvent::StopFailure, detail)
            } else {
                (HookEvent::Stop, truncate(response, DETAIL_MAX))
            });
        }
        _ => {}
    }
    let event: HookEvent = name.parse().map_err(HookError::Payload)?;
    let detail = match event {
        HookEvent::UserPromptSubmit => String::new(),
        HookEvent::PreToolUse => field("tool_name"),
        HookEvent::Notification => {
            format!("{}: {}", field("notification_type"), field("message"))
        }
        HookEvent::PermissionRequest => {
            let description = v
                .pointer("/tool_input/description")
                .and_then(Value::as_str)
                .unwrap_or("");
            format!("{}: {description}", field("tool_name"))
        }
        HookEvent::Stop => field("last_assistant_message"),
        HookEvent::StopFailure => {
            format!("{}: {}", field("error"), field("last_assistant_message"))
        }
    };
    Ok((event, truncate(detail, DETAIL_MAX)))
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Takes one hook call for `run_id` presenting `token`, with the hook's JSON `payload`:
/// records it and returns its id, or `None` when the run has already ended (a late call,
/// accepted and dropped). The token is checked against the hash the run stored.
///
/// # Errors
/// [`HookError::BadToken`] / [`HookError::NoRun`] (also logged and counted, see
/// [`report_rejections`]) when the token is not the run's; [`HookError::Payload`]; store
/// failures.
pub fn receive(
    store: &Store,
    run_id: i64,
    token: &str,
    payload: &[u8],
) -> Result<Option<i64>, HookError> {
    let parsed = parse_payload(payload);
    let name = parsed
        .as_ref()
        .map_or("(unreadable)", |(e, _)| e.as_str())
        .to_string();
    let row = runs::hook_token_hash(store.conn(), run_id)?;
    let refused = match &row {
        None => Some(HookError::NoRun(run_id)),
        Some((Some(expected), _)) if crate::secret::token_matches(token, expected) => None,
        Some(_) => Some(HookError::BadToken(run_id)),
    };
    if let Some(err) = refused {
        tracing::warn!(run = run_id, hook = %name, "{err}");
        let key = match err {
            HookError::NoRun(_) => rejections::UNKNOWN_RUN,
            _ => run_id,
        };
        let now = now_ms();
        // Counted in place; an event only when a report is due (a flood of forged calls
        // cannot grow the append-only events table).
        store.write(|tx| {
            rejections::count(tx, key, &format!("{name} {err}"), now)?;
            rejected::append_reports(tx, now)
        })?;
        return Err(err);
    }
    let (event, mut detail) = parsed?;
    if row.is_none_or(|(_, ended)| ended) {
        tracing::debug!(run = run_id, hook = %event, "hook after the run ended; dropped");
        return Ok(None);
    }
    // Gemini CLI's AfterAgent `prompt_response` joins the streamed chunks with spaces and
    // repeats them (0.61.0); the transcript it writes just before has the real message.
    if event == HookEvent::Stop
        && let Some(message) = gemini_transcript(payload)
            .as_deref()
            .and_then(last_gemini_message)
    {
        detail = truncate(message, DETAIL_MAX);
    }
    let transcript = transcript_path(payload);
    let id = store.write(|tx| {
        if let Some(path) = &transcript {
            runs::set_transcript(tx, run_id, path)?;
        }
        hooks::append(tx, run_id, event, &detail, now_ms())
    })?;
    tracing::debug!(run = run_id, hook = %event, "hook received");
    Ok(Some(id))
}

/// Longest `transcript_path` kept, bytes.
const TRANSCRIPT_PATH_MAX: usize = 4096;

/// The `transcript_path` of a payload (Claude Code, Codex and Gemini CLI send it with every
/// hook): an absolute path to a `.jsonl` file, else `None`.
fn transcript_path(payload: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    let path = v.get("transcript_path")?.as_str()?;
    (path.starts_with('/')
        && path.ends_with(".jsonl")
        && path.len() <= TRANSCRIPT_PATH_MAX
        && !path.contains('\0'))
    .then(|| path.to_string())
}

/// The `transcript_path` of a Gemini CLI `AfterAgent` payload.
fn gemini_transcript(payload: &[u8]) -> Option<std::path::PathBuf> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    if v["hook_event_name"].as_str() != Some("AfterAgent") {
        return None;
    }
    v["transcript_path"].as_str().map(std::path::PathBuf::from)
}

/// The text of the last model message in a Gemini CLI session transcript (JSON lines; a
/// message is `{"type": "gemini", "content": "…"}`), reading at most its last 4 MB.
fn last_gemini_message(path: &std::path::Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 4 << 20;
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    String::from_utf8_lossy(&bytes)
        .lines()
        .rev()
        .find_map(|line| {
            let v: Value = serde_json::from_str(line).ok()?;
            if v["type"].as_str() != Some("gemini") {
                return None;
            }
            v["content"]
                .as_str()
                .filter(|c| !c.trim().is_empty())
                .map(str::to_string)
        })
}

/// What a hook call says about the agent's status, if anything: a `Notification` counts
/// only when it is a permission prompt (an idle reminder says nothing new); Codex's
/// `PermissionRequest` is only recorded (it comes before the dialog can be answered).
pub fn signal(hook: &Hook) -> Option<HookSignal> {
    match hook.event {
        HookEvent::UserPromptSubmit | HookEvent::PreToolUse => Some(HookSignal::Busy),
        HookEvent::Notification if hook.detail.starts_with("permission_prompt") => {
            Some(HookSignal::Waiting)
        }
        HookEvent::Notification => None,
        // Codex calls it ~0.6 s before its dialog is drawn and can take a key: waiting
        // reported then invites an answer that is lost. The screen reports the dialog.
        HookEvent::PermissionRequest => None,
        HookEvent::Stop => Some(HookSignal::Done),
        HookEvent::StopFailure => Some(HookSignal::Failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events::{self, EventKind};

    #[test]
    fn payloads_keep_what_the_supervisor_needs() {
        let p = br#"{"hook_event_name":"Notification","message":"Claude needs your permission","notification_type":"permission_prompt"}"#;
        let (e, d) = parse_payload(p).expect("parse");
        assert_eq!(e, HookEvent::Notification);
        assert_eq!(d, "permission_prompt: Claude needs your permission");
        let p = br#"{"hook_event_name":"StopFailure","error":"rate_limit","last_assistant_message":"API Error: Request rejected (429)"}"#;
        assert_eq!(
            parse_payload(p).expect("parse").1,
            "rate_limit: API Error: Request rejected (429)"
        );
        assert!(matches!(
            parse_payload(br#"{"hook_event_name":"SessionEnd"}"#),
            Err(HookError::Payload(_))
        ));
        assert!(matches!(
            parse_payload(b"not json"),
            Err(HookError::Payload(_))
        ));
        let long = format!(
            r#"{{"hook_event_name":"Stop","last_assistant_message":"{}"}}"#,
            "é".repeat(5000)
        );
        assert!(parse_payload(long.as_bytes()).expect("parse").1.len() <= DETAIL_MAX);
    }

    #[test]
    fn codex_payloads_map_to_the_same_events() {
        // Payloads as Codex 0.169.0 sent them (session and transcript fields shortened).
        let p = br#"{"session_id":"s","turn_id":"t","cwd":"/p","hook_event_name":"PermissionRequest","model":"gpt-5.5","permission_mode":"default","tool_name":"Bash","tool_input":{"command":"printf 'x\n' > b.txt","description":"May I?"}}"#;
        let (e, d) = parse_payload(p).expect("parse");
        assert_eq!(e, HookEvent::PermissionRequest);
        assert_eq!(d, "Bash: May I?");
        let call = |event, detail: &str| Hook {
            id: 1,
            run_id: 1,
            event,
            detail: detail.into(),
            at: 0,
        };
        assert_eq!(signal(&call(e, &d)), None, "the screen reports the dialog");
        let p = br#"{"session_id":"s","turn_id":"t","hook_event_name":"Stop","model":"gpt-5.5","permission_mode":"default","stop_hook_active":false,"last_assistant_message":"Done one."}"#;
        assert_eq!(
            parse_payload(p).expect("parse"),
            (HookEvent::Stop, "Done one.".to_string())
        );
        let p = br#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"echo hi > a.txt"},"tool_use_id":"call_1"}"#;
        assert_eq!(
            parse_payload(p).expect("parse"),
            (HookEvent::PreToolUse, "Bash".to_string())
        );
        let p = br#"{"hook_event_name":"UserPromptSubmit","prompt":"Run a command."}"#;
        assert_eq!(
            parse_payload(p).expect("parse").0,
            HookEvent::UserPromptSubmit
        );
        assert!(matches!(
            parse_payload(br#"{"hook_event_name":"SessionStart","source":"startup"}"#),
            Err(HookError::Payload(_))
        ));
    }

    #[test]
    fn gemini_payloads_map_to_the_claude_events_they_mean() {
        // Payloads as Gemini CLI 0.61.0 sent them (session fields shortened).
        let p = br#"{"session_id":"s","cwd":"/p","hook_event_name":"BeforeAgent","timestamp":"t","prompt":"write hooked.txt"}"#;
        assert_eq!(
            parse_payload(p).expect("parse"),
            (HookEvent::UserPromptSubmit, String::new())
        );
        let p = br#"{"hook_event_name":"BeforeTool","tool_name":"write_file","tool_input":{"file_path":"a","content":"b"}}"#;
        assert_eq!(
            parse_payload(p).expect("parse"),
            (HookEvent::PreToolUse, "write_file".into())
        );
        let p = br#"{"hook_event_name":"Notification","notification_type":"ToolPermission","message":"Tool Confirm Write: hooked.txt requires editing","details":{}}"#;
        let (e, d) = parse_payload(p).expect("parse");
        assert_eq!(e, HookEvent::Notification);
        let call = |event, detail: &str| Hook {
            id: 1,
            run_id: 1,
            event,
            detail: detail.into(),
            at: 0,
        };
        assert_eq!(signal(&call(e, &d)), Some(HookSignal::Waiting));
        let p = br#"{"hook_event_name":"AfterAgent","prompt":"x","prompt_response":"Said hi.","stop_hook_active":false}"#;
        assert_eq!(
            parse_payload(p).expect("parse"),
            (HookEvent::Stop, "Said hi.".into())
        );
        let p = br#"{"hook_event_name":"AfterAgent","prompt":"x","prompt_response":"[no response text]","stop_hook_active":false}"#;
        let (e, _) = parse_payload(p).expect("parse");
        assert_eq!(e, HookEvent::StopFailure);
        assert!(matches!(
            parse_payload(br#"{"hook_event_name":"SessionStart","source":"startup"}"#),
            Err(HookError::Payload(_))
        ));
    }

    #[test]
    fn gemini_final_message_comes_from_its_transcript() {
        // As Gemini CLI 0.61.0 wrote it: the AfterAgent payload's prompt_response is mangled
        // ("… x.md. ysis to docs/wor k-items/x.md."), the transcript line is not.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("session.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"sessionId":"s","kind":"main"}"#, "\n",
                r#"{"id":"1","type":"user","content":[{"text":"say it"}]}"#, "\n",
                r#"{"id":"2","type":"gemini","content":"I will write it.","model":"m"}"#, "\n",
                r#"{"id":"3","type":"gemini","content":"I wrote the analysis to docs/work-items/x.md.","model":"m"}"#, "\n",
                r#"{"$set":{"lastUpdated":"t"}}"#, "\n",
            ),
        )
        .expect("transcript");
        let payload = serde_json::json!({
            "hook_event_name": "AfterAgent",
            "transcript_path": path,
            "prompt_response": "I wrote the analysis to docs/work-items/x.md. ysis to docs/wor k-items/x.md.",
        })
        .to_string();
        let t = gemini_transcript(payload.as_bytes()).expect("transcript path");
        assert_eq!(
            last_gemini_message(&t).as_deref(),
            Some("I wrote the analysis to docs/work-items/x.md.")
        );
        assert_eq!(last_gemini_message(&dir.path().join("missing")), None);
    }

    #[test]
    fn refused_calls_are_counted_and_reported_once_per_window() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("b.db")).expect("store");
        let payload = br#"{"hook_event_name":"Stop"}"#;
        for _ in 0..50 {
            assert!(matches!(
                receive(&store, 4242, "forged", payload),
                Err(HookError::NoRun(4242))
            ));
        }
        let rejected = |store: &Store| {
            events::recent(store.conn(), None, 100)
                .expect("events")
                .into_iter()
                .filter(|e| e.kind == EventKind::HookRejected)
                .collect::<Vec<_>>()
        };
        assert!(rejected(&store).is_empty(), "the burst is not over yet");
        let later = now_ms() + REJECTED_QUIET_MS;
        assert_eq!(report_rejections(&store, later).expect("report"), 1);
        let all = rejected(&store);
        assert_eq!(all.len(), 1);
        assert!(
            all[0]
                .message
                .starts_with("50 hook calls naming no known run"),
            "{}",
            all[0].message
        );
        // More within the window: counted, reported only once the window has passed.
        for _ in 0..3 {
            let _ = receive(&store, 4243, "forged", payload);
        }
        assert_eq!(
            report_rejections(&store, later + REJECTED_QUIET_MS).expect("report"),
            0
        );
        assert_eq!(
            report_rejections(&store, later + REJECTED_WINDOW_MS).expect("report"),
            1
        );
        assert!(rejected(&store)[1].message.starts_with("3 hook calls"));
    }
}
