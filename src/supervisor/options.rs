//! The supervisor's tuning and placement ([`Options`]) and its failures ([`SupervisorError`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::pipeline::EngineError;
use crate::store::StoreError;
use crate::tmux::TmuxError;

/// A supervisor failure.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// tmux failed (missing, too old, or a command failed).
    #[error(transparent)]
    Tmux(#[from] TmuxError),
    /// git failed.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// A file could not be read or created.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The provider's CLI is not installed: the message says what to install.
    #[error("{0}")]
    AgentMissing(String),
    /// Another supervisor took the lease (this one must stop); the sentence names it.
    #[error("lost the supervisor lease: {0}; stopping (agents keep running)")]
    LeaseLost(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, SupervisorError>;

/// Tuning and placement. [`Options::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// tmux socket name (`tmux -L NAME`).
    pub socket: String,
    /// tmux session holding one window per run.
    pub session: String,
    /// Where `runs/<id>.log`, `worktrees/` and the tmux config go.
    pub data_dir: PathBuf,
    /// Names the lease holder: `daemon`, `console`, `demo`.
    pub owner: String,
    /// Shortest time between two ticks (25 ms), and the period of ticks while a run has
    /// time-based steps pending; output and database writes wake the loop sooner than that
    /// after a quiet spell.
    pub tick: Duration,
    /// Period of the `list-panes -a` liveness check and cancel check (500 ms).
    pub liveness_every: Duration,
    /// Period of claim attempts (200 ms).
    pub claim_every: Duration,
    /// A turn must look finished this long to count as complete (800 ms).
    pub done_debounce: Duration,
    /// Quiet time after output before the screen is classified once more (250 ms).
    pub quiet: Duration,
    /// Wait after the exit command before the window is closed (3 s).
    pub exit_grace: Duration,
    /// Lease heartbeat period (2 s); a lease silent for 5 periods is stale.
    pub heartbeat_every: Duration,
    /// Pane size for new windows, columns × rows (200 × 50).
    pub pane_size: (u16, u16),
    /// Path of the bosun binary, for `{bosun}` in provider commands.
    pub bosun_exe: String,
}

impl Options {
    /// Defaults, with the data directory and tmux socket given.
    pub fn new(data_dir: PathBuf, socket: &str) -> Options {
        Options {
            socket: socket.to_string(),
            session: "bosun".into(),
            data_dir,
            owner: "daemon".into(),
            tick: Duration::from_millis(25),
            liveness_every: Duration::from_millis(500),
            claim_every: Duration::from_millis(200),
            done_debounce: Duration::from_millis(800),
            quiet: Duration::from_millis(250),
            exit_grace: Duration::from_secs(3),
            heartbeat_every: Duration::from_secs(2),
            pane_size: (200, 50),
            bosun_exe: std::env::current_exe()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "bosun".into()),
        }
    }
}
