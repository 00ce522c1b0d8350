//! Starting an agent's window ([`Tmux::new_window`]): its command, directory, environment
//! (the secret part through stdin, never a command line), size, name and output log, in one
//! tmux call.

use std::path::Path;
use std::sync::atomic::Ordering;

use tmux_interface::{
    NewWindow as NewWindowCmd, PipePane, RenameWindow, SetEnvironment, SetOption, SourceFile,
    TmuxCommand,
};

use super::pane::{PANE_FORMAT, parse_pane, pipe_command};
use super::quote::{esc, fmt_escape, utf8_path};
use super::{PaneState, SERIAL, Tmux, TmuxError, check_session};

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
}
