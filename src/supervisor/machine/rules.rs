//! The run machine's rules: classifying the screen, hook calls, the steps that come due with
//! time, answers and pane snapshots.

use std::time::{Duration, Instant};

use super::{
    Command, DEAD_STATUS_WAIT, ERROR_DEBOUNCE, Phase, RunMachine, SUBMIT_CHECK, SUBMIT_GIVE_UP,
    Tail,
};
use crate::config::ProviderMode;
use crate::control::{AnswerStep, AnswerTiming, failure_words};
use crate::provider::{HookMode, HookSignal, Tracker, classify};
use crate::status::RunStatus;
use crate::tmux::PaneState;

impl RunMachine {
    /// Classifies the screen when due: after output, once more after a quiet period, and
    /// every look while a completion is pending.
    pub(super) fn look(&mut self, now: Instant) {
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
            if self.tracker.status() == RunStatus::Busy {
                self.limit_armed = true;
            }
            // The same text, not drawn again, for the loop's usage-limit look.
            if !self.detector.provider().limits.is_empty() {
                self.limit_screen = Some(text);
            }
        }
    }

    pub(super) fn hook(&mut self, signal: HookSignal, detail: &str, now: Instant) -> Vec<Command> {
        if self.tracker.is_complete() || self.parked.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        match signal {
            HookSignal::Done => self.final_message = Some(detail.to_string()),
            // A rate limit may be a usage limit whose screen is still being drawn: the
            // screen has ERROR_DEBOUNCE to show it before the run fails.
            HookSignal::Failed
                if !self.provider().limits.is_empty() && detail.starts_with("rate_limit") =>
            {
                self.failed_hook = Some((detail.to_string(), now));
                return out;
            }
            HookSignal::Failed => out.push(Command::Fail {
                reason: format!("the agent's turn failed: {detail}"),
                tail: Tail::LogAnd(detail.to_string()),
                exit_code: None,
                timed_out: false,
            }),
            HookSignal::Busy => self.limit_armed = true,
            HookSignal::Waiting => {}
        }
        self.tracker.hook(signal);
        out
    }

    /// The steps that come due with time.
    pub(super) fn advance(&mut self, now: Instant) -> Vec<Command> {
        if let Some(parked) = self.parked {
            return self.parked_step(parked, now);
        }
        if let Some((detail, at)) = self.failed_hook.clone()
            && now.duration_since(at) >= ERROR_DEBOUNCE
        {
            self.failed_hook = None;
            return vec![Command::Fail {
                reason: format!("the agent's turn failed: {detail}"),
                tail: Tail::LogAnd(detail),
                exit_code: None,
                timed_out: false,
            }];
        }
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
    pub(super) fn pane(&mut self, pane: &PaneState, now: Instant) -> Vec<Command> {
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
    pub(super) fn recheck(&self) -> bool {
        matches!(self.phase, Phase::Working | Phase::Submitted { .. })
            && (matches!(self.tracker.status(), RunStatus::Done | RunStatus::Idle)
                || self.tracker.completion_pending())
            && !self.tracker.is_complete()
    }
}
