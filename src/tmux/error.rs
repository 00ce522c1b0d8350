//! The tmux layer's error type.

use std::path::PathBuf;

/// A failure talking to tmux or stopping a pane's processes. Every message says what failed,
/// on what, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    /// The tmux binary could not be found or executed.
    #[error(
        "tmux binary `{binary}` was not found: install tmux 3.3 or newer \
         (apt-get install tmux, brew install tmux) or put it on PATH"
    )]
    NotInstalled {
        /// The binary bosun tried to run (`tmux` unless overridden).
        binary: String,
    },
    /// `tmux -V` reported a version older than bosun supports.
    #[error(
        "`{binary} -V` says `{found}`, but bosun needs tmux 3.3 or newer: upgrade tmux \
         (apt-get install tmux, or build it from https://github.com/tmux/tmux)"
    )]
    TooOld {
        /// The binary that was asked.
        binary: String,
        /// What `tmux -V` printed.
        found: String,
    },
    /// tmux could not be started at all (other than not being installed).
    #[error("could not run `{binary} {command}`: {source}")]
    Spawn {
        /// The binary.
        binary: String,
        /// The tmux command line (without the binary).
        command: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// tmux ran but the command failed (non-zero exit status).
    #[error(
        "tmux {command} failed on socket `{socket}` (exit status {status}): {stderr}; \
         check the target still exists with `tmux -L {socket} list-panes -a`"
    )]
    Command {
        /// The tmux socket name (`-L`).
        socket: String,
        /// The tmux command name(s), e.g. `new-window`.
        command: String,
        /// The exit status, or `signal` if tmux was killed.
        status: String,
        /// What tmux wrote to stderr, trimmed.
        stderr: String,
    },
    /// tmux printed something bosun cannot parse.
    #[error(
        "unexpected output from tmux {command}: {output:?}; this is a bosun bug \
         (or an unsupported tmux), please report it with the output of `tmux -V`"
    )]
    Parse {
        /// The tmux command whose output this was.
        command: String,
        /// The offending output (one line).
        output: String,
    },
    /// An argument bosun was asked to pass is not acceptable.
    #[error("invalid {what} {value:?}: {why}")]
    Invalid {
        /// What the value is, e.g. `session name`.
        what: &'static str,
        /// The rejected value.
        value: String,
        /// Why it was rejected and what is allowed.
        why: &'static str,
    },
    /// A file or directory bosun needs (config, log directory) could not be written.
    #[error("cannot write {}: {source}; check the directory exists and is writable", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `/proc` could not be read, so the process tree of a pane cannot be found.
    #[error(
        "cannot read {}: {source}; bosun needs a mounted /proc (Linux) to stop a pane's processes",
        path.display()
    )]
    Proc {
        /// The path under `/proc`.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl TmuxError {
    /// Whether tmux refused because its target is gone: the pane or window closed, or the
    /// server is not running (a run that ended while someone was acting on it).
    pub fn target_gone(&self) -> bool {
        match self {
            TmuxError::Command { stderr, .. } => {
                stderr.contains("can't find pane")
                    || stderr.contains("can't find window")
                    || stderr.contains("can't find session")
                    || server_gone(stderr)
            }
            _ => false,
        }
    }
}

/// tmux's ways of saying there is no server on the socket: no socket file, a stale one, or
/// a server that closed the connection because it is exiting (or crashed: either way its
/// panes are gone).
pub(super) fn server_gone(stderr: &str) -> bool {
    stderr.contains("no server running")
        || stderr.contains("error connecting to")
        || stderr.contains("server exited unexpectedly")
}
