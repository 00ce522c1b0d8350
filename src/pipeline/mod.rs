//! The pipeline engine: pure rules over the store, no tmux.
//!
//! [`Engine::handle`] is the one entry point. Given a finished run or an operator decision
//! it evaluates the stage's branches and gates ([`gates::evaluate`]) and then, in one write
//! transaction, records the gate results, advances the task, rolls it back with feedback,
//! retries the stage, waits for the operator or blocks it, and appends an event for every
//! step. Entering a stage always enqueues a job for *that* stage's own role.
//!
//! What follows an evaluation is decided without the store ([`transition`]: a
//! [`transition::Transition`] value, every event text built there) and written by `apply.rs`.
//! A finished run is handled in `finished.rs`, the operator's decisions in `decision.rs`
//! (and on jobs in `jobs.rs`), start-up reconciliation in `recover.rs` and `orphans.rs`,
//! helper jobs in `helpers.rs`.

mod apply;
mod decision;
mod finished;
pub mod gates;
mod helpers;
mod jobs;
mod landing;
mod orphans;
mod outcome;
mod recover;
pub mod transition;
pub mod verdict;

use crate::config::Config;
use crate::queue::Queue;
use crate::store::events::{self, About, EventKind};
use crate::store::jobs::Job;
use crate::store::runs::{self, Run};
use crate::store::tasks::{self, Task};
use crate::store::{self, Store, StoreError, projects};

pub use landing::LandResult;
pub use outcome::Outcome;
pub use recover::Recovery;

/// An engine failure.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed, or a named row is missing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request does not fit the task's state (e.g. approving a task that waits for
    /// nothing); the message says what the task is doing.
    #[error("{0}")]
    State(String),
    /// The task changed between the moment a decision was evaluated and the moment it was
    /// to be applied: another console or CLI decided first. The message names who decided
    /// what, and when. Nothing was applied.
    #[error("{0}")]
    Conflict(String),
    /// The task's stage is not in the configured pipeline (the config changed).
    #[error("task {task} is at stage `{stage}`, which the pipeline in the config does not have")]
    UnknownStage {
        /// Task key.
        task: String,
        /// The stage name stored.
        stage: String,
    },
}

/// Result alias for engine calls.
pub type Result<T> = std::result::Result<T, EngineError>;

/// How a run ended, as the supervisor saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    /// The agent finished its turn (or a batch agent exited 0).
    Completed {
        /// The agent's last message, if the supervisor captured it.
        final_message: Option<String>,
    },
    /// The run's infrastructure failed, not the agent: the tmux server or the pane was lost,
    /// or tmux could not be reached. Spends the infrastructure budget.
    Lost {
        /// What was lost.
        reason: String,
    },
    /// The run failed: crashed, exited non-zero, or was killed.
    Failed {
        /// One line: what happened.
        reason: String,
        /// The end of the run's output, for transient-failure classification.
        log_tail: String,
        /// The agent's exit status, when it exited.
        exit_code: Option<i64>,
        /// The watchdog killed it (always a permanent failure).
        timed_out: bool,
    },
}

/// An operator's decision about a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Pass the pending approval gate.
    Approve {
        /// Optional note, recorded with the gate result.
        note: Option<String>,
    },
    /// Fail the pending approval gate; the note is the next run's feedback.
    Reject {
        /// Why; required.
        note: String,
    },
    /// Run a blocked, needs-input or cancelled task's stage again (or `stage`), with the note as
    /// feedback (the operator's answers); retry and rollback counts start over.
    Resume {
        /// Answers or instructions for the agent.
        note: Option<String>,
        /// Stage to resume at; default the task's current stage.
        stage: Option<String>,
    },
    /// Pass a blocked task's failed gate anyway: the stage counts as passed and the task
    /// moves to the next stage (or done). Recorded as an `override` gate result and an
    /// `overridden` event carrying the note and the failure it overrode.
    Override {
        /// Why the failure does not count; required.
        note: String,
    },
    /// Cancel the task and its open job (and its open landing).
    Cancel,
    /// Land a task that passed every stage (done, or blocked after a failed landing), as
    /// its project's `[projects.land]` says, or by `mode`.
    Land {
        /// `merge` or `pr` instead of the project's mode.
        mode: Option<crate::config::land::LandMode>,
    },
}

/// Input to [`Engine::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A run ended.
    RunFinished {
        /// The run.
        run_id: i64,
        /// How it ended.
        result: RunResult,
    },
    /// The lander's word on a landing (`supervisor::land`): landed, or failed.
    Landed {
        /// The landing row.
        landing: i64,
        /// What happened.
        result: LandResult,
    },
    /// The lander opened pull request `number` at `url` for a landing (or found one open).
    PrOpened {
        /// The landing row.
        landing: i64,
        /// The pull request's number.
        number: i64,
        /// Its web page (forge text).
        url: String,
    },
    /// The operator decided.
    Decide {
        /// Task key.
        task: String,
        /// The decision.
        decision: Decision,
        /// Who decided: `console`, `cli`, … (the events' actor).
        by: String,
    },
}

/// The pipeline engine over a store.
pub struct Engine<'a> {
    /// The validated config.
    pub cfg: &'a Config,
    /// The database.
    pub store: &'a Store,
    /// Queue policy.
    pub queue: Queue,
    clock: fn() -> i64,
}

impl<'a> Engine<'a> {
    /// An engine over `store` with `cfg`'s pipeline and queue policy.
    pub fn new(cfg: &'a Config, store: &'a Store) -> Engine<'a> {
        Engine {
            cfg,
            store,
            queue: Queue::new(cfg),
            clock: store::now_ms,
        }
    }

    /// Replaces the clock (ms since the epoch), for tests of time-dependent rules.
    pub fn with_clock(mut self, clock: fn() -> i64) -> Engine<'a> {
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Creates a task in project `project` (name or key prefix) at the first stage and
    /// queues the job for that stage's role. Keys are `PREFIX-NNN`, numbered per project.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the project does not exist.
    pub fn create_task(
        &self,
        project: &str,
        title: &str,
        spec: &str,
        priority: i64,
    ) -> Result<(Task, Job)> {
        self.create_task_with(project, title, spec, priority, "cli", |_, _| Ok(()))
    }

    /// [`Engine::create_task`] by `actor` (the event's), with `also` written in the same
    /// transaction once the task exists (an intake ledger entry): if `also` fails, no task
    /// was created.
    ///
    /// # Errors
    /// As [`Engine::create_task`], and `also`'s.
    pub fn create_task_with(
        &self,
        project: &str,
        title: &str,
        spec: &str,
        priority: i64,
        actor: &str,
        also: impl FnOnce(&rusqlite::Transaction<'_>, &Task) -> Result<()>,
    ) -> Result<(Task, Job)> {
        let now = self.now();
        self.store.write(|tx| {
            let project = projects::find(tx, project)?;
            let seq = projects::next_seq(tx, project.id)?;
            let key = format!("{}-{seq:03}", project.key_prefix);
            let first = &self.cfg.stages[0];
            let task = tasks::insert(
                tx,
                &key,
                project.id,
                title,
                spec,
                &first.name,
                priority,
                now,
            )?;
            events::record(
                tx,
                EventKind::TaskCreated,
                About::task(task.id),
                actor,
                format!("{key} created: {title}"),
                now,
            )?;
            let (writes, job) = transition::enter(&self.cfg.stages, &key, 0, None, "engine");
            self.write_all(tx, &task, &writes, now)?;
            let job = self.enqueue(tx, &task, &job, now)?;
            also(tx, &task)?;
            Ok((tasks::get(tx, task.id)?, job))
        })
    }

    /// Starts a run for a claimed job (a `starting` row that copies the job's feedback).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the job does not exist.
    pub fn start_run(&self, job_id: i64) -> Result<Run> {
        let now = self.now();
        Ok(self.store.write(|tx| runs::start(tx, job_id, now))?)
    }

    /// The one entry point: applies a finished run or an operator decision.
    ///
    /// # Errors
    /// [`EngineError::State`] if a decision does not fit the task's state;
    /// [`EngineError::Store`] on database failure or a missing row.
    pub fn handle(&self, input: Input) -> Result<Outcome> {
        match input {
            Input::RunFinished { run_id, result } => self.run_finished(run_id, result),
            Input::Decide { task, decision, by } => self.decided(&task, decision, &by),
            Input::Landed { landing, result } => self.land_result(landing, result),
            Input::PrOpened {
                landing,
                number,
                url,
            } => self.pr_opened(landing, number, &url),
        }
    }

    /// The index of `task`'s stage in the configured pipeline.
    fn stage_index(&self, task: &Task) -> Result<usize> {
        self.cfg
            .stage_index(&task.stage)
            .ok_or_else(|| EngineError::UnknownStage {
                task: task.key.clone(),
                stage: task.stage.clone(),
            })
    }
}

/// The first line of `text` (empty when it has none).
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// The last [`crate::queue::classify::TAIL_BYTES`] of a log file, lossily decoded; empty if
/// it cannot be read.
pub fn read_tail(path: &str) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let want = crate::queue::classify::TAIL_BYTES as u64;
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(want)));
    let mut buf = Vec::new();
    let _ = f.take(want).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
