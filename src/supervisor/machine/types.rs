//! The run machine's vocabulary: the events it takes, the commands it gives, its phases and
//! its time rules.

use std::time::{Duration, Instant};

use crate::provider::{HookSignal, Witness};
use crate::status::RunStatus;
use crate::tmux::PaneState;

/// How long an error must stay on an agent's screen before it fails the run.
pub(in crate::supervisor) const ERROR_DEBOUNCE: Duration = Duration::from_secs(3);

/// How long a dead pane may wait for tmux to record its exit status.
pub(in crate::supervisor) const DEAD_STATUS_WAIT: Duration = Duration::from_secs(2);

/// After the submit keys, how long the agent has to visibly take its input before the keys
/// are pressed once more (3 s).
pub(in crate::supervisor) const SUBMIT_CHECK: Duration = Duration::from_secs(3);

/// After the submit keys, how long until the run counts as working whatever the screen says
/// (15 s).
pub(in crate::supervisor) const SUBMIT_GIVE_UP: Duration = Duration::from_secs(15);

/// The supervisor's time rules a run follows (from [`super::Options`]).
#[derive(Debug, Clone, Copy)]
pub(in crate::supervisor) struct Timing {
    /// A finished-looking screen must stand this long to complete a turn.
    pub(in crate::supervisor) done_debounce: Duration,
    /// Quiet time after output before the screen is classified once more.
    pub(in crate::supervisor) quiet: Duration,
    /// Wait after the exit command before the window is closed.
    pub(in crate::supervisor) exit_grace: Duration,
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(in crate::supervisor) enum Phase {
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
pub(in crate::supervisor) enum Event<'a> {
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
    /// Its screen shows its provider's usage limit (`provider::limit`; the loop reads it
    /// when the screen changed): the run waits `resume_in` (the reset, plus its place in
    /// the stagger) in its pane, then resumes with `prompt` unless the CLI retries by itself.
    Limit(Limit),
}

/// A usage limit the loop read off a run's screen.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::supervisor) struct Limit {
    /// The profile's limit pattern that matched.
    pub(in crate::supervisor) pattern: usize,
    /// The CLI waits for the reset by itself.
    pub(in crate::supervisor) waits: bool,
    /// When the limit resets, ms since the epoch (for the record).
    pub(in crate::supervisor) resets_at: i64,
    /// How long from now until the run resumes.
    pub(in crate::supervisor) resume_in: Duration,
    /// The turn pasted at the resume (`[supervisor] resume_prompt`).
    pub(in crate::supervisor) prompt: String,
    /// What the screen said.
    pub(in crate::supervisor) words: String,
    /// The share of its limit the CLI reports used, where it reports one.
    pub(in crate::supervisor) used_percent: Option<f64>,
}

/// A run waiting in its pane for its provider's usage limit to reset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(in crate::supervisor) struct Parked {
    /// When it parked.
    pub(in crate::supervisor) since: Instant,
    /// When it resumes.
    pub(in crate::supervisor) resume_at: Instant,
    /// The profile's limit pattern that matched.
    pub(in crate::supervisor) pattern: usize,
    /// Dialog keys pressed so far at the resume, and when last.
    pub(in crate::supervisor) presses: u32,
    pub(in crate::supervisor) pressed_at: Option<Instant>,
}

/// Where a failed run's log tail comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::supervisor) enum Tail {
    /// The end of the run log.
    Log,
    /// The end of the run log, then this text.
    LogAnd(String),
    /// This screen.
    Screen(String),
}

/// What the loop must do for a run.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::supervisor) enum Command {
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
    /// Park the provider until `resets_at` (ms since the epoch); the run resumes
    /// `resume_in` from now (`None`: the CLI retries by itself).
    Park {
        resets_at: i64,
        resume_in: Option<Duration>,
        words: String,
        used_percent: Option<f64>,
    },
    /// The parked run was resumed in its pane (its dialog closed, the resume prompt sent).
    Resumed { parked_for: Duration },
    /// Stop the run's processes and close its window; forget it.
    Close,
    /// Forget the run (its window is gone already).
    Forget,
}

/// How a re-adopted run resumes (from its rows).
#[derive(Debug, Clone)]
pub(in crate::supervisor) struct Resume {
    /// The prompt was pasted.
    pub(in crate::supervisor) prompt_pasted: bool,
    /// The prompt was submitted.
    pub(in crate::supervisor) prompt_submitted: bool,
    /// A hook said the agent took its prompt (`UserPromptSubmit`).
    pub(in crate::supervisor) prompt_hook_seen: bool,
    /// Messages pasted and not submitted: submitted now.
    pub(in crate::supervisor) delivering: Vec<i64>,
    /// The hook calls of the current turn, in order, with their detail.
    pub(in crate::supervisor) hooks: Vec<(HookSignal, String)>,
    /// The status last recorded.
    pub(in crate::supervisor) status: RunStatus,
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
