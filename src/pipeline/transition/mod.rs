//! What happens to a task, as a value. [`decide`] turns a stage's evaluation (its checks and
//! their verdict) into a [`Transition`]: the writes to make, in order, and where they leave
//! the task. It reads no store and writes nothing; `Engine::apply` makes the
//! writes in the caller's transaction. The operator's decisions and the queue's failures
//! build their transitions from the same pieces ([`block`], [`enter`], [`approved`], …), so
//! every event text of a task's move is written here.

mod land;

pub use land::{
    CONFLICT_COUNTER, LandFailure, LandPlan, MAX_CONFLICT_ROLLBACKS, MAX_REVIEW_ROLLBACKS,
    REVIEW_COUNTER, in_review, landed, landing, landing_failed,
};

use super::first_line;
use super::gates::{Check, Evaluation, Verdict};
use crate::config::{Action, Stage};
use crate::status::{GateOutcome, LandingState, TaskState};
use crate::store::events::EventKind;

/// One write of a transition, made in order inside the caller's transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Records a gate's result at the task's stage, and its event (none for a pending
    /// approval).
    Gate {
        /// The check.
        check: Check,
        /// The run it judged, if any.
        run: Option<i64>,
        /// Its event: kind and line.
        event: Option<(EventKind, String)>,
    },
    /// Appends an event about the task (and `run`).
    Event {
        /// What happened.
        kind: EventKind,
        /// The run it is about, if any.
        run: Option<i64>,
        /// Who caused it.
        actor: String,
        /// The line.
        message: String,
    },
    /// Puts the task at `stage` in `state`, `reason` saying why.
    SetStage {
        /// Stage name (`done` when the task is done).
        stage: String,
        /// The task's state there.
        state: TaskState,
        /// Why (a block's reason, the agent's questions).
        reason: Option<String>,
    },
    /// The task waits for the operator's approval of gate `gate`, judging run `run`.
    AwaitApproval {
        /// Index of the approval gate in the stage.
        gate: usize,
        /// The run whose work is to be approved.
        run: Option<i64>,
    },
    /// Adds one to the task's counter of that name.
    Bump(String),
    /// Removes the task's counters whose name starts with the prefix (all with `""`).
    Clear(&'static str),
    /// Opens the task's landing (`store::landings`), decided by `by`.
    OpenLanding {
        /// How it lands.
        plan: LandPlan,
        /// Who decided it: `engine`, or the operator's front-end.
        by: String,
    },
    /// Landing `landing` waits for its pull request `number` on the forge (compare-and-set
    /// from `landing`).
    ReviewLanding {
        /// The landing row.
        landing: i64,
        /// The pull request's number.
        number: i64,
        /// Its web page.
        url: String,
    },
    /// Ends open landing `landing` in `state` (compare-and-set from an open state: a
    /// landing someone else ended makes the whole transition change nothing).
    FinishLanding {
        /// The landing row.
        landing: i64,
        /// `landed` or `failed`.
        state: LandingState,
        /// The commit the base moved to.
        commit: Option<String>,
        /// Why it failed.
        error: Option<String>,
    },
}

/// A job to queue for the task: stage `stage`'s role, with `feedback` for its prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueue {
    /// Index of the stage in the pipeline.
    pub stage: usize,
    /// Text for the run's prompt.
    pub feedback: Option<String>,
}

/// Where a transition leaves the task; an [`super::Outcome`] once its job, if it queues one,
/// is queued (always after the writes).
#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    /// Entered the next stage.
    Advanced {
        /// The stage entered.
        stage: String,
        /// Its job.
        job: Enqueue,
    },
    /// The same stage runs again.
    Retried {
        /// Its job.
        job: Enqueue,
    },
    /// Back to an earlier stage.
    RolledBack {
        /// The stage entered.
        stage: String,
        /// Its job.
        job: Enqueue,
    },
    /// The operator resumed the task at a stage.
    Resumed {
        /// The stage.
        stage: String,
        /// The stage never ran for this task before.
        first_time: bool,
        /// Its job.
        job: Enqueue,
    },
    /// Passed the last stage.
    Done,
    /// Passed the last stage and is landing.
    Landing,
    /// Its change reached the base branch.
    Landed,
    /// Its pull request is open on the forge.
    InReview,
    /// Waits for the operator's approval of gate `gate`.
    AwaitingApproval {
        /// Index of the gate.
        gate: usize,
    },
    /// Waits for the operator's answers.
    NeedsInput,
    /// Stopped for the operator.
    Blocked {
        /// Why.
        reason: String,
    },
}

/// The writes to make, in order, and where they leave the task.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The writes, in order.
    pub writes: Vec<Write>,
    /// Where they leave the task.
    pub then: Then,
}

impl Transition {
    /// The same transition with `first` written before its own writes.
    #[must_use]
    pub fn after(mut self, first: Vec<Write>) -> Transition {
        self.writes.splice(0..0, first);
        self
    }
}

/// What follows stage `here`'s evaluation `eval` for task `key`, whose run `run` (if any)
/// was judged: record every check, then advance (or finish, or land by `land`), wait for
/// approval, wait for answers, block, retry or roll back. `spent` is the count so far of the
/// counter that caps the verdict's action (retries of this stage, rollbacks along this edge;
/// 0 for other verdicts): past the cap, the task blocks instead.
pub fn decide(
    stages: &[Stage],
    key: &str,
    here: usize,
    run: Option<i64>,
    eval: Evaluation,
    spent: i64,
    land: Option<&LandPlan>,
) -> Transition {
    let mut writes: Vec<Write> = eval.checks.into_iter().map(|c| gate(key, run, c)).collect();
    let stage = &stages[here];
    let engine = |kind, message| Write::Event {
        kind,
        run,
        actor: "engine".into(),
        message,
    };
    let then = match eval.verdict {
        Verdict::Passed => {
            let next = here + 1;
            if next == stages.len() {
                match land {
                    Some(plan) => {
                        let landing = landing(key, plan, run, "engine");
                        writes.extend(landing.writes);
                        landing.then
                    }
                    None => {
                        writes.extend([
                            Write::SetStage {
                                stage: "done".into(),
                                state: TaskState::Done,
                                reason: None,
                            },
                            Write::Clear(""),
                            engine(EventKind::TaskDone, format!("{key} done")),
                        ]);
                        Then::Done
                    }
                }
            } else {
                let (entering, job) = enter(stages, key, next, None, "engine");
                writes.extend(entering);
                Then::Advanced {
                    stage: stages[next].name.clone(),
                    job,
                }
            }
        }
        Verdict::Approval { gate } => {
            writes.extend([
                Write::AwaitApproval { gate, run },
                engine(
                    EventKind::ApprovalRequested,
                    format!("{key} awaits approval of {}", stage.name),
                ),
            ]);
            Then::AwaitingApproval { gate }
        }
        Verdict::Act {
            action,
            feedback,
            counter,
        } => {
            let n = spent + 1;
            match action {
                Action::NeedsInput => {
                    writes.extend([
                        Write::SetStage {
                            stage: stage.name.clone(),
                            state: TaskState::NeedsInput,
                            reason: Some(feedback),
                        },
                        engine(
                            EventKind::NeedsInput,
                            format!("{key} needs the operator's answers"),
                        ),
                    ]);
                    Then::NeedsInput
                }
                Action::Block => {
                    let why = format!("{}: {}", stage.name, first_line(&feedback));
                    return block(key, &stage.name, &why, "engine").after(writes);
                }
                Action::Retry => {
                    writes.push(Write::Bump(counter));
                    if n > i64::from(stage.max_retries) {
                        let why = format!(
                            "{} failed its gates {n} times (max_retries = {}): {}",
                            stage.name,
                            stage.max_retries,
                            first_line(&feedback)
                        );
                        return block(key, &stage.name, &why, "engine").after(writes);
                    }
                    writes.extend([
                        engine(
                            EventKind::Retried,
                            format!(
                                "{key} runs {} again ({n} of {}): {}",
                                stage.name,
                                stage.max_retries,
                                first_line(&feedback)
                            ),
                        ),
                        Write::SetStage {
                            stage: stage.name.clone(),
                            state: TaskState::Active,
                            reason: None,
                        },
                    ]);
                    Then::Retried {
                        job: Enqueue {
                            stage: here,
                            feedback: Some(feedback),
                        },
                    }
                }
                Action::Rollback { to, max } => {
                    writes.push(Write::Bump(counter));
                    let target = &stages[to];
                    if n > i64::from(max) {
                        let why = format!(
                            "{} rolled back to {} {max} times already (max = {max}): {}",
                            stage.name,
                            target.name,
                            first_line(&feedback)
                        );
                        return block(key, &stage.name, &why, "engine").after(writes);
                    }
                    writes.push(engine(
                        EventKind::RolledBack,
                        format!(
                            "{key} back from {} to {} ({n} of {max}): {}",
                            stage.name,
                            target.name,
                            first_line(&feedback)
                        ),
                    ));
                    let (entering, job) = enter(stages, key, to, Some(feedback), "engine");
                    writes.extend(entering);
                    Then::RolledBack {
                        stage: target.name.clone(),
                        job,
                    }
                }
            }
        }
    };
    Transition { writes, then }
}

/// The write that records `check` of run `run` for task `key`: its gate result and, unless
/// it is a pending approval, its event.
pub fn gate(key: &str, run: Option<i64>, check: Check) -> Write {
    let kind = match (check.outcome, check.kind) {
        (GateOutcome::Pending, _) => None,
        (_, "branch") => Some(EventKind::BranchTaken),
        (GateOutcome::Pass, _) => Some(EventKind::GatePassed),
        _ => Some(EventKind::GateFailed),
    };
    let event = kind.map(|k| (k, format!("{key} {} gate: {}", check.kind, check.reason)));
    Write::Gate { check, run, event }
}

/// Task `key` enters stage `index` (active, its retry counts cleared) on `actor`'s word;
/// the job to queue for that stage's own role follows the writes.
pub fn enter(
    stages: &[Stage],
    key: &str,
    index: usize,
    feedback: Option<String>,
    actor: &str,
) -> (Vec<Write>, Enqueue) {
    let stage = &stages[index];
    let writes = vec![
        Write::SetStage {
            stage: stage.name.clone(),
            state: TaskState::Active,
            reason: None,
        },
        Write::Clear("retry:"),
        Write::Event {
            kind: EventKind::StageEntered,
            run: None,
            actor: actor.into(),
            message: format!("{key} entered {} ({})", stage.name, stage.role),
        },
    ];
    (
        writes,
        Enqueue {
            stage: index,
            feedback,
        },
    )
}

/// Task `key`, at stage `stage`, is blocked on `actor`'s word because `why`.
pub fn block(key: &str, stage: &str, why: &str, actor: &str) -> Transition {
    Transition {
        writes: vec![
            Write::SetStage {
                stage: stage.into(),
                state: TaskState::Blocked,
                reason: Some(why.into()),
            },
            Write::Event {
                kind: EventKind::Blocked,
                run: None,
                actor: actor.into(),
                message: format!("{key} blocked: {why}"),
            },
        ],
        then: Then::Blocked { reason: why.into() },
    }
}

/// The operator `by` approved gate `gate` of task `key` (judging run `run`), with `note`:
/// the gate passes, and an `approved` event says so. The stage's later gates follow.
pub fn approved(
    key: &str,
    gate: usize,
    run: Option<i64>,
    note: Option<&str>,
    by: &str,
) -> Vec<Write> {
    let reason = match note {
        Some(n) => format!("approved by the operator: {n}"),
        None => "approved by the operator".to_string(),
    };
    vec![
        self::gate(
            key,
            run,
            Check {
                index: gate as i64,
                kind: "approval",
                outcome: GateOutcome::Pass,
                reason: reason.clone(),
                output: None,
            },
        ),
        Write::Event {
            kind: EventKind::Approved,
            run,
            actor: by.into(),
            message: format!("{key}: {reason}"),
        },
    ]
}

/// The operator `by` rejected gate `gate` of stage `stage` of task `key` (judging run
/// `run`) because `note`: a `rejected` event, and the evaluation to act on — the gate
/// failed, the gate's `on_fail` action taken with the note as feedback.
pub fn rejected(
    stages: &[Stage],
    key: &str,
    here: usize,
    gate: usize,
    run: Option<i64>,
    note: &str,
    by: &str,
) -> (Vec<Write>, Evaluation) {
    let stage = &stages[here];
    let action = stage.gates[gate].on_fail.clone();
    let reason = format!("rejected by the operator: {note}");
    let first = vec![Write::Event {
        kind: EventKind::Rejected,
        run,
        actor: by.into(),
        message: format!("{key}: {reason}"),
    }];
    let eval = Evaluation {
        checks: vec![Check {
            index: gate as i64,
            kind: "approval",
            outcome: GateOutcome::Fail,
            reason,
            output: None,
        }],
        verdict: Verdict::Act {
            counter: super::gates::counter_name(stages, here, &action),
            action,
            feedback: format!(
                "The operator rejected the {} stage's work:\n{note}",
                stage.name
            ),
        },
    };
    (first, eval)
}

/// The operator `by` passed task `key`'s failed gate (of `kind`, number `index`, judging
/// run `run`, failed because `failure`) anyway because `note`: an `overridden` event, and
/// the evaluation to act on — an `override` check that passes, the stage passed.
pub fn overridden(
    key: &str,
    index: i64,
    kind: &str,
    failure: &str,
    run: Option<i64>,
    note: &str,
    by: &str,
) -> (Vec<Write>, Evaluation) {
    let reason = format!(
        "overridden by the operator: {note} (the {kind} gate had failed: {})",
        first_line(failure)
    );
    let first = vec![Write::Event {
        kind: EventKind::Overridden,
        run,
        actor: by.into(),
        message: format!("{key}: {reason}"),
    }];
    let eval = Evaluation {
        checks: vec![Check {
            index,
            kind: "override",
            outcome: GateOutcome::Pass,
            reason,
            output: None,
        }],
        verdict: Verdict::Passed,
    };
    (first, eval)
}

/// The operator `by` resumed task `key` at stage `target` with `feedback`: its counts start
/// over, a `resumed` event, and the stage is entered. `first_time`: the stage never ran for
/// this task.
pub fn resumed(
    stages: &[Stage],
    key: &str,
    target: usize,
    feedback: Option<String>,
    first_time: bool,
    by: &str,
) -> Transition {
    let stage = stages[target].name.clone();
    let mut writes = vec![
        Write::Clear(""),
        Write::Event {
            kind: EventKind::Resumed,
            run: None,
            actor: by.into(),
            message: format!("{key} resumed at {stage}"),
        },
    ];
    let (entering, job) = enter(stages, key, target, feedback, by);
    writes.extend(entering);
    Transition {
        writes,
        then: Then::Resumed {
            stage,
            first_time,
            job,
        },
    }
}

#[cfg(test)]
mod tests;
