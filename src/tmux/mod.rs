//! The only code that runs tmux: a private server on its own socket (`tmux -L <socket>`) with
//! bosun's generated config (ARCHITECTURE.md, `tmux/`).
//!
//! Every call blocks while it forks one `tmux` client (≈ 2–3 ms; async callers should use
//! `spawn_blocking`) with stdin null (except `load-buffer -`, which reads the pasted text
//! from stdin), checks its exit status and turns a failure into a [`TmuxError`] carrying
//! tmux's stderr. Commands are built with `tmux_interface`; the argv it builds is run with
//! [`std::process::Command`] because its runner always executes a program named `tmux`
//! (the binary is configurable here, e.g. for tests) and inherits stdin by default.
//!
//! Quoting: tmux does no shell parsing of its own arguments, but it does two things this
//! module undoes for every value it passes: an argument ending in `;` is split off as a
//! command separator (escaped as `\;`), and some values are expanded as formats (`#{…}`;
//! `#` is doubled where that happens: window names, start directories, `pipe-pane` commands).
//! Values that could start with `-` are placed after `--`.

mod error;
mod input;
mod pane;
pub mod process;
mod quote;
mod version;
mod window;

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::AtomicU64;

use tmux_interface::{HasSession, KillServer, NewSession, SourceFile, TmuxCommand, TmuxCommands};

use quote::{command_names, esc, not_running, stderr_of, utf8_path};
use version::check_version;

pub use error::TmuxError;
pub use input::without_paste_markers;
pub use pane::PaneState;
pub use version::version;
pub use window::NewWindow;

/// Lines of scrollback kept per pane (`history-limit`).
pub const HISTORY_LIMIT: u32 = 10_000;

/// The oldest tmux bosun supports, as (major, minor).
pub const MIN_VERSION: (u32, u32) = (3, 3);

/// Name of the placeholder window every bosun session is created with (tmux sessions cannot
/// be empty). It runs the default shell and is never used for an agent.
pub const HOME_WINDOW: &str = "_bosun";

/// Distinguishes temporary window and buffer names made by this process.
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// A handle on bosun's private tmux server. Cheap to clone; holds no connection (every call
/// forks a tmux client).
#[derive(Debug, Clone)]
pub struct Tmux {
    binary: String,
    socket: String,
    config: String,
    width: u16,
    height: u16,
}

impl Tmux {
    /// A handle on the server `tmux -L <socket>`, using the `tmux` found on PATH.
    ///
    /// Checks that tmux exists and that `tmux -V` is at least [`MIN_VERSION`], then writes
    /// bosun's tmux config to `config_dir/tmux.conf` (creating `config_dir`): history-limit
    /// [`HISTORY_LIMIT`] lines, `remain-on-exit on` (so an exit status stays readable in
    /// `#{pane_dead_status}`), mouse off, status line off, `escape-time` 10 ms, renaming
    /// off, and windows of `width`×`height` cells (`default-size`). Each agent window is
    /// additionally pinned to its size (`window-size manual` per window: set globally, it
    /// crashes tmux 3.3–3.6 on `new-window` when no client is attached).
    ///
    /// Errors: [`TmuxError::NotInstalled`] when there is no tmux binary,
    /// [`TmuxError::TooOld`] for tmux older than 3.3, [`TmuxError::Invalid`] for a socket
    /// name outside `[A-Za-z0-9_.-]`, a zero size, or a non-UTF-8 `config_dir`,
    /// [`TmuxError::Io`] when the config cannot be written.
    pub fn new(
        socket: &str,
        config_dir: &Path,
        width: u16,
        height: u16,
    ) -> Result<Tmux, TmuxError> {
        Tmux::with_binary("tmux", socket, config_dir, width, height)
    }

    /// Like [`Tmux::new`] with an explicit tmux binary (a path, or a name looked up on PATH).
    ///
    /// Errors: as [`Tmux::new`].
    pub fn with_binary(
        binary: &str,
        socket: &str,
        config_dir: &Path,
        width: u16,
        height: u16,
    ) -> Result<Tmux, TmuxError> {
        let socket_ok = !socket.is_empty()
            && socket != "."
            && socket != ".."
            && socket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !socket_ok {
            return Err(TmuxError::Invalid {
                what: "tmux socket name",
                value: socket.to_string(),
                why: "use only ASCII letters, digits, `_`, `-` and `.`",
            });
        }
        if width == 0 || height == 0 {
            return Err(TmuxError::Invalid {
                what: "window size",
                value: format!("{width}x{height}"),
                why: "width and height must be at least 1 cell",
            });
        }
        check_version(binary)?;
        let config_path = config_dir.join("tmux.conf");
        let config = utf8_path(&config_path, "config path")?.to_string();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(crate::private::DIR_MODE)
            .create(config_dir)
            .map_err(|source| TmuxError::Io {
                path: config_dir.to_path_buf(),
                source,
            })?;
        // Never through a symbolic link planted where the config goes (tmux would run
        // whatever the link's target says, as this user).
        crate::private::write_private(&config_path, config_text(width, height).as_bytes())
            .map_err(|source| TmuxError::Io {
                path: config_path.clone(),
                source,
            })?;
        Ok(Tmux {
            binary: binary.to_string(),
            socket: socket.to_string(),
            config,
            width,
            height,
        })
    }

    /// The socket name given to `tmux -L`.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// The generated config file (`<config_dir>/tmux.conf`).
    pub fn config_path(&self) -> &Path {
        Path::new(&self.config)
    }

    /// Starts the server if needed (loading bosun's config) and creates the detached session
    /// `session` (with one [`HOME_WINDOW`]) if it does not exist yet. Also re-applies bosun's
    /// config, so a server started by an older bosun gets current settings. Idempotent and
    /// safe to race: a session created concurrently counts as success.
    ///
    /// Errors: [`TmuxError::Invalid`] for a session name outside `[A-Za-z0-9_-]` (tmux
    /// rewrites `.` and `:`), [`TmuxError::Command`] when tmux refuses.
    pub fn ensure_session(&self, session: &str) -> Result<(), TmuxError> {
        check_session(session)?;
        let exact = format!("={session}");
        let has = self.exec(
            vec![HasSession::new().target_session(exact.as_str()).build()],
            None,
        )?;
        if !has.status.success() {
            let create = NewSession::new()
                .detached()
                .session_name(session)
                .window_name(HOME_WINDOW)
                .width(usize::from(self.width))
                .height(usize::from(self.height))
                .build();
            let out = self.exec(vec![create], None)?;
            if !out.status.success() && !stderr_of(&out).contains("duplicate session") {
                return Err(self.failure("new-session", &out));
            }
        }
        let source = SourceFile::new().path(self.config.as_str()).build();
        self.run(vec![source], None)?;
        Ok(())
    }

    /// Stops the whole server (every pane of this socket) and waits (up to 2 s, polling
    /// every 10 ms) until it no longer answers, so a following call cannot reach a server
    /// that is shutting down. A server that is not running is `Ok(())`.
    ///
    /// Errors: [`TmuxError::Command`] when tmux fails otherwise.
    pub fn kill_server(&self) -> Result<(), TmuxError> {
        let out = self.exec(vec![KillServer::new().build()], None)?;
        if not_running(&out) {
            return Ok(());
        }
        if !out.status.success() {
            return Err(self.failure("kill-server", &out));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while std::time::Instant::now() < deadline {
            let probe = self.exec(vec![HasSession::new().build()], None)?;
            if not_running(&probe) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        tracing::warn!(socket = %self.socket, "tmux server still answering 2 s after kill-server");
        Ok(())
    }

    /// Stops every pane's process tree ([`process::terminate`]: SIGTERM, up to `grace`,
    /// SIGKILL), then the server ([`Tmux::kill_server`]). Killing the server alone hangs up
    /// the panes' terminals, which an agent may outlive (Gemini CLI 0.61.0's relaunched node
    /// child did, for hours). A server that is not running is `Ok(())`.
    ///
    /// Errors: [`TmuxError::Command`] when tmux fails otherwise.
    pub fn stop_server(&self, grace: std::time::Duration) -> Result<(), TmuxError> {
        // No server, or one that cannot list its panes: nothing of ours to stop first.
        for pane in self.list_panes().unwrap_or_default() {
            if let Err(e) = process::terminate(pane.pid, grace) {
                tracing::warn!(pane = %pane.pane_id, error = %e, "cannot stop the pane's processes");
            }
        }
        self.kill_server()
    }

    /// The argv an operator runs to attach to the window of `target` (a pane id like `%12`,
    /// or a session): `[<tmux>, "-L", <socket>, "attach", "-t", <target>]`. tmux resolves a
    /// pane target to its window, so the client lands on that pane (tested).
    pub fn attach_argv(&self, target: &str) -> Vec<String> {
        vec![
            self.binary.clone(),
            "-L".into(),
            self.socket.clone(),
            "attach".into(),
            "-t".into(),
            esc(target).into_owned(),
        ]
    }

    /// Runs `cmds` as one tmux call (`;`-separated) and checks it succeeded; returns the
    /// output.
    fn run(&self, cmds: Vec<TmuxCommand<'_>>, stdin: Option<&[u8]>) -> Result<Output, TmuxError> {
        let name = command_names(&cmds);
        let out = self.exec(cmds, stdin)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(self.failure(&name, &out))
        }
    }

    /// Runs `cmds` as one tmux call on our socket with our config; stdin is null unless
    /// `stdin` is given (then it is written to tmux's stdin and closed). Only a failure to
    /// run tmux at all is an error here; the caller checks the status.
    fn exec(&self, cmds: Vec<TmuxCommand<'_>>, stdin: Option<&[u8]>) -> Result<Output, TmuxError> {
        let names = command_names(&cmds);
        let mut list = TmuxCommands::new();
        for c in cmds {
            list.push(c);
        }
        let mut built = tmux_interface::Tmux::new()
            .socket_name(self.socket.as_str())
            .file(self.config.as_str())
            .commands(list)
            .build();
        // tmux_interface always names the program `tmux`; use the configured binary.
        built.name(self.binary.as_str());
        let mut command = Command::from(built);
        command
            .env_remove("TMUX")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        tracing::trace!(socket = %self.socket, command = %names, "tmux");
        let spawn_err = |source: std::io::Error| self.spawn_error(&names, source);
        let mut child = command.spawn().map_err(spawn_err)?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // load-buffer reads all of stdin before tmux prints anything, so writing
            // everything first cannot deadlock. A broken pipe means tmux failed early: its
            // status and stderr below say why.
            if let Err(e) = pipe.write_all(data)
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                let _ = child.kill();
                let _ = child.wait();
                return Err(self.spawn_error(&names, e));
            }
            drop(pipe);
        }
        child
            .wait_with_output()
            .map_err(|source| self.spawn_error(&names, source))
    }

    fn spawn_error(&self, names: &str, source: std::io::Error) -> TmuxError {
        if source.kind() == std::io::ErrorKind::NotFound {
            TmuxError::NotInstalled {
                binary: self.binary.clone(),
            }
        } else {
            TmuxError::Spawn {
                binary: self.binary.clone(),
                command: names.to_string(),
                source,
            }
        }
    }

    fn failure(&self, command: &str, out: &Output) -> TmuxError {
        TmuxError::Command {
            socket: self.socket.clone(),
            command: command.to_string(),
            status: out
                .status
                .code()
                .map_or_else(|| "signal".to_string(), |c| c.to_string()),
            stderr: stderr_of(out),
        }
    }
}

/// The generated `tmux.conf` for windows of `width`×`height`.
fn config_text(width: u16, height: u16) -> String {
    format!(
        "# Generated by bosun on every start; edits are overwritten.\n\
         set -g history-limit {HISTORY_LIMIT}\n\
         set -g remain-on-exit on\n\
         set -g mouse off\n\
         set -g status off\n\
         set -s escape-time 10\n\
         set -g allow-rename off\n\
         set -g automatic-rename off\n\
         set -g default-size {width}x{height}\n"
    )
}

/// Session names bosun accepts: tmux silently rewrites `.` and `:`, and targets need the
/// name verbatim.
fn check_session(session: &str) -> Result<(), TmuxError> {
    let ok = !session.is_empty()
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(TmuxError::Invalid {
            what: "tmux session name",
            value: session.to_string(),
            why: "use only ASCII letters, digits, `_` and `-`",
        })
    }
}
