//! From raw screen readings to a run's status and its completion.

use std::time::{Duration, Instant};

use crate::config::ScreenStatus;
use crate::store::runs::RunStatus;

/// The result of one observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The status to report.
    pub status: RunStatus,
    /// True exactly once: the turn just completed (done, or idle after busy, held through
    /// the debounce).
    pub completed: bool,
}

/// What an agent's own hook call says (see `supervisor::hooks`): stronger than any screen
/// reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookSignal {
    /// It took the prompt or is running a tool.
    Busy,
    /// It waits for a permission answer.
    Waiting,
    /// It finished its turn.
    Done,
    /// Its turn ended on an error.
    Failed,
}

/// Tracks one run's status across screen readings.
///
/// Rules (DESIGN.md §3): waiting wins over busy (the detector checks waiting first); a turn
/// is complete when the screen shows it done — or idle after having been busy — and stays so
/// for `debounce`; a completed turn is latched until [`Tracker::input_sent`], so a redraw
/// cannot flip it back to busy. A done screen only counts once the screen has changed since
/// the input was sent, so the previous turn's summary is never taken for this one's.
///
/// Hook calls ([`Tracker::hook`]) are the strongest signal: a `Stop` completes the turn at
/// once (no debounce), busy and waiting hooks set the status until the screen next changes
/// it. The screen remains the fallback for agents without hooks, or whose hooks fail.
#[derive(Debug, Clone)]
pub struct Tracker {
    status: RunStatus,
    debounce: Duration,
    saw_busy: bool,
    input_screen: Option<String>,
    changed_since_input: bool,
    done_since: Option<Instant>,
    latched: bool,
    from_hook: bool,
}

impl Tracker {
    /// A tracker for a run that is starting, completing turns after `debounce`.
    pub fn new(debounce: Duration) -> Tracker {
        Tracker {
            status: RunStatus::Starting,
            debounce,
            saw_busy: false,
            input_screen: None,
            changed_since_input: false,
            done_since: None,
            latched: false,
            from_hook: false,
        }
    }

    /// A tracker for a re-adopted run that had its prompt and was last seen as `status`.
    pub fn resumed(debounce: Duration, status: RunStatus) -> Tracker {
        let mut t = Tracker::new(debounce);
        t.status = status;
        t.saw_busy = matches!(status, RunStatus::Busy | RunStatus::Waiting);
        t.changed_since_input = true;
        t
    }

    /// The status last reported.
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// True once the agent has visibly taken the last input: the screen changed and it is
    /// busy, waiting, done or failed.
    pub fn started(&self) -> bool {
        self.saw_busy
            || (self.changed_since_input
                && matches!(
                    self.status,
                    RunStatus::Waiting | RunStatus::Done | RunStatus::Error
                ))
    }

    /// True when the last status change came from a hook call rather than the screen.
    pub fn from_hook(&self) -> bool {
        self.from_hook
    }

    /// Takes an agent's hook call. A completed (latched) turn ignores everything but new
    /// input; [`HookSignal::Failed`] only marks the status (the supervisor fails the run).
    pub fn hook(&mut self, signal: HookSignal) {
        if self.latched {
            return;
        }
        self.from_hook = true;
        self.done_since = None;
        self.changed_since_input = true;
        self.input_screen = None;
        match signal {
            HookSignal::Busy => {
                self.saw_busy = true;
                self.status = RunStatus::Busy;
            }
            HookSignal::Waiting => {
                self.saw_busy = true;
                self.status = RunStatus::Waiting;
            }
            HookSignal::Done => {
                self.saw_busy = true;
                self.latched = true;
                self.status = RunStatus::Done;
            }
            HookSignal::Failed => self.status = RunStatus::Error,
        }
    }

    /// True once the turn completed (latched).
    pub fn is_complete(&self) -> bool {
        self.latched
    }

    /// True while a finished-looking screen (done, or idle after busy) waits out the
    /// debounce: it must be looked at again once the debounce has passed, even if the agent
    /// prints nothing more (the status meanwhile still reads busy for idle-after-busy).
    pub fn completion_pending(&self) -> bool {
        self.done_since.is_some() && !self.latched
    }

    /// New input went to the agent; `screen` is the screen text at that moment. Unlatches.
    pub fn input_sent(&mut self, screen: &str) {
        self.saw_busy = false;
        self.input_screen = Some(screen.to_string());
        self.changed_since_input = false;
        self.done_since = None;
        self.latched = false;
    }

    /// An answer to the agent's question or permission prompt went in: like new input,
    /// except that the turn goes on, so having worked on it still counts.
    pub fn answer_sent(&mut self, screen: &str) {
        let worked = self.saw_busy;
        self.input_sent(screen);
        self.saw_busy = worked;
    }

    /// Takes a reading: `raw` is the detector's classification of `screen` at `now`.
    pub fn observe(
        &mut self,
        raw: Option<ScreenStatus>,
        screen: &str,
        now: Instant,
    ) -> Observation {
        if self.latched {
            return Observation {
                status: RunStatus::Done,
                completed: false,
            };
        }
        if let Some(before) = &self.input_screen
            && before != screen
        {
            self.changed_since_input = true;
            self.input_screen = None;
        }
        let before = self.status;
        let candidate = match raw {
            Some(ScreenStatus::Busy) => {
                self.saw_busy = true;
                self.done_since = None;
                self.status = RunStatus::Busy;
                false
            }
            Some(ScreenStatus::Waiting) => {
                // Asking counts as having worked on the turn: an agent told "no" goes back
                // to idle, and that ends the turn (a fast model may never show busy).
                self.saw_busy = true;
                self.done_since = None;
                self.status = RunStatus::Waiting;
                false
            }
            Some(ScreenStatus::Error) => {
                self.done_since = None;
                self.status = RunStatus::Error;
                false
            }
            Some(ScreenStatus::Done) if self.changed_since_input || self.saw_busy => {
                self.status = RunStatus::Done;
                true
            }
            Some(ScreenStatus::Idle) if self.saw_busy => true,
            Some(ScreenStatus::Idle) => {
                self.done_since = None;
                self.status = RunStatus::Idle;
                false
            }
            // An old summary still on screen, or nothing recognisable: no change.
            Some(ScreenStatus::Done) | None => false,
        };
        let mut completed = false;
        if candidate {
            let since = *self.done_since.get_or_insert(now);
            if now.duration_since(since) >= self.debounce {
                self.latched = true;
                self.status = RunStatus::Done;
                completed = true;
            }
        }
        if self.status != before {
            self.from_hook = false;
        }
        Observation {
            status: self.status,
            completed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_millis(500);

    #[test]
    fn busy_then_done_completes_after_the_debounce_and_latches() {
        let t0 = Instant::now();
        let mut t = Tracker::new(D);
        t.input_sent("> ");
        assert_eq!(
            t.observe(Some(ScreenStatus::Busy), "working", t0).status,
            RunStatus::Busy
        );
        let o = t.observe(
            Some(ScreenStatus::Done),
            "done",
            t0 + Duration::from_millis(10),
        );
        assert_eq!((o.status, o.completed), (RunStatus::Done, false));
        let o = t.observe(
            Some(ScreenStatus::Done),
            "done",
            t0 + Duration::from_millis(600),
        );
        assert_eq!((o.status, o.completed), (RunStatus::Done, true));
        // Latched: a redraw that looks busy does not flip it, and completion is reported once.
        let o = t.observe(
            Some(ScreenStatus::Busy),
            "busy again",
            t0 + Duration::from_millis(700),
        );
        assert_eq!((o.status, o.completed), (RunStatus::Done, false));
        // New input unlatches.
        t.input_sent("done");
        assert_eq!(
            t.observe(Some(ScreenStatus::Busy), "w", t0 + D * 3).status,
            RunStatus::Busy
        );
    }

    #[test]
    fn idle_after_busy_is_pending_until_the_debounce_passes() {
        let t0 = Instant::now();
        let mut t = Tracker::new(D);
        t.input_sent("> ");
        t.observe(Some(ScreenStatus::Busy), "working", t0);
        assert!(!t.completion_pending());
        let o = t.observe(
            Some(ScreenStatus::Idle),
            "> ",
            t0 + Duration::from_millis(10),
        );
        assert_eq!((o.status, o.completed), (RunStatus::Busy, false));
        assert!(t.completion_pending(), "a quiet agent must be re-checked");
        let o = t.observe(
            Some(ScreenStatus::Idle),
            "> ",
            t0 + Duration::from_millis(600),
        );
        assert!(o.completed);
        assert!(!t.completion_pending());
    }

    #[test]
    fn a_busy_reading_inside_the_debounce_restarts_it() {
        let t0 = Instant::now();
        let mut t = Tracker::new(D);
        t.input_sent("> ");
        t.observe(Some(ScreenStatus::Busy), "a", t0);
        t.observe(
            Some(ScreenStatus::Idle),
            "b",
            t0 + Duration::from_millis(100),
        );
        t.observe(
            Some(ScreenStatus::Busy),
            "c",
            t0 + Duration::from_millis(400),
        );
        let o = t.observe(
            Some(ScreenStatus::Idle),
            "d",
            t0 + Duration::from_millis(700),
        );
        assert!(!o.completed, "only 300 ms idle since the last busy");
        let o = t.observe(
            Some(ScreenStatus::Idle),
            "d",
            t0 + Duration::from_millis(1300),
        );
        assert!(o.completed);
    }

    #[test]
    fn the_previous_turns_summary_does_not_complete_the_next_turn() {
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::ZERO);
        t.input_sent("✓ Done in 1s\n>");
        let o = t.observe(Some(ScreenStatus::Done), "✓ Done in 1s\n>", t0);
        assert!(!o.completed, "unchanged screen: still the old summary");
        assert!(!t.started());
        let o = t.observe(
            Some(ScreenStatus::Done),
            "✓ Done in 1s\n✓ Done in 0s\n>",
            t0,
        );
        assert!(o.completed, "a new summary after the screen changed");
    }

    #[test]
    fn a_stop_hook_completes_at_once_even_while_the_screen_looks_busy() {
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::from_secs(10));
        t.input_sent("> ");
        t.hook(HookSignal::Busy);
        assert!(t.started() && t.from_hook());
        assert_eq!(t.status(), RunStatus::Busy);
        t.observe(Some(ScreenStatus::Waiting), "❯ 1. Yes", t0);
        assert_eq!(t.status(), RunStatus::Waiting);
        assert!(!t.from_hook(), "the screen changed the status");
        t.observe(Some(ScreenStatus::Busy), "working", t0);
        t.hook(HookSignal::Done);
        assert!(t.is_complete(), "no debounce after Stop");
        assert_eq!(t.status(), RunStatus::Done);
        let o = t.observe(Some(ScreenStatus::Busy), "still drawing", t0);
        assert_eq!((o.status, o.completed), (RunStatus::Done, false));
        t.hook(HookSignal::Failed);
        assert_eq!(t.status(), RunStatus::Done, "latched until new input");
    }

    #[test]
    fn idle_after_a_refused_permission_prompt_completes_the_turn() {
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::ZERO);
        t.input_sent("> ");
        t.observe(Some(ScreenStatus::Waiting), "❯ 1. Yes", t0);
        t.answer_sent("❯ 1. Yes");
        let o = t.observe(Some(ScreenStatus::Idle), "Interrupted\n> ", t0);
        assert!(o.completed, "told no, the agent is idle: the turn is over");
    }

    #[test]
    fn hook_waiting_and_failure_set_the_status() {
        let mut t = Tracker::new(D);
        t.input_sent("> ");
        t.hook(HookSignal::Waiting);
        assert_eq!(t.status(), RunStatus::Waiting);
        assert!(t.started());
        t.hook(HookSignal::Failed);
        assert_eq!(t.status(), RunStatus::Error);
        assert!(!t.is_complete());
    }

    #[test]
    fn idle_without_busy_is_not_done_and_waiting_is_reported() {
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::ZERO);
        assert_eq!(t.status(), RunStatus::Starting);
        t.input_sent("");
        let o = t.observe(Some(ScreenStatus::Idle), "> text", t0);
        assert_eq!((o.status, o.completed), (RunStatus::Idle, false));
        let o = t.observe(Some(ScreenStatus::Waiting), "❯ 1. Yes", t0);
        assert_eq!(o.status, RunStatus::Waiting);
        assert!(t.started());
    }
}
