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
        let mut detector = Detector::new(provider.clone(), pane.height, pane.width);
        detector.load_capture(&self.tmux.capture(&pane.pane_id, true)?);
        let timeout = self.timeout_of(&job);
        let elapsed = Duration::from_millis(u64::try_from(now_ms() - run.started_at).unwrap_or(0));
        let now = Instant::now();
        let phase = if run.prompt_sent_at.is_some() {
            Phase::Working
        } else {
            Phase::WaitReady { since: now }
        };
        let prompt = self.render_prompt(&job, &task, &worktree);
        // Hooks decide for a re-adopted run too: the calls it made (also those that came
        // while no supervisor was reading, such as a `Stop`) are applied again in order.
        let mut tracker = Tracker::resumed(
            self.opts.done_debounce,
            run.status,
            Self::hook_mode(&provider),
            now,
        );
        let mut final_message = None;
        if run.prompt_sent_at.is_some() {
            for call in hook_rows::for_run(self.store.conn(), run.id)? {
                if let Some(signal) = hooks::signal(&call) {
                    if signal == HookSignal::Done && !tracker.is_complete() {
                        final_message = Some(call.detail.clone());
                    }
                    tracker.hook(signal);
                }
            }
        }
        self.runs.insert(
            run.id,
            Active {
                run_id: run.id,
                job_id,
                task_key: task.key.clone(),
                pane: pane.pane_id.clone(),
                pid: pane.pid,
                worktree,
                provider,
                prompt,
                log_path,
                log,
                detector,
                size: (pane.height, pane.width),
                tracker,
                phase,
                deadline: now + timeout.saturating_sub(elapsed),
                timeout,
                last_output: now,
                error_since: None,
                dead_since: None,
                fresh_output: true,
                quiet_checked: false,
                written: run.status,
                final_message,
                answering: None,
            },
        );
        Ok(())
    }
}
