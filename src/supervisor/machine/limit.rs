//! The run machine's usage-limit rules: a run whose provider reports a usage limit waits in
//! its pane instead of failing (no attempt spent, the breaker untouched), and resumes at the
//! reset in its own agent session.

use std::time::{Duration, Instant};

use super::{Command, Limit, Parked, Phase, RunMachine};
use crate::provider::Tracker;

/// Resets read off a screen within this of the one reported already are the same reset (a
/// CLI counting down `retrying in 41s`, `40s`, … rounds each second).
const SAME_RESET_MS: i64 = 5_000;

/// Dialog keys pressed at most this often, and this many times, before the resume prompt
/// goes in anyway.
const DIALOG_PRESS_EVERY: Duration = Duration::from_secs(1);
const DIALOG_PRESSES: u32 = 3;

impl RunMachine {
    /// The loop read a usage limit off the screen.
    pub(super) fn limit(&mut self, limit: Limit, now: Instant) -> Vec<Command> {
        if self.parked.is_some() || self.exiting() {
            return Vec::new();
        }
        self.failed_hook = None;
        self.error_since = None;
        let news = self
            .reported_reset
            .is_none_or(|r| (r - limit.resets_at).abs() > SAME_RESET_MS);
        if limit.waits {
            // The CLI retries at the reset by itself: its timeout stops running meanwhile.
            let left = *self
                .wait_remaining
                .get_or_insert(self.deadline.saturating_duration_since(now));
            self.deadline = self.deadline.max(now + limit.resume_in + left);
        } else {
            self.parked = Some(Parked {
                since: now,
                resume_at: now + limit.resume_in,
                pattern: limit.pattern,
                presses: 0,
                pressed_at: None,
            });
            self.resuming = Some(limit.prompt);
        }
        if !news && limit.waits {
            return Vec::new();
        }
        self.reported_reset = Some(limit.resets_at);
        vec![Command::Park {
            resets_at: limit.resets_at,
            resume_in: (!limit.waits).then_some(limit.resume_in),
            words: limit.words,
            used_percent: limit.used_percent,
        }]
    }

    /// A parked run at `now`: at its resume time, the limit's dialog is closed with its keys
    /// (pressed while it shows, a second apart, at most three times), then the resume prompt
    /// is pasted as a new turn, or, for a dialog that retries by itself, the run simply
    /// works on.
    pub(super) fn parked_step(&mut self, mut p: Parked, now: Instant) -> Vec<Command> {
        if now < p.resume_at {
            return Vec::new();
        }
        let Some(limit) = self.provider().limits.get(p.pattern).cloned() else {
            return self.resume(p, now);
        };
        let dialog = limit
            .dialog
            .as_ref()
            .is_some_and(|d| d.is_match(&self.detector.text()));
        if dialog && !limit.keys.is_empty() && p.presses < DIALOG_PRESSES {
            if p.pressed_at
                .is_some_and(|t| now.duration_since(t) < DIALOG_PRESS_EVERY)
            {
                return Vec::new();
            }
            p.presses += 1;
            p.pressed_at = Some(now);
            self.parked = Some(p);
            if limit.prompt {
                return vec![Command::Press(limit.keys)];
            }
            // The keys themselves resume the turn (Gemini CLI's "Keep trying").
            let mut out = vec![Command::Press(limit.keys)];
            self.resuming = None;
            out.extend(self.resume(p, now));
            return out;
        }
        if !limit.prompt {
            self.resuming = None;
        }
        self.resume(p, now)
    }

    /// Ends the park: the timeout runs again from where it stopped and the next turn is
    /// judged afresh.
    fn resume(&mut self, p: Parked, now: Instant) -> Vec<Command> {
        self.parked = None;
        self.limit_armed = false;
        let parked_for = now.duration_since(p.since);
        self.deadline += parked_for;
        self.reported_reset = None;
        self.tracker = Tracker::new(self.timing.done_debounce, super::hook_mode(self.provider()));
        self.final_message = None;
        self.ended_by = None;
        let mut out = vec![Command::Resumed { parked_for }];
        match self.resuming.clone() {
            Some(prompt) => {
                self.phase = Phase::Pasting;
                out.push(Command::Paste(prompt));
            }
            None => {
                let screen = self.detector.text();
                self.tracker.input_sent(&screen, now);
                self.phase = Phase::Working;
            }
        }
        out
    }
}
