//! The lander: the `land` lane takes each open landing one step, hands what happened to the
//! engine, and cleans up after a landed one.
//!
//! - `merge` ([`merge`]): the branch merged into the project's base branch (`git::land`: the
//!   operator's checkout untouched, the ref moved compare-and-set, the project's test command
//!   run on the merged result first when `verify = true`): landed; or a conflict rolled back
//!   with its hunks as feedback, or blocked.
//! - `pr` ([`pr`]): the branch pushed and a pull request opened on the forge (or the open one
//!   adopted): `in_review`; then the pull request read every `poll` (conditionally, by ETag):
//!   merged → landed; closed → blocked; changes requested → back to `rollback_to` with the
//!   reviews as feedback, or a note while it waits.
//! - cleanup: the task's worktree removed (kept when dirty, saying why) and its branch
//!   deleted once integrated into the base (the remote's, fetched, for a pull request; the
//!   branch on the remote too).
//!
//! Every step is recorded before the next, and each is safe to repeat: a lander killed after
//! the base moved and before the landing was recorded finds the branch's change already in
//! the base on the next try (`git::land` then lands nothing and reports the base's tip); one
//! killed after a pull request was opened and before it was recorded finds it open on the
//! next try and adopts it (one pull request, however often it dies); one killed before the
//! cleanup was recorded cleans up on start (`landings::uncleaned`). Crash points
//! ([`crate::crash::LAND_POINTS`]): `land_merged` (the base moved, not recorded),
//! `land_pushed` (the branch pushed, no pull request yet), `land_pr_opened` (opened, not
//! recorded), `land_pr_merged` (seen merged, not recorded), `land_cleanup` (landed and
//! recorded, before the cleanup).

mod merge;
mod pr;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::config::land::LandMode;
use crate::git;
use crate::pipeline::{Engine, Input};
use crate::status::LandingState;
use crate::store::events::{self, About, EventKind};
use crate::store::{Store, landings, now_ms, projects, tasks};

/// Landings handed to the `land` lane and not finished yet (shared with the lane's threads).
#[derive(Clone, Default)]
pub(super) struct InFlight(Arc<Mutex<HashSet<i64>>>);

impl InFlight {
    /// Marks `id` as handed over; false when it already was.
    pub(super) fn take(&self, id: i64) -> bool {
        self.0.lock().is_ok_and(|mut s| s.insert(id))
    }

    fn done(&self, id: i64) {
        if let Ok(mut s) = self.0.lock() {
            s.remove(&id);
        }
    }
}

/// One landing's work, on a `land` lane thread.
pub(super) struct Job {
    pub(super) landing: i64,
    pub(super) cfg: Config,
    pub(super) in_flight: InFlight,
}

impl Job {
    /// Lands, records, cleans up (see the module docs); failures are logged and the landing
    /// stays open for the next try. False when the database failed.
    pub(super) fn run(self, store: &Store) -> bool {
        let id = self.landing;
        let ok = match land(&self.cfg, store, id) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(landing = id, error = %e, "landing step failed; tried again later");
                let why = e.to_string();
                if let Err(e) = store.write(|tx| landings::attempted(tx, id, &why, now_ms())) {
                    tracing::warn!(landing = id, error = %e, "cannot record the failed attempt");
                }
                !matches!(e, StepError::Database(_))
            }
        };
        self.in_flight.done(id);
        ok
    }
}

/// The open landings and the landed ones not cleaned up, except those whose last attempt
/// failed less than [`retry_after`] ago and pull requests read less than their project's
/// `poll` ago; and how long until the first of those is due, ms (at most
/// [`IDLE_CHECK_MS`]).
///
/// # Errors
/// Store failures.
pub(super) fn due(
    cfg: &Config,
    store: &Store,
    now: i64,
) -> Result<(Vec<i64>, u64), crate::store::StoreError> {
    let mut open = landings::in_state(store.conn(), LandingState::Landing)?;
    open.extend(landings::uncleaned(store.conn())?);
    let in_review = landings::in_state(store.conn(), LandingState::InReview)?;
    let mut wait = IDLE_CHECK_MS;
    let mut ids = Vec::new();
    for l in open.into_iter().chain(in_review) {
        let at = if l.attempts > 0 {
            l.updated_at + retry_after(l.attempts)
        } else if l.state == LandingState::InReview {
            l.updated_at + pr::poll_ms(cfg, store.conn(), &l)?
        } else {
            0
        };
        if at <= now {
            ids.push(l.id);
        } else {
            wait = wait.min(u64::try_from(at - now).unwrap_or(0));
        }
    }
    Ok((ids, wait))
}

/// How often landings are looked for without a database change, ms (60 s).
pub(super) const IDLE_CHECK_MS: u64 = 60_000;

/// How long after its `attempts`-th failed attempt a landing step is tried again, ms: 5 s
/// doubling, at most 5 min.
pub(super) fn retry_after(attempts: i64) -> i64 {
    let shift = u32::try_from(attempts.clamp(1, 7) - 1).unwrap_or(0);
    (5_000_i64 << shift).min(300_000)
}

/// Why a landing step stopped short (it is tried again after its backoff).
#[derive(Debug, thiserror::Error)]
enum StepError {
    /// The database failed: the lane's connection may be unusable.
    #[error("database: {0}")]
    Database(String),
    /// Anything else (git, a project's unreadable settings).
    #[error("{0}")]
    Other(String),
}

impl From<String> for StepError {
    fn from(e: String) -> StepError {
        StepError::Other(e)
    }
}

fn db(e: impl std::fmt::Display) -> StepError {
    StepError::Database(e.to_string())
}

/// The landing's base branch: as recorded, or the repository's default branch.
fn base_of(repo: &Path, l: &landings::Landing) -> Result<String, StepError> {
    if l.base.is_empty() {
        Ok(git::default_branch(repo).map_err(|e| e.to_string())?)
    } else {
        Ok(l.base.clone())
    }
}

/// Takes landing `id` one step: merges it or opens its pull request if it is `landing`,
/// reads its pull request if it is `in_review`, then cleans up if it landed.
fn land(cfg: &Config, store: &Store, id: i64) -> Result<(), StepError> {
    let l = landings::get(store.conn(), id).map_err(db)?;
    let input = match (l.state, l.mode == LandMode::Merge.as_str()) {
        (LandingState::Landing, true) => {
            let result = merge::merge(cfg, store, &l)?;
            crate::crash::point("land_merged");
            Some(Input::Landed {
                landing: id,
                result,
            })
        }
        (LandingState::Landing, false) => Some(pr::open(cfg, store, &l)?),
        (LandingState::InReview, _) => pr::follow(cfg, store, &l)?,
        _ => None,
    };
    if let Some(input) = input {
        let outcome = Engine::new(cfg, store).handle(input).map_err(db)?;
        tracing::info!(landing = id, ?outcome, "landing recorded");
    }
    let l = landings::get(store.conn(), id).map_err(db)?;
    if l.state == LandingState::Landed && l.cleaned_at.is_none() {
        crate::crash::point("land_cleanup");
        clean_up(cfg, store, &l)?;
    }
    Ok(())
}

/// Removes a landed task's worktree (refused when dirty: kept, saying why) and deletes its
/// branch when `delete_branch` and it is integrated into the base; records it.
fn clean_up(cfg: &Config, store: &Store, l: &landings::Landing) -> Result<(), StepError> {
    let task = tasks::get(store.conn(), l.task_id).map_err(db)?;
    let project = projects::get(store.conn(), task.project_id).map_err(db)?;
    let land = cfg
        .land
        .for_project(project.land.as_deref())
        .map_err(|e| e.to_string())?;
    let repo = Path::new(&project.path);
    let mut done = Vec::new();
    let mut kept = Vec::new();
    if let Some(wt) = task.worktree.as_deref() {
        match git::remove_task_worktree(repo, Path::new(wt)) {
            Ok(_) => done.push("worktree removed".to_string()),
            Err(e) => kept.push(format!(
                "worktree kept: {}",
                crate::text::plain(&e.to_string())
            )),
        }
    }
    if land.delete_branch {
        let mut base = base_of(repo, l)?;
        if l.mode == LandMode::Pr.as_str() {
            // The forge merged it: the base to compare with is the remote's, fetched.
            git::fetch(repo, &land.remote, &base).map_err(|e| e.to_string())?;
            base = format!("refs/remotes/{}/{base}", land.remote);
        }
        match git::delete_branch(repo, &l.branch, &base) {
            Ok(how) => done.push(format!("branch {} deleted ({})", l.branch, how.as_str())),
            Err(e) => kept.push(format!(
                "branch kept: {}",
                crate::text::plain(&e.to_string())
            )),
        }
        if l.mode == LandMode::Pr.as_str() {
            match git::delete_remote_branch(repo, &land.remote, &l.branch) {
                Ok(true) => done.push(format!("{} deleted on {}", l.branch, land.remote)),
                Ok(false) => {}
                Err(e) => kept.push(format!(
                    "{} kept on {}: {}",
                    l.branch,
                    land.remote,
                    crate::text::plain(&e.to_string())
                )),
            }
        }
    }
    let note = (!kept.is_empty()).then(|| kept.join("; "));
    let mut all = done;
    all.extend(kept);
    let message = format!("{} cleaned up: {}", task.key, all.join("; "));
    store
        .write(|tx| {
            landings::cleaned(tx, l.id, note.as_deref(), now_ms())?;
            events::record(
                tx,
                EventKind::CleanedUp,
                About::task(task.id),
                "lander",
                message.as_str(),
                now_ms(),
            )
        })
        .map_err(db)?;
    Ok(())
}
