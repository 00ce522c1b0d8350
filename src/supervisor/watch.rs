//! Watching runs: hook calls, output read into the emulator and classified, and each run
//! moved along its phases (ready → pasted → submitted → working → exiting).

use super::*;

impl Supervisor {
    /// Applies what was recorded since the last tick to the runs' trackers: the agents'
    /// hook calls (a `StopFailure` fails its run at once, with the agent's error as the
    /// reason) and the operator's answers (from any process: `bosun answer`, a console).
    pub(super) fn read_hooks(&mut self, now: Instant) -> Result<()> {
        if self.runs.is_empty() {
            return Ok(());
        }
        for e in events::after(self.store.conn(), self.event_cursor)? {
            self.event_cursor = e.id;
            if e.kind != EventKind::Answered {
                continue;
            }
            let Some(run) = e.run_id.and_then(|id| self.runs.get_mut(&id)) else {
                continue;
            };
            let yes = e
                .data
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|v| v["yes"].as_bool())
                .unwrap_or(true);
            let screen = run.detector.text();
            run.tracker.answer_sent(&screen, yes, now);
        }
        let calls = hook_rows::since(self.store.conn(), self.hook_cursor)?;
        let mut failed = Vec::new();
        for call in calls {
            self.hook_cursor = call.id;
            let Some(run) = self.runs.get_mut(&call.run_id) else {
                continue;
            };
            let Some(signal) = hooks::signal(&call) else {
                continue;
            };
            tracing::debug!(run = call.run_id, hook = %call.event, "hook applied");
            run.second.hook_came();
            if run.tracker.is_complete() {
                continue;
            }
            match signal {
                HookSignal::Done => run.final_message = Some(call.detail.clone()),
                HookSignal::Failed => failed.push((call.run_id, call.detail.clone())),
                HookSignal::Busy | HookSignal::Waiting => {}
            }
            run.tracker.hook(signal);
        }
        for (id, detail) in failed {
            let tail = self.log_tail(id);
            let reason = format!("the agent's turn failed: {detail}");
            self.fail_with_tail(id, &reason, format!("{tail}\n{detail}"), None, false)?;
        }
        Ok(())
    }

    /// Moves one run along its phases; enforces its timeout.
    pub(super) fn advance(&mut self, id: i64, now: Instant) -> Result<()> {
        // A turn a hook opened whose closing hook was lost is ended by a second witness.
        self.second_look(id, now);
        let Some(run) = self.runs.get_mut(&id) else {
            return Ok(());
        };
        if now >= run.deadline && !matches!(run.phase, Phase::Exiting { .. }) {
            let reason = format!(
                "timed out after {} (the role's timeout)",
                humantime::format_duration(run.timeout)
            );
            return self.fail(id, &reason, None, true);
        }
        if run.tracker.status() != RunStatus::Error {
            run.error_since = None;
        }
        // An error on screen fails the run once it has stood for ERROR_DEBOUNCE: an agent
        // that exits on errors is caught by the liveness check first, with its exit status.
        let error_for = run.error_since.map(|t| now.duration_since(t));
        if run.tracker.status() == RunStatus::Error && run.error_since.is_none() {
            run.error_since = Some(now);
        }
        if error_for.is_some_and(|d| d >= ERROR_DEBOUNCE)
            && !matches!(run.phase, Phase::Exiting { .. } | Phase::WaitReady { .. })
        {
            let screen = run.detector.text();
            let line = screen
                .lines()
                .rev()
                .find(|l| l.contains("Error") || l.contains("error"))
                .unwrap_or("the agent shows an error")
                .trim()
                .to_string();
            return self.fail_with_tail(id, &line, screen, None, false);
        }
        if let Some((answering, yes)) = run.answering.as_mut() {
            let yes = *yes;
            match answering.step(&run.provider, &run.detector.text(), now) {
                control::AnswerStep::Wait => {}
                control::AnswerStep::Press => {
                    let keys = if yes {
                        &run.provider.yes_keys
                    } else {
                        &run.provider.no_keys
                    };
                    // On the `tmux` lane: the answer is confirmed from the screen, and
                    // pressed again if the dialog did not take it.
                    self.offload.press(id, &run.pane, keys);
                }
                control::AnswerStep::Answered(presses) => {
                    run.answering = None;
                    let key = run.task_key.clone();
                    control::record_answer(&self.store, &key, id, yes, presses, "supervisor")?;
                }
                control::AnswerStep::Failed(f) => {
                    run.answering = None;
                    let (why, screen) = control::failure_words(f, control::AnswerTiming::default());
                    tracing::warn!(run = id, "cannot answer: {why}; screen:\n{screen}");
                }
            }
        }
        match run.phase {
            Phase::WaitReady { since } => {
                if run.detector.is_ready()
                    || now.duration_since(since) >= run.provider.ready_timeout
                {
                    self.tmux.paste(&run.pane, &run.prompt)?;
                    self.store
                        .write(|tx| runs::set_prompt_sent(tx, id, now_ms()))?;
                    crate::crash::point("paste");
                    run.phase = Phase::Pasted { at: now };
                }
            }
            Phase::Pasted { at } => {
                if now.duration_since(at) >= run.provider.submit_delay {
                    submit(&self.tmux, run, now)?;
                    run.phase = Phase::Submitted {
                        at: now,
                        resent: false,
                    };
                    if run.delivering.is_empty() {
                        self.store
                            .write(|tx| runs::set_submitted(tx, id, now_ms()))?;
                        crate::crash::point("submit");
                    } else {
                        self.delivered(id)?;
                    }
                }
            }
            Phase::Submitted { at, resent } => {
                if run.tracker.started() || run.tracker.is_complete() {
                    run.phase = Phase::Working;
                } else if !resent && now.duration_since(at) >= Duration::from_secs(3) {
                    tracing::info!(
                        run = id,
                        "agent did not take the prompt; pressing submit again"
                    );
                    for key in &run.provider.submit_keys {
                        self.tmux.send_keys(&run.pane, &[key.as_str()])?;
                    }
                    run.phase = Phase::Submitted { at, resent: true };
                } else if now.duration_since(at) >= Duration::from_secs(15) {
                    run.phase = Phase::Working;
                }
            }
            Phase::Working => {
                // A turn ended: the messages waiting for this agent make its next turn;
                // with none, the run is complete.
                if run.tracker.is_complete() && !self.deliver(id, now)? {
                    return self.complete(id, now);
                }
            }
            Phase::Exiting { since } => {
                if now.duration_since(since) >= self.opts.exit_grace {
                    let run = self.runs.remove(&id);
                    if let Some(run) = run {
                        self.close(&run);
                    }
                }
            }
        }
        Ok(())
    }
}

/// True when the run has steps that come due with time rather than with output: a prompt to
/// deliver, an answer being pressed, an error or a dead pane standing, a quiet check or a
/// completion (debounce, hook grace period) to re-check, an exit in progress. The loop ticks
/// every [`Options::tick`] while any run is hot and sleeps otherwise.
pub(super) fn hot(run: &Active) -> bool {
    !matches!(run.phase, Phase::Working)
        || run.answering.is_some()
        || run.error_since.is_some()
        || run.dead_since.is_some()
        || !run.quiet_checked
        || recheck(run)
}

/// A finished-looking screen must be re-checked as time passes (the debounce), also when the
/// agent has gone quiet after idle-after-busy (status still busy).
fn recheck(run: &Active) -> bool {
    matches!(run.phase, Phase::Working | Phase::Submitted { .. })
        && (matches!(run.tracker.status(), RunStatus::Done | RunStatus::Idle)
            || run.tracker.completion_pending())
        && !run.tracker.is_complete()
}

/// Reads a run's new output when `read` (its log grew, or everything is to be read), feeds the
/// emulator, and classifies the screen after each batch and once more after a quiet period; a
/// pending completion is re-checked every tick.
pub(super) fn pump(run: &mut Active, opts: &Options, now: Instant, read: bool) {
    let mut buf = Vec::new();
    let mut total = 0;
    if read {
        buf = vec![0u8; 64 * 1024];
    }
    while read && total < READ_BUDGET {
        match run.log.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                run.detector.feed(&buf[..n]);
                total += n;
            }
            Err(e) => {
                tracing::warn!(run = run.run_id, error = %e, "cannot read the run log");
                break;
            }
        }
    }
    let classify_now = if total > 0 {
        run.last_output = now;
        run.fresh_output = true;
        run.quiet_checked = false;
        true
    } else if !run.quiet_checked && now.duration_since(run.last_output) >= opts.quiet {
        run.quiet_checked = true;
        true
    } else {
        recheck(run)
    };
    if classify_now {
        let text = run.detector.text();
        let raw = classify(&run.provider, &text);
        run.tracker.observe(raw, &text, now);
    }
}

/// Presses the provider's submit keys after the paste and tells the tracker input went in.
pub(super) fn submit(tmux: &Tmux, run: &mut Active, now: Instant) -> Result<()> {
    let screen = run.detector.text();
    for (i, key) in run.provider.submit_keys.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(run.provider.submit_delay);
        }
        tmux.send_keys(&run.pane, &[key.as_str()])?;
    }
    run.tracker.input_sent(&screen, now);
    run.second.input_sent();
    Ok(())
}
