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
use crate::control::{AnswerTiming, Answering};
use crate::provider::Detector;
use crate::provider::{HookMode, HookSignal, Tracker, Witness};
use crate::status::RunStatus;

mod limit;
mod rules;
#[cfg(test)]
mod tests;
mod types;

pub(super) use types::*;

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
    /// The screen as last classified, not yet read by the loop for a usage limit (kept only
    /// for a profile with `limits`).
    limit_screen: Option<String>,
    /// Limits are read off the screen: not after a resume until the agent has been busy
    /// again (the old limit stays the last message until it answers).
    limit_armed: bool,
    /// Waiting in its pane for its provider's usage limit to reset.
    parked: Option<Parked>,
    /// The resume prompt after a limit is being delivered (not the task's prompt).
    resuming: Option<String>,
    /// The reset last reported with [`Command::Park`], ms since the epoch.
    reported_reset: Option<i64>,
    /// While the CLI waits out a limit itself: the time its timeout had left when it began.
    wait_remaining: Option<Duration>,
    /// A failure hook that may be a usage limit: it fails the run once it has stood
    /// [`ERROR_DEBOUNCE`] with no limit read on the screen.
    failed_hook: Option<(String, Instant)>,
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
        let tracker = Tracker::new(timing.done_debounce, hook_mode(&provider));
        let mut m = RunMachine::blank(
            provider,
            (rows, cols),
            prompt,
            timing,
            timeout,
            tracker,
            now,
        );
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
        // A parked run is judged afresh: its screen still shows the limit if it stands.
        let status = match resume.status {
            RunStatus::Parked => RunStatus::Unknown,
            s => s,
        };
        let tracker = Tracker::resumed(timing.done_debounce, status, hook_mode(&provider), now);
        let mut m = RunMachine::blank(provider, size, prompt, timing, timeout, tracker, now);
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

    /// A machine in `Working` with `tracker`; the constructors set the rest.
    fn blank(
        provider: ProviderConfig,
        (rows, cols): (u16, u16),
        prompt: String,
        timing: Timing,
        timeout: Duration,
        tracker: Tracker,
        now: Instant,
    ) -> RunMachine {
        RunMachine {
            tracker,
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
            limit_screen: None,
            limit_armed: true,
            parked: None,
            resuming: None,
            reported_reset: None,
            wait_remaining: None,
            failed_hook: None,
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
            Event::Hook { signal, detail } => self.hook(signal, detail, now),
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
                if self.resuming.is_some() {
                    Vec::new()
                } else if self.delivering.is_empty() {
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
                if self.resuming.take().is_some() {
                    Vec::new()
                } else if self.delivering.is_empty() {
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
            Event::Limit(limit) => self.limit(limit, now),
        }
    }

    /// Once after the screen was classified, its text, for the loop to read for a usage
    /// limit (only for a profile with `limits`, and not while the run is parked, resuming or
    /// exiting).
    pub(super) fn take_limit_screen(&mut self) -> Option<String> {
        let screen = self.limit_screen.take()?;
        (self.limit_armed
            && self.parked.is_none()
            && self.resuming.is_none()
            && matches!(
                self.phase,
                Phase::Working | Phase::Submitted { .. } | Phase::TurnEnded
            ))
        .then_some(screen)
    }

    /// When a parked run resumes, for the loop's sleep.
    pub(super) fn wakes_at(&self) -> Option<Instant> {
        self.parked.map(|p| p.resume_at)
    }

    /// True while the run waits for its provider's usage limit to reset.
    pub(super) fn is_parked(&self) -> bool {
        self.parked.is_some()
    }

    /// True when the run has steps that come due with time rather than with output: a prompt
    /// to deliver, an answer being pressed, an error or a dead pane standing, a quiet check
    /// or a completion (debounce, hook grace period) to re-check, an exit in progress. The
    /// loop ticks every [`super::Options::tick`] while any run is hot and sleeps otherwise.
    pub(super) fn hot(&self) -> bool {
        if let Some(p) = self.parked {
            return p.presses > 0;
        }
        !matches!(self.phase, Phase::Working)
            || self.failed_hook.is_some()
            || self.answering.is_some()
            || self.error_since.is_some()
            || self.dead_since.is_some()
            || !self.quiet_checked
            || self.recheck()
    }

    /// The status to record, with the words naming its source (" (agent hook)"), when it
    /// changed since [`RunMachine::recorded`].
    pub(super) fn status_change(&self) -> Option<(RunStatus, String)> {
        let status = self.status();
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
        if self.parked.is_some() {
            return RunStatus::Parked;
        }
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
