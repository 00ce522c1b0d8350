//! Finding the real agent CLIs the live tests drive, and saving their screens as fixtures.
//!
//! The CLIs are installed, pinned, by `scripts/install-agents.sh` into
//! `${BOSUN_AGENTS_DIR:-.cache/agents}/node_modules/.bin/`. A live test calls [`require`]:
//! without the CLI it prints a loud skip message and returns `None`, except under `CI=true`,
//! where a missing CLI fails the test.
//!
//! [`Fixtures`] saves labelled screens as `tests/fixtures/<cli>-<version>/<status>-<n>.txt`
//! (`capture-pane -p`, the text) and `<status>-<n>.ansi` (`capture-pane -p -e`, with colours)
//! when `BOSUN_FIXTURES_DIR` is set; `scripts/capture-fixtures.sh` sets it and runs the live
//! tests, which is how a new CLI version's screens are recorded.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
