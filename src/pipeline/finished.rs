//! A run ended ([`Engine::run_finished`]): its result, as the supervisor saw it, becomes the
//! run's end, the job's end or its next attempt, and — for a completed stage run — the
//! stage's evaluation and what follows it.

use std::path::PathBuf;

use rusqlite::Connection;

use super::gates::{self, Evaluation, Subject};
use super::{Engine, EngineError, Outcome, Result, RunResult, transition};
use crate::queue::{Classifier, Disposition, Failure, FailureKind};
use crate::status::{JobStatus, RunStatus};
use crate::store::jobs::{self, Job};
use crate::store::projects;
use crate::store::runs::{self, Run};
use crate::store::tasks::{self, Task};

impl Engine<'_> {
    /// A run ended: a helper's answer is recorded; a stage run's failure spends an attempt
    /// (or blocks the task); its completion is judged by the stage's gates and acted on.
    pub(super) fn run_finished(&self, run_id: i64, result: RunResult) -> Result<Outcome> {
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
                    self.settle(tx, &task, here, Some(run_id), eval, now)
                })
            }
        }
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
                    let blocked = transition::block(&task.key, &task.stage, &why, "queue");
                    self.apply(tx, task, &blocked, now)
                }
            }
        })
    }

    /// Inside a write transaction: `Some(Ignored)` when the job is no longer running or the
    /// run already ended (another path got there first), `None` to go on.
    pub(super) fn ended_meanwhile(
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

    /// Evaluates stage `here`'s branches and gates for `task` (from gate `from_gate` on) in its
    /// worktree, the run's final message at hand.
    pub(super) fn evaluate(
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
}
