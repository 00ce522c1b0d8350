//! The operator's decisions about a task ([`Engine::decided`]): approve, reject, resume,
//! override, cancel. Each is evaluated against the task as read and applied compare-and-set
//! ([`Engine::guard`]): of decisions made at once exactly one applies, and the others are
//! told which came first ([`decided_first`]).

use rusqlite::Connection;

use super::{Decision, Engine, EngineError, Outcome, Result, first_line, transition};
use crate::status::{GateOutcome, TaskState};
use crate::store::events::{self, About, EventKind};
use crate::store::tasks::{self, Task};
use crate::store::{self, jobs, runs};

impl Engine<'_> {
    /// Applies an operator decision, compare-and-set: it is evaluated against the task as
    /// read, and applied in a write transaction only if the task's version is still that one
    /// ([`Engine::guard`]), so of decisions made at the same moment exactly one applies.
    pub(super) fn decided(&self, key: &str, decision: Decision, by: &str) -> Result<Outcome> {
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
                let first =
                    transition::approved(&task.key, gate, task.pending_run, note.as_deref(), by);
                self.store.write(|tx| {
                    self.guard(tx, &task, by)?;
                    self.write_all(tx, &task, &first, now)?;
                    self.settle(tx, &task, here, task.pending_run, eval, now)
                })
            }
            Decision::Reject { note } => {
                let (here, gate) = self.pending(&task)?;
                let (first, eval) = transition::rejected(
                    &self.cfg.stages,
                    &task.key,
                    here,
                    gate,
                    task.pending_run,
                    &note,
                    by,
                );
                let now = self.now();
                self.store.write(|tx| {
                    self.guard(tx, &task, by)?;
                    self.write_all(tx, &task, &first, now)?;
                    self.settle(tx, &task, here, task.pending_run, eval, now)
                })
            }
            Decision::Resume { note, stage } => {
                if !matches!(
                    task.state,
                    TaskState::Blocked | TaskState::NeedsInput | TaskState::Cancelled
                ) {
                    return Err(self.refused(
                        &task,
                        format!(
                            "{} is {}; only blocked, needs-input or cancelled tasks can be resumed",
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
                    let stage = &self.cfg.stages[target].name;
                    let first_time = !runs::for_task(tx, task.id)?
                        .iter()
                        .any(|r| &r.stage == stage);
                    let resumed = transition::resumed(
                        &self.cfg.stages,
                        &task.key,
                        target,
                        feedback.clone(),
                        first_time,
                        by,
                    );
                    self.apply(tx, &task, &resumed, now)
                })
            }
            Decision::Override { note } => self.override_gate(&task, &note, by),
            Decision::Land { mode } => {
                let landable = task.state == TaskState::Done
                    || (task.state == TaskState::Blocked && task.stage == "done");
                if !landable {
                    return Err(self.refused(
                        &task,
                        format!(
                            "{} is {} at {}; only a task that passed every stage lands",
                            task.key, task.state, task.stage
                        ),
                    ));
                }
                let now = self.now();
                self.store.write(|tx| {
                    self.guard(tx, &task, by)?;
                    let plan = self.land_plan(tx, &task, mode)?.ok_or_else(|| {
                        EngineError::State(format!(
                            "{}'s project does not land tasks ([projects.land] mode = \"none\") \
                             and it has no branch to land, or no mode was given: say --mode \
                             merge or --mode pr",
                            task.key
                        ))
                    })?;
                    let t = transition::landing(&task.key, &plan, None, by);
                    self.apply(tx, &task, &t, now)
                })
            }
            Decision::Cancel => {
                if task.state.finished() {
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
                    if let Some(l) = store::landings::latest_for(tx, task.id)? {
                        let why = format!("cancelled by {by}");
                        store::landings::finish(
                            tx,
                            l.id,
                            crate::status::LandingState::Failed,
                            None,
                            Some(&why),
                            now,
                        )?;
                    }
                    tasks::set_stage(
                        tx,
                        task.id,
                        &task.stage,
                        TaskState::Cancelled,
                        Some("cancelled by the operator"),
                        now,
                    )?;
                    events::record(
                        tx,
                        EventKind::TaskCancelled,
                        About::task(task.id),
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
        let (first, eval) = transition::overridden(
            &task.key,
            failed.gate_index,
            &failed.kind,
            &failed.reason,
            failed.run_id,
            note,
            by,
        );
        self.store.write(|tx| {
            self.guard(tx, task, by)?;
            self.write_all(tx, task, &first, now)?;
            self.settle(tx, task, here, failed.run_id, eval, now)
        })
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
}

/// "ET-001 was already approved at 14:02:11 UTC by console; it is now blocked at
/// architecture" when an operator decision came since the task last waited for the operator
/// (an approval request, a block, a question), else `None`. A wait the decision itself
/// caused (an approval whose gates then blocked the task: written in the decision's own
/// transaction, at its timestamp) does not hide it.
fn decided_first(conn: &Connection, task: &Task) -> Result<Option<String>> {
    let decision = |e: &events::Event| match e.kind {
        EventKind::Approved => Some("approved"),
        EventKind::Rejected => Some("rejected"),
        EventKind::Resumed => Some("resumed"),
        EventKind::TaskCancelled => Some("cancelled"),
        EventKind::Landing if e.actor != "engine" => Some("sent to land"),
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
        if let Some(what) = decision(&e) {
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
