//! A `merge` landing: the task's branch merged into its project's base branch in the
//! project's own repository (`git::land`: the operator's checkout untouched, the ref moved
//! compare-and-set, the project's test command run on the merged result first when
//! `verify = true`).

use std::path::Path;
use std::time::Duration;

use super::{StepError, base_of, db};
use crate::config::Config;
use crate::git::{self, LandError, Strategy};
use crate::pipeline::LandResult;
use crate::pipeline::transition::LandFailure;
use crate::store::{Store, landings, projects, tasks};

/// How many times a landing whose base moved under it is tried again at once.
const BASE_MOVED_TRIES: u32 = 3;

/// Merges the landing's branch into its base: what the engine is told.
pub(super) fn merge(
    cfg: &Config,
    store: &Store,
    l: &landings::Landing,
) -> Result<LandResult, StepError> {
    let task = tasks::get(store.conn(), l.task_id).map_err(db)?;
    let project = projects::get(store.conn(), task.project_id).map_err(db)?;
    let repo = Path::new(&project.path);
    let base = base_of(repo, l)?;
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
