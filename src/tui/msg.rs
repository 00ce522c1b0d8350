//! The console's messages (what happened) and effects (what to do about it): the interface
//! between the pure [`super::update::update`] and the effect runner ([`super::effect`]).

use crossterm::event::KeyEvent;

use super::state::{DiffState, Judge, Snapshot, Tail, Want};
use crate::pipeline::Decision;

/// Something that happened, for [`super::update::update`].
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// The terminal was resized (redraw only).
    Resize,
    /// A second passed; `now` in ms since the epoch (elapsed times on screen move).
    Tick {
        /// The time now.
        now: i64,
    },
    /// A database snapshot arrived (asked for, or after another process wrote).
    Loaded(Box<Snapshot>),
    /// An effect finished; `text` is a sentence for the status line.
    Done {
        /// What happened.
        text: String,
        /// It failed.
        error: bool,
    },
    /// A followed run's log was opened: its tail, built from the log's end.
    TailOpened(Box<Tail>),
    /// A followed run's log gained bytes.
    LogBytes {
        /// The run.
        run_id: i64,
        /// What was written.
        bytes: Vec<u8>,
    },
    /// Older lines of a followed run's log were read (the operator scrolled past the top).
    Older {
        /// The run.
        run_id: i64,
        /// Where the lines read end in the log: the tail's first line then.
        end: u64,
        /// The lines.
        older: Box<crate::tui::tail::Older>,
    },
    /// The Artifact view's files were read.
    Judged(Box<Judge>),
    /// The Diff view's diff was computed.
    Diffed(Box<DiffState>),
    /// The in-process supervisor stopped with this error.
    SupervisorStopped(String),
}

/// Work for the effect runner; its results come back as [`Msg`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Load a snapshot for this selection (the loader coalesces requests).
    Reload(Want),
    /// An operator decision on a task (approve, reject, override) through the engine.
    Decide {
        /// Task key.
        key: String,
        /// The decision.
        decision: Decision,
    },
    /// Cancel a job.
    CancelJob(i64),
    /// Queue a failed or cancelled job again.
    RetryJob(i64),
    /// Answer the task's agent (waits for its dialog, verifies the answer landed).
    Answer {
        /// Task key.
        key: String,
        /// Yes or no.
        yes: bool,
    },
    /// Type a line into the task's agent's pane.
    Send {
        /// Task key.
        key: String,
        /// The line.
        text: String,
    },
    /// Queue a message for the task's agent (delivered when its turn ends).
    QueueMessage {
        /// Task key.
        key: String,
        /// The message.
        text: String,
    },
    /// Create a task in the first project.
    CreateTask {
        /// Its title.
        title: String,
    },
    /// Hand the terminal to `tmux attach` on this pane until the operator detaches.
    Attach {
        /// Pane id (`%7`).
        pane: String,
        /// The run's tmux socket (`None`: the config's).
        socket: Option<String>,
    },
    /// Follow this run's log (stops following any other); `None` stops following.
    Follow(Option<FollowLog>),
    /// Read the lines of a run's log before byte `end`.
    LoadOlder {
        /// The run.
        run_id: i64,
        /// Its log file.
        path: String,
        /// Where the tail's first line starts.
        end: u64,
    },
    /// Read the artifacts awaiting judgement.
    LoadJudge {
        /// Task id.
        task_id: i64,
        /// Task version.
        version: i64,
        /// The worktree.
        worktree: Option<String>,
        /// Artifact paths relative to it.
        paths: Vec<String>,
    },
    /// Compute the task's branch diff.
    LoadDiff {
        /// Task id.
        task_id: i64,
    },
    /// Tell the terminal the operator is needed (bell or OSC 9/777, per `[notify]`).
    Ring {
        /// What for, e.g. "ET-002 needs you".
        text: String,
    },
    /// Leave the console.
    Quit,
}

/// Which log to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowLog {
    /// The run.
    pub run_id: i64,
    /// Its log file (`None`: not known yet).
    pub path: Option<String>,
    /// Its pane size, rows.
    pub rows: u16,
    /// Its pane size, columns.
    pub cols: u16,
}
