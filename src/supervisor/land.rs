//! The lander: the `land` lane merges each open `merge` landing (a `pr` landing is refused
//! for now, saying what to do) into its project's base
//! branch (`git::land`: the operator's checkout untouched, the ref moved compare-and-set,
//! the project's test command run on the merged result first when `verify = true`), hands
//! the result to the engine (landed; or a conflict rolled back with its hunks as feedback, or
//! blocked), then cleans up: the task's worktree removed (kept when dirty, saying why) and its
//! branch deleted once integrated into the base.
//!
//! Every step is recorded before the next, and each is safe to repeat: a lander killed after
//! the base moved and before the landing was recorded finds the branch's change already in
//! the base on the next try (`git::land` then lands nothing and reports the base's tip), and
//! one killed before the cleanup was recorded cleans up on start (`landings::uncleaned`).
//! Crash points ([`crate::crash::LAND_POINTS`]): `land_merged` (the base moved, not
//! recorded), `land_cleanup` (landed and recorded, before the cleanup).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::config::land::LandMode;
use crate::git::{self, LandError, Strategy};
use crate::pipeline::transition::LandFailure;
use crate::pipeline::{Engine, Input, LandResult};
use crate::status::LandingState;
use crate::store::events::{self, About, EventKind};
use crate::store::{Store, landings, now_ms, projects, tasks};

/// How many times a landing whose base moved under it is tried again at once.
const BASE_MOVED_TRIES: u32 = 3;

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
/// failed less than [`retry_after`] ago; and how long until the first of those is due, ms
/// (at most [`IDLE_CHECK_MS`]).
///
/// # Errors
/// Store failures.
pub(super) fn due(store: &Store, now: i64) -> Result<(Vec<i64>, u64), crate::store::StoreError> {
    let mut open = landings::in_state(store.conn(), LandingState::Landing)?;
    open.extend(landings::uncleaned(store.conn())?);
    let mut wait = IDLE_CHECK_MS;
    let mut ids = Vec::new();
    for l in open {
        let at = if l.attempts == 0 {
            0
        } else {
            l.updated_at + retry_after(l.attempts)
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

/// Lands landing `id` if it is open, then cleans up if it landed.
fn land(cfg: &Config, store: &Store, id: i64) -> Result<(), StepError> {
    let l = landings::get(store.conn(), id).map_err(db)?;
    if l.state == LandingState::Landing {
        let result = merge(cfg, store, &l)?;
        crate::crash::point("land_merged");
        let outcome = Engine::new(cfg, store)
            .handle(Input::Landed {
                landing: id,
                result,
            })
            .map_err(db)?;
        tracing::info!(landing = id, ?outcome, "landing recorded");
    }
    let l = landings::get(store.conn(), id).map_err(db)?;
    if l.state == LandingState::Landed && l.cleaned_at.is_none() {
        crate::crash::point("land_cleanup");
        clean_up(cfg, store, &l)?;
    }
    Ok(())
}

/// Merges the landing's branch into its base: what the engine is told.
fn merge(cfg: &Config, store: &Store, l: &landings::Landing) -> Result<LandResult, StepError> {
    let task = tasks::get(store.conn(), l.task_id).map_err(db)?;
    if l.mode != LandMode::Merge.as_str() {
        return Ok(LandResult::Failed(LandFailure::Other {
            why: format!(
                "this bosun cannot open pull requests yet (mode = \"pr\"); push {} yourself, \
                 or `bosun task land {} --mode merge`",
                l.branch, task.key
            ),
        }));
    }
    let project = projects::get(store.conn(), task.project_id).map_err(db)?;
    let repo = Path::new(&project.path);
    let base = if l.base.is_empty() {
        git::default_branch(repo).map_err(|e| e.to_string())?
    } else {
        l.base.clone()
    };
    let strategy: Strategy = l.strategy.parse()?;
    let land = cfg
        .land
        .for_project(project.land.as_deref())
        .map_err(|e| e.to_string())?;
    let verify = match (land.verify, project.test_command.as_deref()) {
        (true, Some(cmd)) => Some(git::Verify {
            argv: vec!["sh".into(), "-c".into(), cmd.to_string()],
            timeout: cfg.supervisor.default_timeout,
        }),
        _ => None,
    };
    let message = format!(
        "{}: {}\n\nLanded by bosun ({}) from {}.",
        task.key,
        crate::text::plain(&task.title),
        strategy.as_str(),
        l.branch
    );
    let mut tries = 0;
    let failure = loop {
        tries += 1;
        match git::land(repo, &base, &l.branch, strategy, &message, verify.as_ref()) {
            Ok(landed) => {
                let note = landed.checked_out_at.as_ref().filter(|_| landed.checked_out_behind).map(|at| {
                    format!(
                        "the checkout of {base} at {} is now behind; `git -C {} merge --ff-only` \
                         or `git read-tree -m -u {} {}` keeps uncommitted edits",
                        at.display(),
                        at.display(),
                        landed.base_before,
                        landed.commit
                    )
                });
                return Ok(LandResult::Landed {
                    base,
                    commit: landed.commit,
                    note,
                });
            }
            Err(LandError::BaseMoved { .. }) if tries < BASE_MOVED_TRIES => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(LandError::Conflict(c)) => {
                break LandFailure::Conflict {
                    base: base.clone(),
                    files: c
                        .files
                        .iter()
                        .map(|f| crate::text::plain(&f.path))
                        .collect(),
                    hunks: c
                        .files
                        .iter()
                        .map(|f| format!("--- {}\n{}", f.path, f.hunks))
                        .map(|h| crate::text::plain_lines(&h))
                        .collect::<Vec<_>>()
                        .join("\n"),
                };
            }
            Err(LandError::VerifyFailed {
                output,
                exit,
                timed_out,
            }) => {
                let how = match (timed_out, exit) {
                    (true, _) => "timed out".to_string(),
                    (false, Some(c)) => format!("exited with {c}"),
                    (false, None) => "was killed".to_string(),
                };
                let last = crate::text::plain(output.lines().last().unwrap_or(""));
                break LandFailure::Other {
                    why: format!(
                        "the test command {how} on the merged result ({last}); {base} was \
                         not moved: fix on the branch, then `bosun task land {}`",
                        task.key
                    ),
                };
            }
            Err(e) => {
                break LandFailure::Other {
                    why: format!(
                        "landing into {base} failed: {}; fix it, then `bosun task land {}`",
                        crate::text::plain(&e.to_string()),
                        task.key
                    ),
                };
            }
        }
    };
    Ok(LandResult::Failed(failure))
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
        let base = if l.base.is_empty() {
            git::default_branch(repo).map_err(|e| e.to_string())?
        } else {
            l.base.clone()
        };
        match git::delete_branch(repo, &l.branch, &base) {
            Ok(how) => done.push(format!("branch {} deleted ({})", l.branch, how.as_str())),
            Err(e) => kept.push(format!(
                "branch kept: {}",
                crate::text::plain(&e.to_string())
            )),
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
