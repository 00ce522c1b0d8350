//! The conflict radar, on its own lane: after a database change at most every [`EVERY`], and
//! at least every [`QUIET_EVERY`], for each project with tasks in flight, the tips of its base and task branches are read (one `git for-each-ref`). For each
//! branch whose tip or base moved, the paths it changed since it forked from the base, and
//! the paths the base changed since then, are read once with their blobs
//! (`git::changed_since_fork`; kept in [`Memory`]). Two sides can conflict only in a path
//! both changed to different contents, so only the pairs — every task against the base,
//! every two tasks (`git::radar`) — that have one are merged in memory (`git merge-tree
//! --write-tree`), and only when a tip moved since the stored result;
//! their conflicting files are stored (`store::radar`), and the results of pairs that share
//! nothing any more are dropped. At 100 agents each writing their own files, a pass runs one
//! `for-each-ref` and no merge. The board marks a conflicting task; `task show` lists the
//! files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::git;
use crate::status::TaskState;
use crate::store::{Store, now_ms, projects, radar, tasks};

/// The radar looks again no sooner than this after a database change (5 s).
pub(super) const EVERY: Duration = Duration::from_secs(5);

/// The radar looks at least this often (60 s): a base can move outside bosun.
pub(super) const QUIET_EVERY: Duration = Duration::from_secs(60);

/// What the radar keeps between passes: per (project, branch), the paths the branch and the
/// base changed since they forked, for the tips they were read at.
#[derive(Default)]
pub(super) struct Memory {
    forks: HashMap<(i64, String), Fork>,
}

struct Fork {
    tip: String,
    base_tip: String,
    /// Paths the branch changed since its fork, with their blobs on it.
    ours: BTreeMap<String, String>,
    /// Paths the base changed since then, with their blobs on it.
    theirs: BTreeMap<String, String>,
}

/// True when two sides changed a path to different contents: only then can they conflict.
fn overlap(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
    a.iter()
        .any(|(path, blob)| b.get(path).is_some_and(|other| other != blob))
}

/// One pass, handed to the `radar` lane; `busy` is cleared when it is done.
pub(super) struct Pass {
    pub(super) cfg: Config,
    pub(super) busy: Arc<AtomicBool>,
    pub(super) memory: Arc<Mutex<Memory>>,
}

impl Pass {
    /// Runs the pass with the lane's connection; failures are logged (the next pass tries
    /// again). False when the database failed.
    pub(super) fn run(self, store: &Store) -> bool {
        let mut memory = match self.memory.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let ok = match pass(&self.cfg, store, &mut memory) {
            Ok(n) => {
                if n > 0 {
                    tracing::debug!(pairs = n, "radar recomputed");
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "conflict radar pass failed");
                !matches!(e, PassError::Store(_))
            }
        };
        drop(memory);
        self.busy.store(false, Ordering::SeqCst);
        ok
    }
}

#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Git(#[from] git::GitError),
}

/// True for a task whose branch is still on its way: not landed, cancelled or done.
fn in_flight(state: TaskState) -> bool {
    !matches!(
        state,
        TaskState::Landed | TaskState::Cancelled | TaskState::Done
    )
}

/// One pass over every project; the number of pairs recomputed.
fn pass(cfg: &Config, store: &Store, memory: &mut Memory) -> Result<usize, PassError> {
    let mut recomputed = 0;
    let all = tasks::list(store.conn())?;
    memory.forks.retain(|(project, branch), _| {
        all.iter().any(|t| {
            t.project_id == *project && in_flight(t.state) && t.branch.as_deref() == Some(branch)
        })
    });
    for project in projects::list(store.conn())? {
        let branches: Vec<String> = all
            .iter()
            .filter(|t| t.project_id == project.id && in_flight(t.state))
            .filter_map(|t| t.branch.clone())
            .collect();
        let stored = radar::for_project(store.conn(), project.id)?;
        if branches.is_empty() {
            if !stored.is_empty() {
                store.write(|tx| {
                    for p in &stored {
                        radar::remove(tx, project.id, &p.a, &p.b)?;
                    }
                    Ok::<_, crate::store::StoreError>(())
                })?;
            }
            continue;
        }
        let repo = Path::new(&project.path);
        let land = cfg
            .land
            .for_project(project.land.as_deref())
            .unwrap_or_default();
        let base = match land.base.or(project.default_branch.clone()) {
            Some(b) => b,
            None => git::default_branch(repo)?,
        };
        let tips = git::branch_tips(repo)?;
        let Some(base_tip) = tips.get(&base).cloned() else {
            continue;
        };
        let mut watched: BTreeMap<String, String> = BTreeMap::new();
        watched.insert(base.clone(), base_tip.clone());
        for branch in &branches {
            let Some(tip) = tips.get(branch) else {
                continue;
            };
            let key = (project.id, branch.clone());
            let fresh = memory
                .forks
                .get(&key)
                .is_some_and(|f| f.tip == *tip && f.base_tip == base_tip);
            if !fresh {
                let ours = git::changed_since_fork(repo, &base_tip, tip)?;
                let theirs = git::changed_since_fork(repo, tip, &base_tip)?;
                memory.forks.insert(
                    key.clone(),
                    Fork {
                        tip: tip.clone(),
                        base_tip: base_tip.clone(),
                        ours,
                        theirs,
                    },
                );
            }
            // Only a branch with changes of its own can conflict.
            if memory.forks.get(&key).is_some_and(|f| !f.ours.is_empty()) {
                watched.insert(branch.clone(), tip.clone());
            }
        }
        let fork = |name: &str| memory.forks.get(&(project.id, name.to_string()));
        // The pairs that share a changed path: the only ones that can conflict.
        let pairs: Vec<git::radar::RadarPair> = git::radar::plan(&base, &BTreeMap::new(), &watched)
            .recompute
            .into_iter()
            .filter(|p| match (p.a == base, fork(&p.a), fork(&p.b)) {
                (true, _, Some(b)) => overlap(&b.ours, &b.theirs),
                (false, Some(a), Some(b)) => overlap(&a.ours, &b.ours),
                _ => false,
            })
            .collect();
        let mut results = Vec::new();
        for pair in &pairs {
            let same = stored.iter().any(|s| {
                s.a == pair.a
                    && s.b == pair.b
                    && s.a_tip == pair.key.a_tip
                    && s.b_tip == pair.key.b_tip
            });
            if same {
                continue;
            }
            let files = git::conflicts(repo, &pair.key.a_tip, &pair.key.b_tip)?
                .map(|c| c.paths().into_iter().map(str::to_string).collect())
                .unwrap_or_default();
            results.push(radar::Pair {
                project_id: project.id,
                a: pair.a.clone(),
                b: pair.b.clone(),
                a_tip: pair.key.a_tip.clone(),
                b_tip: pair.key.b_tip.clone(),
                files,
                computed_at: now_ms(),
            });
        }
        let gone: Vec<&radar::Pair> = stored
            .iter()
            .filter(|s| !pairs.iter().any(|p| p.a == s.a && p.b == s.b))
            .collect();
        if results.is_empty() && gone.is_empty() {
            continue;
        }
        recomputed += results.len();
        store.write(|tx| {
            for r in &results {
                radar::put(tx, r)?;
            }
            for g in &gone {
                radar::remove(tx, project.id, &g.a, &g.b)?;
            }
            Ok::<_, crate::store::StoreError>(())
        })?;
    }
    Ok(recomputed)
}
