//! From raw screen readings to a run's status and its completion.

use std::time::{Duration, Instant};

use crate::config::ScreenStatus;
use crate::status::RunStatus;

/// The result of one observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The status to report.
    pub status: RunStatus,
    /// True exactly once: the turn just completed (done, or idle after busy, held through
    /// the debounce).
    pub completed: bool,
}

/// What an agent's own hook call says (see `agent::hooks`): stronger than any screen
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

/// Where a run's turn boundaries come from (ARCHITECTURE.md, Invariants: "hooks decide a turn").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookMode {
    /// The provider has no hooks (`hooks = "none"`): the screen completes turns.
    Off,
    /// Hooks are wired but none has arrived for this run yet: nothing completes a turn
    /// until a hook arrives or `grace` passes after the prompt was submitted.
    Expected {
        /// How long the first hook may take.
        grace: Duration,
    },
    /// A hook arrived: only hooks complete turns (`Stop`, or a failure hook).
    Active,
    /// Hooks are wired but stayed silent past the grace period: the screen completes
    /// turns, as with [`HookMode::Off`].
    FellBack,
}

impl HookMode {
    /// The mode for a provider with (`Some(grace)`) or without (`None`) hooks.
    pub fn for_provider(grace: Option<Duration>) -> HookMode {
        grace.map_or(HookMode::Off, |grace| HookMode::Expected { grace })
    }
}

/// Tracks one run's status across screen readings and hook calls.
///
/// Rules (ARCHITECTURE.md, Invariants: "hooks decide a turn"): waiting wins over busy (the detector checks waiting first).
/// With hooks ([`HookMode::Expected`], [`HookMode::Active`]) a turn is completed only by a
/// hook: `Stop` completes it at once ([`Tracker::hook`]); the screen still reports waiting
/// and errors, but a screen that reads idle or done while the hooks say busy (Claude Code
/// shows `paste again to expand`, not `esc to interrupt`, for ~8 s after a multi-line
/// paste) never ends the turn. Without hooks ([`HookMode::Off`], or [`HookMode::FellBack`]
/// once hooks stayed silent for the grace period after the prompt was submitted) a turn is
/// complete when the screen shows it done — or idle after having been busy — and stays so
/// for `debounce`; a done screen only counts once the screen has changed since the input
/// was sent, so the previous turn's summary is never taken for this one's. A refusal
/// ([`Tracker::answer_sent`] with `yes = false`) interrupts the turn, and CLIs call no
/// `Stop` hook for an interrupted turn, so the screen may complete that turn. A completed
/// turn is latched until [`Tracker::input_sent`], so a redraw cannot flip it back to busy.
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
    hooks: HookMode,
    /// When the last input was submitted (the hook grace period runs from here).
    submitted_at: Option<Instant>,
    /// The operator refused the agent's request during this turn.
    refused: bool,
    /// The run just fell back to the screen; taken once by [`Tracker::take_fallback`].
    fallback_pending: bool,
}

impl Tracker {
    /// A tracker for a run that is starting, completing turns after `debounce` (screen
    /// only) or by hooks, per `hooks`.
    pub fn new(debounce: Duration, hooks: HookMode) -> Tracker {
        Tracker {
            status: RunStatus::Starting,
            debounce,
            saw_busy: false,
            input_screen: None,
            changed_since_input: false,
            done_since: None,
            latched: false,
            from_hook: false,
            hooks,
            submitted_at: None,
            refused: false,
            fallback_pending: false,
        }
    }

    /// A tracker for a re-adopted run that had its prompt and was last seen as `status`;
    /// its hook grace period (if any) starts at `now`.
    pub fn resumed(
        debounce: Duration,
        status: RunStatus,
        hooks: HookMode,
        now: Instant,
    ) -> Tracker {
        let mut t = Tracker::new(debounce, hooks);
        t.status = status;
        t.saw_busy = matches!(status, RunStatus::Busy | RunStatus::Waiting);
        t.changed_since_input = true;
        t.submitted_at = Some(now);
        t
    }

    /// The status last reported.
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// Where turn boundaries come from now.
    pub fn hook_mode(&self) -> HookMode {
        self.hooks
    }

    /// True exactly once after the run fell back from silent hooks to the screen.
    pub fn take_fallback(&mut self) -> bool {
        std::mem::take(&mut self.fallback_pending)
    }

    /// True once the agent has visibly taken the last input: the screen changed and it is
    /// busy, waiting, done or failed (or a hook said so).
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
    /// Any hook makes hooks the authority for this run ([`HookMode::Active`]), also after
    /// a fallback.
    pub fn hook(&mut self, signal: HookSignal) {
        if self.latched {
            return;
        }
        self.hooks = HookMode::Active;
        self.fallback_pending = false;
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

    /// True while a turn a hook opened waits for its closing hook: hooks are the authority,
    /// the agent reads busy (not waiting for the operator, not failed), the operator refused
    /// nothing, and the turn is not complete. Only then may a second witness end it
    /// ([`Tracker::witness_done`]).
    pub fn hook_turn_open(&self) -> bool {
        self.hooks == HookMode::Active
            && !self.latched
            && !self.refused
            && self.status == RunStatus::Busy
    }

    /// A second witness (the CLI's session record, or a quiet finished screen) ended a turn
    /// a hook opened whose closing hook never came: completes and latches it like `Stop`.
    /// Does nothing unless [`Tracker::hook_turn_open`].
    pub fn witness_done(&mut self) {
        if !self.hook_turn_open() {
            return;
        }
        self.latched = true;
        self.done_since = None;
        self.status = RunStatus::Done;
        self.from_hook = false;
    }

    /// True while the screen may complete the turn: no hooks, hooks fell back, or the
    /// operator refused (an interrupted turn gets no `Stop` hook).
    fn screen_completes(&self) -> bool {
        self.refused || matches!(self.hooks, HookMode::Off | HookMode::FellBack)
    }

    /// True while something time-based is pending and the screen must be looked at again
    /// even if the agent prints nothing: a finished-looking screen waiting out the debounce
    /// (the status meanwhile still reads busy for idle-after-busy), or a hook grace period
    /// running.
    pub fn completion_pending(&self) -> bool {
        !self.latched
            && (self.done_since.is_some()
                || (matches!(self.hooks, HookMode::Expected { .. }) && self.submitted_at.is_some()))
    }

    /// New input went to the agent at `now`; `screen` is the screen text at that moment.
    /// Unlatches.
    pub fn input_sent(&mut self, screen: &str, now: Instant) {
        self.saw_busy = false;
        self.input_screen = Some(screen.to_string());
        self.changed_since_input = false;
        self.done_since = None;
        self.latched = false;
        self.refused = false;
        self.submitted_at = Some(now);
    }

    /// An answer (`yes` or not) to the agent's question or permission prompt went in: like
    /// new input, except that the turn goes on, so having worked on it still counts. A
    /// refusal interrupts the turn: the screen may then complete it.
    pub fn answer_sent(&mut self, screen: &str, yes: bool, now: Instant) {
        let worked = self.saw_busy;
        let submitted = self.submitted_at;
        self.input_sent(screen, now);
        self.saw_busy = worked;
        self.submitted_at = submitted;
        self.refused = !yes;
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
        if let (HookMode::Expected { grace }, Some(at)) = (self.hooks, self.submitted_at)
            && now.duration_since(at) >= grace
        {
            self.hooks = HookMode::FellBack;
            self.fallback_pending = true;
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
            // Hooks decide: the turn a hook opened goes on whatever the screen says; a
            // dialog or error that left the screen means the agent is back at work.
            Some(ScreenStatus::Done | ScreenStatus::Idle) | None
                if !self.screen_completes() && self.hooks == HookMode::Active =>
            {
                self.done_since = None;
                if raw.is_some() {
                    self.status = RunStatus::Busy;
                }
                false
            }
            // Hooks expected but silent so far: report the screen, complete nothing.
            Some(ScreenStatus::Done | ScreenStatus::Idle) if !self.screen_completes() => {
                self.done_since = None;
                self.status = if self.saw_busy {
                    RunStatus::Busy
                } else {
                    RunStatus::Idle
                };
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
mod tests;
