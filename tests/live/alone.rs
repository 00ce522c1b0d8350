//! One agent CLI alone, in its full TUI inside a private tmux server, against the scripted
//! model server: the harness of `claude_live`, `codex_live` and `gemini_live`. What differs
//! between the CLIs (ready and busy screens, how a prompt is submitted, the yes key, the wire
//! format) comes from their row of `tests/support/cli.rs`; the scratch home is the product's
//! ([`bosun::sim::homes::prepare`]), in a git repository as a task's worktree is.
//!
//! Needs the CLI (run `scripts/install-agents.sh`; found in `$BOSUN_<CLI>_BIN`,
//! `${BOSUN_AGENTS_DIR:-.cache/agents}/node_modules/.bin/`, or `PATH`). Without it a test
//! skips loudly, or fails when `CI=true`. `scripts/capture-fixtures.sh <cli>` runs these tests
//! with `BOSUN_FIXTURES_DIR` set: each screen a test waits for is saved, named after its
//! status, into `tests/fixtures/<cli>-<version>/`, with `requests-<name>.txt` (one line per
//! model request).

use crate::support::agents::{self, Fixtures, Tmux, poll};
use crate::support::cli::{Spec, Submit, spec};
use crate::support::codex;

use std::path::PathBuf;
use std::time::Duration;

use bosun::config::{Config, ScreenStatus};
use bosun::provider::wiring::merge;
use bosun::provider::{classify, screen_text};
use bosun::sim::homes::{self, Cli, CodexApproval};
use bosun::sim::model::{ModelServer, Pace, Turn};

/// How a test sets its CLI up. [`Setup::new`] gives the defaults.
pub struct Setup {
    /// Arguments after the binary (the table's by default).
    pub args: Vec<String>,
    /// Environment added to the scratch home's.
    pub env: Vec<(String, String)>,
    /// Codex's approval policy.
    pub approval: CodexApproval,
    /// The project is trusted in the scratch home (no "Trust this folder?" dialog).
    pub trust: bool,
    /// Codex's model-migration notice is marked as seen (no "Meet GPT-6 Sol" dialog).
    pub migration_seen: bool,
    /// Merged into Gemini CLI's user settings as bosun merges its per-run layer (no system
    /// layer: Gemini CLI reads those only from root-owned paths).
    pub gemini_layer: serde_json::Value,
}

impl Setup {
    /// The table's arguments, trusted, no dialogs, commands run without asking.
    pub fn new(cli: Cli) -> Setup {
        Setup {
            args: spec(cli).args(),
            env: vec![],
            approval: CodexApproval::Never,
            trust: true,
            migration_seen: true,
            gemini_layer: serde_json::json!({}),
        }
    }

    /// [`Setup::new`] with `args` instead of the table's (split at spaces).
    pub fn with_args(cli: Cli, args: &str) -> Setup {
        Setup {
            args: args.split_whitespace().map(String::from).collect(),
            ..Setup::new(cli)
        }
    }
}

/// A CLI running in its own tmux server and home against a scripted model server.
pub struct Live {
    // Field order is drop order: tmux (and so the CLI) goes before the server and the dir.
    pub tmux: Tmux,
    pub spec: &'static Spec,
    /// The test's short name (names its `requests-<name>.txt`).
    name: String,
    pub fixtures: Fixtures,
    /// Prompts sent so far.
    prompts: usize,
    pub server: ModelServer,
    /// Where the CLI runs: a git repository.
    pub project: PathBuf,
    cfg: Config,
    _tmp: tempfile::TempDir,
}

impl Live {
    /// `None` (after a loud skip message) when the CLI is not installed outside CI.
    pub fn start(cli: Cli, name: &str, scenario: Vec<Turn>, setup: Setup) -> Option<Live> {
        let spec = spec(cli);
        let bin = agents::require(spec.name(), name)?;
        let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical tempdir");
        let project = dir.join("project");
        std::fs::create_dir_all(&project).expect("project");
        // A git repository, as a task's worktree is (Gemini CLI's footer shows its branch).
        let git = std::process::Command::new("git")
            .args(["init", "-q", "-b", "main"])
            .current_dir(&project)
            .status()
            .expect("git init");
        assert!(git.success(), "git init");
        let server = ModelServer::start(scenario).expect("model server");
        server.set_pace(Pace::INSTANT);
        let trusted = if setup.trust {
            vec![project.as_path()]
        } else {
            vec![]
        };
        let mut env = homes::prepare(cli, &dir, &server.url(), &trusted, setup.approval)
            .expect("scratch home");
        env.extend(setup.env);
        if !setup.migration_seen {
            assert_eq!(cli, Cli::Codex, "only Codex has a migration notice");
            codex::forget_migration_notice(&dir.join("codex-home"));
        }
        if cli == Cli::Gemini {
            let settings = dir.join("gemini-home/.gemini/settings.json");
            let user =
                merge::parse_user_settings(&std::fs::read_to_string(&settings).expect("read"))
                    .expect("settings");
            std::fs::write(
                &settings,
                merge::merge(&user, &setup.gemini_layer).to_string(),
            )
            .expect("settings");
        }
        let tmux = Tmux::new(&format!("bosun-live-{}", spec.name()));
        let command: Vec<String> = std::iter::once(bin.display().to_string())
            .chain(setup.args)
            .collect();
        tmux.launch(&project, &env, &command);
        Some(Live {
            tmux,
            spec,
            name: name.to_string(),
            fixtures: Fixtures::from_env(),
            prompts: 0,
            server,
            project,
            cfg: Config::builtin().expect("config"),
            _tmp: tmp,
        })
    }

    pub fn poll(&self, timeout: Duration, what: &str, done: impl FnMut(&str) -> bool) -> String {
        poll(&self.tmux, timeout, what, done)
    }

    /// Save the current screen as a `status` fixture (when recording fixtures).
    pub fn save(&mut self, status: &str) {
        self.fixtures.save(self.tmux.socket(), "live", status);
    }

    /// The built-in profile's reading of `screen`.
    pub fn reads(&self, screen: &str) -> Option<ScreenStatus> {
        classify(&self.cfg.providers[self.spec.name()], &screen_text(screen))
    }

    /// Polls until the built-in profile reads `status`; saves the screen as `name`'s fixture.
    pub fn wait_for(&mut self, status: ScreenStatus, name: &str, timeout: Duration) -> String {
        let screen = self.poll(timeout, &format!("the screen to read {name}"), |s| {
            self.reads(s) == Some(status)
        });
        self.save(name);
        screen
    }

    /// Wait for the ready input box, then for the screen to hold still for a few polls.
    pub fn wait_ready(&mut self) {
        let ready = self.spec.ready;
        self.poll(Duration::from_secs(60), "the idle prompt", |s| {
            s.contains(ready)
        });
        let mut same = 0;
        let mut prev = String::new();
        self.poll(Duration::from_secs(30), "a stable idle screen", |s| {
            same = if s == prev { same + 1 } else { 0 };
            prev = s.to_string();
            same >= 5
        });
    }

    /// Paste `text` into the input box and submit it as the table says. When recording
    /// fixtures, the box with the session's first prompt pasted is saved as idle first (later
    /// ones would sit below the previous turn's error or summary; Gemini CLI's tests save
    /// their idle screen before the paste, which it collapses).
    pub fn prompt(&mut self, text: &str) {
        self.tmux.paste(text);
        self.prompts += 1;
        let first = text.lines().next().unwrap_or(text);
        let in_box = format!("{}{first}", self.spec.typed);
        let collapsed = match self.spec.submit {
            Submit::UntilBoxEmpty { placeholder } => Some(placeholder),
            Submit::Once | Submit::UntilGone => None,
        };
        self.poll(Duration::from_secs(10), "the pasted prompt", |s| {
            s.contains(&in_box) || collapsed.is_some_and(|p| s.contains(p))
        });
        if self.fixtures.enabled() && self.prompts == 1 && collapsed.is_none() {
            self.save("idle");
        }
        match self.spec.submit {
            Submit::Once => self.tmux.keys(&["Enter"]),
            Submit::UntilGone => self.tmux.press_until(
                &["Enter"],
                Duration::from_secs(2),
                "the prompt to be submitted",
                |s| !s.contains(&in_box),
            ),
            Submit::UntilBoxEmpty { placeholder } => {
                std::thread::sleep(Duration::from_millis(300));
                let ready = self.spec.ready;
                self.tmux.press_until(
                    &["Enter"],
                    Duration::from_secs(2),
                    "the prompt to be submitted",
                    |s| s.contains(ready) && !s.contains(placeholder),
                );
            }
        }
    }

    /// Press `keys`, and again every second while `done(screen)` does not hold: a dialog
    /// that has only just opened can miss a key (seen with the CPUs loaded).
    pub fn press_until(&mut self, keys: &[&str], what: &str, done: impl FnMut(&str) -> bool) {
        self.tmux
            .press_until(keys, Duration::from_secs(1), what, done);
    }

    /// Press `key` (once a second) until `text` is gone from the screen.
    pub fn press_until_gone(&mut self, key: &str, text: &str) {
        self.press_until(&[key], "the dialog to close", |s| !s.contains(text));
    }

    /// Answer the dialog showing `text` yes (the table's key), until it is gone.
    pub fn answer_yes(&mut self, text: &str) {
        self.press_until_gone(self.spec.yes, text);
    }

    /// Wait until the turn is over: not busy, the input box ready again, and `what` shown.
    pub fn wait_turn_end(&mut self, what: &str) -> String {
        let (busy, ready) = (self.spec.busy, self.spec.ready);
        self.poll(Duration::from_secs(90), what, |s| {
            s.contains(what) && !s.contains(busy) && s.contains(ready)
        })
    }

    /// One line per recorded request (the table's description of its wire format); saved as
    /// `requests-<name>.txt` when capturing.
    pub fn summary(&self) -> String {
        let summary: String = self
            .server
            .requests()
            .iter()
            .map(|r| format!("{}\n", (self.spec.wire.describe)(r)))
            .collect();
        if let Some(d) = self.fixtures.dir() {
            std::fs::write(d.join(format!("requests-{}.txt", self.name)), &summary)
                .expect("requests file");
        }
        summary
    }

    /// Saves the headers of request `r` as `main-request-headers.txt` when capturing.
    pub fn save_headers(&self, r: &bosun::sim::model::Request) {
        if let Some(d) = self.fixtures.dir() {
            let headers: String = r
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}\n"))
                .collect();
            std::fs::write(d.join("main-request-headers.txt"), headers).expect("headers");
        }
    }
}
