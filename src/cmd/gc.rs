//! `bosun gc [--dry-run]`: what tasks that are landed, cancelled or gone left behind —
//! worktrees, task branches, run logs older than `queue.prune_after` — listed and removed;
//! never anything of a live task (active, waiting for the operator, blocked, done on its
//! branch, landing or in review). A worktree holding uncommitted files is kept, saying which;
//! a branch is deleted only once it is integrated into its project's base branch (a cancelled
//! task's unmerged branch is the operator's to drop with `git branch -D`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::out::outln;
use super::{Ctx, print_json};
use crate::git;
use crate::status::TaskState;
use crate::store::{landings, now_ms, projects, runs, tasks};

/// One thing left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Leftover {
    /// A task's worktree directory.
    Worktree {
        /// The task, or `None` for a directory no task names.
        task: Option<String>,
        /// Why it is left over: `landed`, `cancelled`, `gone`.
        why: String,
        /// The directory.
        path: PathBuf,
        /// The project's repository.
        repo: PathBuf,
    },
    /// A task branch.
    Branch {
        /// The task, or `None` for a branch no task names.
        task: Option<String>,
        /// Why it is left over.
        why: String,
        /// The branch.
        branch: String,
        /// The project's repository.
        repo: PathBuf,
        /// The base to check integration against (empty: the default branch).
        base: String,
    },
    /// A run's log.
    Log {
        /// The task.
        task: String,
        /// The file.
        path: PathBuf,
    },
}

/// A task as gc sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The key.
    pub key: String,
    /// Its state.
    pub state: TaskState,
    /// Its worktree, if one was made.
    pub worktree: Option<PathBuf>,
    /// Its branch, if one was made.
    pub branch: Option<String>,
    /// Its project's repository.
    pub repo: PathBuf,
    /// The base it landed on (empty: the default branch).
    pub base: String,
}

/// Tasks whose leftovers go: landed or cancelled.
fn finished(state: TaskState) -> Option<&'static str> {
    match state {
        TaskState::Landed => Some("landed"),
        TaskState::Cancelled => Some("cancelled"),
        _ => None,
    }
}

/// What is left over, given the tasks, the worktree directories that exist, and each
/// repository's task branches. Pure: [`run`] gathers the inputs and removes.
pub fn plan(
    tasks: &[Seen],
    worktree_dirs: &[(PathBuf, PathBuf)],
    branches: &BTreeMap<PathBuf, Vec<String>>,
) -> Vec<Leftover> {
    let mut out = Vec::new();
    let named_worktrees: BTreeSet<&Path> =
        tasks.iter().filter_map(|t| t.worktree.as_deref()).collect();
    let named_branches: BTreeSet<(&Path, &str)> = tasks
        .iter()
        .filter_map(|t| Some((t.repo.as_path(), t.branch.as_deref()?)))
        .collect();
    for t in tasks {
        let Some(why) = finished(t.state) else {
            continue;
        };
        if let Some(path) = t
            .worktree
            .as_ref()
            .filter(|p| worktree_dirs.iter().any(|(d, _)| d == *p))
        {
            out.push(Leftover::Worktree {
                task: Some(t.key.clone()),
                why: why.into(),
                path: path.clone(),
                repo: t.repo.clone(),
            });
        }
        if let Some(branch) = t
            .branch
            .as_ref()
            .filter(|b| branches.get(&t.repo).is_some_and(|bs| bs.contains(b)))
        {
            out.push(Leftover::Branch {
                task: Some(t.key.clone()),
                why: why.into(),
                branch: branch.clone(),
                repo: t.repo.clone(),
                base: t.base.clone(),
            });
        }
    }
    for (dir, repo) in worktree_dirs {
        if !named_worktrees.contains(dir.as_path()) {
            out.push(Leftover::Worktree {
                task: None,
                why: "gone".into(),
                path: dir.clone(),
                repo: repo.clone(),
            });
        }
    }
    for (repo, bs) in branches {
        for b in bs {
            if !named_branches.contains(&(repo.as_path(), b.as_str())) {
                out.push(Leftover::Branch {
                    task: None,
                    why: "gone".into(),
                    branch: b.clone(),
                    repo: repo.clone(),
                    base: String::new(),
                });
            }
        }
    }
    out
}

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    leftover: Leftover,
    /// `removed`, `would remove`, or why it was kept.
    result: String,
}

pub(super) fn run(ctx: &Ctx, dry_run: bool, json: bool) -> Result<()> {
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    let data_dir = ctx.data_dir();
    let (seen, logs, projects) = store.read(|conn| {
        let projects: BTreeMap<i64, projects::Project> = projects::list(conn)?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let mut seen = Vec::new();
        let mut logs = Vec::new();
        let cutoff = now_ms() - i64::try_from(cfg.queue.prune_after.as_millis()).unwrap_or(0);
        for t in tasks::list(conn)? {
            let Some(p) = projects.get(&t.project_id) else {
                continue;
            };
            let base = landings::latest_for(conn, t.id)?
                .map(|l| l.base)
                .unwrap_or_default();
            if finished(t.state).is_some() {
                for r in runs::for_task(conn, t.id)? {
                    let old = r.ended_at.is_some_and(|e| e < cutoff);
                    if let (true, Some(log)) = (old, r.log_path.as_deref()) {
                        logs.push(Leftover::Log {
                            task: t.key.clone(),
                            path: PathBuf::from(log),
                        });
                    }
                }
            }
            seen.push(Seen {
                key: t.key.clone(),
                state: t.state,
                worktree: t.worktree.as_ref().map(PathBuf::from),
                branch: t.branch.clone(),
                repo: PathBuf::from(&p.path),
                base,
            });
        }
        Ok::<_, crate::store::StoreError>((seen, logs, projects))
    })?;
    // Worktree directories bosun made: <data dir>/worktrees/<project>/<KEY>.
    let projects_by_name: BTreeMap<String, PathBuf> = projects
        .into_values()
        .map(|p| (p.name, PathBuf::from(p.path)))
        .collect();
    let mut dirs = Vec::new();
    for (name, repo) in &projects_by_name {
        let root = data_dir.join("worktrees").join(name);
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push((entry.path(), repo.clone()));
            }
        }
    }
    let mut branches = BTreeMap::new();
    for repo in projects_by_name.values() {
        branches.insert(repo.clone(), git::task_branches(repo).unwrap_or_default());
    }
    let mut all = plan(&seen, &dirs, &branches);
    all.extend(logs.into_iter().filter(|l| match l {
        Leftover::Log { path, .. } => path.exists(),
        _ => true,
    }));
    let rows: Vec<Row> = all
        .into_iter()
        .map(|leftover| {
            let result = if dry_run {
                "would remove".to_string()
            } else {
                remove(&leftover)
            };
            Row { leftover, result }
        })
        .collect();
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("nothing left behind");
    }
    for r in &rows {
        let (what, task, why, target) = match &r.leftover {
            Leftover::Worktree {
                task, why, path, ..
            } => (
                "worktree",
                task.clone(),
                why.clone(),
                path.display().to_string(),
            ),
            Leftover::Branch {
                task, why, branch, ..
            } => ("branch", task.clone(), why.clone(), branch.clone()),
            Leftover::Log { task, path } => (
                "run log",
                Some(task.clone()),
                "older than queue.prune_after".into(),
                path.display().to_string(),
            ),
        };
        outln!(
            "{:<8} {:<10} {target} ({why}): {}",
            what,
            task.unwrap_or_else(|| "-".into()),
            r.result
        );
    }
    Ok(())
}

/// Removes one leftover; what happened, in words.
fn remove(l: &Leftover) -> String {
    let r = match l {
        Leftover::Worktree { path, repo, .. } => git::remove_task_worktree(repo, path)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Leftover::Branch {
            branch, repo, base, ..
        } => {
            let base = if base.is_empty() {
                git::default_branch(repo).unwrap_or_else(|_| "main".into())
            } else {
                base.clone()
            };
            git::delete_branch(repo, branch, &base)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Leftover::Log { path, .. } => std::fs::remove_file(path).map_err(|e| e.to_string()),
    };
    match r {
        Ok(()) => "removed".into(),
        Err(e) => format!("kept: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(key: &str, state: TaskState) -> Seen {
        Seen {
            key: key.into(),
            state,
            worktree: Some(PathBuf::from(format!("/wt/p/{key}"))),
            branch: Some(format!("bosun/{key}")),
            repo: PathBuf::from("/repo"),
            base: "main".into(),
        }
    }

    #[test]
    fn only_landed_cancelled_and_gone_tasks_leave_leftovers() {
        let tasks = [
            seen("ET-001", TaskState::Landed),
            seen("ET-002", TaskState::Cancelled),
            seen("ET-003", TaskState::Active),
            seen("ET-004", TaskState::Done),
            seen("ET-005", TaskState::Blocked),
        ];
        let dirs: Vec<(PathBuf, PathBuf)> = ["ET-001", "ET-002", "ET-003", "ET-004", "ET-009"]
            .iter()
            .map(|k| (PathBuf::from(format!("/wt/p/{k}")), PathBuf::from("/repo")))
            .collect();
        let branches = BTreeMap::from([(
            PathBuf::from("/repo"),
            ["ET-001", "ET-003", "ET-005", "ET-042"]
                .iter()
                .map(|k| format!("bosun/{k}"))
                .collect(),
        )]);
        let found: Vec<String> = plan(&tasks, &dirs, &branches)
            .iter()
            .map(|l| match l {
                Leftover::Worktree { task, why, .. } => {
                    format!("wt {} {why}", task.as_deref().unwrap_or("-"))
                }
                Leftover::Branch {
                    task, why, branch, ..
                } => {
                    format!("br {} {why} {branch}", task.as_deref().unwrap_or("-"))
                }
                Leftover::Log { .. } => "log".into(),
            })
            .collect();
        assert_eq!(
            found,
            [
                "wt ET-001 landed",
                "br ET-001 landed bosun/ET-001",
                "wt ET-002 cancelled",
                "wt - gone",
                "br - gone bosun/ET-042",
            ]
        );
    }
}
