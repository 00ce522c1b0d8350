//! The only code that runs tmux: a private server on its own socket (`tmux -L <socket>`) with
//! bosun's generated config (DESIGN.md §5).
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
pub mod process;

use std::borrow::Cow;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use tmux_interface::{
    CapturePane, CopyMode, HasSession, KillPane, KillServer, ListPanes, LoadBuffer, NewSession,
    NewWindow as NewWindowCmd, PasteBuffer, PipePane, RenameWindow, ResizeWindow, SendKeys,
    SetEnvironment, SetOption, SourceFile, TmuxCommand, TmuxCommands,
};

pub use error::TmuxError;

/// Lines of scrollback kept per pane (`history-limit`).
pub const HISTORY_LIMIT: u32 = 10_000;

/// The oldest tmux bosun supports, as (major, minor).
pub const MIN_VERSION: (u32, u32) = (3, 3);

/// Name of the placeholder window every bosun session is created with (tmux sessions cannot
/// be empty). It runs the default shell and is never used for an agent.
pub const HOME_WINDOW: &str = "_bosun";

/// `list-panes` / `new-window -P` format: fixed fields first, free text last, separated by
/// ASCII unit separators (0x1f), which tmux prints unescaped. `#{pid}` is the server's pid.
const PANE_FORMAT: &str = "#{pane_id}\x1f#{window_id}\x1f#{pane_pid}\x1f#{pane_dead}\x1f\
    #{pane_dead_status}\x1f#{pane_dead_signal}\x1f#{pane_in_mode}\x1f#{pane_width}\x1f\
    #{pane_height}\x1f#{pid}\x1f#{session_name}\x1f#{window_name}\x1f\
    #{pane_current_command}";
const PANE_FIELDS: usize = 13;

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

/// One pane of the server, as `list-panes` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneState {
    /// The pane id, e.g. `%12`: the stable target for every other call.
    pub pane_id: String,
    /// The id of the pane's window, e.g. `@7`.
    pub window_id: String,
    /// The session the window belongs to.
    pub session: String,
    /// The window's name.
    pub window_name: String,
    /// The pid of the pane's command (which leads its own session and process group). Kept
    /// after the command died.
    pub pid: u32,
    /// The pane's terminal was closed: its command exited, or (rarely) closed every handle
    /// on the terminal. The pane stays because of `remain-on-exit on`.
    pub dead: bool,
    /// Exit status of a dead pane's command when it exited normally; `None` while alive or
    /// when it was killed by a signal. tmux notices the closed terminal before it reaps the
    /// process, so a pane can be `dead` with neither `dead_status` nor `dead_signal` for a
    /// moment (or for as long as a command that closed its terminal keeps running): the exit
    /// is then not known yet; [`Tmux::list_panes`] nudges tmux to reap it, so ask again.
    pub dead_status: Option<i32>,
    /// The signal number that killed a dead pane's command; `None` otherwise (see
    /// `dead_status`).
    pub dead_signal: Option<i32>,
    /// The foreground process name in the pane (`pane_current_command`), e.g. `node`.
    pub current_command: String,
    /// The pane is in a mode (copy mode, …), where typed or pasted text would be swallowed.
    pub in_mode: bool,
    /// Width in cells.
    pub width: u16,
    /// Height in cells.
    pub height: u16,
}

/// What [`Tmux::new_window`] launches.
#[derive(Debug, Clone, Copy)]
pub struct NewWindow<'a> {
    /// The session to add the window to (must exist: see [`Tmux::ensure_session`]).
    pub session: &'a str,
    /// The window name shown to the operator; control characters become spaces.
    pub name: &'a str,
    /// Working directory of the command; must be an existing directory.
    pub cwd: &'a Path,
    /// Extra environment for the command, as (name, value); names must be non-empty and
    /// contain no `=`. These are on tmux's command line, so visible in `ps`: no secrets.
    pub env: &'a [(String, String)],
    /// Environment for the command that must not appear on any command line (a run's
    /// token): given to tmux on its standard input (`source-file -` running
    /// `set-environment` on the session, undone by the same tmux call right after the
    /// window started). Values are limited to `[A-Za-z0-9_.,:/+=@%-]`.
    pub secret_env: &'a [(String, String)],
    /// The command and its arguments, passed as separate arguments (no shell parsing).
    pub argv: &'a [String],
    /// When set, the pane's output is appended to this file from the first byte, like
    /// [`Tmux::pipe_pane`] but set up in the same tmux call as the window, so nothing printed
    /// at start-up is missed.
    pub log: Option<&'a Path>,
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

    /// Opens a window in `w.session` whose pane runs `w.argv` directly as its own command
    /// (so it leads its own session and process group), detached (`new-window -d`), named
    /// `w.name`, in `w.cwd`, with each of `w.env` as `-e NAME=VALUE`, sized as configured and
    /// pinned to that size, and, if `w.log` is set, its output appended to that file from
    /// the start. All of it is one tmux call.
    ///
    /// No element of `argv` is ever parsed by a shell: tmux execs a multi-element argv
    /// directly; a one-element argv (which tmux would hand to `sh -c`) is run as
    /// `sh -c 'exec "$0"' <argv0>`, which execs it without parsing it.
    ///
    /// Returns the new pane's state (id, window id, pid, size…).
    ///
    /// Errors: [`TmuxError::Invalid`] for an empty argv, a bad session name, an env name that
    /// is empty or holds `=`, a `cwd` that is not an existing directory, or non-UTF-8 paths;
    /// [`TmuxError::Io`] when the log's directory cannot be created; [`TmuxError::Command`]
    /// when tmux refuses (e.g. no such session: call [`Tmux::ensure_session`] first).
    pub fn new_window(&self, w: &NewWindow<'_>) -> Result<PaneState, TmuxError> {
        check_session(w.session)?;
        if w.argv.is_empty() {
            return Err(TmuxError::Invalid {
                what: "agent command",
                value: String::new(),
                why: "argv is empty; give at least the program to run",
            });
        }
        if !w.cwd.is_dir() {
            return Err(TmuxError::Invalid {
                what: "working directory",
                value: w.cwd.display().to_string(),
                why: "it is not an existing directory; create it (e.g. the task's worktree) first",
            });
        }
        let cwd = utf8_path(w.cwd, "working directory")?;
        let mut env = Vec::with_capacity(w.env.len());
        for (k, v) in w.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(TmuxError::Invalid {
                    what: "environment variable name",
                    value: k.clone(),
                    why: "names must be non-empty and contain no `=`",
                });
            }
            env.push(format!("{k}={v}"));
        }
        let mut secrets = String::new();
        for (k, v) in w.secret_env {
            let name_ok =
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            let value_ok = v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.,:/+=@%-".contains(&b));
            if !name_ok || !value_ok {
                return Err(TmuxError::Invalid {
                    what: "secret environment variable",
                    value: k.clone(),
                    why: "names must be [A-Za-z0-9_] and values [A-Za-z0-9_.,:/+=@%-]",
                });
            }
            // The session name is checked ([A-Za-z0-9_-]); the value cannot hold a quote.
            secrets.push_str(&format!("set-environment -t ={} {k} '{v}'\n", w.session));
        }
        let pipe = match w.log {
            Some(log) => Some(pipe_command(log)?),
            None => None,
        };
        let name: String = w
            .name
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();

        // The final name is given by rename-window at the end: until then the window has a
        // unique temporary name so the later commands of this same call can target it
        // (commands after `new-window -d` do not default to the new window).
        let temp = format!(
            "bosun-new-{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let target = format!("={}:={temp}", w.session);
        let session_target = format!("={}:", w.session);

        let mut create = NewWindowCmd::new()
            .detached()
            .print()
            .format(PANE_FORMAT)
            .window_name(temp.as_str())
            .target_window(session_target.as_str())
            .start_directory(fmt_escape(&esc(cwd)))
            .build();
        for e in &env {
            create.push_option("-e", esc(e));
        }
        create.push_param("--");
        if w.argv.len() == 1 {
            // tmux runs a single argument through `sh -c`; this execs it unparsed instead.
            create.push_param("sh");
            create.push_param("-c");
            create.push_param("exec \"$0\"");
        }
        for a in w.argv {
            create.push_param(esc(a));
        }
        let mut cmds = Vec::new();
        if !secrets.is_empty() {
            // Read from standard input: the values never reach tmux's argv (`ps`).
            cmds.push(SourceFile::new().path("-").build());
        }
        cmds.extend([
            create,
            SetOption::new()
                .window()
                .target_pane(target.as_str())
                .option("window-size")
                .value("manual")
                .build(),
        ]);
        for (k, _) in w.secret_env {
            cmds.push(self.unset_env(w.session, k));
        }
        if let Some(pipe) = &pipe {
            cmds.push(
                // tmux_interface names the flags from the command's side: `stdin()` is -O
                // (the pane's output goes to the command's stdin), `stdout()` is -I.
                PipePane::new()
                    .stdin()
                    .target_pane(target.as_str())
                    .shell_command(pipe.as_str())
                    .build(),
            );
        }
        let mut rename = RenameWindow::new().target_window(target.as_str()).build();
        rename.push_param("--");
        rename.push_param(esc(&fmt_escape(&name)).into_owned());
        cmds.push(rename);

        let stdin = (!secrets.is_empty()).then_some(secrets.as_bytes());
        let out = self.exec(cmds, stdin)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let parsed = stdout.lines().next().map(|l| parse_pane(l, "new-window"));
        if !out.status.success() {
            // tmux stops at the first failed command: the secrets may still be set on the
            // session, where the next window would inherit them.
            if !w.secret_env.is_empty() {
                let unset = w
                    .secret_env
                    .iter()
                    .map(|(k, _)| self.unset_env(w.session, k))
                    .collect();
                let _ = self.exec(unset, None);
            }
            // Do not leak a half-set-up window: kill it if it was created.
            if let Some(Ok(p)) = &parsed {
                let _ = self.kill_pane(&p.pane_id);
            }
            return Err(self.failure("new-window", &out));
        }
        let mut pane = match parsed {
            Some(p) => p?,
            None => {
                return Err(TmuxError::Parse {
                    command: "new-window".into(),
                    output: stdout,
                });
            }
        };
        pane.window_name = name;
        Ok(pane)
    }

    /// `set-environment -u -t =session name`.
    fn unset_env<'c>(&self, session: &str, name: &str) -> TmuxCommand<'c> {
        SetEnvironment::new()
            .unset()
            .target_session(format!("={session}"))
            .name(name.to_string())
            .build()
    }

    /// Every pane of the server in ONE `list-panes -a` call, in tmux's order (session,
    /// window, pane). A server that is not running (or is exiting) yields `Ok(vec![])`.
    ///
    /// Errors: [`TmuxError::Command`] when tmux fails otherwise, [`TmuxError::Parse`] on a
    /// line that does not parse.
    pub fn list_panes(&self) -> Result<Vec<PaneState>, TmuxError> {
        let cmd = ListPanes::new().all().format(PANE_FORMAT).build();
        let out = self.exec(vec![cmd], None)?;
        if !out.status.success() {
            if not_running(&out) {
                return Ok(Vec::new());
            }
            return Err(self.failure("list-panes", &out));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut panes = Vec::new();
        let mut server_pid = None;
        for line in text.lines().filter(|l| !l.is_empty()) {
            let (pane, pid) = parse_pane_line(line, "list-panes")?;
            if pane.dead && pane.dead_status.is_none() && pane.dead_signal.is_none() {
                server_pid = Some(pid);
            }
            panes.push(pane);
        }
        if let Some(pid) = server_pid {
            nudge_server(pid);
        }
        Ok(panes)
    }

    /// Appends the raw output of `pane` (bytes the program writes, escape sequences
    /// included) to the file `log` (`pipe-pane -O 'exec cat >> <log>'`, the path
    /// shell-quoted), creating `log`'s parent directory. Replaces any pipe the pane already
    /// had, so it is safe to call again after a restart.
    ///
    /// Errors: [`TmuxError::Io`] when the directory cannot be created,
    /// [`TmuxError::Invalid`] for a non-UTF-8 path, [`TmuxError::Command`] when tmux refuses
    /// (e.g. no such pane).
    pub fn pipe_pane(&self, pane: &str, log: &Path) -> Result<(), TmuxError> {
        let pipe = pipe_command(log)?;
        // `stdin()` is -O in tmux_interface (see new_window).
        let cmd = PipePane::new()
            .stdin()
            .target_pane(esc(pane))
            .shell_command(pipe.as_str())
            .build();
        self.run(vec![cmd], None)?;
        Ok(())
    }

    /// Types `text` into `pane` byte for byte, whatever it holds (quotes, `;`, a leading `-`,
    /// `$VAR`, tabs, newlines, unicode, 100 KB…). Does NOT press Enter.
    ///
    /// One tmux call: `copy-mode -q` (leaves copy mode or any other mode, which would
    /// swallow the text; a no-op otherwise), `load-buffer -b <unique> -` with the text on
    /// stdin, then `paste-buffer -d -p -r`: the buffer is deleted afterwards, the text is
    /// wrapped in bracketed-paste codes only if the program asked for them, and newlines are
    /// sent as LF (not turned into CR).
    ///
    /// The one exception: the bracketed-paste markers `ESC [200~` and `ESC [201~` are
    /// removed first ([`without_paste_markers`]). tmux passes them through, and an end marker
    /// inside the text would end the paste early, so the agent would take the rest as typed
    /// keys (a newline there submits).
    ///
    /// Errors: [`TmuxError::Command`] when tmux refuses (e.g. no such pane; the temporary
    /// buffer is then deleted).
    pub fn paste(&self, pane: &str, text: &str) -> Result<(), TmuxError> {
        let text = without_paste_markers(text);
        let buffer = format!(
            "bosun-paste-{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let target = esc(pane);
        let cmds = vec![
            CopyMode::new().cancel().target_pane(target.clone()).build(),
            LoadBuffer::new()
                .buffer_name(buffer.as_str())
                .path("-")
                .build(),
            PasteBuffer::new()
                .delete()
                .bracket_codes()
                .no_replacement()
                .buffer_name(buffer.as_str())
                .target_pane(target)
                .build(),
        ];
        let out = self.exec(cmds, Some(text.as_bytes()))?;
        if !out.status.success() {
            let mut delete = TmuxCommand::new();
            delete.name("delete-buffer");
            delete.push_option("-b", buffer.clone());
            let _ = self.exec(vec![delete], None);
            return Err(self.failure("paste-buffer", &out));
        }
        Ok(())
    }

    /// Presses keys in `pane`, each element one key by tmux name: `Enter`, `Escape`, `C-c`,
    /// `Up`, `1`, `y`… (`send-keys -t <pane> -- <keys>`). A name that is not a key is typed
    /// as its characters. An empty `keys` does nothing. Unlike [`Tmux::paste`] it does not
    /// leave copy mode first (keys such as `q` or `Escape` may be meant for it).
    ///
    /// Errors: [`TmuxError::Command`] when tmux refuses (e.g. no such pane).
    pub fn send_keys(&self, pane: &str, keys: &[&str]) -> Result<(), TmuxError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut cmd = SendKeys::new().target_pane(esc(pane)).build();
        cmd.push_param("--");
        for k in keys {
            cmd.push_param(esc(k));
        }
        self.run(vec![cmd], None)?;
        Ok(())
    }

    /// The visible screen of `pane` (`capture-pane -p`), one line per row, trailing blanks
    /// trimmed by tmux; with `escapes`, colours and attributes as escape sequences (`-e`).
    ///
    /// Errors: [`TmuxError::Command`] when tmux refuses (e.g. no such pane).
    pub fn capture(&self, pane: &str, escapes: bool) -> Result<String, TmuxError> {
        let mut cmd = CapturePane::new().stdout().target_pane(esc(pane));
        if escapes {
            cmd = cmd.escape_sequences();
        }
        let out = self.run(vec![cmd.build()], None)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Puts `pane` into copy mode (scrollback browsing), as the operator's prefix-`[` would.
    ///
    /// Errors: [`TmuxError::Command`] when tmux refuses (e.g. no such pane).
    pub fn copy_mode(&self, pane: &str) -> Result<(), TmuxError> {
        self.run(vec![CopyMode::new().target_pane(esc(pane)).build()], None)?;
        Ok(())
    }

    /// Resizes the window holding `pane` to `width`×`height` cells and pins it there.
    ///
    /// Errors: [`TmuxError::Invalid`] for a zero size, [`TmuxError::Command`] when tmux
    /// refuses (e.g. no such pane).
    pub fn resize_window(&self, pane: &str, width: u16, height: u16) -> Result<(), TmuxError> {
        if width == 0 || height == 0 {
            return Err(TmuxError::Invalid {
                what: "window size",
                value: format!("{width}x{height}"),
                why: "width and height must be at least 1 cell",
            });
        }
        let cmd = ResizeWindow::new()
            .target_window(esc(pane))
            .width(usize::from(width))
            .height(usize::from(height))
            .build();
        self.run(vec![cmd], None)?;
        Ok(())
    }

    /// Closes `pane` (tmux sends SIGHUP to its command). To stop a process tree reliably,
    /// call [`process::terminate`] on the pane's pid first.
    ///
    /// Errors: [`TmuxError::Command`] when tmux refuses (e.g. no such pane).
    pub fn kill_pane(&self, pane: &str) -> Result<(), TmuxError> {
        self.run(vec![KillPane::new().target_pane(esc(pane)).build()], None)?;
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

/// Runs `<binary> -V` and checks the version.
fn check_version(binary: &str) -> Result<(), TmuxError> {
    version(binary).map(|_| ())
}

/// What `<binary> -V` says (`tmux 3.3a`), once it is known to be at least [`MIN_VERSION`].
///
/// Errors: [`TmuxError::NotInstalled`] when there is no such binary, [`TmuxError::TooOld`],
/// [`TmuxError::Command`] when `-V` fails.
pub fn version(binary: &str) -> Result<String, TmuxError> {
    let mut built = tmux_interface::Tmux::new().version().build();
    built.name(binary);
    let out = Command::from(built)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                TmuxError::NotInstalled {
                    binary: binary.to_string(),
                }
            } else {
                TmuxError::Spawn {
                    binary: binary.to_string(),
                    command: "-V".into(),
                    source,
                }
            }
        })?;
    let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        return Err(TmuxError::Command {
            socket: String::new(),
            command: "-V".into(),
            status: out
                .status
                .code()
                .map_or_else(|| "signal".to_string(), |c| c.to_string()),
            stderr: stderr_of(&out),
        });
    }
    match parse_version(&found) {
        Some(v) if v < MIN_VERSION => Err(TmuxError::TooOld {
            binary: binary.to_string(),
            found,
        }),
        Some(_) => Ok(found),
        None => {
            // Development builds say `tmux master` or `tmux openbsd-7.5`: assume recent.
            tracing::warn!(version = %found, "unrecognised tmux version; assuming it is recent");
            Ok(found)
        }
    }
}

/// (major, minor) from `tmux -V` output such as `tmux 3.3a` or `tmux next-3.4`; `None` when
/// there is no `<digits>.<digits>` version.
pub(crate) fn parse_version(v: &str) -> Option<(u32, u32)> {
    let v = v.trim();
    let v = v.strip_prefix("tmux ").unwrap_or(v);
    let v = v.strip_prefix("next-").unwrap_or(v);
    let (major, rest) = v.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Works around a tmux bug: a Debian/Ubuntu tmux is built with libutempter, whose own
/// SIGCHLD handler is briefly installed while a pane starts; a command that exits in that
/// moment is never reaped (tmux issue #311), so its pane is dead with no exit status forever
/// (seen here for ~3 % of instantly-exiting panes). tmux reaps every exited child on SIGCHLD,
/// so one more SIGCHLD to the server fixes it; on a healthy server it does nothing.
fn nudge_server(server_pid: u32) {
    let Ok(raw) = i32::try_from(server_pid) else {
        return;
    };
    tracing::debug!(
        server_pid,
        "dead pane without exit status; sending SIGCHLD to tmux"
    );
    if let Err(e) = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(raw),
        nix::sys::signal::Signal::SIGCHLD,
    ) {
        tracing::warn!(server_pid, error = %e, "cannot nudge the tmux server");
    }
}

/// Parses one [`PANE_FORMAT`] line.
fn parse_pane(line: &str, command: &str) -> Result<PaneState, TmuxError> {
    parse_pane_line(line, command).map(|(pane, _)| pane)
}

/// Parses one [`PANE_FORMAT`] line into the pane and the server's pid.
fn parse_pane_line(line: &str, command: &str) -> Result<(PaneState, u32), TmuxError> {
    let bad = || TmuxError::Parse {
        command: command.to_string(),
        output: line.to_string(),
    };
    // The last field (the process name) takes whatever is left, so a stray separator there
    // cannot shift the others.
    let f: Vec<&str> = line.splitn(PANE_FIELDS, '\x1f').collect();
    if f.len() != PANE_FIELDS || !f[0].starts_with('%') {
        return Err(bad());
    }
    let opt_int = |s: &str| -> Result<Option<i32>, TmuxError> {
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| bad())
        }
    };
    let pane = PaneState {
        pane_id: f[0].to_string(),
        window_id: f[1].to_string(),
        pid: f[2].parse().map_err(|_| bad())?,
        dead: f[3] == "1",
        dead_status: opt_int(f[4])?,
        dead_signal: opt_int(f[5])?,
        in_mode: f[6] == "1",
        width: f[7].parse().map_err(|_| bad())?,
        height: f[8].parse().map_err(|_| bad())?,
        session: f[10].to_string(),
        window_name: f[11].to_string(),
        current_command: f[12].to_string(),
    };
    let server_pid = f[9].parse().map_err(|_| bad())?;
    Ok((pane, server_pid))
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

/// The `pipe-pane` shell command appending to `log`; creates `log`'s directory.
fn pipe_command(log: &Path) -> Result<String, TmuxError> {
    let path = utf8_path(log, "log path")?;
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| TmuxError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // tmux runs this with `sh -c` after expanding formats in it.
    let quoted = format!("'{}'", path.replace('\'', r"'\''"));
    Ok(esc(&fmt_escape(&format!("exec cat >> {quoted}"))).into_owned())
}

fn utf8_path<'p>(p: &'p Path, what: &'static str) -> Result<&'p str, TmuxError> {
    p.to_str().ok_or_else(|| TmuxError::Invalid {
        what,
        value: p.display().to_string(),
        why: "tmux arguments must be valid UTF-8; use a UTF-8 path",
    })
}

/// Escapes a trailing `;`, which tmux would otherwise take as a command separator
/// (`a;` → `a\;`; tmux turns a trailing `\;` back into `;`).
fn esc(s: &str) -> Cow<'_, str> {
    match s.strip_suffix(';') {
        Some(head) => Cow::Owned(format!("{head}\\;")),
        None => Cow::Borrowed(s),
    }
}

/// Doubles `#` in a value tmux expands as a format.
fn fmt_escape(s: &str) -> String {
    s.replace('#', "##")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// A failed command whose stderr says there is no server ([`error::server_gone`]).
fn not_running(out: &Output) -> bool {
    !out.status.success() && error::server_gone(&stderr_of(out))
}

fn command_names(cmds: &[TmuxCommand<'_>]) -> String {
    cmds.iter()
        .filter_map(|c| c.name.as_deref())
        .collect::<Vec<_>>()
        .join(" + ")
}

/// `text` without bracketed-paste markers (`ESC [200~`, `ESC [201~`; xterm's bracketed
/// paste mode), which must never reach a program inside a paste.
pub fn without_paste_markers(text: &str) -> std::borrow::Cow<'_, str> {
    const MARKERS: [&str; 2] = ["\x1b[200~", "\x1b[201~"];
    if !MARKERS.iter().any(|m| text.contains(m)) {
        return std::borrow::Cow::Borrowed(text);
    }
    // Until none is left: removing one can join the halves of another.
    let mut out = text.to_string();
    while let Some(m) = MARKERS.iter().find(|m| out.contains(**m)) {
        out = out.replace(m, "");
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paste_markers_are_removed_even_when_nested() {
        assert_eq!(without_paste_markers("plain"), "plain");
        assert_eq!(without_paste_markers("a\x1b[201~b\x1b[200~c"), "abc");
        assert_eq!(without_paste_markers("x\x1b[20\x1b[201~1~y"), "xy");
        assert_eq!(
            without_paste_markers("\x1b[31mred\x1b[0m"),
            "\x1b[31mred\x1b[0m"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("tmux 3.2"), Some((3, 2)));
        assert_eq!(parse_version("tmux next-3.6"), Some((3, 6)));
        assert_eq!(parse_version("tmux 10.0\n"), Some((10, 0)));
        assert_eq!(parse_version("tmux master"), None);
        assert_eq!(parse_version("tmux openbsd-7.5"), None);
        assert!(parse_version("tmux 2.9a").is_some_and(|v| v < MIN_VERSION));
    }

    #[test]
    fn trailing_semicolon_is_escaped() {
        assert_eq!(esc("a;"), "a\\;");
        assert_eq!(esc(";"), "\\;");
        assert_eq!(esc("a\\;"), "a\\\\;");
        assert_eq!(esc("a;b"), "a;b");
    }

    #[test]
    fn pane_line_parses() {
        let line = "%3\x1f@2\x1f123\x1f1\x1f3\x1f\x1f0\x1f80\x1f24\x1f99\x1fs\x1fw n\x1fsh";
        let p = parse_pane(line, "t").expect("parses");
        assert_eq!(p.pane_id, "%3");
        assert_eq!(p.dead_status, Some(3));
        assert_eq!(p.dead_signal, None);
        assert_eq!((p.width, p.height), (80, 24));
        assert!(parse_pane("garbage", "t").is_err());
    }
}
