//! Finding the real agent CLIs the live tests drive, and saving their screens as fixtures.
//!
//! The CLIs are installed, pinned, by `scripts/install-agents.sh` into
//! `${BOSUN_AGENTS_DIR:-.cache/agents}/node_modules/.bin/`. A live test calls [`require`]:
//! without the CLI it prints a loud skip message and returns `None`, except under `CI=true`,
//! where a missing CLI fails the test.
//!
//! [`Tmux`] is a private tmux server (stopped on drop) whose pane `live` runs the CLI, and
//! [`poll`] waits for its screen to show something.
//!
//! [`Fixtures`] saves labelled screens as `tests/fixtures/<cli>-<version>/<status>-<n>.txt`
//! (`capture-pane -p`, the text) and `<status>-<n>.ansi` (`capture-pane -p -e`, with colours)
//! when `BOSUN_FIXTURES_DIR` is set; `scripts/capture-fixtures.sh` sets it and runs the live
//! tests, which is how a new CLI version's screens are recorded.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::TmuxServer;

/// The CLI `bin` (`claude`, `codex`): `$BOSUN_<BIN>_BIN`, else the pinned install under
/// `${BOSUN_AGENTS_DIR:-.cache/agents}`, else `PATH`.
pub fn find(bin: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(format!("BOSUN_{}_BIN", bin.to_uppercase())) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("BOSUN_AGENTS_DIR")
        .map_or_else(|| root.join(".cache/agents"), PathBuf::from);
    let local = root.join(dir).join("node_modules/.bin").join(bin);
    if local.is_file() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    })
}

/// [`find`], or `None` after a loud skip message naming `test`; panics under `CI=true`.
pub fn require(bin: &str, test: &str) -> Option<PathBuf> {
    let found = find(bin);
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{bin} is not installed; run scripts/install-agents.sh"
        );
        eprintln!("\n*** SKIPPED {test}: {bin} not installed (scripts/install-agents.sh) ***\n");
    }
    found
}

/// Saves labelled screens of a tmux pane when `BOSUN_FIXTURES_DIR` is set; does nothing
/// otherwise.
pub struct Fixtures {
    dir: Option<PathBuf>,
    counts: HashMap<String, usize>,
}

impl Fixtures {
    /// From `BOSUN_FIXTURES_DIR` (created if missing).
    pub fn from_env() -> Fixtures {
        let dir = std::env::var_os("BOSUN_FIXTURES_DIR").map(PathBuf::from);
        if let Some(d) = &dir {
            std::fs::create_dir_all(d).expect("fixtures dir");
        }
        Fixtures {
            dir,
            counts: HashMap::new(),
        }
    }

    /// The directory screens are saved in, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Whether screens are being saved.
    pub fn enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// Save pane `target` of tmux server `socket` as the next `<status>-<n>` (both `.txt`
    /// and `.ansi`). `n` continues after files already in the directory, so several tests can
    /// add to one directory.
    pub fn save(&mut self, socket: &str, target: &str, status: &str) {
        let Some(dir) = &self.dir else {
            return;
        };
        let n = self.counts.entry(status.to_string()).or_insert_with(|| {
            (1..)
                .find(|i| !dir.join(format!("{status}-{i}.txt")).exists())
                .unwrap_or(1)
                - 1
        });
        *n += 1;
        for (flags, ext) in [(&["-p"][..], "txt"), (&["-p", "-e"][..], "ansi")] {
            let out = Command::new("tmux")
                .args(["-L", socket, "capture-pane", "-t", target])
                .args(flags)
                .stderr(Stdio::null())
                .output()
                .expect("tmux capture-pane");
            std::fs::write(dir.join(format!("{status}-{n}.{ext}")), &out.stdout)
                .expect("save fixture");
        }
    }
}

/// A private tmux server ([`TmuxServer`]: its panes' processes stopped and the server
/// killed on drop).
pub struct Tmux {
    server: TmuxServer,
}

impl Tmux {
    /// A new private socket `<prefix>-<pid>-<n>` (no server until the first command).
    pub fn new(prefix: &str) -> Tmux {
        Tmux {
            server: TmuxServer::new(prefix),
        }
    }

    /// Its `-L` socket name.
    pub fn socket(&self) -> &str {
        self.server.socket()
    }

    /// Runs `tmux ARGS` (with `stdin`), asserting success.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", self.socket(), "-f", "/dev/null"])
            .args(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn tmux");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input)
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("tmux output");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts session `live` (200 × 50) in `cwd` with `env` running `command` (one element:
    /// a shell line; several: an argv run without a shell), its pane kept when the program
    /// exits (`remain-on-exit`), so its last screen can still be read.
    pub fn launch(&self, cwd: &Path, env: &[(String, String)], command: &[String]) {
        let mut argv: Vec<String> = ["new-session", "-d", "-s", "live", "-x", "200", "-y", "50"]
            .map(String::from)
            .to_vec();
        argv.push("-c".into());
        argv.push(cwd.display().to_string());
        for (k, v) in env {
            argv.push("-e".into());
            argv.push(format!("{k}={v}"));
        }
        argv.extend(command.iter().cloned());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.run(&argv, None);
        self.run(&["set-option", "-t", "live", "remain-on-exit", "on"], None);
    }

    /// The `live` pane's screen as text.
    pub fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "live"], None).stdout)
            .into_owned()
    }

    /// Pastes `text` into the `live` pane (bracketed).
    pub fn paste(&self, text: &str) {
        self.run(&["load-buffer", "-b", "prompt", "-"], Some(text.as_bytes()));
        self.run(
            &[
                "paste-buffer",
                "-d",
                "-p",
                "-r",
                "-b",
                "prompt",
                "-t",
                "live",
            ],
            None,
        );
    }

    /// Presses `keys` in the `live` pane.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "live"];
        args.extend_from_slice(keys);
        self.run(&args, None);
    }
}

impl Tmux {
    /// Presses `keys` in the `live` pane, and again every `every` while `done(screen)` does
    /// not hold (at most 60 s): a dialog that has only just opened, or a CLI still taking a
    /// paste in, can miss a key.
    pub fn press_until(
        &self,
        keys: &[&str],
        every: Duration,
        what: &str,
        mut done: impl FnMut(&str) -> bool,
    ) {
        let mut last: Option<Instant> = None;
        poll(self, Duration::from_secs(60), what, |s| {
            if done(s) {
                return true;
            }
            if last.is_none_or(|t| t.elapsed() >= every) {
                self.keys(keys);
                last = Some(Instant::now());
            }
            false
        });
    }
}

/// Poll the screen until `done(screen)` or the deadline; returns the last screen.
pub fn poll(
    tmux: &Tmux,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&str) -> bool,
) -> String {
    super::eventually_showing(
        timeout,
        what,
        || {
            let screen = tmux.capture();
            done(&screen).then_some(screen)
        },
        || format!("screen:\n{}", tmux.capture()),
    )
}
