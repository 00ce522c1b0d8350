//! Landing, as transitions: a task past its last stage starts to land ([`landing`]), its
//! change reaches the base ([`landed`]), or its landing fails ([`landing_failed`]): a
//! conflict sends it back to the rollback stage with the conflicting hunks as feedback (or
//! blocks it, as `on_conflict` says); anything else blocks it saying what to do.

use super::{Then, Transition, Write, block, enter};
use crate::config::Stage;
use crate::config::land::{LandConfig, LandMode, OnConflict, Strategy};
use crate::status::{LandingState, TaskState};
use crate::store::events::EventKind;

/// How a task lands once it passed its last stage (`[projects.land]` resolved for its
/// project).
#[derive(Debug, Clone, PartialEq)]
pub struct LandPlan {
    /// `merge` or `pr` (a project whose mode is `none` has no plan).
    pub mode: LandMode,
    /// How the branch's commits reach the base.
    pub strategy: Strategy,
    /// The base branch; empty: the repository's default branch, resolved when it lands.
    pub base: String,
    /// The task's branch.
    pub branch: String,
}

impl LandPlan {
    /// "squash-merge bosun/ET-001-x into main", "a pull request of bosun/ET-001-x into the
    /// default branch (squash)".
    pub fn describe(&self) -> String {
        let base = if self.base.is_empty() {
            "the default branch".to_string()
        } else {
            self.base.clone()
        };
        match self.mode {
            LandMode::Pr => format!(
                "a pull request of {} into {base} ({})",
                self.branch,
                self.strategy.as_str()
            ),
            _ => format!(
                "{}-merge {} into {base}",
                self.strategy.as_str(),
                self.branch
            ),
        }
    }
}

/// Task `key`, past its last stage, lands by `plan` on `by`'s word (the engine's at the end
/// of the pipeline, an operator's for a task that ended `done`).
pub fn landing(key: &str, plan: &LandPlan, run: Option<i64>, by: &str) -> Transition {
    Transition {
        writes: vec![
            Write::SetStage {
                stage: "done".into(),
                state: TaskState::Landing,
                reason: None,
            },
            Write::OpenLanding {
                plan: plan.clone(),
                by: by.to_string(),
            },
            Write::Event {
                kind: EventKind::Landing,
                run,
                actor: by.to_string(),
                message: format!("{key} passed every stage; landing: {}", plan.describe()),
            },
        ],
        then: Then::Landing,
    }
}

/// Landing `landing` of task `key` moved `base` to `commit` (`note`: what the operator
/// should know, such as a checkout of the base now behind).
pub fn landed(key: &str, landing: i64, base: &str, commit: &str, note: Option<&str>) -> Transition {
    let short = &commit[..commit.len().min(10)];
    let note = note.map(|n| format!("; {n}")).unwrap_or_default();
    Transition {
        writes: vec![
            Write::FinishLanding {
                landing,
                state: LandingState::Landed,
                commit: Some(commit.to_string()),
                error: None,
            },
            Write::SetStage {
                stage: "done".into(),
                state: TaskState::Landed,
                reason: None,
            },
            Write::Clear(""),
            Write::Event {
                kind: EventKind::Landed,
                run: None,
                actor: "lander".into(),
                message: format!("{key} landed in {base} at {short}{note}"),
            },
        ],
        then: Then::Landed,
    }
}

/// Landing `landing` of task `key` opened (or found open) pull request `number` at `url`: the
/// task is `in_review` until the forge merges or closes it.
pub fn in_review(key: &str, landing: i64, number: i64, url: &str) -> Transition {
    Transition {
        writes: vec![
            Write::ReviewLanding {
                landing,
                number,
                url: url.to_string(),
            },
            Write::SetStage {
                stage: "done".into(),
                state: TaskState::InReview,
                reason: None,
            },
            Write::Event {
                kind: EventKind::InReview,
                run: None,
                actor: "lander".into(),
                message: format!(
                    "{key} is in review: pull request #{number} ({})",
                    crate::text::plain(url)
                ),
            },
        ],
        then: Then::InReview,
    }
}

/// Why a landing failed, as the lander saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum LandFailure {
    /// The branch conflicts with the base in `files`; `hunks` is the conflict-marked text
    /// an agent reads as feedback.
    Conflict {
        /// The base branch.
        base: String,
        /// The conflicting paths.
        files: Vec<String>,
        /// The conflicting regions, with markers and context.
        hunks: String,
    },
    /// A reviewer asked for changes on the pull request (`on_changes_requested =
    /// "rollback"`): back to the rollback stage with the reviews as feedback.
    ChangesRequested {
        /// The pull request's number.
        number: i64,
        /// The reviewers who asked (forge text, sanitised).
        by: Vec<String>,
        /// Their reviews' text (forge text, sanitised), each under its reviewer's name.
        reviews: String,
    },
    /// Anything else (the merged result failed the test command, git refused, the base kept
    /// moving): `why` says what happened and what to do.
    Other {
        /// The sentence.
        why: String,
    },
}

/// Rollbacks for a conflicting landing a task gets before it blocks instead.
pub const MAX_CONFLICT_ROLLBACKS: i64 = 3;

/// The counter of a task's rollbacks for conflicting landings.
pub const CONFLICT_COUNTER: &str = "land-conflicts";

/// Rollbacks for changes a pull request's reviewer requested a task gets before it blocks
/// instead (an agent that changes nothing would otherwise be sent back forever).
pub const MAX_REVIEW_ROLLBACKS: i64 = 3;

/// The counter of a task's rollbacks for changes requested on its pull request.
pub const REVIEW_COUNTER: &str = "land-reviews";

impl LandFailure {
    /// The counter that caps this failure's rollbacks.
    pub fn counter(&self) -> &'static str {
        match self {
            LandFailure::ChangesRequested { .. } => REVIEW_COUNTER,
            _ => CONFLICT_COUNTER,
        }
    }
}

/// Landing `landing` of task `key` failed: a conflict rolls back to `land.rollback_to` (the
/// first stage if the pipeline has none of that name) with the hunks as feedback — at most
/// [`MAX_CONFLICT_ROLLBACKS`] times (`spent` so far, of [`LandFailure::counter`]), then it
/// blocks — or blocks at once (`on_conflict = "block"`); changes requested on its pull
/// request roll back with the reviews as feedback, at most [`MAX_REVIEW_ROLLBACKS`] times;
/// any other failure blocks, saying why.
pub fn landing_failed(
    stages: &[Stage],
    key: &str,
    landing: i64,
    land: &LandConfig,
    failure: &LandFailure,
    spent: i64,
) -> Transition {
    let (error, t) = match failure {
        LandFailure::Conflict { base, files, hunks } => {
            let what = format!("conflicts with {base} in {}", files.join(", "));
            let rollback =
                land.on_conflict == OnConflict::Rollback && spent < MAX_CONFLICT_ROLLBACKS;
            let t = match (rollback, land.on_conflict) {
                (false, OnConflict::Rollback) => block(
                    key,
                    "done",
                    &format!(
                        "{what}, still after {MAX_CONFLICT_ROLLBACKS} rollbacks; resolve on its \
                         branch, then `bosun task land {key}`"
                    ),
                    "lander",
                ),
                (true, _) => {
                    let to = stages
                        .iter()
                        .position(|s| s.name == land.rollback_to)
                        .unwrap_or(0);
                    let feedback = format!(
                        "Your branch could not land: it {what}. Bring it up to date with \
                         {base} and resolve these conflicts, keeping both sides' intent:\n\n{hunks}"
                    );
                    let (mut writes, job) = enter(stages, key, to, Some(feedback), "lander");
                    writes.insert(0, Write::Bump(CONFLICT_COUNTER.into()));
                    writes.insert(
                        1,
                        Write::Event {
                            kind: EventKind::LandingFailed,
                            run: None,
                            actor: "lander".into(),
                            message: format!(
                                "{key} {what}; back to {} with the conflicts as feedback",
                                stages[to].name
                            ),
                        },
                    );
                    Transition {
                        writes,
                        then: Then::RolledBack {
                            stage: stages[to].name.clone(),
                            job,
                        },
                    }
                }
                (false, OnConflict::Block) => block(
                    key,
                    "done",
                    &format!("{what}; resolve on its branch, then `bosun task land {key}`"),
                    "lander",
                ),
            };
            (what, t)
        }
        LandFailure::ChangesRequested {
            number,
            by,
            reviews,
        } => {
            let what = format!(
                "changes requested on pull request #{number} by {}",
                by.join(", ")
            );
            if spent >= MAX_REVIEW_ROLLBACKS {
                let why = format!(
                    "{what}, still after {MAX_REVIEW_ROLLBACKS} rollbacks; change the branch, \
                     then `bosun task land {key}`"
                );
                return block(key, "done", &why, "lander").after(vec![Write::FinishLanding {
                    landing,
                    state: LandingState::Failed,
                    commit: None,
                    error: Some(what),
                }]);
            }
            let to = stages
                .iter()
                .position(|s| s.name == land.rollback_to)
                .unwrap_or(0);
            let feedback = format!(
                "Your pull request #{number} was reviewed and changes were requested. Make \
                 them on your branch (it stays the pull request's head):\n\n{reviews}"
            );
            let (mut writes, job) = enter(stages, key, to, Some(feedback), "lander");
            writes.insert(0, Write::Bump(REVIEW_COUNTER.into()));
            writes.insert(
                1,
                Write::Event {
                    kind: EventKind::LandingFailed,
                    run: None,
                    actor: "lander".into(),
                    message: format!(
                        "{key}: {what}; back to {} with the review as feedback",
                        stages[to].name
                    ),
                },
            );
            let t = Transition {
                writes,
                then: Then::RolledBack {
                    stage: stages[to].name.clone(),
                    job,
                },
            };
            (what, t)
        }
        LandFailure::Other { why } => (why.clone(), block(key, "done", why, "lander")),
    };
    t.after(vec![Write::FinishLanding {
        landing,
        state: LandingState::Failed,
        commit: None,
        error: Some(error),
    }])
}
