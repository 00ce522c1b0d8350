//! Status back on a tracker's issue: what bosun's one comment (edited in place) says, and
//! which `bosun:*` label mirrors the task's state. Pure: the lane reads the task, its
//! artifact and its landing, and writes what [`status`] returns.
//!
//! Labels: `bosun:working` (active, landing, in review), `bosun:needs-you` (awaiting
//! approval, needs input, blocked), `bosun:done` (done, landed); none for a cancelled task.
//! A comment is written first when the task needs the operator or has landed; once written
//! it follows every change of state.

use crate::status::TaskState;

/// The labels bosun puts on issues.
pub const LABELS: [&str; 3] = ["bosun:working", "bosun:needs-you", "bosun:done"];

/// Bytes of an artifact quoted in a comment.
pub const QUOTE_MAX: usize = 1_500;

/// What the lane knows of the task when it reports.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// Task key.
    pub key: &'a str,
    /// Its stage.
    pub stage: &'a str,
    /// Its state.
    pub state: Option<TaskState>,
    /// Why it blocked, or the agent's questions.
    pub reason: Option<&'a str>,
    /// For an approval: the artifact's path and its first [`QUOTE_MAX`] bytes.
    pub artifact: Option<(&'a str, &'a str)>,
    /// Its landing, described (`landing::describe`), with the pull request's link.
    pub landing: Option<&'a str>,
}

/// The status to show: the key it is remembered by (a new one means a new report), the
/// label, and the comment's text if there is one to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `state@stage`: what was last reported.
    pub key: String,
    /// The `bosun:*` label the issue should carry (`None`: none of them).
    pub label: Option<&'static str>,
    /// The comment's text; `None`: nothing worth a new comment (an existing one is edited
    /// to [`Status::line`] still).
    pub comment: Option<String>,
    /// One line of status, for a comment that exists already.
    pub line: String,
}

/// What a report of a task in `state` at `stage` is remembered by ([`Status::key`]).
pub fn key(state: TaskState, stage: &str) -> String {
    format!("{}@{stage}", state.as_str())
}

/// The status of a task as `f` describes it.
pub fn status(f: &Facts<'_>) -> Status {
    let state = f.state.unwrap_or(TaskState::Active);
    let label = match state {
        TaskState::Active | TaskState::Landing | TaskState::InReview => Some(LABELS[0]),
        TaskState::AwaitingApproval | TaskState::NeedsInput | TaskState::Blocked => Some(LABELS[1]),
        TaskState::Done | TaskState::Landed => Some(LABELS[2]),
        TaskState::Cancelled => None,
    };
    let key = f.key;
    let stage = crate::text::plain(f.stage);
    let head = format!("**bosun** · {key} · ");
    let (line, ask) = match state {
        TaskState::Active => (format!("{head}working: {stage}"), None),
        TaskState::AwaitingApproval => (
            format!("{head}awaiting approval at {stage}"),
            Some(approval(f)),
        ),
        TaskState::NeedsInput => (
            format!("{head}has questions at {stage}"),
            Some(format!(
                "{}\nReply `/answer <your answers>`; the stage runs again with them.",
                quoted(f.reason.unwrap_or(""))
            )),
        ),
        TaskState::Blocked => (
            format!("{head}blocked at {stage}"),
            Some(format!(
                "{}\nReply `/answer <what to do>` to run the stage again with it, or \
                 `/cancel`.",
                quoted(f.reason.unwrap_or(""))
            )),
        ),
        TaskState::Landing => (format!("{head}landing"), None),
        TaskState::InReview => (
            format!(
                "{head}{}",
                crate::text::plain(f.landing.unwrap_or("in review: its pull request is open"))
            ),
            None,
        ),
        TaskState::Landed => (
            format!(
                "{head}{}",
                crate::text::plain(f.landing.unwrap_or("landed in the base branch"))
            ),
            Some(String::new()),
        ),
        TaskState::Done => (format!("{head}done"), None),
        TaskState::Cancelled => (format!("{head}cancelled"), None),
    };
    let comment = ask.map(|more| {
        if more.is_empty() {
            format!("{line}\n")
        } else {
            format!("{line}\n\n{more}\n")
        }
    });
    Status {
        key: self::key(state, f.stage),
        label,
        comment,
        line: format!("{line}\n"),
    }
}

fn approval(f: &Facts<'_>) -> String {
    let what = match f.artifact {
        Some((path, text)) => format!(
            "`{}` is ready for your review:\n\n{}",
            crate::text::plain(path).replace('`', "'"),
            quoted(text)
        ),
        None => "The stage's work is ready for your review.".into(),
    };
    format!("{what}\nReply `/approve`, or `/reject <what to change>`.")
}

/// Agent text as a fenced block no markdown, mention or "fixes #N" escapes (see
/// `forge::body`).
fn quoted(text: &str) -> String {
    let mut cut = text.len().min(QUOTE_MAX);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = crate::text::plain_lines(&text[..cut]);
    let longest = text.split(|c| c != '~').map(str::len).max().unwrap_or(0);
    let fence = "~".repeat(longest.max(2) + 1);
    let more = if cut < text.len() { "\n[…]" } else { "" };
    format!("{fence}text\n{}{more}\n{fence}\n", text.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needing_the_operator_and_landing_are_worth_a_comment() {
        let facts = Facts {
            key: "ET-001",
            stage: "analysis",
            state: Some(TaskState::AwaitingApproval),
            artifact: Some(("docs/01-analysis.md", "# Plan\n@octocat fixes #3\n~~~\n")),
            ..Facts::default()
        };
        let s = status(&facts);
        assert_eq!(s.label, Some("bosun:needs-you"));
        assert_eq!(s.key, "awaiting_approval@analysis");
        let c = s.comment.expect("comment");
        assert!(
            c.starts_with("**bosun** · ET-001 · awaiting approval at analysis"),
            "{c}"
        );
        assert!(
            c.contains("~~~~text\n# Plan\n@octocat fixes #3\n~~~\n~~~~"),
            "{c}"
        );
        assert!(c.contains("`/approve`"));
        let working = status(&Facts {
            state: Some(TaskState::Active),
            stage: "development",
            ..facts.clone()
        });
        assert_eq!(
            (working.comment, working.label),
            (None, Some("bosun:working"))
        );
        let landed = status(&Facts {
            state: Some(TaskState::Landed),
            landing: Some("landed: pull request #4 http://x/pull/4"),
            ..facts
        });
        assert_eq!(landed.label, Some("bosun:done"));
        assert!(landed.comment.expect("comment").contains("pull request #4"));
    }
}
