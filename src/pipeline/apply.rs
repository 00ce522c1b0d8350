//! The store side of a [`Transition`]: [`Engine::apply`] makes its writes, in order, in the
//! caller's write transaction, then queues its job; [`Engine::settle`] decides what follows
//! an evaluation ([`transition::decide`]) and applies it.

use rusqlite::Connection;

use super::gates::{Evaluation, Verdict};
use super::transition::{self, Enqueue, Then, Transition, Write};
use super::{Engine, Outcome, Result};
use crate::config::Action;
use crate::config::land::LandMode;
use crate::queue::JobSpec;
use crate::store::events::{self, About};
use crate::store::gates::NewGateResult;
use crate::store::jobs::Job;
use crate::store::tasks::{self, Task};
use crate::store::{self, counters};

impl Engine<'_> {
    /// Decides what follows stage `here`'s evaluation `eval` for `task` (run `run` judged)
    /// and applies it, inside the caller's transaction: the count so far of the counter that
    /// caps the verdict's action is read here, [`transition::decide`] does the rest.
    pub(super) fn settle(
        &self,
        tx: &Connection,
        task: &Task,
        here: usize,
        run: Option<i64>,
        eval: Evaluation,
        now: i64,
    ) -> Result<Outcome> {
        let spent = match &eval.verdict {
            Verdict::Act {
                action: Action::Retry | Action::Rollback { .. },
                counter,
                ..
            } => counters::get(tx, task.id, counter)?,
            _ => 0,
        };
        let last = matches!(eval.verdict, Verdict::Passed) && here + 1 == self.cfg.stages.len();
        let plan = if last {
            self.land_plan(tx, task, None)?
        } else {
            None
        };
        let next = transition::decide(
            &self.cfg.stages,
            &task.key,
            here,
            run,
            eval,
            spent,
            plan.as_ref(),
        );
        self.apply(tx, task, &next, now)
    }

    /// How `task` lands once it passed its last stage: its project's `[projects.land]`
    /// (the config's, under the project's own; `mode` instead of theirs when given), or
    /// `None` when the project does not land tasks (or the task has no branch).
    ///
    /// # Errors
    /// [`super::EngineError::State`] when the project's stored landing settings cannot be
    /// read; store failures.
    pub(super) fn land_plan(
        &self,
        tx: &Connection,
        task: &Task,
        mode: Option<LandMode>,
    ) -> Result<Option<transition::LandPlan>> {
        let project = store::projects::get(tx, task.project_id)?;
        let land = self
            .cfg
            .land
            .for_project(project.land.as_deref())
            .map_err(|e| {
                super::EngineError::State(format!(
                    "project {}'s landing settings cannot be read: {e}",
                    project.name
                ))
            })?;
        let Some(branch) = task.branch.clone() else {
            return Ok(None);
        };
        let mode = mode.unwrap_or(land.mode);
        if mode == LandMode::None {
            return Ok(None);
        }
        Ok(Some(transition::LandPlan {
            mode,
            strategy: land.strategy,
            base: land.base.or(project.default_branch).unwrap_or_default(),
            branch,
        }))
    }

    /// Makes `t`'s writes for `task`, then queues its job if it has one, inside the caller's
    /// transaction; returns what the engine did.
    pub(super) fn apply(
        &self,
        tx: &Connection,
        task: &Task,
        t: &Transition,
        now: i64,
    ) -> Result<Outcome> {
        self.write_all(tx, task, &t.writes, now)?;
        Ok(match &t.then {
            Then::Advanced { stage, job } => Outcome::Advanced {
                stage: stage.clone(),
                job: self.enqueue(tx, task, job, now)?.id,
            },
            Then::Retried { job } => Outcome::Retried {
                job: self.enqueue(tx, task, job, now)?.id,
            },
            Then::RolledBack { stage, job } => Outcome::RolledBack {
                stage: stage.clone(),
                job: self.enqueue(tx, task, job, now)?.id,
            },
            Then::Resumed {
                stage,
                first_time,
                job,
            } => Outcome::Resumed {
                stage: stage.clone(),
                job: self.enqueue(tx, task, job, now)?.id,
                first_time: *first_time,
            },
            Then::Done => Outcome::Done,
            Then::Landed => Outcome::Landed,
            Then::InReview => Outcome::InReview,
            Then::Landing => Outcome::Landing {
                landing: store::landings::latest_for(tx, task.id)?
                    .map(|l| l.id)
                    .unwrap_or_default(),
            },
            Then::AwaitingApproval { gate } => Outcome::AwaitingApproval { gate: *gate },
            Then::NeedsInput => Outcome::NeedsInput,
            Then::Blocked { reason } => Outcome::Blocked {
                reason: reason.clone(),
            },
        })
    }

    /// Makes `writes` for `task`, in order, inside the caller's transaction.
    pub(super) fn write_all(
        &self,
        tx: &Connection,
        task: &Task,
        writes: &[Write],
        now: i64,
    ) -> Result<()> {
        for write in writes {
            match write {
                Write::Gate { check, run, event } => {
                    store::gates::insert(
                        tx,
                        &NewGateResult {
                            task_id: task.id,
                            run_id: *run,
                            stage: &task.stage,
                            gate_index: check.index,
                            kind: check.kind,
                            outcome: check.outcome,
                            reason: &check.reason,
                            output: check.output.as_deref(),
                        },
                        now,
                    )?;
                    if let Some((kind, message)) = event {
                        let about = About::task(task.id).run(*run);
                        events::record(tx, *kind, about, "engine", message.as_str(), now)?;
                    }
                }
                Write::Event {
                    kind,
                    run,
                    actor,
                    message,
                } => {
                    let about = About::task(task.id).run(*run);
                    events::record(tx, *kind, about, actor, message.as_str(), now)?;
                }
                Write::SetStage {
                    stage,
                    state,
                    reason,
                } => tasks::set_stage(tx, task.id, stage, *state, reason.as_deref(), now)?,
                Write::AwaitApproval { gate, run } => {
                    tasks::set_pending_approval(tx, task.id, *gate, *run, now)?;
                }
                Write::Bump(name) => {
                    counters::bump(tx, task.id, name)?;
                }
                Write::Clear(prefix) => counters::clear(tx, task.id, prefix)?,
                Write::FinishLanding {
                    landing,
                    state,
                    commit,
                    error,
                } => {
                    store::landings::finish(
                        tx,
                        *landing,
                        *state,
                        commit.as_deref(),
                        error.as_deref(),
                        now,
                    )?;
                }
                Write::ReviewLanding {
                    landing,
                    number,
                    url,
                } => {
                    store::landings::in_review(tx, *landing, *number, url, now)?;
                }
                Write::OpenLanding { plan, by } => {
                    store::landings::open(
                        tx,
                        &store::landings::NewLanding {
                            task_id: task.id,
                            mode: plan.mode.as_str(),
                            strategy: plan.strategy.as_str(),
                            base: &plan.base,
                            branch: &plan.branch,
                            decided_by: by,
                        },
                        now,
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Queues `job`: its stage's own role, for `task`, at the task's priority.
    pub(super) fn enqueue(
        &self,
        tx: &Connection,
        task: &Task,
        job: &Enqueue,
        now: i64,
    ) -> Result<Job> {
        let stage = &self.cfg.stages[job.stage];
        let role = self.cfg.role_of(stage);
        Ok(self.queue.enqueue(
            tx,
            &JobSpec {
                task_id: task.id,
                stage: &stage.name,
                role: &role.name,
                provider: &role.provider,
                priority: task.priority,
                feedback: job.feedback.as_deref(),
                helper: false,
            },
            "engine",
            now,
        )?)
    }
}
