//! `events`: the append-only activity log (triggers refuse UPDATE and DELETE). Every stage
//! change, gate result, operator decision, job and run status change, with who caused it.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::{Result, text_enum};

text_enum! {
    /// What happened.
    EventKind {
        /// A project was registered.
        ProjectAdded = "project_added",
        /// A task was created.
        TaskCreated = "task_created",
        /// A task entered a stage.
        StageEntered = "stage_entered",
        /// A gate passed.
        GatePassed = "gate_passed",
        /// A gate failed.
        GateFailed = "gate_failed",
        /// A branch fired.
        BranchTaken = "branch_taken",
        /// An approval gate waits for the operator.
        ApprovalRequested = "approval_requested",
        /// The operator approved.
        Approved = "approved",
        /// The operator rejected.
        Rejected = "rejected",
        /// The operator passed a failed gate anyway (override, with a note).
        Overridden = "overridden",
        /// The task went back to an earlier stage.
        RolledBack = "rolled_back",
        /// The stage is run again.
        Retried = "retried",
        /// The task waits for the operator's answer.
        NeedsInput = "needs_input",
        /// The task is blocked.
        Blocked = "blocked",
        /// The operator resumed a blocked or waiting task.
        Resumed = "resumed",
        /// The task passed its last stage.
        TaskDone = "task_done",
        /// The task was cancelled.
        TaskCancelled = "task_cancelled",
        /// A job was queued.
        JobEnqueued = "job_enqueued",
        /// A job was claimed.
        JobClaimed = "job_claimed",
        /// A job's run completed.
        JobDone = "job_done",
        /// A job was put back in the queue after a failure.
        JobRequeued = "job_requeued",
        /// A job failed for good.
        JobFailed = "job_failed",
        /// A job was cancelled.
        JobCancelled = "job_cancelled",
        /// A job was re-adopted after a restart.
        JobReadopted = "job_readopted",
        /// A run changed status.
        RunStatus = "run_status",
        /// A provider's breaker changed state.
        Breaker = "breaker",
        /// Hook calls were refused (wrong token, unknown run): one event per burst with the
        /// count (`data`: `{"count": n}`), at most one per run a minute.
        HookRejected = "hook_rejected",
        /// The operator answered an agent's question or permission prompt (`data`:
        /// `{"yes": bool}`); the supervisor reads these to know a turn was refused.
        Answered = "answered",
        /// A run's hooks stayed silent past the grace period: its turns are read from the
        /// screen.
        HooksSilent = "hooks_silent",
        /// A message was queued for a task's agent.
        MessageQueued = "message_queued",
        /// Messages were handed to an agent as its next turn.
        MessageDelivered = "message_delivered",
        /// An agent asked another role for help (a helper job).
        HelpRequested = "help_requested",
        /// A helper job answered (or failed).
        HelpAnswered = "help_answered",
        /// An agent sent the operator a message.
        ToOperator = "to_operator",
        /// A task that passed its last stage started to land (merge, or push and pull
        /// request).
        Landing = "landing",
        /// A task's pull request was opened on the forge.
        InReview = "in_review",
        /// A task's change reached its project's base branch.
        Landed = "landed",
        /// A landing was given up (conflict, failed verification, pull request closed) or
        /// will be tried again; the message says why and what to do.
        LandingFailed = "landing_failed",
        /// A landed task's worktree, branch and windows were removed (or why one was kept).
        CleanedUp = "cleaned_up",
        /// The operator set a budget (task, project or day), with a note.
        BudgetSet = "budget_set",
        /// A task's runs used `[budget] warn_at` of a budget, or all of it; the message says
        /// which and how much.
        BudgetWarning = "budget_warning",
        /// A provider reported a usage limit: parked until it resets (its jobs are not
        /// claimed, or go to the role's fallback); the message says until when and why.
        ProviderParked = "provider_parked",
        /// A run that waited for its provider's usage limit was resumed in its pane.
        RunResumed = "run_resumed",
        /// A queued job moved to its role's fallback provider while its own was parked.
        JobMoved = "job_moved",
        /// `[budget] hard`: a running run was stopped because its task crossed a budget; its
        /// job waits in the queue until the budget is raised.
        BudgetStopped = "budget_stopped",
    }
}

/// An event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Row id (monotonic).
    pub id: i64,
    /// When, ms since the epoch.
    pub ts: i64,
    /// Task row id, if about a task.
    pub task_id: Option<i64>,
    /// Job row id, if about a job.
    pub job_id: Option<i64>,
    /// Run row id, if about a run.
    pub run_id: Option<i64>,
    /// What happened.
    pub kind: EventKind,
    /// Who or what caused it: `operator`, `engine`, `queue`, `supervisor`, `cli`.
    pub actor: String,
    /// One human-readable line.
    pub message: String,
    /// Extra JSON detail.
    pub data: Option<String>,
}

/// What an event is about: a task, a job and a run, each optional.
///
/// `About::task(t).job(j).run(r)` reads as the sentence it stands for; [`About::NOTHING`]
/// is for events about no row (a project added, a breaker's change).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct About {
    /// Task row id.
    pub task: Option<i64>,
    /// Job row id.
    pub job: Option<i64>,
    /// Run row id.
    pub run: Option<i64>,
}

impl About {
    /// About no row.
    pub const NOTHING: About = About {
        task: None,
        job: None,
        run: None,
    };

    /// About task `id`.
    pub fn task(id: i64) -> About {
        About {
            task: Some(id),
            ..About::NOTHING
        }
    }

    /// About `job` of its task.
    pub fn job_of(job: &super::jobs::Job) -> About {
        About::task(job.task_id).job(job.id)
    }

    /// The same, and about job `id` (none when `None`).
    #[must_use]
    pub fn job(self, id: impl Into<Option<i64>>) -> About {
        About {
            job: id.into(),
            ..self
        }
    }

    /// The same, and about run `id` (none when `None`).
    #[must_use]
    pub fn run(self, id: impl Into<Option<i64>>) -> About {
        About {
            run: id.into(),
            ..self
        }
    }
}

/// Appends an event of `kind` about `about`, caused by `actor`, saying `message`: the one
/// way bosun records what happened ([`record_data`] when it carries JSON detail).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn record(
    conn: &Connection,
    kind: EventKind,
    about: About,
    actor: &str,
    message: impl Into<String>,
    now: i64,
) -> Result<i64> {
    insert(conn, kind, about, actor, &message.into(), None, now)
}

/// [`record`] with extra JSON detail (`data`): what a reader of the event needs beyond
/// its line (an answer's `{"yes": bool}`, a burst's `{"count": n}`).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn record_data(
    conn: &Connection,
    kind: EventKind,
    about: About,
    actor: &str,
    message: impl Into<String>,
    data: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    let data = data.to_string();
    insert(conn, kind, about, actor, &message.into(), Some(&data), now)
}

fn insert(
    conn: &Connection,
    kind: EventKind,
    about: About,
    actor: &str,
    message: &str,
    data: Option<&str>,
    now: i64,
) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (ts, task_id, job_id, run_id, kind, actor, message, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    stmt.execute(params![
        now, about.task, about.job, about.run, kind, actor, message, data
    ])?;
    Ok(conn.last_insert_rowid())
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        ts: r.get(1)?,
        task_id: r.get(2)?,
        job_id: r.get(3)?,
        run_id: r.get(4)?,
        kind: r.get(5)?,
        actor: r.get(6)?,
        message: r.get(7)?,
        data: r.get(8)?,
    })
}

/// The newest `limit` events (of one task if `task_id` is given), oldest first.
///
/// Two statements rather than `task_id = ?1 OR ?1 IS NULL`, which keeps SQLite off the
/// `events_task` index and scans the whole table (52 ms on 1M events, `cargo bench --bench
/// console`).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn recent(conn: &Connection, task_id: Option<i64>, limit: usize) -> Result<Vec<Event>> {
    const COLS: &str = "id, ts, task_id, job_id, run_id, kind, actor, message, data";
    let sql = match task_id {
        Some(_) => format!(
            "SELECT * FROM (SELECT {COLS} FROM events WHERE task_id = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id"
        ),
        None => format!(
            "SELECT * FROM (SELECT {COLS} FROM events WHERE ?1 IS NULL ORDER BY id DESC LIMIT ?2) ORDER BY id"
        ),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![task_id, limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every event with an id above `after`, oldest first (a rowid range: cheap when `after`
/// is recent). Readers that want one kind filter the result and pass the last id back, so
/// the range never grows.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn after(conn: &Connection, after: i64) -> Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, ts, task_id, job_id, run_id, kind, actor, message, data
         FROM events WHERE id > ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![after], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The id of the newest event (0 when there is none).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn last_id(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?)
}
