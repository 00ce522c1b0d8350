//! A terminal for a test to read as a person would: a private tmux server whose session `c`
//! runs one command (the console, a demo) at a given size; keys go in with `send-keys`, the
//! screen comes out with `capture-pane`. The server and every process of its panes are
//! stopped when it is dropped.

use std::process::Command;
use std::time::Duration;

use super::TmuxServer;

/// A tmux server, stopped (its panes' process trees first) when dropped.
pub struct Terminal(TmuxServer);

impl Terminal {
    /// A terminal on the tmux socket `socket` (no server until [`Terminal::start`]).
    pub fn new(socket: impl Into<String>) -> Terminal {
        Terminal(TmuxServer::named(socket))
    }

    /// Its `-L` socket name.
    pub fn socket(&self) -> &str {
        self.0.socket()
    }

    /// Runs `tmux -L <socket> ARGS`; its stdout.
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(self.socket())
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A detached session `c` of `cols` × `rows` running `cmd` (a shell line), with no
    /// user tmux config.
    pub fn start(&self, cmd: &str, cols: u16, rows: u16) {
        let (cols, rows) = (cols.to_string(), rows.to_string());
        self.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &cols,
            "-y",
            &rows,
            "-s",
            "c",
            cmd,
        ]);
    }

    /// The screen of session `c`.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "c"])
    }

    /// Presses `k` in session `c`, then gives the program a moment to redraw.
    pub fn keys(&self, k: &[&str]) {
        let mut args = vec!["send-keys", "-t", "c"];
        args.extend_from_slice(k);
        self.tmux(&args);
        std::thread::sleep(Duration::from_millis(150));
    }

    /// The screen once it satisfies `f`, within `limit` ([`super::eventually_showing`]).
    pub fn wait(&self, limit: Duration, what: &str, f: impl Fn(&str) -> bool) -> String {
        super::eventually_showing(
            limit,
            what,
            || {
                let s = self.screen();
                f(&s).then_some(s)
            },
            || format!("the screen shows:\n{}", self.screen()),
        )
    }

    /// The pid of the program in session `c` (the pane's process).
    pub fn pid(&self) -> u32 {
        self.tmux(&["display-message", "-p", "-t", "c", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("pane pid")
    }
}
