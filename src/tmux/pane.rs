//! The server's panes as `list-panes` reports them ([`PaneState`]), and what is done to one
//! pane: its output piped to a log, its screen captured, copy mode, its size, its end.

use std::path::Path;

use tmux_interface::{CapturePane, CopyMode, KillPane, ListPanes, PipePane, ResizeWindow};

use super::quote::{esc, fmt_escape, not_running, utf8_path};
use super::{Tmux, TmuxError};

/// `list-panes` / `new-window -P` format: fixed fields first, free text last, separated by
/// ASCII unit separators (0x1f), which tmux prints unescaped. `#{pid}` is the server's pid.
pub(super) const PANE_FORMAT: &str = "#{pane_id}\x1f#{window_id}\x1f#{pane_pid}\x1f#{pane_dead}\x1f\
    #{pane_dead_status}\x1f#{pane_dead_signal}\x1f#{pane_in_mode}\x1f#{pane_width}\x1f\
    #{pane_height}\x1f#{pid}\x1f#{session_name}\x1f#{window_name}\x1f\
    #{pane_current_command}";
pub(super) const PANE_FIELDS: usize = 13;

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

impl Tmux {
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
    /// call [`super::process::terminate`] on the pane's pid first.
    ///
    /// Errors: [`TmuxError::Command`] when tmux refuses (e.g. no such pane).
    pub fn kill_pane(&self, pane: &str) -> Result<(), TmuxError> {
        self.run(vec![KillPane::new().target_pane(esc(pane)).build()], None)?;
        Ok(())
    }
}

/// Works around a tmux bug: a Debian/Ubuntu tmux is built with libutempter, whose own
/// SIGCHLD handler is briefly installed while a pane starts; a command that exits in that
/// moment is never reaped (tmux issue #311), so its pane is dead with no exit status forever
/// (seen here for ~3 % of instantly-exiting panes). tmux reaps every exited child on SIGCHLD,
/// so one more SIGCHLD to the server fixes it; on a healthy server it does nothing.
pub(super) fn nudge_server(server_pid: u32) {
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
pub(super) fn parse_pane(line: &str, command: &str) -> Result<PaneState, TmuxError> {
    parse_pane_line(line, command).map(|(pane, _)| pane)
}

/// Parses one [`PANE_FORMAT`] line into the pane and the server's pid.
pub(super) fn parse_pane_line(line: &str, command: &str) -> Result<(PaneState, u32), TmuxError> {
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

/// The `pipe-pane` shell command appending to `log`; creates `log`'s directory.
pub(super) fn pipe_command(log: &Path) -> Result<String, TmuxError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
