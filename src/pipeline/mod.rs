//! The pipeline engine: pure rules over the store, no tmux.
//!
//! [`Engine::handle`] is the one entry point. Given a finished run or an operator decision
//! it evaluates the stage's branches and gates ([`gates::evaluate`]) and then, in one write
//! transaction, records the gate results, advances the task, rolls it back with feedback,
//! retries the stage, waits for the operator or blocks it, and appends an event for every
//! step. Entering a stage always enqueues a job for *that* stage's own role.

pub mod gates;
mod helpers;
mod orphans;
pub mod verdict;

use std::path::PathBuf;

use rusqlite::Connection;
use serde::Serialize;

use crate::config::{Action, Config};
use crate::queue::{Classifier, Disposition, Failure, FailureKind, JobSpec, Queue};
use crate::status::{GateOutcome, JobStatus, RunStatus, TaskState};
use crate::store::events::{self, EventKind, NewEvent};
use crate::store::gates::NewGateResult;
use crate::store::jobs::{self, Job};
use crate::store::runs::{self, Run};
use crate::store::tasks::{self, Task};
use crate::store::{self, Store, StoreError, counters, projects};

use gates::{Check, Evaluation, Subject, Verdict};

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
    /// Run a blocked or needs-input task's stage again (or `stage`), with the note as
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
    /// Cancel the task and its open job.
    Cancel,
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

/// What the engine did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Entered the next stage; a job for its role is queued.
    Advanced {
        /// The stage entered.
        stage: String,
        /// The job queued.
        job: i64,
    },
    /// Passed the last stage.
    Done,
    /// An approval gate waits for the operator.
    AwaitingApproval {
        /// Its index in the stage.
        gate: usize,
    },
    /// The same stage runs again with feedback.
    Retried {
        /// The job queued.
        job: i64,
    },
    /// A blocked or needs-input task resumed at a stage (the operator's `resume`).
    Resumed {
        /// The stage that runs.
        stage: String,
        /// The job queued.
        job: i64,
        /// The stage never ran for this task before.
        first_time: bool,
    },
    /// Back to an earlier stage with feedback.
    RolledBack {
        /// The stage entered.
        stage: String,
        /// The job queued.
        job: i64,
    },
    /// The agent asked questions; the operator must answer.
    NeedsInput,
    /// Stopped for the operator.
    Blocked {
        /// Why.
        reason: String,
    },
    /// The failed run's job is queued again after backoff.
    Requeued {
        /// When it may run, ms since the epoch.
        available_at: i64,
        /// `transient` or `permanent`.
        failure: String,
    },
    /// The task was cancelled.
    Cancelled,
    /// Nothing to do (e.g. the run's job was cancelled meanwhile).
    Ignored {
        /// Why.
        reason: String,
    },
    /// A helper job finished (its answer recorded; for an assign, sent as a message).
    Helped {
        /// The helper job.
        job: i64,
        /// It failed.
        failed: bool,
    },
}

impl Outcome {
    /// What the engine did, as a sentence for a person (`entered architecture (job 5
    /// queued)`).
    pub fn describe(&self) -> String {
        match self {
            Outcome::Advanced { stage, job } => format!("entered {stage} (job {job} queued)"),
            Outcome::Done => "done".into(),
            Outcome::AwaitingApproval { .. } => "awaiting approval".into(),
            Outcome::Retried { job } => format!("stage runs again (job {job} queued)"),
            Outcome::Resumed {
                stage,
                job,
                first_time: true,
            } => format!("{stage} will run for the first time (job {job} queued)"),
            Outcome::Resumed {
                stage,
                job,
                first_time: false,
            } => format!("{stage} runs again (job {job} queued)"),
            Outcome::RolledBack { stage, job } => {
                format!("rolled back to {stage} (job {job} queued)")
            }
            Outcome::NeedsInput => "needs input".into(),
            Outcome::Blocked { reason } => format!("blocked: {reason}"),
            Outcome::Requeued { failure, .. } => format!("requeued after a {failure} failure"),
            Outcome::Cancelled => "cancelled".into(),
            Outcome::Ignored { reason } => format!("nothing to do: {reason}"),
            Outcome::Helped { job, failed: false } => format!("helper job {job} answered"),
            Outcome::Helped { job, failed: true } => format!("helper job {job} failed"),
        }
    }
}

/// What start-up recovery did with the jobs left running.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Recovery {
    /// Runs whose pane is alive: adopted, not re-run.
    pub readopted: Vec<i64>,
    /// Runs whose turn was complete when the supervisor stopped, whatever their pane: their
    /// completion (commit, gates, decision) is to be finished, never the stage run again.
    pub completing: Vec<i64>,
    /// Jobs whose run was lost, queued again with backoff.
    pub requeued: Vec<i64>,
    /// Jobs whose run was lost with attempts spent: failed, task blocked.
    pub failed: Vec<i64>,
    /// Jobs claimed but never started: queued again without counting an attempt.
    pub released: Vec<i64>,
    /// Runs lost (their pane gone), whose jobs are in `requeued` or `failed`: their
    /// processes that outlived the pane are for the supervisor to stop.
    pub lost: Vec<i64>,
    /// Runs left open whose job was cancelled, failed or finished while no supervisor ran:
    /// ended now (their processes are for the supervisor to stop).
    pub ended: Vec<i64>,
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
            self.event(
                tx,
                EventKind::TaskCreated,
                &task,
                None,
                "cli",
                format!("{key} created: {title}"),
                now,
            )?;
            let job = self.enter(tx, &task, 0, None, "engine", now)?;
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
            Input::Decide { task, decision, by } => self.decide(&task, decision, &by),
        }
    }

    /// Start-up reconciliation of jobs left `running`: a job whose run is alive (per
    /// `alive`) is re-adopted; one whose run is gone is failed as a lost run (requeued with
    /// backoff, or failed and its task blocked when attempts are spent); one that never
    /// started a run is queued again without counting an attempt.
    ///
    /// # Errors
    /// [`EngineError::Store`] on database failure.
    pub fn recover(&self, alive: impl Fn(&Run) -> bool) -> Result<Recovery> {
        let mut report = Recovery::default();
        let running = jobs::with_status(self.store.conn(), JobStatus::Running, usize::MAX >> 1)?;
        for job in running {
            let Some(run) = runs::open_for_job(self.store.conn(), job.id)? else {
                let now = self.now();
                self.store.write(|tx| {
                    self.queue
                        .release(tx, job.id, "claimed but never started", now)
                })?;
                report.released.push(job.id);
                continue;
            };
            if run.turn_done_at.is_some() {
                report.completing.push(run.id);
                continue;
            }
            if alive(&run) {
                let now = self.now();
                self.store.write(|tx| {
                    events::append(
                        tx,
                        EventKind::JobReadopted,
                        NewEvent {
                            task_id: Some(job.task_id),
                            job_id: Some(job.id),
                            run_id: Some(run.id),
                            actor: "supervisor",
                            message: format!("run {} re-adopted after restart", run.id),
                            ..Default::default()
                        },
                        now,
                    )
                })?;
                report.readopted.push(run.id);
                continue;
            }
            // Its pane is gone (the tmux server died, or the pane was killed): not the agent's
            // fault, so the infrastructure budget pays.
            let outcome = self.run_finished(
                run.id,
                RunResult::Lost {
                    reason: "run lost: its pane is gone".into(),
                },
            )?;
            report.lost.push(run.id);
            match outcome {
                Outcome::Requeued { .. } => report.requeued.push(job.id),
                _ => report.failed.push(job.id),
            }
        }
        report.ended = self.end_runs_of_ended_jobs()?;
        Ok(report)
    }

    /// Cancels a queued or running job on the operator's word; its task, left without a
    /// job, is blocked so the operator decides what comes next.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the job already finished.
    pub fn cancel_job(&self, job_id: i64) -> Result<Outcome> {
        let now = self.now();
        self.store.write(|tx| {
            let job = self.queue.cancel(tx, job_id, "operator", now)?;
            let task = tasks::get(tx, job.task_id)?;
            if task.state == TaskState::Active {
                let why = format!("job {job_id} ({}) was cancelled by the operator", job.stage);
                return self.block(tx, &task, &why, "operator", now);
            }
            Ok(Outcome::Cancelled)
        })
    }

    /// Queues a failed or cancelled job again with fresh attempts and `note` as feedback,
    /// and makes its blocked task active again.
    ///
    /// # Errors
    /// [`EngineError::State`] if the task has moved on from the job's stage or is not
    /// blocked; [`StoreError::Conflict`] if the job is not failed or cancelled.
    pub fn retry_job(&self, job_id: i64, note: Option<&str>) -> Result<Outcome> {
        let now = self.now();
        self.store.write(|tx| {
            let job = jobs::get(tx, job_id)?;
            let task = tasks::get(tx, job.task_id)?;
            if task.stage != job.stage || task.state != TaskState::Blocked {
                return Err(EngineError::State(format!(
                    "{} is {} at {}; job {job_id} is for {}: resume the task instead",
                    task.key, task.state, task.stage, job.stage
                )));
            }
            let feedback = note.map(|n| format!("The operator says:\n{n}"));
            let job = self
                .queue
                .retry(tx, job_id, feedback.as_deref(), "operator", now)?;
            tasks::set_stage(tx, task.id, &task.stage, TaskState::Active, None, now)?;
            self.event(
                tx,
                EventKind::Resumed,
                &task,
                None,
                "operator",
                format!("{} resumed: job {job_id} retried", task.key),
                now,
            )?;
            Ok(Outcome::Retried { job: job.id })
        })
    }

    fn run_finished(&self, run_id: i64, result: RunResult) -> Result<Outcome> {
        let conn = self.store.conn();
        let run = runs::get(conn, run_id)?;
        let Some(job_id) = run.job_id else {
            return Ok(Outcome::Ignored {
                reason: format!("run {run_id} has no job"),
            });
        };
        let job = jobs::get(conn, job_id)?;
        if job.status != JobStatus::Running || run.ended_at.is_some() {
            let now = self.now();
            self.store.write(|tx| {
                if run.ended_at.is_none() {
                    runs::end(
                        tx,
                        run_id,
                        RunStatus::Error,
                        None,
                        Some("job no longer running"),
                        None,
                        now,
                    )?;
                }
                Ok::<_, EngineError>(())
            })?;
            return Ok(Outcome::Ignored {
                reason: format!("job {job_id} is {}", job.status),
            });
        }
        if let Some(helper) = crate::store::helpers::of_job(conn, job_id)? {
            return self.helper_finished(&job, &run, &helper, result);
        }
        let task = tasks::get(conn, run.task_id)?;
        match result {
            RunResult::Lost { reason } => self.run_failed(
                &task,
                &job,
                run_id,
                Failure {
                    kind: FailureKind::Infrastructure,
                    reason,
                    retry_after: None,
                },
                None,
            ),
            RunResult::Failed {
                reason,
                log_tail,
                exit_code,
                timed_out,
            } => {
                // The provider's own transient patterns count too.
                let extra = self
                    .cfg
                    .providers
                    .get(&run.provider)
                    .map(|p| p.transient.as_slice())
                    .unwrap_or_default();
                let failure = match Classifier::new(extra) {
                    Ok(c) if !extra.is_empty() => c.classify(&log_tail, &reason, timed_out),
                    _ => self
                        .queue
                        .classifier
                        .classify(&log_tail, &reason, timed_out),
                };
                self.run_failed(&task, &job, run_id, failure, exit_code)
            }
            RunResult::Completed { final_message } => {
                let here = self.stage_index(&task)?;
                let eval = self.evaluate(&task, here, Some(&run), final_message.as_deref(), 0)?;
                let now = self.now();
                self.store.write(|tx| {
                    // Compare-and-set: another path (a cancel, a second completion) may have
                    // ended the job while the gates were evaluated; then this one is late.
                    if let Some(late) = self.ended_meanwhile(tx, job_id, run_id)? {
                        return Ok(late);
                    }
                    runs::end(
                        tx,
                        run_id,
                        RunStatus::Done,
                        None,
                        None,
                        final_message.as_deref(),
                        now,
                    )?;
                    self.queue.complete(tx, job_id, now)?;
                    self.apply(tx, &task, here, Some(run_id), eval, now)
                })
            }
        }
    }

    /// Applies an operator decision, compare-and-set: it is evaluated against the task as
    /// read, and applied in a write transaction only if the task's version is still that one
    /// ([`Engine::guard`]), so of decisions made at the same moment exactly one applies.
    fn decide(&self, key: &str, decision: Decision, by: &str) -> Result<Outcome> {
        let conn = self.store.conn();
        let task = tasks::by_key(conn, key)?;
        match decision {
            Decision::Approve { note } => {
                let (here, gate) = self.pending(&task)?;
                let run = task.pending_run.map(|id| runs::get(conn, id)).transpose()?;
                let final_message = run.as_ref().and_then(|r| r.final_message.clone());
                let eval = self.evaluate(
                    &task,
                    here,
                    run.as_ref(),
                    final_message.as_deref(),
                    gate + 1,
                )?;
                let now = self.now();
                self.store.write(|tx| {
                    self.guard(tx, &task, by)?;
                    let reason = match &note {
                        Some(n) => format!("approved by the operator: {n}"),
                        None => "approved by the operator".to_string(),
                    };
                    self.record(
                        tx,
                        &task,
                        task.pending_run,
                        &Check {
                            index: gate as i64,
                            kind: "approval",
                            outcome: GateOutcome::Pass,
                            reason: reason.clone(),
                            output: None,
                        },
                        now,
                    )?;
                    self.event(
                        tx,
                        EventKind::Approved,
                        &task,
                        task.pending_run,
                        by,
                        format!("{}: {reason}", task.key),
                        now,
                    )?;
                    self.apply(tx, &task, here, task.pending_run, eval, now)
                })
            }
            Decision::Reject { note } => {
                let (here, gate) = self.pending(&task)?;
                let stage = &self.cfg.stages[here];
                let action = stage.gates[gate].on_fail.clone();
                let now = self.now();
                self.store.write(|tx| {
                    self.guard(tx, &task, by)?;
                    let reason = format!("rejected by the operator: {note}");
                    self.event(
                        tx,
                        EventKind::Rejected,
                        &task,
                        task.pending_run,
                        by,
                        format!("{}: {reason}", task.key),
                        now,
                    )?;
                    let eval = Evaluation {
                        checks: vec![Check {
                            index: gate as i64,
                            kind: "approval",
                            outcome: GateOutcome::Fail,
                            reason,
                            output: None,
                        }],
                        verdict: Verdict::Act {
                            counter: gates::counter_name(&self.cfg.stages, here, &action),
                            action,
                            feedback: format!(
                                "The operator rejected the {} stage's work:\n{note}",
                                stage.name
                            ),
                        },
                    };
                    self.apply(tx, &task, here, task.pending_run, eval, now)
                })
            }
            Decision::Resume { note, stage } => {
                if !matches!(task.state, TaskState::Blocked | TaskState::NeedsInput) {
                    return Err(self.refused(
                        &task,
                        format!(
                            "{} is {}; only blocked or needs-input tasks can be resumed",
                            task.key, task.state
                        ),
                    ));
                }
                let target = match &stage {
                    Some(name) => self.cfg.stage_index(name).ok_or_else(|| {
                        EngineError::State(format!("no stage `{name}` in the pipeline"))
                    })?,
                    None => self.stage_index(&task)?,
                };
                let feedback = match (&task.state_reason, &note) {
                    (Some(q), Some(n)) if task.state == TaskState::NeedsInput => {
                        Some(format!("You asked:\n{q}\n\nThe operator answered:\n{n}"))
                    }
                    (_, Some(n)) => Some(format!("The operator says:\n{n}")),
                    (_, None) => None,
                };
                let now = self.now();
                self.store.write(|tx| {
                    self.guard(tx, &task, by)?;
                    counters::clear(tx, task.id, "")?;
                    self.event(
                        tx,
                        EventKind::Resumed,
                        &task,
                        None,
                        by,
                        format!("{} resumed at {}", task.key, self.cfg.stages[target].name),
                        now,
                    )?;
                    let stage = self.cfg.stages[target].name.clone();
                    let first_time = !runs::for_task(tx, task.id)?
                        .iter()
                        .any(|r| r.stage == stage);
                    let job = self.enter(tx, &task, target, feedback.as_deref(), by, now)?;
                    Ok(Outcome::Resumed {
                        stage,
                        job: job.id,
                        first_time,
                    })
                })
            }
            Decision::Override { note } => self.override_gate(&task, &note, by),
            Decision::Cancel => {
                if matches!(task.state, TaskState::Done | TaskState::Cancelled) {
                    return Err(
                        self.refused(&task, format!("{} is already {}", task.key, task.state))
                    );
                }
                let now = self.now();
                self.store.write(|tx| {
                    self.guard(tx, &task, by)?;
                    if let Some(job) = jobs::open_for_task(tx, task.id)? {
                        self.queue.cancel(tx, job.id, by, now)?;
                    }
                    tasks::set_stage(
                        tx,
                        task.id,
                        &task.stage,
                        TaskState::Cancelled,
                        Some("cancelled by the operator"),
                        now,
                    )?;
                    self.event(
                        tx,
                        EventKind::TaskCancelled,
                        &task,
                        None,
                        by,
                        format!("{} cancelled", task.key),
                        now,
                    )?;
                    Ok(Outcome::Cancelled)
                })
            }
        }
    }

    /// [`Decision::Override`]: only a blocked task whose current stage has a failed gate (or
    /// a fired branch) can be overridden; the stage then passes as if every gate had.
    fn override_gate(&self, task: &Task, note: &str, by: &str) -> Result<Outcome> {
        if task.state != TaskState::Blocked {
            return Err(self.refused(
                task,
                format!(
                    "{} is {} at {}; only a blocked task's failed gate can be overridden",
                    task.key, task.state, task.stage
                ),
            ));
        }
        let here = self.stage_index(task)?;
        // The gates that judged the stage's latest run: an older failure at this stage was
        // already acted on, and a run that crashed was judged by no gate.
        let conn = self.store.conn();
        let latest = runs::for_task(conn, task.id)?
            .into_iter()
            .rev()
            .find(|r| r.stage == task.stage);
        let failed = store::gates::for_task(conn, task.id)?
            .into_iter()
            .rev()
            .filter(|g| {
                g.stage == task.stage && latest.as_ref().is_some_and(|r| g.run_id == Some(r.id))
            })
            .find(|g| g.outcome == GateOutcome::Fail || g.kind == "branch");
        let Some(failed) = failed else {
            return Err(self.refused(
                task,
                format!(
                    "{} is blocked at {} but no gate failed there ({}); resume it instead",
                    task.key,
                    task.stage,
                    task.state_reason
                        .as_deref()
                        .map_or("no reason recorded", first_line)
                ),
            ));
        };
        let now = self.now();
        self.store.write(|tx| {
            self.guard(tx, task, by)?;
            let reason = format!(
                "overridden by the operator: {note} (the {} gate had failed: {})",
                failed.kind,
                first_line(&failed.reason)
            );
            self.event(
                tx,
                EventKind::Overridden,
                task,
                failed.run_id,
                by,
                format!("{}: {reason}", task.key),
                now,
            )?;
            let eval = Evaluation {
                checks: vec![Check {
                    index: failed.gate_index,
                    kind: "override",
                    outcome: GateOutcome::Pass,
                    reason,
                    output: None,
                }],
                verdict: Verdict::Passed,
            };
            self.apply(tx, task, here, failed.run_id, eval, now)
        })
    }

    /// Records a failed or lost run: ends it, spends an attempt of the failure's budget and
    /// requeues the job or fails it for good (blocking the task) — unless another path ended
    /// the job meanwhile.
    fn run_failed(
        &self,
        task: &Task,
        job: &Job,
        run_id: i64,
        failure: Failure,
        exit_code: Option<i64>,
    ) -> Result<Outcome> {
        let job_id = job.id;
        let now = self.now();
        self.store.write(|tx| {
            if let Some(late) = self.ended_meanwhile(tx, job_id, run_id)? {
                return Ok(late);
            }
            let status = if exit_code.is_some() {
                RunStatus::Exited
            } else {
                RunStatus::Error
            };
            runs::end(
                tx,
                run_id,
                status,
                exit_code,
                Some(&failure.reason),
                None,
                now,
            )?;
            match self.queue.fail(tx, job_id, &failure, now)? {
                Disposition::Requeued { available_at, kind } => Ok(Outcome::Requeued {
                    available_at,
                    failure: format!("{kind:?}").to_lowercase(),
                }),
                Disposition::Failed => {
                    let why = format!(
                        "job {job_id} ({}) failed for good: {}",
                        job.stage, failure.reason
                    );
                    self.block(tx, task, &why, "queue", now)
                }
            }
        })
    }

    /// Inside a write transaction: `Some(Ignored)` when the job is no longer running or the
    /// run already ended (another path got there first), `None` to go on.
    fn ended_meanwhile(
        &self,
        tx: &Connection,
        job_id: i64,
        run_id: i64,
    ) -> Result<Option<Outcome>> {
        let job = jobs::get(tx, job_id)?;
        let run = runs::get(tx, run_id)?;
        if job.status == JobStatus::Running && run.ended_at.is_none() {
            return Ok(None);
        }
        Ok(Some(Outcome::Ignored {
            reason: format!("job {job_id} is {} (ended meanwhile)", job.status),
        }))
    }

    /// Inside a write transaction: fails with [`EngineError::Conflict`] when `task` (as read
    /// before the decision was evaluated) is no longer the task's current version, naming
    /// the decision that came first.
    fn guard(&self, tx: &Connection, task: &Task, by: &str) -> Result<()> {
        if tasks::version(tx, task.id)? == task.version {
            return Ok(());
        }
        let now = tasks::get(tx, task.id)?;
        Err(EngineError::Conflict(match decided_first(tx, &now)? {
            Some(first) => format!("{first} (this decision by {by} was not applied)"),
            None => format!(
                "{} changed while this decision was being made; it is now {} at {} (this \
                 decision by {by} was not applied)",
                now.key, now.state, now.stage
            ),
        }))
    }

    /// The error for a decision that does not fit the task's state: a
    /// [`EngineError::Conflict`] naming who decided first when an operator decision came
    /// since the task last waited for the operator (it took the decision this one wanted to
    /// make), else [`EngineError::State`] with `plain`.
    fn refused(&self, task: &Task, plain: String) -> EngineError {
        match decided_first(self.store.conn(), task) {
            Ok(Some(first)) => EngineError::Conflict(first),
            Ok(None) => EngineError::State(plain),
            Err(e) => e,
        }
    }

    fn stage_index(&self, task: &Task) -> Result<usize> {
        self.cfg
            .stage_index(&task.stage)
            .ok_or_else(|| EngineError::UnknownStage {
                task: task.key.clone(),
                stage: task.stage.clone(),
            })
    }

    fn pending(&self, task: &Task) -> Result<(usize, usize)> {
        if matches!(task.state, TaskState::Done | TaskState::Cancelled) {
            return Err(self.refused(
                task,
                format!("{} is {}: nothing awaits approval", task.key, task.state),
            ));
        }
        let here = self.stage_index(task)?;
        match (task.state, task.pending_gate) {
            (TaskState::AwaitingApproval, Some(g))
                if (g as usize) < self.cfg.stages[here].gates.len() =>
            {
                Ok((here, g as usize))
            }
            _ => Err(self.refused(
                task,
                format!(
                    "{} is {} at {}, not awaiting approval",
                    task.key, task.state, task.stage
                ),
            )),
        }
    }

    fn evaluate(
        &self,
        task: &Task,
        here: usize,
        run: Option<&Run>,
        final_message: Option<&str>,
        from_gate: usize,
    ) -> Result<Evaluation> {
        let project = projects::get(self.store.conn(), task.project_id)?;
        let worktree = PathBuf::from(task.worktree.clone().unwrap_or(project.path.clone()));
        let subject = Subject {
            key: &task.key,
            stage: &task.stage,
            worktree: &worktree,
            test_command: project.test_command.as_deref(),
            final_message,
            run_id: run.map(|r| r.id),
        };
        Ok(gates::evaluate(&self.cfg.stages, here, &subject, from_gate))
    }

    /// Records the checks and carries out the verdict, inside the caller's transaction.
    fn apply(
        &self,
        tx: &Connection,
        task: &Task,
        here: usize,
        run: Option<i64>,
        eval: Evaluation,
        now: i64,
    ) -> Result<Outcome> {
        for check in &eval.checks {
            self.record(tx, task, run, check, now)?;
        }
        let stage = &self.cfg.stages[here];
        match eval.verdict {
            Verdict::Passed => {
                let next = here + 1;
                if next == self.cfg.stages.len() {
                    tasks::set_stage(tx, task.id, "done", TaskState::Done, None, now)?;
                    counters::clear(tx, task.id, "")?;
                    self.event(
                        tx,
                        EventKind::TaskDone,
                        task,
                        run,
                        "engine",
                        format!("{} done", task.key),
                        now,
                    )?;
                    return Ok(Outcome::Done);
                }
                let job = self.enter(tx, task, next, None, "engine", now)?;
                Ok(Outcome::Advanced {
                    stage: self.cfg.stages[next].name.clone(),
                    job: job.id,
                })
            }
            Verdict::Approval { gate } => {
                tasks::set_pending_approval(tx, task.id, gate, run, now)?;
                self.event(
                    tx,
                    EventKind::ApprovalRequested,
                    task,
                    run,
                    "engine",
                    format!("{} awaits approval of {}", task.key, stage.name),
                    now,
                )?;
                Ok(Outcome::AwaitingApproval { gate })
            }
            Verdict::Act {
                action,
                feedback,
                counter,
            } => match action {
                Action::NeedsInput => {
                    tasks::set_stage(
                        tx,
                        task.id,
                        &stage.name,
                        TaskState::NeedsInput,
                        Some(&feedback),
                        now,
                    )?;
                    self.event(
                        tx,
                        EventKind::NeedsInput,
                        task,
                        run,
                        "engine",
                        format!("{} needs the operator's answers", task.key),
                        now,
                    )?;
                    Ok(Outcome::NeedsInput)
                }
                Action::Block => {
                    let why = format!("{}: {}", stage.name, first_line(&feedback));
                    self.block(tx, task, &why, "engine", now)
                }
                Action::Retry => {
                    let n = counters::bump(tx, task.id, &counter)?;
                    if n > i64::from(stage.max_retries) {
                        let why = format!(
                            "{} failed its gates {n} times (max_retries = {}): {}",
                            stage.name,
                            stage.max_retries,
                            first_line(&feedback)
                        );
                        return self.block(tx, task, &why, "engine", now);
                    }
                    self.event(
                        tx,
                        EventKind::Retried,
                        task,
                        run,
                        "engine",
                        format!(
                            "{} runs {} again ({n} of {}): {}",
                            task.key,
                            stage.name,
                            stage.max_retries,
                            first_line(&feedback)
                        ),
                        now,
                    )?;
                    let job = self.enqueue(tx, task, here, Some(&feedback), now)?;
                    tasks::set_stage(tx, task.id, &stage.name, TaskState::Active, None, now)?;
                    Ok(Outcome::Retried { job: job.id })
                }
                Action::Rollback { to, max } => {
                    let n = counters::bump(tx, task.id, &counter)?;
                    let target = &self.cfg.stages[to];
                    if n > i64::from(max) {
                        let why = format!(
                            "{} rolled back to {} {max} times already (max = {max}): {}",
                            stage.name,
                            target.name,
                            first_line(&feedback)
                        );
                        return self.block(tx, task, &why, "engine", now);
                    }
                    self.event(
                        tx,
                        EventKind::RolledBack,
                        task,
                        run,
                        "engine",
                        format!(
                            "{} back from {} to {} ({n} of {max}): {}",
                            task.key,
                            stage.name,
                            target.name,
                            first_line(&feedback)
                        ),
                        now,
                    )?;
                    let job = self.enter(tx, task, to, Some(&feedback), "engine", now)?;
                    Ok(Outcome::RolledBack {
                        stage: target.name.clone(),
                        job: job.id,
                    })
                }
            },
        }
    }

    /// Moves the task into stage `index` (active) and queues that stage's own role.
    fn enter(
        &self,
        tx: &Connection,
        task: &Task,
        index: usize,
        feedback: Option<&str>,
        actor: &str,
        now: i64,
    ) -> Result<Job> {
        let stage = &self.cfg.stages[index];
        tasks::set_stage(tx, task.id, &stage.name, TaskState::Active, None, now)?;
        counters::clear(tx, task.id, "retry:")?;
        self.event(
            tx,
            EventKind::StageEntered,
            task,
            None,
            actor,
            format!("{} entered {} ({})", task.key, stage.name, stage.role),
            now,
        )?;
        self.enqueue(tx, task, index, feedback, now)
    }

    fn enqueue(
        &self,
        tx: &Connection,
        task: &Task,
        index: usize,
        feedback: Option<&str>,
        now: i64,
    ) -> Result<Job> {
        let stage = &self.cfg.stages[index];
        let role = self.cfg.role_of(stage);
        Ok(self.queue.enqueue(
            tx,
            &JobSpec {
                task_id: task.id,
                stage: &stage.name,
                role: &role.name,
                provider: &role.provider,
                priority: task.priority,
                feedback,
                helper: false,
            },
            "engine",
            now,
        )?)
    }

    fn block(
        &self,
        tx: &Connection,
        task: &Task,
        why: &str,
        actor: &str,
        now: i64,
    ) -> Result<Outcome> {
        tasks::set_stage(tx, task.id, &task.stage, TaskState::Blocked, Some(why), now)?;
        self.event(
            tx,
            EventKind::Blocked,
            task,
            None,
            actor,
            format!("{} blocked: {why}", task.key),
            now,
        )?;
        Ok(Outcome::Blocked {
            reason: why.to_string(),
        })
    }

    fn record(
        &self,
        tx: &Connection,
        task: &Task,
        run: Option<i64>,
        check: &Check,
        now: i64,
    ) -> Result<()> {
        let outcome = check.outcome;
        store::gates::insert(
            tx,
            &NewGateResult {
                task_id: task.id,
                run_id: run,
                stage: &task.stage,
                gate_index: check.index,
                kind: check.kind,
                outcome,
                reason: &check.reason,
                output: check.output.as_deref(),
            },
            now,
        )?;
        let kind = match (outcome, check.kind) {
            (GateOutcome::Pending, _) => return Ok(()),
            (_, "branch") => EventKind::BranchTaken,
            (GateOutcome::Pass, _) => EventKind::GatePassed,
            _ => EventKind::GateFailed,
        };
        self.event(
            tx,
            kind,
            task,
            run,
            "engine",
            format!("{} {} gate: {}", task.key, check.kind, check.reason),
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        tx: &Connection,
        kind: EventKind,
        task: &Task,
        run: Option<i64>,
        actor: &str,
        message: String,
        now: i64,
    ) -> Result<()> {
        events::append(
            tx,
            kind,
            NewEvent {
                task_id: Some(task.id),
                run_id: run,
                actor,
                message,
                ..Default::default()
            },
            now,
        )?;
        Ok(())
    }
}

/// "ET-001 was already approved at 14:02:11 UTC by console; it is now blocked at
/// architecture" when an operator decision came since the task last waited for the operator
/// (an approval request, a block, a question), else `None`. A wait the decision itself
/// caused (an approval whose gates then blocked the task: written in the decision's own
/// transaction, at its timestamp) does not hide it.
fn decided_first(conn: &Connection, task: &Task) -> Result<Option<String>> {
    let decision = |kind: EventKind| match kind {
        EventKind::Approved => Some("approved"),
        EventKind::Rejected => Some("rejected"),
        EventKind::Resumed => Some("resumed"),
        EventKind::TaskCancelled => Some("cancelled"),
        _ => None,
    };
    let is_wait = |kind: EventKind| {
        matches!(
            kind,
            EventKind::ApprovalRequested | EventKind::Blocked | EventKind::NeedsInput
        )
    };
    let mut wait_at = None;
    for e in events::recent(conn, Some(task.id), 50)?.into_iter().rev() {
        if let Some(what) = decision(e.kind) {
            if wait_at.is_some_and(|ts| ts != e.ts) {
                return Ok(None);
            }
            return Ok(Some(format!(
                "{} was already {what} at {} by {}; it is now {} at {}",
                task.key,
                clock(e.ts),
                e.actor,
                task.state,
                task.stage
            )));
        }
        if is_wait(e.kind) {
            match wait_at {
                // Two waits in a row: the task waited for the operator since any decision.
                Some(_) => return Ok(None),
                None => wait_at = Some(e.ts),
            }
        }
    }
    Ok(None)
}

/// `ms` (since the epoch) as the UTC time of day, `14:02:11`.
fn clock(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

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
