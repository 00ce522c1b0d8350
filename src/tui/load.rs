//! Reading what the console shows, off the UI thread: database snapshots ([`snapshot`]), the
//! files awaiting judgement ([`judge`]) and the branch diff ([`diff`]). Each is a blocking
//! function the effect runner calls on a thread of its own.

use std::path::Path;

use std::collections::HashMap;

use super::spent::Spent;
use super::state::{Detail, DiffState, EVENTS, Judge, Snapshot, TaskRow, Want};
use crate::queue::Queue;
use crate::store::budgets;
use crate::store::{
    Store, StoreError, events, gates, jobs, messages, now_ms, projects, runs, tasks,
};

/// Bytes of an artifact shown in the Artifact view; longer files are cut with a note.
pub const MAX_ARTIFACT_BYTES: usize = 512 * 1024;

/// Reads one snapshot: every task with its latest run (those needing the operator first),
/// the queue, the `want`ed task's detail and the recent events.
///
/// # Errors
/// [`StoreError`] when the database cannot be read.
pub fn snapshot(store: &Store, queue: &Queue, want: &Want) -> Result<Snapshot, StoreError> {
    // One read transaction: every view of the snapshot shows the same moment.
    store.read(|c| snapshot_in(c, queue, want))
}

/// What each task's branch conflicts with, by the conflict radar: task id → the base's name
/// and the other tasks' keys.
fn radar_marks(
    c: &rusqlite::Connection,
    all: &[tasks::Task],
) -> Result<std::collections::HashMap<i64, Vec<String>>, StoreError> {
    let mut out: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    let pairs = crate::store::radar::conflicting(c)?;
    if pairs.is_empty() {
        return Ok(out);
    }
    let of = |project: i64, branch: &str| {
        all.iter()
            .find(|t| t.project_id == project && t.branch.as_deref() == Some(branch))
    };
    for p in &pairs {
        let a = of(p.project_id, &p.a);
        let b = of(p.project_id, &p.b);
        if let Some(b) = b {
            let other = a.map_or_else(|| p.a.clone(), |a| a.key.clone());
            out.entry(b.id).or_default().push(other);
        }
        if let (Some(a), Some(b)) = (a, b) {
            out.entry(a.id).or_default().push(b.key.clone());
        }
    }
    Ok(out)
}

fn snapshot_in(
    c: &rusqlite::Connection,
    queue: &Queue,
    want: &Want,
) -> Result<Snapshot, StoreError> {
    let now = now_ms();
    let latest = runs::latest_by_task(c)?;
    let mut helpers = crate::store::helpers::open_by_task(c)?;
    let all = tasks::list(c)?;
    let conflicts = radar_marks(c, &all)?;
    let mut spent: HashMap<i64, Spent> = HashMap::new();
    for (task_id, provider, model, u) in crate::store::usage::by_task(c)? {
        spent.entry(task_id).or_default().add(
            &queue.budget.prices,
            &provider,
            model.as_deref(),
            &u,
        );
    }
    let mut held: HashMap<i64, budgets::Over> =
        budgets::over(c, &queue.budget, budgets::day_start(now))?
            .into_iter()
            .map(|o| (o.task_id, o))
            .collect();
    let mut rows: Vec<TaskRow> = all
        .into_iter()
        .map(|task| TaskRow {
            run: latest.get(&task.id).cloned(),
            helpers: helpers.remove(&task.id).unwrap_or_default(),
            conflicts: conflicts.get(&task.id).cloned().unwrap_or_default(),
            spent: spent.get(&task.id).cloned().unwrap_or_default(),
            over_budget: held.contains_key(&task.id),
            task,
        })
        .collect();
    // Those needing the operator first (an agent waiting counts), stable otherwise.
    rows.sort_by_key(|r| !r.needs_operator());
    let selected = want
        .selected
        .as_ref()
        .and_then(|k| rows.iter().find(|r| r.task.key == *k))
        .map(|r| r.task.id);
    let detail = match selected {
        Some(id) => Detail {
            artifacts: {
                let mut files = want.artifacts.clone();
                // Where the gates look: the worktree, or the project before the task has one.
                let dir = match rows.iter().find(|r| r.task.id == id) {
                    Some(r) => match &r.task.worktree {
                        Some(w) => Some(w.clone()),
                        None => projects::get(c, r.task.project_id).ok().map(|p| p.path),
                    },
                    None => None,
                };
                crate::supervisor::prompt::look_up(&mut files, dir.as_deref().map(Path::new));
                files
            },
            task_id: Some(id),
            gates: gates::for_task(c, id)?,
            runs: runs::for_task(c, id)?,
            jobs: jobs::for_task(c, id)?,
            events: events::recent(c, Some(id), 200)?,
            messages: messages::list(c, Some(id), 100)?,
            landing: crate::store::landings::latest_for(c, id)?,
            issue: crate::store::intake::for_task(c, id)?,
            usage: crate::store::usage::for_task(c, id)?,
            cost: spent.remove(&id).and_then(|s| s.cost),
            over_budget: match held.remove(&id) {
                Some(o) => {
                    let t = tasks::get(c, id)?;
                    Some(o.describe(&t.key, &projects::get(c, t.project_id)?.name))
                }
                None => None,
            },
        },
        None => Detail::default(),
    };
    let filter = if want.events_for_task { selected } else { None };
    Ok(Snapshot {
        rows,
        queue: Some(queue.status(c, now, 200)?),
        detail,
        events: events::recent(c, filter, EVENTS)?,
        intake: want
            .intake
            .iter()
            .map(|s| {
                let row = crate::intake::status::Row {
                    webhook_secret_set: true,
                    token_set: true,
                    status: crate::store::intake::status(c, &s.name)?,
                    source: s.clone(),
                };
                Ok(crate::intake::status::line(&row, now))
            })
            .collect::<Result<_, StoreError>>()?,
        now,
    })
}

/// Reads the artifacts `paths` (relative to `worktree`) of task `task_id` at `version`.
pub fn judge(task_id: i64, version: i64, worktree: Option<&Path>, paths: &[String]) -> Judge {
    let files = paths
        .iter()
        .map(|p| {
            let text = match worktree {
                None => Err("the task has no worktree yet".to_string()),
                Some(w) => read_capped(w, p),
            };
            (p.clone(), text)
        })
        .collect();
    Judge {
        task_id,
        version,
        files,
    }
}

fn read_capped(worktree: &Path, rel: &str) -> Result<String, String> {
    match crate::untrusted::read(worktree, rel, MAX_ARTIFACT_BYTES) {
        Ok(c) => Ok(c.with_note()),
        Err(e) if e.is_missing() => Err("not written yet".to_string()),
        Err(e) => Err(format!("not shown: {e}")),
    }
}

/// The branch diff of task `task_id`: its worktree against the project's default branch
/// (or the repository's current branch when the project names none), and whether its branch
/// merges into the base it lands on (`git merge-tree`, nothing written to any checkout).
pub fn diff(db: &Path, task_id: i64, land: &crate::config::land::LandConfig) -> DiffState {
    let merge = merge_words(db, task_id, land);
    let result = (|| -> Result<crate::git::diff::BranchDiff, String> {
        let store = Store::open(db).map_err(|e| e.to_string())?;
        let task = tasks::get(store.conn(), task_id).map_err(|e| e.to_string())?;
        let Some(worktree) = task.worktree.as_deref() else {
            return Err(format!(
                "{} has no worktree yet: no agent has run",
                task.key
            ));
        };
        let project = projects::get(store.conn(), task.project_id).map_err(|e| e.to_string())?;
        let base = match &project.default_branch {
            Some(b) => b.clone(),
            None => crate::git::head_branch(Path::new(&project.path)).map_err(|e| e.to_string())?,
        };
        crate::git::diff::branch_diff(Path::new(worktree), &base).map_err(|e| e.to_string())
    })();
    let lines = match &result {
        Ok(d) => d.text.lines().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    };
    DiffState {
        task_id,
        result,
        lines,
        merge,
    }
}

/// "merges cleanly into main (squash)" or "conflicts with main in a.txt, b.txt" for task
/// `task_id`'s branch and the base its project lands on; `None` without a branch or a base.
fn merge_words(db: &Path, task_id: i64, land: &crate::config::land::LandConfig) -> Option<String> {
    let store = Store::open(db).ok()?;
    let task = tasks::get(store.conn(), task_id).ok()?;
    let branch = task.branch?;
    let project = projects::get(store.conn(), task.project_id).ok()?;
    let land = land.for_project(project.land.as_deref()).ok()?;
    let repo = Path::new(&project.path);
    let base = match land.base.or(project.default_branch) {
        Some(b) => b,
        None => crate::git::default_branch(repo).ok()?,
    };
    Some(match crate::git::conflicts(repo, &base, &branch) {
        Ok(None) => format!("merges cleanly into {base} ({})", land.strategy.as_str()),
        Ok(Some(c)) => format!("conflicts with {base} in {}", c.paths().join(", ")),
        Err(e) => format!("cannot tell whether it merges into {base}: {e}"),
    })
}
