//! The lander's results applied to the pipeline ([`Engine::land_result`]): a landed task is
//! `landed`; a failed landing rolls the task back or blocks it
//! ([`transition::landing_failed`]). Each applies compare-and-set on the landing: one that
//! was already ended (cancelled by the operator meanwhile) changes nothing.

use super::transition::{self, LandFailure};
use super::{Engine, EngineError, Outcome, Result};
use crate::status::LandingState;
use crate::store::{counters, landings, projects, tasks};

/// What the lander says of a landing.
#[derive(Debug, Clone, PartialEq)]
pub enum LandResult {
    /// The base branch moved to `commit` (a landing found already integrated after a
    /// restart reports the base's tip).
    Landed {
        /// The base branch (resolved: the default branch when none was configured).
        base: String,
        /// The commit.
        commit: String,
        /// What the operator should know (a checkout of the base now behind).
        note: Option<String>,
    },
    /// It failed.
    Failed(LandFailure),
}

impl Engine<'_> {
    /// Applies the lander's word that landing `landing` opened pull request `number`, in
    /// one transaction; a landing no longer `landing` (cancelled meanwhile) changes nothing.
    ///
    /// # Errors
    /// Store failures.
    pub(super) fn pr_opened(&self, landing: i64, number: i64, url: &str) -> Result<Outcome> {
        let now = self.now();
        self.store.write(|tx| {
            let l = landings::get(tx, landing)?;
            if l.state != LandingState::Landing {
                return Ok(Outcome::Ignored {
                    reason: format!("landing {landing} is already {}", l.state),
                });
            }
            let task = tasks::get(tx, l.task_id)?;
            let t = transition::in_review(&task.key, landing, number, url);
            self.apply(tx, &task, &t, now)
        })
    }

    /// Applies the lander's `result` for landing `landing`, in one transaction.
    ///
    /// # Errors
    /// [`EngineError::State`] when the project's landing settings cannot be read; store
    /// failures.
    pub(super) fn land_result(&self, landing: i64, result: LandResult) -> Result<Outcome> {
        let now = self.now();
        self.store.write(|tx| {
            let l = landings::get(tx, landing)?;
            if !matches!(l.state, LandingState::Landing | LandingState::InReview) {
                return Ok(Outcome::Ignored {
                    reason: format!("landing {landing} is already {}", l.state),
                });
            }
            let task = tasks::get(tx, l.task_id)?;
            let t = match &result {
                LandResult::Landed { base, commit, note } => {
                    transition::landed(&task.key, landing, base, commit, note.as_deref())
                }
                LandResult::Failed(failure) => {
                    let project = projects::get(tx, task.project_id)?;
                    let land = self
                        .cfg
                        .land
                        .for_project(project.land.as_deref())
                        .map_err(|e| {
                            EngineError::State(format!(
                                "project {}'s landing settings cannot be read: {e}",
                                project.name
                            ))
                        })?;
                    let spent = counters::get(tx, task.id, failure.counter())?;
                    transition::landing_failed(
                        &self.cfg.stages,
                        &task.key,
                        landing,
                        &land,
                        failure,
                        spent,
                    )
                }
            };
            self.apply(tx, &task, &t, now)
        })
    }
}
