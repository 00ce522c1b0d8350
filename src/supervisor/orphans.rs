//! No run outlives its task (issue 18): at start, before anything is claimed, every process
//! of a run that must not go on is stopped — runs whose job was cancelled, failed or
//! finished while no supervisor ran, runs lost with their pane (whose detached processes
//! live on), and any other process that carries this database's mark for a run that is not
//! re-adopted.
//!
//! A run's processes are found by its pane's process tree and by their environment: every
//! pane gets `BOSUN_RUN_ID=<id>` and `BOSUN_DB=<database path>`, which together name the run
//! without any secret (the store keeps only a hash of each hook token).

use std::collections::{BTreeMap, HashSet};

use super::*;
use crate::pipeline::Recovery;

/// The database's path as every pane's `BOSUN_DB` gives it: canonical (symlinks and `..`
/// resolved, so every supervisor of the file names it alike), else absolute.
pub(super) fn db_identity(db: &Path) -> PathBuf {
    db.canonicalize()
        .or_else(|_| std::path::absolute(db))
        .unwrap_or_else(|_| db.to_path_buf())
}

/// The environment entry naming the database a run's processes belong to:
/// `BOSUN_DB=<path>` (as `launch` puts it in every pane's environment, [`db_identity`]).
pub(super) fn db_entry(db: &Path) -> String {
    format!(
        "{}={}",
        crate::config::paths::DB_ENV,
        db_identity(db).display()
    )
}

/// The marks of run `run_id`'s processes (see [`crate::tmux::process::terminate_marked`]):
/// `BOSUN_RUN_ID` with the database's entry. No secret is needed: the store keeps only a
/// hash of each hook token.
pub(crate) fn marks(db: &Path, run_id: i64) -> Vec<Vec<String>> {
    vec![vec![format!("BOSUN_RUN_ID={run_id}"), db_entry(db)]]
}

/// What is left of a run to stop: its pane's pid (0 when the pane is gone), the marks of its
/// processes, and its pane to kill.
type Leftover = (u32, Vec<Vec<String>>, Option<String>);

impl Supervisor {
    /// Stops, and waits for, every process of the runs `report` ended or lost and of any run
    /// not re-adopted whose processes still carry this database's mark; kills their panes.
    /// Returns the ids of the runs whose pane it killed (their windows need no other close).
    ///
    /// # Errors
    /// Store failures. A `/proc` that cannot be read is logged (the runs' pane trees are
    /// still stopped).
    pub(super) fn stop_leftovers(
        &mut self,
        report: &Recovery,
        panes: &HashMap<String, PaneState>,
    ) -> Result<HashSet<i64>> {
        let keep: HashSet<i64> = report
            .readopted
            .iter()
            .chain(&report.completing)
            .copied()
            .collect();
        let mut ids: HashSet<i64> = report.ended.iter().chain(&report.lost).copied().collect();
        let db = self.store.path().to_path_buf();
        match crate::tmux::process::carriers(&db_entry(&db), "BOSUN_RUN_ID") {
            Ok(found) => {
                for (pid, run) in found {
                    match run.parse::<i64>() {
                        Ok(id) if !keep.contains(&id) => {
                            tracing::info!(run = id, pid, "a process of a run that ended lives on");
                            ids.insert(id);
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for the processes of ended runs"),
        }
        let mut targets: BTreeMap<i64, Leftover> = BTreeMap::new();
        for id in &ids {
            let run = match runs::get(self.store.conn(), *id) {
                Ok(r) => r,
                Err(StoreError::NotFound { .. }) => {
                    targets.insert(*id, (0, marks(&db, *id), None));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            // Its pane, when it is on this supervisor's tmux server (pane ids repeat across
            // servers).
            let pane = run
                .pane_id
                .as_deref()
                .filter(|_| run.socket.as_deref().is_none_or(|s| s == self.opts.socket))
                .and_then(|p| panes.get(p));
            // A dead pane's pid may belong to another process by now: its children still
            // carry the run's marks.
            let pid = pane.filter(|p| !p.dead).map_or(0, |p| p.pid);
            targets.insert(*id, (pid, marks(&db, *id), pane.map(|p| p.pane_id.clone())));
        }
        let mut closed = HashSet::new();
        if targets.is_empty() {
            return Ok(closed);
        }
        let grace = self.cfg.supervisor.kill_grace;
        let (store, me, every) = (&self.store, &self.lease, self.opts.heartbeat_every);
        // In parallel: each may wait out the kill grace; all are done before the first claim.
        // The lease is heartbeaten meanwhile: a wait past 5 heartbeats would let another
        // supervisor take it as stale.
        std::thread::scope(|s| {
            let mut stopping = Vec::new();
            for (id, (pid, marks, _)) in &targets {
                stopping.push(s.spawn(move || {
                    match crate::tmux::process::terminate_marked(*pid, marks, grace) {
                        Ok(left) if left.is_empty() => {
                            tracing::info!(run = id, "stopped the processes of an ended run");
                        }
                        Ok(left) => {
                            tracing::error!(run = id, survivors = ?left, "processes survived SIGKILL");
                        }
                        Err(e) => {
                            tracing::warn!(run = id, error = %e, "cannot stop the run's processes");
                        }
                    }
                }));
            }
            let mut next_beat = Instant::now() + every;
            while !stopping.iter().all(|h| h.is_finished()) {
                if Instant::now() >= next_beat {
                    next_beat += every;
                    if let Err(e) = store.write(|tx| lease::heartbeat(tx, me, now_ms())) {
                        tracing::warn!(error = %e, "cannot heartbeat the lease");
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        for (id, (_, _, pane)) in targets {
            let Some(pane) = pane else { continue };
            if let Err(e) = self.tmux.kill_pane(&pane) {
                tracing::debug!(run = id, error = %e, "pane already gone");
            }
            closed.insert(id);
        }
        Ok(closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_marked_by_its_id_with_its_database() {
        assert_eq!(
            marks(Path::new("/data/b.db"), 7),
            vec![vec![
                "BOSUN_RUN_ID=7".to_string(),
                "BOSUN_DB=/data/b.db".to_string()
            ]]
        );
    }
}
