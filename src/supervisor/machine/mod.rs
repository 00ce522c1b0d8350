//! A run as a state machine with no I/O (ARCHITECTURE.md, "The supervisor's loop").
//!
//! [`RunMachine::on`] takes one [`Event`] (output the agent printed, a hook call, a pane
//! snapshot, work the `tmux` lane finished, an answer asked for, time passing) at an
//! [`Instant`] and returns the [`Command`]s it calls for (paste, press, record, complete,
//! fail, close). The loop (`watch.rs`) feeds it from the run log, the database and the lanes,
//! and carries the commands out; every rule about *when* (the prompt waits for the ready
//! screen, submit keys follow the paste after the profile's delay and are pressed once more
//! if the agent did not take them, a turn is complete when a hook says so or the screen has
//! said so for the debounce, an answer is pressed once the dialog stood and pressed again if
//! dropped, messages make the next turn, the role's timeout, an error that stands, a dead
//! pane's exit status) lives here and is unit-tested without tmux and without sleeping
//! (`tests.rs`).

use std::time::{Duration, Instant};

use crate::config::{ProviderConfig, ProviderMode, ScreenStatus};
use crate::control::{AnswerStep, AnswerTiming, Answering, failure_words};
use crate::provider::Detector;
use crate::provider::{HookMode, HookSignal, Tracker, Witness, classify};
use crate::status::RunStatus;
use crate::tmux::PaneState;

#[cfg(test)]
mod tests;

/// How long an error must stay on an agent's screen before it fails the run.
pub(super) const ERROR_DEBOUNCE: Duration = Duration::from_secs(3);

/// How long a dead pane may wait for tmux to record its exit status.
pub(super) const DEAD_STATUS_WAIT: Duration = Duration::from_secs(2);

/// After the submit keys, how long the agent has to visibly take its input before the keys
/// are pressed once more (3 s).
pub(super) const SUBMIT_CHECK: Duration = Duration::from_secs(3);

/// After the submit keys, how long until the run counts as working whatever the screen says
/// (15 s).
pub(super) const SUBMIT_GIVE_UP: Duration = Duration::from_secs(15);

/// The supervisor's time rules a run follows (from [`super::Options`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    /// A finished-looking screen must stand this long to complete a turn.
    pub(super) done_debounce: Duration,
    /// Quiet time after output before the screen is classified once more.
    pub(super) quiet: Duration,
    /// Wait after the exit command before the window is closed.
    pub(super) exit_grace: Duration,
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Phase {
    /// Launched; waiting for the ready pattern (or its timeout) to paste the prompt.
    WaitReady { since: Instant },
    /// The prompt or messages are with the `tmux` lane to be pasted.
    Pasting,
    /// Pasted; the submit keys go after the provider's delay.
    Pasted { at: Instant },
    /// The submit keys are with the `tmux` lane.
    Submitting,
    /// Submitted; waiting to see the agent take it (submit keys pressed once more if not).
    Submitted { at: Instant, resent: bool },
    /// Working on its turn.
    Working,
    /// The turn ended: the loop says whether messages make the next turn.
    TurnEnded,
    /// Completed; exit command sent; the window closes after the grace period.
    Exiting { since: Instant },
}

/// Something that happened to a run.
#[derive(Debug)]
pub(super) enum Event<'a> {
    /// The agent printed these bytes (from its run log).
    Output(&'a [u8]),
    /// This tick's output is read: the screen is classified if it is due (output came, the
    /// pane went quiet, a completion waits out its debounce or grace period).
    Look,
    /// Time passed: the steps that come due with time are taken.
    Timer,
    /// One of the agent's hook calls (`detail`: its last message or error).
    Hook { signal: HookSignal, detail: &'a str },
    /// The operator asked this supervisor to answer the agent's dialog.
    AnswerAsked { yes: bool },
    /// Someone (any process) answered the agent's dialog.
    Answered { yes: bool },
    /// The `tmux` lane pasted what [`Command::Paste`] asked.
    Pasted,
    /// The `tmux` lane pressed what [`Command::Submit`] asked.
    Submitted,
    /// After [`Command::EndOfTurn`]: these messages (claimed for the run) are the next turn.
    Deliver { messages: Vec<i64>, text: String },
    /// After [`Command::EndOfTurn`]: no message waits; the run is complete.
    NothingToDeliver,
    /// The second witness ended a turn a hook opened whose closing hook never came.
    WitnessDone(Witness),
    /// The run's pane as the last `list-panes -a` saw it (the loop has read the rest of the
    /// log of a dead one).
    Pane(&'a PaneState),
    /// The run's pane is not in the last `list-panes -a`.
    PaneGone,
    /// The run's job is no longer running (cancelled, or taken away).
    JobGone,
}

/// Where a failed run's log tail comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tail {
    /// The end of the run log.
    Log,
    /// The end of the run log, then this text.
    LogAnd(String),
    /// This screen.
    Screen(String),
}

/// What the loop must do for a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Command {
    /// Paste this text into the pane (on the `tmux` lane; [`Event::Pasted`] when done).
    Paste(String),
    /// Press these submit keys, one by one, the profile's submit delay apart (on the `tmux`
    /// lane; [`Event::Submitted`] when done).
    Submit(Vec<String>),
    /// Press the submit keys once more (on the `tmux` lane; nothing comes back).
    Resubmit(Vec<String>),
    /// Press these keys (an answer; on the `tmux` lane; nothing comes back).
    Press(Vec<String>),
    /// Record that the prompt was pasted.
    PromptPasted,
    /// Record that these messages were pasted.
    MessagesPasted(Vec<i64>),
    /// Record that the prompt was submitted.
    PromptSubmitted,
    /// Record that these messages were submitted (delivered).
    MessagesSubmitted(Vec<i64>),
    /// Record that this supervisor's answer was taken after `presses` presses.
    Answered { yes: bool, presses: u32 },
    /// This supervisor's answer could not be given: why, and the screen it left.
    AnswerFailed { why: String, screen: String },
    /// Record the pane's new size (the emulator follows it already).
    Resized { rows: u16, cols: u16 },
    /// The turn ended: claim the messages waiting for the agent and answer with
    /// [`Event::Deliver`] or [`Event::NothingToDeliver`].
    EndOfTurn,
    /// The run is complete: record its turn done and hand its completion to the lane.
    Complete { final_message: Option<String> },
    /// The run failed.
    Fail {
        reason: String,
        tail: Tail,
        exit_code: Option<i64>,
        timed_out: bool,
    },
    /// The run is lost to an infrastructure failure (not the agent's attempts).
    Lose(String),
    /// The run's job was cancelled: hand the run to the engine and stop it.
    Cancelled,
    /// Stop the run's processes and close its window; forget it.
    Close,
    /// Forget the run (its window is gone already).
    Forget,
}

/// How a re-adopted run resumes (from its rows).
#[derive(Debug, Clone)]
pub(super) struct Resume {
    /// The prompt was pasted.
    pub(super) prompt_pasted: bool,
    /// The prompt was submitted.
    pub(super) prompt_submitted: bool,
    /// A hook said the agent took its prompt (`UserPromptSubmit`).
    pub(super) prompt_hook_seen: bool,
    /// Messages pasted and not submitted: submitted now.
    pub(super) delivering: Vec<i64>,
    /// The hook calls of the current turn, in order, with their detail.
    pub(super) hooks: Vec<(HookSignal, String)>,
    /// The status last recorded.
    pub(super) status: RunStatus,
}

impl Default for Resume {
    fn default() -> Resume {
        Resume {
            prompt_pasted: false,
            prompt_submitted: false,
            prompt_hook_seen: false,
            delivering: Vec::new(),
            hooks: Vec::new(),
            status: RunStatus::Starting,
        }
    }
}

/// One run's state: see the module docs.
pub(super) struct RunMachine {
    detector: Detector,
    /// The pane's size, rows × columns (the emulator's, unless the pane is tiny).
    size: (u16, u16),
    prompt: String,
    timing: Timing,
    tracker: Tracker,
    phase: Phase,
    deadline: Instant,
    timeout: Duration,
    last_output: Instant,
    /// Output came since the screen was last classified.
    grew: bool,
    quiet_checked: bool,
    error_since: Option<Instant>,
    dead_since: Option<Instant>,
    /// The status last recorded.
    written: RunStatus,
    /// The agent's last message, from its `Stop` hook.
    final_message: Option<String>,
    /// An answer being pressed into the agent's dialog, and whether it is yes.
    answering: Option<(Answering, bool)>,
    /// Messages pasted for the turn being submitted (empty for the prompt's turn).
    delivering: Vec<i64>,
    /// The second witness that ended the current turn, for its status event.
    ended_by: Option<Witness>,
}

impl RunMachine {
    /// A run just launched at `now` in a pane of `rows` × `cols`: it waits for the ready
    /// screen to paste `prompt` (a batch run got its prompt as an argument and works at
    /// once); it times out `timeout` from now.
    pub(super) fn launched(
        provider: ProviderConfig,
        (rows, cols): (u16, u16),
        prompt: String,
        timing: Timing,
        timeout: Duration,
        now: Instant,
    ) -> RunMachine {
        let batch = provider.mode == ProviderMode::Batch;
        let hooks = hook_mode(&provider);
        let mut m = RunMachine::blank(provider, (rows, cols), prompt, timing, timeout, now);
        m.tracker = Tracker::new(timing.done_debounce, hooks);
        m.quiet_checked = true;
        m.phase = if batch {
            Phase::Working
        } else {
            Phase::WaitReady { since: now }
        };
        m
    }

    /// A run re-adopted at `now` after a restart, its pane showing `capture`, `elapsed` of its
    /// timeout spent: prompt delivery resumes where it stopped (not pasted → wait for ready
    /// and paste; pasted but not submitted → submit, unless the agent visibly took it already:
    /// its screen busy or asking, or a hook said so; messages pasted and not submitted →
    /// submitted), and the hook calls of the current turn are applied again in order (hooks
    /// decide for a re-adopted run too).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn readopted(
        provider: ProviderConfig,
        size: (u16, u16),
        capture: &str,
        prompt: String,
        timing: Timing,
        (timeout, elapsed): (Duration, Duration),
        resume: Resume,
        now: Instant,
    ) -> RunMachine {
        let hooks = hook_mode(&provider);
        let mut m = RunMachine::blank(provider, size, prompt, timing, timeout, now);
        m.deadline = now + timeout.saturating_sub(elapsed);
        m.detector.load_capture(capture);
        m.written = resume.status;
        let took_it = resume.prompt_hook_seen
            || matches!(
                m.detector.classify(),
                Some(ScreenStatus::Busy | ScreenStatus::Waiting)
            );
        let pasted_at = now.checked_sub(m.provider().submit_delay).unwrap_or(now);
        m.phase = match (resume.prompt_pasted, resume.prompt_submitted) {
            _ if !resume.delivering.is_empty() => Phase::Pasted { at: pasted_at },
            (false, _) => Phase::WaitReady { since: now },
            (true, false) if !took_it => Phase::Pasted { at: pasted_at },
            _ => Phase::Working,
        };
        m.delivering = resume.delivering;
        m.tracker = Tracker::resumed(timing.done_debounce, resume.status, hooks, now);
        if resume.prompt_pasted {
            for (signal, detail) in resume.hooks {
                if signal == HookSignal::Done && !m.tracker.is_complete() {
                    m.final_message = Some(detail);
                }
                m.tracker.hook(signal);
            }
        }
        m
    }

    fn blank(
        provider: ProviderConfig,
        (rows, cols): (u16, u16),
        prompt: String,
        timing: Timing,
        timeout: Duration,
        now: Instant,
    ) -> RunMachine {
        RunMachine {
            tracker: Tracker::new(timing.done_debounce, HookMode::Off),
            detector: Detector::new(provider, rows, cols),
            size: (rows, cols),
            prompt,
            timing,
            phase: Phase::Working,
            deadline: now + timeout,
            timeout,
            last_output: now,
            grew: false,
            quiet_checked: false,
            error_since: None,
            dead_since: None,
            written: RunStatus::Starting,
            final_message: None,
            answering: None,
            delivering: Vec::new(),
            ended_by: None,
        }
    }

    /// Takes `event` at `now`; returns what the loop must do, in order.
    pub(super) fn on(&mut self, event: Event<'_>, now: Instant) -> Vec<Command> {
        match event {
            Event::Output(bytes) => {
                self.detector.feed(bytes);
                if !bytes.is_empty() {
                    self.grew = true;
                    self.last_output = now;
                }
                Vec::new()
            }
            Event::Look => {
                self.look(now);
                Vec::new()
            }
            Event::Timer => self.advance(now),
            Event::Hook { signal, detail } => self.hook(signal, detail),
            Event::AnswerAsked { yes } => {
                self.answering = Some((Answering::new(AnswerTiming::default(), now), yes));
                Vec::new()
            }
            Event::Answered { yes } => {
                let screen = self.detector.text();
                self.tracker.answer_sent(&screen, yes, now);
                Vec::new()
            }
            Event::Pasted => {
                if self.phase != Phase::Pasting {
                    return Vec::new();
                }
                self.phase = Phase::Pasted { at: now };
                if self.delivering.is_empty() {
                    vec![Command::PromptPasted]
                } else {
                    vec![Command::MessagesPasted(self.delivering.clone())]
                }
            }
            Event::Submitted => {
                if self.phase != Phase::Submitting {
                    return Vec::new();
                }
                self.phase = Phase::Submitted {
                    at: now,
                    resent: false,
                };
                if self.delivering.is_empty() {
                    vec![Command::PromptSubmitted]
                } else {
                    vec![Command::MessagesSubmitted(std::mem::take(
                        &mut self.delivering,
                    ))]
                }
            }
            Event::Deliver { messages, text } => {
                self.delivering = messages;
                self.phase = Phase::Pasting;
                vec![Command::Paste(text)]
            }
            Event::NothingToDeliver => {
                self.phase = Phase::Exiting { since: now };
                vec![Command::Complete {
                    final_message: self.final_message.clone(),
                }]
            }
            Event::WitnessDone(witness) => {
                self.tracker.witness_done();
                self.ended_by = Some(witness);
                Vec::new()
            }
            Event::Pane(pane) => self.pane(pane, now),
            Event::PaneGone if self.exiting() => vec![Command::Forget],
            Event::PaneGone => vec![Command::Lose(
                "the run's pane is gone (its tmux server or window was lost)".into(),
            )],
            Event::JobGone if self.exiting() => Vec::new(),
            Event::JobGone => vec![Command::Cancelled],
        }
    }

    /// Classifies the screen when due: after output, once more after a quiet period, and
    /// every look while a completion is pending.
    fn look(&mut self, now: Instant) {
        let classify_now = if std::mem::take(&mut self.grew) {
            self.quiet_checked = false;
            true
        } else if !self.quiet_checked && now.duration_since(self.last_output) >= self.timing.quiet {
            self.quiet_checked = true;
            true
        } else {
            self.recheck()
        };
        if classify_now {
            let text = self.detector.text();
            let raw = classify(self.detector.provider(), &text);
            self.tracker.observe(raw, &text, now);
        }
    }

    fn hook(&mut self, signal: HookSignal, detail: &str) -> Vec<Command> {
        if self.tracker.is_complete() {
            return Vec::new();
        }
        let mut out = Vec::new();
        match signal {
            HookSignal::Done => self.final_message = Some(detail.to_string()),
            HookSignal::Failed => out.push(Command::Fail {
                reason: format!("the agent's turn failed: {detail}"),
                tail: Tail::LogAnd(detail.to_string()),
                exit_code: None,
                timed_out: false,
            }),
            HookSignal::Busy | HookSignal::Waiting => {}
        }
        self.tracker.hook(signal);
        out
    }

    /// The steps that come due with time.
    fn advance(&mut self, now: Instant) -> Vec<Command> {
        if now >= self.deadline && !self.exiting() {
            return vec![Command::Fail {
                reason: format!(
                    "timed out after {} (the role's timeout)",
                    humantime::format_duration(self.timeout)
                ),
                tail: Tail::Log,
                exit_code: None,
                timed_out: true,
            }];
        }
        let error = self.tracker.status() == RunStatus::Error;
        // An error on screen fails the run once it has stood for ERROR_DEBOUNCE: an agent
        // that exits on errors is caught by the liveness check first, with its exit status.
        let error_for = if error {
            now.duration_since(*self.error_since.get_or_insert(now))
        } else {
            self.error_since = None;
            Duration::ZERO
        };
        if error
            && error_for >= ERROR_DEBOUNCE
            && !matches!(self.phase, Phase::Exiting { .. } | Phase::WaitReady { .. })
        {
            let screen = self.detector.text();
            let line = screen
                .lines()
                .rev()
                .find(|l| l.contains("Error") || l.contains("error"))
                .unwrap_or("the agent shows an error")
                .trim()
                .to_string();
            return vec![Command::Fail {
                reason: line,
                tail: Tail::Screen(screen),
                exit_code: None,
                timed_out: false,
            }];
        }
        let mut out = Vec::new();
        self.answer(now, &mut out);
        let provider = self.detector.provider();
        match self.phase {
            Phase::WaitReady { since } => {
                if self.detector.is_ready() || now.duration_since(since) >= provider.ready_timeout {
                    self.phase = Phase::Pasting;
                    out.push(Command::Paste(self.prompt.clone()));
                }
            }
            Phase::Pasted { at } => {
                if now.duration_since(at) >= provider.submit_delay {
                    let keys = provider.submit_keys.clone();
                    let screen = self.detector.text();
                    self.tracker.input_sent(&screen, now);
                    self.ended_by = None;
                    self.phase = Phase::Submitting;
                    out.push(Command::Submit(keys));
                }
            }
            Phase::Submitted { at, resent } => {
                if self.tracker.started() || self.tracker.is_complete() {
                    self.phase = Phase::Working;
                } else if !resent && now.duration_since(at) >= SUBMIT_CHECK {
                    tracing::info!("agent did not take the prompt; pressing submit again");
                    out.push(Command::Resubmit(provider.submit_keys.clone()));
                    self.phase = Phase::Submitted { at, resent: true };
                } else if now.duration_since(at) >= SUBMIT_GIVE_UP {
                    self.phase = Phase::Working;
                }
            }
            // A turn ended: the messages waiting for this agent make its next turn; with
            // none, the run is complete.
            Phase::Working if self.tracker.is_complete() => {
                self.phase = Phase::TurnEnded;
                out.push(Command::EndOfTurn);
            }
            Phase::TurnEnded => out.push(Command::EndOfTurn),
            Phase::Exiting { since } if now.duration_since(since) >= self.timing.exit_grace => {
                out.push(Command::Close);
            }
            Phase::Pasting | Phase::Submitting | Phase::Working | Phase::Exiting { .. } => {}
        }
        out
    }

    /// Steps an answer being pressed.
    fn answer(&mut self, now: Instant, out: &mut Vec<Command>) {
        let Some((answering, yes)) = self.answering.as_mut() else {
            return;
        };
        let yes = *yes;
        let provider = self.detector.provider();
        match answering.step(provider, &self.detector.text(), now) {
            AnswerStep::Wait => {}
            // The answer is confirmed from the screen, and pressed again if the dialog did
            // not take it.
            AnswerStep::Press => out.push(Command::Press(if yes {
                provider.yes_keys.clone()
            } else {
                provider.no_keys.clone()
            })),
            AnswerStep::Answered(presses) => {
                self.answering = None;
                out.push(Command::Answered { yes, presses });
            }
            AnswerStep::Failed(f) => {
                self.answering = None;
                let (why, screen) = failure_words(f, AnswerTiming::default());
                out.push(Command::AnswerFailed { why, screen });
            }
        }
    }

    /// Judges the run by its pane in a `list-panes -a` snapshot.
    fn pane(&mut self, pane: &PaneState, now: Instant) -> Vec<Command> {
        if !pane.dead {
            let (rows, cols) = (pane.height, pane.width);
            if self.size != (rows, cols) {
                self.detector.resize(rows, cols);
                self.size = (rows, cols);
                return vec![Command::Resized { rows, cols }];
            }
            return Vec::new();
        }
        // tmux can show a pane dead before it has reaped the process (list_panes nudges it
        // with SIGCHLD): give the exit status up to DEAD_STATUS_WAIT.
        let since = *self.dead_since.get_or_insert(now);
        let exiting = self.exiting();
        if pane.dead_status.is_none()
            && pane.dead_signal.is_none()
            && !exiting
            && now.duration_since(since) < DEAD_STATUS_WAIT
        {
            return Vec::new();
        }
        let code = pane.dead_status.map(i64::from);
        if exiting {
            return vec![Command::Close];
        }
        if self.provider().mode == ProviderMode::Batch && code == Some(0) {
            self.tracker = Tracker::resumed(Duration::ZERO, RunStatus::Done, HookMode::Off, now);
            self.phase = Phase::Exiting { since: now };
            return vec![
                Command::Complete {
                    final_message: self.final_message.clone(),
                },
                Command::Close,
            ];
        }
        let reason = match (code, pane.dead_signal) {
            (Some(c), _) => format!("agent exited with status {c}"),
            (None, Some(sig)) => format!("agent killed by signal {sig}"),
            (None, None) => "agent exited (tmux recorded no status)".to_string(),
        };
        vec![Command::Fail {
            reason,
            tail: Tail::Log,
            exit_code: code,
            timed_out: false,
        }]
    }

    /// A finished-looking screen must be re-checked as time passes (the debounce), also when
    /// the agent has gone quiet after idle-after-busy (status still busy).
    fn recheck(&self) -> bool {
        matches!(self.phase, Phase::Working | Phase::Submitted { .. })
            && (matches!(self.tracker.status(), RunStatus::Done | RunStatus::Idle)
                || self.tracker.completion_pending())
            && !self.tracker.is_complete()
    }

    /// True when the run has steps that come due with time rather than with output: a prompt
    /// to deliver, an answer being pressed, an error or a dead pane standing, a quiet check
    /// or a completion (debounce, hook grace period) to re-check, an exit in progress. The
    /// loop ticks every [`super::Options::tick`] while any run is hot and sleeps otherwise.
    pub(super) fn hot(&self) -> bool {
        !matches!(self.phase, Phase::Working)
            || self.answering.is_some()
            || self.error_since.is_some()
            || self.dead_since.is_some()
            || !self.quiet_checked
            || self.recheck()
    }

    /// The status to record, with the words naming its source (" (agent hook)"), when it
    /// changed since [`RunMachine::recorded`].
    pub(super) fn status_change(&self) -> Option<(RunStatus, String)> {
        let status = self.tracker.status();
        if status == self.written {
            return None;
        }
        let source = match self.ended_by {
            _ if self.tracker.from_hook() => " (agent hook)".to_string(),
            Some(w) if status == RunStatus::Done => format!(" ({w}, the Stop hook never came)"),
            _ => String::new(),
        };
        Some((status, source))
    }

    /// `status` was recorded.
    pub(super) fn recorded(&mut self, status: RunStatus) {
        self.written = status;
    }

    /// True exactly once after the run fell back from silent hooks to the screen.
    pub(super) fn take_fallback(&mut self) -> bool {
        self.tracker.take_fallback()
    }

    /// The run's status as its tracker has it.
    pub(super) fn status(&self) -> RunStatus {
        self.tracker.status()
    }

    /// True while a turn a hook opened waits for its closing hook in a working run: only
    /// then does its second witness look.
    pub(super) fn hook_turn_open(&self) -> bool {
        self.tracker.hook_turn_open() && self.phase == Phase::Working
    }

    /// How long the pane has printed nothing, at `now`.
    pub(super) fn quiet_for(&self, now: Instant) -> Duration {
        now.duration_since(self.last_output)
    }

    /// The screen as text.
    pub(super) fn screen(&self) -> String {
        self.detector.text()
    }

    /// The run's provider profile.
    pub(super) fn provider(&self) -> &ProviderConfig {
        self.detector.provider()
    }

    /// The run completed and waits for its window to close.
    pub(super) fn exiting(&self) -> bool {
        matches!(self.phase, Phase::Exiting { .. })
    }

    /// Where the run is.
    #[cfg(test)]
    pub(super) fn phase(&self) -> Phase {
        self.phase
    }
}

/// Where a run of `provider` takes its turn boundaries from: hooks (with the profile's grace
/// period) when the profile wires them, else the screen.
pub(super) fn hook_mode(provider: &ProviderConfig) -> HookMode {
    use crate::config::HookStyle;
    let wired = provider.hooks != HookStyle::None && provider.mode == ProviderMode::Interactive;
    HookMode::for_provider(wired.then_some(provider.hook_grace))
}
