//! What an agent may ask of bosun, for `bosun mcp` (MCP tools) and the same operations as
//! CLI commands (`bosun msg`, `bosun handoff`, `bosun assign`) for agents without MCP. Every
//! call is authenticated by the run's id and hook token, which bosun puts in the agent's
//! environment (`BOSUN_RUN_ID`, `BOSUN_HOOK_TOKEN`) and nowhere else. [`mcp`] serves these operations as MCP tools.

pub mod hooks;
pub mod mcp;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;
use crate::pipeline::{Engine, EngineError};
use crate::store::events::{self, About, EventKind};
use crate::store::helpers::{self, Mode};
use crate::store::runs::{self, Run};
use crate::store::{Store, StoreError, jobs, messages, now_ms, tasks};

/// Bytes of a file `read_artifact` returns at most.
pub const MAX_READ_BYTES: usize = 512 * 1024;

/// Why an agent's request was refused.
#[derive(Debug, thiserror::Error)]
pub enum HelpError {
    /// The run id or token is wrong, or the run has ended.
    #[error("not a working bosun agent: {0}")]
    Auth(String),
    /// The request cannot be done (unknown role or task, empty text, a path outside the
    /// worktree…); the message says why.
    #[error("{0}")]
    Refused(String),
    /// The helper failed; its reason.
    #[error("the helper failed: {0}")]
    HelperFailed(String),
    /// The helper did not answer in time.
    #[error("no answer from the helper (job #{job}) within {}", humantime::format_duration(*.waited))]
    Timeout {
        /// The helper job.
        job: i64,
        /// How long the caller waited.
        waited: Duration,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The run `run_id` if `token` is its hook token (checked against the stored hash, in
/// constant time) and it is still working.
///
/// # Errors
/// [`HelpError::Auth`] otherwise.
pub fn authenticate(store: &Store, run_id: i64, token: &str) -> Result<Run, HelpError> {
    match runs::hook_token_hash(store.conn(), run_id)? {
        None => Err(HelpError::Auth(format!("no run {run_id}"))),
        Some((Some(hash), false))
            if !token.is_empty() && crate::secret::token_matches(token, &hash) =>
        {
            Ok(runs::get(store.conn(), run_id)?)
        }
        Some((_, true)) => Err(HelpError::Auth(format!("run {run_id} has ended"))),
        Some(_) => Err(HelpError::Auth(format!("wrong token for run {run_id}"))),
    }
}

/// Where the asking run stands, for `task_status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Task key.
    pub task: String,
    /// Its title.
    pub title: String,
    /// Its stage.
    pub stage: String,
    /// Its state.
    pub state: String,
    /// Why, when it waits or is blocked.
    pub reason: Option<String>,
    /// The asking agent's role.
    pub role: String,
    /// The worktree.
    pub worktree: Option<String>,
    /// Messages for this task not delivered yet.
    pub inbox_pending: usize,
}

/// `task_status()`.
///
/// # Errors
/// [`HelpError::Store`] on database failure.
pub fn status(store: &Store, run: &Run) -> Result<Status, HelpError> {
    let task = tasks::get(store.conn(), run.task_id)?;
    let role = match run.job_id {
        Some(j) => jobs::get(store.conn(), j)?.role,
        None => String::new(),
    };
    let inbox_pending = messages::list(store.conn(), Some(task.id), 1000)?
        .iter()
        .filter(|m| m.delivered_at.is_none())
        .count();
    Ok(Status {
        task: task.key,
        title: task.title,
        stage: task.stage,
        state: task.state.as_str().to_string(),
        reason: task.state_reason,
        role,
        worktree: task.worktree,
        inbox_pending,
    })
}

/// `read_artifact(path)`: a regular file of the task's worktree (relative path, no escaping
/// it, no symlink followed), at most [`MAX_READ_BYTES`] (see [`crate::untrusted::read`]).
///
/// # Errors
/// [`HelpError::Refused`] for a path outside the worktree, a missing or unreadable file, or
/// anything but a regular file (the message names what was found).
pub fn read_artifact(store: &Store, run: &Run, path: &str) -> Result<String, HelpError> {
    let task = tasks::get(store.conn(), run.task_id)?;
    let Some(root) = task.worktree.as_deref().map(PathBuf::from) else {
        return Err(HelpError::Refused(format!("{} has no worktree", task.key)));
    };
    crate::untrusted::read(&root, path, MAX_READ_BYTES)
        .map(crate::untrusted::Capped::with_note)
        .map_err(|e| HelpError::Refused(e.to_string()))
}

/// `send_message(to, text)`: `to` is `operator`, a task key of the run's own project (its
/// current agent), or a role of this task. Returns a sentence saying what happened.
///
/// # Errors
/// [`HelpError::Refused`] for an empty text, an unknown recipient, or a task of another
/// project.
pub fn send_message(
    cfg: &Config,
    store: &Store,
    run: &Run,
    to: &str,
    text: &str,
) -> Result<String, HelpError> {
    if text.trim().is_empty() {
        return Err(HelpError::Refused("the message is empty".into()));
    }
    let from = format!("run:{}", run.id);
    let own = tasks::get(store.conn(), run.task_id)?;
    let now = now_ms();
    if to.eq_ignore_ascii_case("operator") {
        store.write(|tx| {
            events::record(
                tx,
                EventKind::ToOperator,
                About::task(own.id).run(run.id),
                &from,
                format!("{}: the agent says: {text}", own.key),
                now,
            )
        })?;
        return Ok("sent to the operator (in the event log and the console)".into());
    }
    let (task, role) = if cfg.roles.contains_key(to) {
        (own, Some(to))
    } else {
        match tasks::by_key(store.conn(), to) {
            // An agent speaks to its own project only; the operator reaches every task.
            Ok(t) if t.project_id != own.project_id => {
                return Err(HelpError::Refused(format!(
                    "{to} belongs to another project: an agent can message the tasks of its own \
                     project only"
                )));
            }
            Ok(t) => (t, None),
            Err(_) => {
                let roles: Vec<&str> = cfg.roles.keys().map(String::as_str).collect();
                return Err(HelpError::Refused(format!(
                    "no task or role `{to}`; write `operator`, a task key, or one of the roles: {}",
                    roles.join(", ")
                )));
            }
        }
    };
    let id = store.write(|tx| {
        let m = messages::insert(tx, &from, task.id, role, text, now)?;
        events::record(
            tx,
            EventKind::MessageQueued,
            About::task(task.id).run(run.id),
            &from,
            format!("{}: message #{} queued by run {}", task.key, m.id, run.id),
            now,
        )?;
        Ok::<_, StoreError>(m.id)
    })?;
    Ok(format!(
        "message #{id} queued for {}{}; delivered when its agent's turn ends",
        task.key,
        role.map_or(String::new(), |r| format!("'s {r}"))
    ))
}

/// `assign(role, task_text)`: queues a helper job; its answer comes back as a message.
///
/// # Errors
/// [`HelpError::Engine`] when the role is unknown or the run has ended.
pub fn assign(
    cfg: &Config,
    store: &Store,
    run: &Run,
    role: &str,
    text: &str,
) -> Result<i64, HelpError> {
    Ok(Engine::new(cfg, store)
        .request_help(run.id, role, text, Mode::Assign)?
        .id)
}

/// `handoff(role, task_text)`: queues a helper job and waits (up to `wait`) for its answer,
/// polling the database every 200 ms.
///
/// # Errors
/// [`HelpError::HelperFailed`] with the helper's reason, [`HelpError::Timeout`], or as
/// [`assign`].
pub fn handoff(
    cfg: &Config,
    store: &Store,
    run: &Run,
    role: &str,
    text: &str,
    wait: Duration,
) -> Result<String, HelpError> {
    let job = Engine::new(cfg, store).request_help(run.id, role, text, Mode::Handoff)?;
    let start = Instant::now();
    loop {
        if let Some(h) = helpers::of_job(store.conn(), job.id)?
            && h.finished_at.is_some()
        {
            let result = h.result.unwrap_or_default();
            return if h.failed {
                Err(HelpError::HelperFailed(result))
            } else {
                Ok(result)
            };
        }
        if start.elapsed() >= wait {
            return Err(HelpError::Timeout {
                job: job.id,
                waited: wait,
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
