//! Ending runs: completion (commit, gates, exit command on its own thread), failure,
//! closing panes, and the liveness check that notices exits and vanished panes.

use super::*;

impl Supervisor {
    /// A completed turn: its completion (commit, gates, exit command) is handed to the
    /// completion workers at the end of this tick, after the turn is recorded done
    /// ([`Supervisor::flush_completions`]).
    pub(super) fn complete(&mut self, id: i64, final_message: Option<String>) {
        let Some(run) = self.runs.get(&id) else {
            return;
        };
        let provider = run.machine.provider();
        let work = Completion {
            run_id: id,
            task_key: run.task_key.clone(),
            worktree: run.worktree.clone(),
            pane: run.pane.clone(),
            exit_command: provider.exit_command.clone(),
            submit_keys: provider.submit_keys.clone(),
            final_message,
            cfg: self.cfg.clone(),
            tmux: self.tmux.clone(),
            close_after: None,
            runs_dir: self.opts.data_dir.join("runs"),
            closes: self.closes.handle(),
        };
        self.finishing.push(work);
    }

    /// A run whose job was cancelled (or otherwise taken away) while it ran: the engine
    /// records its end, and its processes are stopped.
    ///
    /// # Errors
    /// Engine failures.
    pub(super) fn cancelled(&mut self, id: i64) -> Result<()> {
        let outcome = self.engine().handle(Input::RunFinished {
            run_id: id,
            result: RunResult::Completed {
                final_message: None,
            },
        })?;
        tracing::info!(
            run = id,
            ?outcome,
            "job no longer running; stopping its run"
        );
        if let Some(run) = self.runs.remove(&id) {
            self.close(&run);
        }
        Ok(())
    }

    /// Records the turns completed this tick as done, in one transaction (the first recorded
    /// step of a completion: from here on a restart finishes the completion instead of running
    /// the stage again), then hands them to the `completion` lane.
    ///
    /// # Errors
    /// Store failures (the completions stay queued here for the next tick).
    pub(super) fn flush_completions(&mut self) -> Result<()> {
        if self.finishing.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let done: Vec<(i64, Option<String>)> = self
            .finishing
            .iter()
            .map(|c| (c.run_id, c.final_message.clone()))
            .collect();
        self.store.write(|tx| {
            for (id, message) in &done {
                runs::set_turn_done(tx, *id, message.as_deref(), now)?;
            }
            Ok::<_, StoreError>(())
        })?;
        crate::crash::point("turn_done");
        for work in self.finishing.drain(..) {
            self.completions.submit(work);
        }
        Ok(())
    }

    /// Fails a run: the engine classifies it (transient or permanent) and requeues or
    /// blocks; the pane's process tree is stopped and the window closed.
    pub(super) fn fail(
        &mut self,
        id: i64,
        reason: &str,
        exit_code: Option<i64>,
        timed_out: bool,
    ) -> Result<()> {
        let tail = self.log_tail(id);
        self.fail_with_tail(id, reason, tail, exit_code, timed_out)
    }

    /// Loses a run to an infrastructure failure (its pane or the tmux server gone, tmux
    /// unreachable): requeued on the infrastructure budget, never the agent's attempts.
    pub(super) fn lose(&mut self, id: i64, reason: &str) -> Result<()> {
        let outcome = self.engine().handle(Input::RunFinished {
            run_id: id,
            result: RunResult::Lost {
                reason: reason.to_string(),
            },
        })?;
        tracing::warn!(run = id, reason, ?outcome, "run lost");
        if let Some(run) = self.runs.remove(&id) {
            self.close(&run);
        }
        Ok(())
    }

    /// The end of a watched run's output log (empty if it is not watched).
    pub(super) fn log_tail(&self, id: i64) -> String {
        self.runs
            .get(&id)
            .map(|r| read_tail(&r.log_path.to_string_lossy()))
            .unwrap_or_default()
    }

    pub(super) fn fail_with_tail(
        &mut self,
        id: i64,
        reason: &str,
        log_tail: String,
        exit_code: Option<i64>,
        timed_out: bool,
    ) -> Result<()> {
        let outcome = self.engine().handle(Input::RunFinished {
            run_id: id,
            result: RunResult::Failed {
                reason: reason.to_string(),
                log_tail,
                exit_code,
                timed_out,
            },
        })?;
        tracing::info!(run = id, reason, ?outcome, "run failed");
        if let Some(run) = self.runs.remove(&id) {
            self.close(&run);
        }
        Ok(())
    }

    /// Stops a run's process tree and closes its pane. Termination waits up to the kill
    /// grace, so it runs on the `close` lane.
    pub(super) fn close(&self, run: &Active) {
        self.close_pane(Close {
            tmux: self.tmux.clone(),
            pid: run.pid,
            pane: run.pane.clone(),
            grace: self.cfg.supervisor.kill_grace,
            run_id: run.run_id,
            marks: super::orphans::marks(self.store.path(), run.run_id),
            runs_dir: self.opts.data_dir.join("runs"),
            not_before: None,
            usage: Some((self.cfg.clone(), self.store.path().to_path_buf())),
        });
    }

    /// Hands `close` to the `close` lane: queued, never waited for.
    pub(super) fn close_pane(&self, close: Close) {
        self.closes.submit(close);
    }

    /// Judges the runs by one `list-panes -a` snapshot of every pane, taken on the tmux
    /// thread (`offload`): exits, vanished panes, resized panes; and looks for cancelled
    /// jobs. Runs launched after the snapshot was asked for wait for the next one.
    ///
    /// # Errors
    /// [`SupervisorError::Tmux`] when tmux could not list its panes; store failures.
    pub(super) fn check_liveness(&mut self, snapshot: offload::Snapshot) -> Result<()> {
        if self.runs.is_empty() {
            return Ok(());
        }
        let panes: HashMap<String, PaneState> = snapshot
            .panes?
            .into_iter()
            .map(|p| (p.pane_id.clone(), p))
            .collect();
        let running = jobs::running_ids(self.store.conn())?;
        let ids: Vec<i64> = self.runs.keys().copied().collect();
        for id in ids {
            let Some(run) = self.runs.get_mut(&id) else {
                continue;
            };
            if run.launched > snapshot.asked {
                continue;
            }
            let now = Instant::now();
            if !running.contains(&run.job_id) {
                self.step(id, machine::Event::JobGone, now)?;
                if !self.runs.contains_key(&id) {
                    continue;
                }
            }
            let Some(run) = self.runs.get_mut(&id) else {
                continue;
            };
            match panes.get(&run.pane) {
                Some(p) => {
                    if p.dead {
                        // Drain what is left of its output first.
                        pump(run, now, true);
                    }
                    self.step(id, machine::Event::Pane(p), now)?;
                }
                None => self.step(id, machine::Event::PaneGone, now)?,
            }
        }
        Ok(())
    }
}

/// What finishing a completed run needs, moved to its own thread: committing the worktree
/// and the engine's gates (a command gate may run the test suite for minutes) must not stall
/// the loop that reads every other agent's screen.
pub(super) struct Completion {
    pub(super) run_id: i64,
    pub(super) task_key: String,
    pub(super) worktree: PathBuf,
    pub(super) pane: String,
    pub(super) exit_command: Option<String>,
    pub(super) submit_keys: Vec<String>,
    pub(super) final_message: Option<String>,
    pub(super) cfg: Config,
    pub(super) tmux: Tmux,
    /// For a completion resumed after a restart: (pane pid, exit grace, kill grace) to close
    /// the window with once done.
    pub(super) close_after: Option<(u32, Duration, Duration)>,
    /// Where the run's log and per-run files are (`<data dir>/runs`).
    pub(super) runs_dir: PathBuf,
    /// The `close` lane, for the window of a resumed completion.
    pub(super) closes: Option<std::sync::mpsc::Sender<Close>>,
}

impl Completion {
    /// Commit (idempotent: nothing to commit is fine), gates, decision, exit command, on a
    /// `completion` lane thread with its connection `store`. Failures are logged: the run stays open
    /// with its turn recorded done, so a restart finishes its completion (the gates may be
    /// evaluated again; the stage is not run again). False when the database failed.
    pub(super) fn run(self, store: &Store) -> bool {
        let id = self.run_id;
        let result = (|| -> Result<()> {
            let job = runs::get(store.conn(), id)?.job_id;
            let stage = match job {
                Some(j) => jobs::get(store.conn(), j)?.stage,
                None => String::new(),
            };
            let message = format!("{} {stage}: work of run {id} (bosun)", self.task_key);
            // A helper works next to the stage's agent: the stage's run commits both.
            let helper = match job {
                Some(j) => crate::store::helpers::of_job(store.conn(), j)?.is_some(),
                None => false,
            };
            if !helper {
                match crate::git::commit_all(&self.worktree, &message) {
                    Ok(Some(sha)) => tracing::info!(run = id, %sha, "committed the stage's work"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(run = id, error = %e, "cannot commit the worktree"),
                }
            }
            crate::crash::point("commit");
            // What the turn used, before the decision (and the notifications it makes).
            super::usage::record(&self.cfg, store, id)?;
            let outcome = Engine::new(&self.cfg, store).handle(Input::RunFinished {
                run_id: id,
                result: RunResult::Completed {
                    final_message: self.final_message.clone(),
                },
            })?;
            tracing::info!(run = id, ?outcome, "run completed");
            crate::crash::point("decision");
            Ok(())
        })();
        let healthy = !matches!(result, Err(SupervisorError::Store(_)));
        if let Err(e) = result {
            tracing::error!(run = id, error = %e, "completing the run failed");
        }
        if let Some(exit) = &self.exit_command {
            let keys: Vec<&str> = self.submit_keys.iter().map(String::as_str).collect();
            let sent = self
                .tmux
                .paste(&self.pane, exit)
                .and_then(|()| self.tmux.send_keys(&self.pane, &keys));
            if let Err(e) = sent {
                tracing::debug!(run = id, error = %e, "exit command not delivered");
            }
        }
        // A completion resumed after a restart has no watched run whose phase closes the
        // window: it closes it itself, after the exit grace.
        if let Some((pid, grace, kill_grace)) = self.close_after {
            let close = Close {
                tmux: self.tmux.clone(),
                pid,
                pane: self.pane.clone(),
                grace: kill_grace,
                run_id: id,
                marks: super::orphans::marks(store.path(), id),
                runs_dir: self.runs_dir.clone(),
                not_before: Some(Instant::now() + grace),
                usage: Some((self.cfg.clone(), store.path().to_path_buf())),
            };
            let sent = self.closes.as_ref().is_some_and(|q| q.send(close).is_ok());
            if !sent {
                tracing::error!(
                    run = id,
                    "no close lane; the window stays open until a restart"
                );
            }
        }
        healthy
    }
}

/// Threads of the `close` lane. Two, not one per close: a hundred runs ending at once made a
/// hundred threads scanning /proc every 20 ms, and the loop, sharing the process's memory
/// map and allocator with them, stalled up to 110 ms at a time (`BENCH_VERBOSE=1 cargo bench
/// --bench supervisor -- 100`). A close takes a few ms unless the agent ignores SIGTERM (then
/// up to the kill grace).
pub const CLOSE_WORKERS: usize = 2;

/// One pane to close: the run's pane process, its pane, the kill grace, the marks of the
/// run's processes (every process carrying one is stopped too: `orphans::marks`), and where
/// its per-run files are (its Gemini CLI home goes with the pane).
pub(super) struct Close {
    pub(super) tmux: Tmux,
    pub(super) pid: u32,
    pub(super) pane: String,
    pub(super) grace: Duration,
    pub(super) run_id: i64,
    pub(super) marks: Vec<Vec<String>>,
    pub(super) runs_dir: PathBuf,
    /// Not before this moment (a resumed completion's window waits out the exit grace).
    pub(super) not_before: Option<Instant>,
    /// The config and database to read the run's usage again with once its CLI is gone (it
    /// may write its record's last lines after the turn's closing hook).
    pub(super) usage: Option<(Config, PathBuf)>,
}

impl Close {
    /// Stops the run's processes and kills its pane (on the `close` lane).
    pub(super) fn run(self) {
        let run_id = self.run_id;
        if let Some(t) = self.not_before {
            std::thread::sleep(t.saturating_duration_since(Instant::now()));
        }
        // Every process that carries the run's marks in its environment goes too, also one
        // that left the pane's session (`setsid`).
        match crate::tmux::process::terminate_marked(self.pid, &self.marks, self.grace) {
            Ok(survivors) if !survivors.is_empty() => {
                tracing::error!(run = run_id, ?survivors, "processes survived SIGKILL");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(run = run_id, error = %e, "cannot stop the run's processes")
            }
        }
        crate::crash::point("window_close");
        if let Err(e) = self.tmux.kill_pane(&self.pane) {
            tracing::debug!(run = run_id, error = %e, "pane already gone");
        }
        crate::provider::wiring::layer::remove_run_home(&self.runs_dir, run_id);
        if let Some((cfg, db)) = &self.usage {
            let read = Store::open(db)
                .map_err(|e| e.to_string())
                .and_then(|store| {
                    super::usage::record(cfg, &store, run_id).map_err(|e| e.to_string())
                });
            if let Err(e) = read {
                tracing::warn!(run = run_id, error = %e, "cannot record the run's usage at its close");
            }
        }
    }
}
