//! Start-up reconciliation: live runs are re-adopted, lost ones requeued or failed.

use super::*;

impl Supervisor {
    /// Re-adopts live runs, fails or requeues lost ones.
    pub(super) fn reconcile(&mut self) -> Result<()> {
        let panes: HashMap<String, PaneState> = self
            .tmux
            .list_panes()?
            .into_iter()
            .map(|p| (p.pane_id.clone(), p))
            .collect();
        let alive = |run: &Run| {
            run.pane_id
                .as_deref()
                .and_then(|p| panes.get(p))
                .is_some_and(|p| !p.dead)
        };
        let report = self.engine().recover(alive)?;
        tracing::info!(?report, "reconciled after start");
        // Decisions taken while no supervisor ran are carried out before anything is claimed.
        let stopped = self.stop_leftovers(&report, &panes)?;
        self.release_ended_claims()?;
        for run_id in &report.completing {
            self.resume_completion(*run_id, &panes)?;
        }
        for run_id in report.readopted {
            let run = runs::get(self.store.conn(), run_id)?;
            let Some(pane) = run.pane_id.as_deref().and_then(|p| panes.get(p)).cloned() else {
                continue;
            };
            if let Err(e) = self.readopt(&run, &pane) {
                tracing::warn!(run = run_id, error = %e, "cannot re-adopt run");
                self.fail(
                    run_id,
                    &format!("cannot re-adopt after restart: {e}"),
                    None,
                    false,
                )?;
            }
        }
        self.close_leftover_windows(&panes, &stopped)?;
        self.remove_leftover_homes(&panes);
        Ok(())
    }

    /// Removes the Gemini CLI homes (`runs/<run>.gemini-home`) of runs not watched whose pane
    /// is gone: a supervisor that died before it closed their window left them behind. Those
    /// with a pane still there go when that window is closed.
    fn remove_leftover_homes(&self, panes: &HashMap<String, PaneState>) {
        let runs_dir = self.opts.data_dir.join("runs");
        for entry in std::fs::read_dir(&runs_dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".gemini-home"))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            if self.runs.contains_key(&id) {
                continue;
            }
            let alive = runs::get(self.store.conn(), id).is_ok_and(|r| {
                r.pane_id
                    .as_deref()
                    .and_then(|p| panes.get(p))
                    .is_some_and(|p| !p.dead)
            });
            if !alive {
                crate::provider::wiring::layer::remove_run_home(&runs_dir, id);
            }
        }
    }

    /// Finishes the completion of a run whose turn was recorded done when the last
    /// supervisor stopped: commit, gates, decision, exit command, window closed — on its own
    /// thread, as a fresh completion would be.
    fn resume_completion(&mut self, run_id: i64, panes: &HashMap<String, PaneState>) -> Result<()> {
        let run = runs::get(self.store.conn(), run_id)?;
        let task = tasks::get(self.store.conn(), run.task_id)?;
        let provider = self.provider(&run.provider)?;
        let pane = run.pane_id.clone().unwrap_or_default();
        let pid = panes.get(&pane).map(|p| p.pid);
        tracing::info!(
            run = run_id,
            "resuming the completion of a run whose turn was done"
        );
        let work = super::finish::Completion {
            run_id,
            task_key: task.key.clone(),
            worktree: PathBuf::from(task.worktree.clone().unwrap_or_default()),
            pane,
            exit_command: pid.and(provider.exit_command.clone()),
            submit_keys: provider.submit_keys.clone(),
            final_message: run.final_message.clone(),
            cfg: self.cfg.clone(),
            tmux: self.tmux.clone(),
            close_after: pid.map(|p| (p, self.opts.exit_grace, self.cfg.supervisor.kill_grace)),
            runs_dir: self.opts.data_dir.join("runs"),
            closes: self.closes.handle(),
        };
        self.completions.submit(work);
        Ok(())
    }

    /// Closes the windows (`<key>-<stage>-r<run>`) of runs that have ended but whose pane is
    /// still there: a supervisor that died within `exit_grace` of a run's end, or before it
    /// closed a failed run's window, leaves them behind.
    fn close_leftover_windows(
        &self,
        panes: &HashMap<String, PaneState>,
        stopped: &std::collections::HashSet<i64>,
    ) -> Result<()> {
        for p in panes.values().filter(|p| p.session == self.opts.session) {
            let Some(run_id) = run_of_window(&p.window_name) else {
                continue;
            };
            if self.runs.contains_key(&run_id) || stopped.contains(&run_id) {
                continue;
            }
            let ended = match runs::get(self.store.conn(), run_id) {
                // Its pane recorded, or never recorded (the supervisor died between making
                // the window and recording it).
                Ok(r) => {
                    r.ended_at.is_some()
                        && r.pane_id
                            .as_deref()
                            .is_none_or(|id| id == p.pane_id.as_str())
                }
                Err(_) => false,
            };
            if ended {
                tracing::info!(run = run_id, pane = %p.pane_id, "closing the window of an ended run");
                self.close_pane(super::finish::Close {
                    tmux: self.tmux.clone(),
                    pid: p.pid,
                    pane: p.pane_id.clone(),
                    grace: self.cfg.supervisor.kill_grace,
                    run_id,
                    marks: super::orphans::marks(self.store.path(), run_id),
                    runs_dir: self.opts.data_dir.join("runs"),
                    not_before: None,
                    usage: Some((self.cfg.clone(), self.store.path().to_path_buf())),
                });
            }
        }
        Ok(())
    }

    pub(super) fn readopt(&mut self, run: &Run, pane: &PaneState) -> Result<()> {
        let job_id = run.job_id.unwrap_or_default();
        let job = jobs::get(self.store.conn(), job_id)?;
        let task = tasks::get(self.store.conn(), run.task_id)?;
        let provider = self.provider(&job.provider)?;
        let worktree = PathBuf::from(task.worktree.clone().unwrap_or_default());
        let log_path = PathBuf::from(run.log_path.clone().unwrap_or_default());
        let mut log = File::open(&log_path).map_err(|source| SupervisorError::Io {
            what: "cannot open the run log",
            path: log_path.clone(),
            source,
        })?;
        log.seek(SeekFrom::End(0))
            .map_err(|source| SupervisorError::Io {
                what: "cannot seek the run log",
                path: log_path.clone(),
                source,
            })?;
        let capture = self.tmux.capture(&pane.pane_id, true)?;
        let timeout = timeout_of(&self.cfg, &job);
        let elapsed = Duration::from_millis(u64::try_from(now_ms() - run.started_at).unwrap_or(0));
        let now = Instant::now();
        let calls = hook_rows::for_run(self.store.conn(), run.id)?;
        // A message turn resumes like the prompt's: pasted, not submitted → submit.
        let delivering = self.resume_delivery(run.id)?;
        let last_delivery = crate::store::messages::last_delivery(self.store.conn(), run.id)?;
        // Only the calls of the current turn: the one the last delivered message started.
        let this_turn = |at: i64| last_delivery.is_none_or(|d| at >= d);
        let resume = machine::Resume {
            prompt_pasted: run.prompt_sent_at.is_some(),
            prompt_submitted: run.submitted_at.is_some(),
            prompt_hook_seen: calls
                .iter()
                .any(|h| h.event == crate::store::hooks::HookEvent::UserPromptSubmit),
            delivering,
            hooks: calls
                .iter()
                .filter(|c| this_turn(c.at))
                .filter_map(|c| Some((hooks::signal(c)?, c.detail.clone())))
                .collect(),
            status: run.status,
        };
        if resume.prompt_pasted && !resume.prompt_submitted {
            tracing::info!(
                run = run.id,
                "re-adopted between paste and submit; submitting unless the agent took it"
            );
        }
        let prompt = self.render_prompt(&job, &task, &worktree);
        let machine = machine::RunMachine::readopted(
            provider.clone(),
            (pane.height, pane.width),
            &capture,
            prompt,
            self.timing(),
            (timeout, elapsed),
            resume,
            now,
        );
        self.runs.insert(
            run.id,
            Active {
                run_id: run.id,
                job_id,
                task_key: task.key.clone(),
                pane: pane.pane_id.clone(),
                pid: pane.pid,
                worktree,
                second: super::second::Second::new(&provider),
                log_path,
                log,
                launched: now,
                machine,
            },
        );
        Ok(())
    }
}

/// The run id in a run window's name (`<key>-<stage>-r<run>`).
fn run_of_window(name: &str) -> Option<i64> {
    let (_, id) = name.rsplit_once("-r")?;
    id.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_windows_are_named_after_their_run() {
        assert_eq!(super::run_of_window("ET-001-analysis-r12"), Some(12));
        assert_eq!(super::run_of_window("ET-001-code-review-r3"), Some(3));
        assert_eq!(super::run_of_window("bash"), None);
        assert_eq!(super::run_of_window("x-rabc"), None);
    }
}
