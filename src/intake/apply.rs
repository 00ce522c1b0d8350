//! What an issue or a comment from a tracker does to bosun's tasks ([`Intake`]): an open
//! issue that matches its source's filter becomes exactly one task (the ledger entry written
//! in the task's own transaction); an edit before the task's first run changes its title and
//! spec; closing the issue cancels the task and reopening resumes it; a comment `/approve`,
//! `/reject <note>`, `/answer <text>` or `/cancel` by a user on the source's allow-list is the
//! same compare-and-set decision the console and the CLI make. Tracker text is hostile:
//! titles and specs are stripped of control characters and capped before they are stored.

use crate::config::Config;
use crate::config::intake::IntakeSource;
use crate::decide::{DecideError, Decider};
use crate::pipeline::{Decision, Engine, EngineError};
use crate::status::TaskState;
use crate::store::{Store, StoreError, intake, now_ms, runs, tasks};

use super::events::{TrackerComment, TrackerIssue};

/// Characters of an issue's title taken as the task's.
pub const TITLE_MAX: usize = 200;

/// Bytes of an issue's body taken as the task's spec.
pub const SPEC_MAX: usize = 16 * 1024;

/// The latest a comment stamped `at` by a tracker (to the second) may have been written, ms.
pub fn written_by(at: i64) -> i64 {
    at + 999
}

/// What taking an issue or comment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A task was created: its key.
    Created(String),
    /// Its task's title and spec follow the edited issue.
    Updated(String),
    /// Its task was cancelled (the issue was closed).
    Cancelled(String),
    /// Its task was resumed (the issue was reopened).
    Resumed(String),
    /// A decision from a comment was applied: what it did.
    Decided(String),
    /// A decision from a comment lost to an earlier one (the reply names who decided).
    Lost(String),
    /// Nothing to do: why.
    Nothing(String),
}

/// Applies tracker issues and comments for one config and database.
pub struct Intake<'a> {
    /// The config.
    pub cfg: &'a Config,
    /// The database.
    pub store: &'a Store,
}

/// Whether `issue` is one `source` turns into a task: open, not a pull request, with every
/// label the source names, assigned as it says.
pub fn matches(source: &IntakeSource, issue: &TrackerIssue) -> bool {
    issue.open
        && !issue.pull_request
        && source
            .labels
            .iter()
            .all(|l| issue.labels.iter().any(|i| i.eq_ignore_ascii_case(l)))
        && source
            .assignee
            .as_ref()
            .is_none_or(|a| issue.assignees.iter().any(|i| i.eq_ignore_ascii_case(a)))
}

/// The task's title from the issue's.
pub fn title(issue: &TrackerIssue) -> String {
    let t = crate::text::plain(issue.title.trim());
    let t = if t.is_empty() {
        format!("issue #{}", issue.number)
    } else {
        t
    };
    t.chars().take(TITLE_MAX).collect()
}

/// The task's spec from the issue's body, with a link back.
pub fn spec(issue: &TrackerIssue) -> String {
    let body = crate::text::plain_lines(issue.body.trim());
    let mut cut = body.len().min(SPEC_MAX);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let more = if cut < body.len() { "\n[…cut]" } else { "" };
    format!(
        "{}{more}\n\nFrom {}",
        &body[..cut],
        crate::text::plain(&issue.url)
    )
}

impl Intake<'_> {
    /// Takes `issue` as `source` shows it now.
    ///
    /// # Errors
    /// Store and engine failures (a decision that does not fit the task is [`Applied::Nothing`]).
    pub fn issue(
        &self,
        source: &IntakeSource,
        issue: &TrackerIssue,
    ) -> Result<Applied, EngineError> {
        let entry = intake::issue(self.store.conn(), &source.name, &source.repo, issue.number)?;
        let Some(entry) = entry else {
            if !matches(source, issue) {
                return Ok(Applied::Nothing(format!(
                    "#{} does not match the source's filter",
                    issue.number
                )));
            }
            return self.create(source, issue);
        };
        let task = tasks::get(self.store.conn(), entry.task_id)?;
        let by = format!("{}:{}", source.kind.as_str(), source.repo);
        if !issue.open {
            if task.state.finished() {
                return Ok(Applied::Nothing(format!("{} is {}", task.key, task.state)));
            }
            return Ok(match self.decider(&by).cancel(&task.key) {
                Ok(_) => Applied::Cancelled(task.key),
                Err(e) => lost_or(e, &task.key)?,
            });
        }
        if task.state == TaskState::Cancelled {
            let resume = Decision::Resume {
                note: Some(format!("{} was reopened.", crate::text::plain(&issue.url))),
                stage: None,
            };
            return Ok(match self.decider(&by).decide(&task.key, resume) {
                Ok(_) => Applied::Resumed(task.key),
                Err(e) => lost_or(e, &task.key)?,
            });
        }
        let (title, spec) = (title(issue), spec(issue));
        if (title != task.title || spec != task.spec)
            && runs::for_task(self.store.conn(), task.id)?.is_empty()
        {
            self.store
                .write(|tx| tasks::set_title_spec(tx, task.id, &title, &spec, now_ms()))?;
            return Ok(Applied::Updated(task.key));
        }
        Ok(Applied::Nothing(format!("{} unchanged", task.key)))
    }

    fn create(&self, source: &IntakeSource, issue: &TrackerIssue) -> Result<Applied, EngineError> {
        let entry = intake::NewIssue {
            source: &source.name,
            repo: &source.repo,
            number: issue.number,
            issue_id: issue.id.as_deref(),
            url: &issue.url,
        };
        crate::crash::point("intake_create");
        let created = Engine::new(self.cfg, self.store).create_task_with(
            &source.project,
            &title(issue),
            &spec(issue),
            source.priority,
            &source.name,
            |tx, task| Ok(intake::insert_issue(tx, &entry, task.id, now_ms())?),
        );
        match created {
            Ok((task, _)) => Ok(Applied::Created(task.key)),
            // Another path (a poll, a second supervisor) entered it first.
            Err(EngineError::Store(StoreError::Sqlite(e)))
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
            {
                Ok(Applied::Nothing(format!(
                    "#{} has its task already",
                    issue.number
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// Takes `comment` on `issue`: a command from an allowed user is decided; a command from
    /// anyone else is counted and ignored; other text is nothing.
    ///
    /// # Errors
    /// Store and engine failures.
    pub fn comment(
        &self,
        source: &IntakeSource,
        issue: &TrackerIssue,
        comment: &TrackerComment,
    ) -> Result<Applied, EngineError> {
        let Some(command) = Command::parse(&comment.body) else {
            return Ok(Applied::Nothing("not a command".into()));
        };
        let entry = intake::issue(self.store.conn(), &source.name, &source.repo, issue.number)?;
        let Some(entry) = entry else {
            return Ok(Applied::Nothing(format!("#{} has no task", issue.number)));
        };
        let seen = entry
            .seen_comment
            .as_deref()
            .and_then(|s| s.parse::<i64>().ok());
        let this = order(comment);
        if matches!((seen, this), (Some(s), Some(t)) if t <= s) {
            return Ok(Applied::Nothing("already taken".into()));
        }
        let allowed = source
            .allow
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&comment.user));
        self.store.write(|tx| {
            if let Some(t) = this {
                intake::seen_comment(tx, entry.id, &t.to_string(), now_ms())?;
            }
            if !allowed {
                intake::ignored_comment(tx, &source.name)?;
            }
            Ok::<_, StoreError>(())
        })?;
        if !allowed {
            return Ok(Applied::Nothing(format!(
                "{} is not on the allow-list",
                crate::text::plain(&comment.user)
            )));
        }
        let task = tasks::get(self.store.conn(), entry.task_id)?;
        // Written before the task last changed state (another decision came first and the
        // task moved on, perhaps to a new wait): not a decision about what it shows now.
        if let Some(at) = comment.created_at
            && at < task.updated_at
            && command != Command::Cancel
        {
            return Ok(Applied::Lost(format!(
                "{} changed after this command was written: it is now {} at {}; comment again \
                 to decide on what it shows now",
                task.key, task.state, task.stage
            )));
        }
        let by = format!(
            "{}:{}",
            source.kind.as_str(),
            crate::text::plain(&comment.user)
        );
        let decision = match &command {
            Command::Approve => Decision::Approve { note: None },
            Command::Reject(note) => Decision::Reject { note: note.clone() },
            Command::Answer(text) => Decision::Resume {
                note: Some(text.clone()),
                stage: None,
            },
            Command::Cancel => Decision::Cancel,
        };
        let result = self.decider(&by).decide(&task.key, decision);
        Ok(match result {
            Ok(outcome) => Applied::Decided(format!(
                "{} {}: {}",
                task.key,
                command.name(),
                outcome.describe()
            )),
            Err(e) => lost_or(e, &task.key)?,
        })
    }

    fn decider<'b>(&'b self, by: &'b str) -> Decider<'b> {
        Decider {
            cfg: self.cfg,
            store: self.store,
            data_dir: std::path::Path::new(""),
            by,
        }
    }
}

/// Where `comment` stands among its issue's comments: its id where ids are numbers that grow
/// (GitHub, Gitea), else when it was written (Plane's UUIDs), ms.
pub fn order(comment: &TrackerComment) -> Option<i64> {
    comment.id.parse::<i64>().ok().or(comment.created_at)
}

/// A lost race or a decision that does not fit is an answer, not a failure.
fn lost_or(e: DecideError, key: &str) -> Result<Applied, EngineError> {
    match e {
        DecideError::Lost(who) => Ok(Applied::Lost(who)),
        DecideError::Invalid(why) => Ok(Applied::Nothing(format!("{key}: {why}"))),
        DecideError::Engine(EngineError::State(why)) => Ok(Applied::Nothing(why)),
        DecideError::Engine(e) => Err(e),
        DecideError::Control(e) => Ok(Applied::Nothing(e.to_string())),
    }
}

/// A command in a comment: its first line, `/approve`, `/reject <note>`, `/answer <text>`,
/// `/cancel` (the rest of the comment belongs to the note or the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/approve`.
    Approve,
    /// `/reject <note>`.
    Reject(String),
    /// `/answer <text>`.
    Answer(String),
    /// `/cancel`.
    Cancel,
}

impl Command {
    /// The command `body` starts with, if any (a note or text is required where it is).
    pub fn parse(body: &str) -> Option<Command> {
        let body = body.trim_start();
        let (word, rest) = body
            .split_once(char::is_whitespace)
            .map_or((body, ""), |(w, r)| (w, r));
        let rest = crate::text::plain_lines(rest.trim());
        match word {
            "/approve" => Some(Command::Approve),
            "/cancel" => Some(Command::Cancel),
            "/reject" if !rest.is_empty() => Some(Command::Reject(rest)),
            "/answer" if !rest.is_empty() => Some(Command::Answer(rest)),
            _ => None,
        }
    }

    /// `approve`, `reject`, `answer`, `cancel`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Approve => "approve",
            Command::Reject(_) => "reject",
            Command::Answer(_) => "answer",
            Command::Cancel => "cancel",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_on_the_first_word() {
        assert_eq!(
            Command::parse("/approve\nlooks good"),
            Some(Command::Approve)
        );
        assert_eq!(
            Command::parse("  /reject use the v2 API\nand add tests"),
            Some(Command::Reject("use the v2 API\nand add tests".into()))
        );
        assert_eq!(Command::parse("/reject"), None);
        assert_eq!(Command::parse("please /approve"), None);
        assert_eq!(
            Command::parse("/answer Linux only\x1b[2J"),
            Some(Command::Answer("Linux only".into()))
        );
    }

    #[test]
    fn titles_and_specs_are_plain_and_capped() {
        let issue = TrackerIssue {
            number: 7,
            id: None,
            title: "Fix \x1b]0;pwn\x07it".into(),
            body: "x".repeat(SPEC_MAX + 10),
            url: "https://github.com/o/r/issues/7".into(),
            open: true,
            labels: vec!["Bosun".into()],
            assignees: Vec::new(),
            pull_request: false,
        };
        assert_eq!(title(&issue), "Fix it");
        let s = spec(&issue);
        assert!(s.contains("[…cut]") && s.ends_with("From https://github.com/o/r/issues/7"));
    }
}
