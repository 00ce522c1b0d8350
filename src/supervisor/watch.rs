//! Watching runs: the loop's side of the run machine (`machine`). Hook calls, answers, output
//! and the `tmux` lane's finished work become [`Event`]s; the [`Command`]s each run's machine
//! returns are carried out here (pastes and key presses handed to the `tmux` lane, steps
//! recorded in SQLite, runs completed, failed or closed).

use super::machine::{Command, Event, Tail};
use super::offload::Handed;
use super::*;

impl Supervisor {
    /// Steps run `id`'s machine with `event` at `now` and carries out what it returns.
    ///
    /// # Errors
    /// Store and engine failures; a tmux failure loses the run (in [`Supervisor::tick`]).
    pub(super) fn step(&mut self, id: i64, event: Event<'_>, now: Instant) -> Result<()> {
        let Some(run) = self.runs.get_mut(&id) else {
            return Ok(());
        };
        let commands = run.machine.on(event, now);
        self.carry_out(id, commands, now)
    }

    /// Carries out run `id`'s commands in order; those after one that ended the run are
    /// dropped.
    fn carry_out(&mut self, id: i64, commands: Vec<Command>, now: Instant) -> Result<()> {
        for command in commands {
            let Some(run) = self.runs.get_mut(&id) else {
                return Ok(());
            };
            match command {
                Command::Paste(text) => self.offload.paste(id, &run.pane, text),
                Command::Submit(keys) => {
                    // A new turn: judged afresh by the second witness too.
                    run.second.input_sent();
                    let delay = run.machine.provider().submit_delay;
                    self.offload.submit(id, &run.pane, keys, delay, true);
                }
                Command::Resubmit(keys) => {
                    let delay = run.machine.provider().submit_delay;
                    self.offload.submit(id, &run.pane, keys, delay, false);
                }
                Command::Press(keys) => self.offload.press(id, &run.pane, &keys),
                Command::PromptPasted => {
                    self.store
                        .write(|tx| runs::set_prompt_sent(tx, id, now_ms()))?;
                    crate::crash::point("paste");
                }
                Command::MessagesPasted(ids) => self.pasted(id, &ids)?,
                Command::PromptSubmitted => {
                    self.store
                        .write(|tx| runs::set_submitted(tx, id, now_ms()))?;
                    crate::crash::point("submit");
                }
                Command::MessagesSubmitted(ids) => self.delivered(&ids)?,
                Command::Answered { yes, presses } => {
                    let key = run.task_key.clone();
                    crate::control::record_answer(
                        &self.store,
                        &key,
                        id,
                        yes,
                        presses,
                        "supervisor",
                    )?;
                }
                Command::AnswerFailed { why, screen } => {
                    tracing::warn!(run = id, "cannot answer: {why}; screen:\n{screen}");
                }
                Command::Resized { rows, cols } => {
                    self.store.write(|tx| runs::set_size(tx, id, rows, cols))?;
                }
                Command::EndOfTurn => {
                    let event = match self.deliver(id)? {
                        Some((messages, text)) => Event::Deliver { messages, text },
                        None => Event::NothingToDeliver,
                    };
                    return self.step(id, event, now);
                }
                Command::Complete { final_message } => {
                    self.note_utilisation(id)?;
                    self.complete(id, final_message);
                }
                Command::Fail {
                    reason,
                    tail,
                    exit_code,
                    timed_out,
                } => {
                    let tail = match tail {
                        Tail::Log => self.log_tail(id),
                        Tail::LogAnd(more) => format!("{}\n{more}", self.log_tail(id)),
                        Tail::Screen(screen) => screen,
                    };
                    return self.fail_with_tail(id, &reason, tail, exit_code, timed_out);
                }
                Command::Lose(reason) => return self.lose(id, &reason),
                Command::Cancelled => return self.cancelled(id),
                Command::Park {
                    resets_at,
                    resume_in,
                    words,
                    used_percent,
                } => self.park(id, resets_at, resume_in, &words, used_percent)?,
                Command::Resumed { parked_for } => self.resumed(id, parked_for)?,
                Command::Close => {
                    if let Some(run) = self.runs.remove(&id) {
                        self.close(&run);
                    }
                    return Ok(());
                }
                Command::Forget => {
                    self.runs.remove(&id);
                    crate::provider::wiring::layer::remove_run_home(
                        &self.opts.data_dir.join("runs"),
                        id,
                    );
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Takes what the `tmux` lane finished (pastes, submit keys) to the runs' machines; a
    /// paste or submit tmux refused loses its run.
    ///
    /// # Errors
    /// Store failures.
    pub(super) fn take_handed(&mut self, now: Instant) -> Result<()> {
        for (id, what, result) in self.offload.take_done() {
            match result {
                Ok(()) => {
                    let event = match what {
                        Handed::Pasted => Event::Pasted,
                        Handed::Submitted => Event::Submitted,
                    };
                    self.step(id, event, now)?;
                }
                Err(e) if self.runs.contains_key(&id) => {
                    tracing::warn!(run = id, error = %e, "run step failed");
                    self.lose(id, &format!("bosun could not drive the run: {e}"))?;
                }
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// Applies what was recorded since the last tick to the runs' machines: the agents'
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
            let Some(id) = e.run_id.filter(|id| self.runs.contains_key(id)) else {
                continue;
            };
            let yes = e
                .data
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|v| v["yes"].as_bool())
                .unwrap_or(true);
            self.step(id, Event::Answered { yes }, now)?;
        }
        let calls = hook_rows::since(self.store.conn(), self.hook_cursor)?;
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
            let event = Event::Hook {
                signal,
                detail: &call.detail,
            };
            self.step(call.run_id, event, now)?;
        }
        Ok(())
    }

    /// Writes every changed status in one transaction, with an event each.
    pub(super) fn write_statuses(&mut self) -> Result<()> {
        let changed: Vec<(i64, i64, RunStatus, String, String)> = self
            .runs
            .values()
            .filter_map(|r| {
                let (status, source) = r.machine.status_change()?;
                Some((r.run_id, r.job_id, status, r.task_key.clone(), source))
            })
            .collect();
        let silent: Vec<(i64, i64, String, Duration)> = self
            .runs
            .values_mut()
            .filter_map(|r| {
                r.machine.take_fallback().then(|| {
                    (
                        r.run_id,
                        r.job_id,
                        r.task_key.clone(),
                        r.machine.provider().hook_grace,
                    )
                })
            })
            .collect();
        if changed.is_empty() && silent.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.store.write(|tx| {
            for (run_id, job_id, status, key, source) in &changed {
                runs::set_status(tx, *run_id, *status, now)?;
                let task_id = tasks::by_key(tx, key)?.id;
                events::record(
                    tx,
                    EventKind::RunStatus,
                    About::task(task_id).job(*job_id).run(*run_id),
                    "supervisor",
                    format!("{key} run {run_id} is {status}{source}"),
                    now,
                )?;
            }
            for (run_id, job_id, key, grace) in &silent {
                tracing::warn!(
                    run = run_id,
                    "no hook call within the grace period; reading the screen"
                );
                let task_id = tasks::by_key(tx, key)?.id;
                events::record(
                    tx,
                    EventKind::HooksSilent,
                    About::task(task_id).job(*job_id).run(*run_id),
                    "supervisor",
                    format!(
                        "{key} run {run_id}: no hook call within {} of the prompt; \
                             its turn is read from the screen",
                        humantime::format_duration(*grace)
                    ),
                    now,
                )?;
            }
            Ok::<_, StoreError>(())
        })?;
        for (run_id, _, status, _, _) in changed {
            if let Some(r) = self.runs.get_mut(&run_id) {
                r.machine.recorded(status);
            }
            if status == RunStatus::Busy {
                crate::crash::point("busy");
            }
        }
        Ok(())
    }

    /// Moves one run along: its second witness, then the steps that come due with time.
    pub(super) fn advance(&mut self, id: i64, now: Instant) -> Result<()> {
        // A turn a hook opened whose closing hook was lost is ended by a second witness.
        self.second_look(id, now)?;
        // A usage limit on the screen parks the run instead of failing it.
        self.limit_look(id, now)?;
        self.step(id, Event::Timer, now)
    }
}

/// Reads a run's new output when `read` (its log grew, or everything is to be read) into its
/// machine, at most [`READ_BUDGET`] bytes a tick, then lets it look at the screen.
pub(super) fn pump(run: &mut Active, now: Instant, read: bool) {
    let mut total = 0;
    if read {
        let mut buf = vec![0u8; 64 * 1024];
        while total < READ_BUDGET {
            match run.log.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    run.machine.on(Event::Output(&buf[..n]), now);
                    total += n;
                }
                Err(e) => {
                    tracing::warn!(run = run.run_id, error = %e, "cannot read the run log");
                    break;
                }
            }
        }
    }
    run.machine.on(Event::Look, now);
}
