//! A real agent CLI (Claude Code, Codex, Gemini CLI) playing the analysis stage under a real
//! [`Supervisor`], in a world as harsh as an operator's: the multi-line analyst prompt `bosun
//! init` writes, a task spec of several lines, a model that takes seconds to answer
//! ([`Pace::REALISTIC`] unless a test says otherwise), the artifact in the nested path the
//! default pipeline wants. A git project, a SQLite database, a private tmux server (killed on
//! drop), a scratch home per CLI ([`bosun::sim::homes`]) and the scripted model server.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::sim::homes::{self, Cli, CodexApproval};
use bosun::sim::model::{ModelServer, Pace, Turn};
use bosun::status::{RunStatus, TaskState};
use bosun::store::Store;
use bosun::store::events::{self, Event, EventKind};
use bosun::store::gates::{self, GateOutcome};
use bosun::store::hooks::{self, HookEvent};
use bosun::store::runs::{self, Run};
use bosun::store::tasks::{self, Task};
use bosun::supervisor::{Options, Supervisor};

use super::TmuxServer;
use super::agents;
use super::cli::spec;

/// The task every test runs: the project's first.
pub const TASK: &str = "ET-001";
/// The artifact the analysis stage's gate wants (the default pipeline's path).
pub const ARTIFACT: &str = "docs/work-items/ET-001/01-analysis.md";
/// What the scripted model writes into it.
pub const CONTENT: &str = "# Analysis of ET-001\n\nThe parser reads one line at a time.\n";
/// The model's last words in a turn (the run's final message).
pub const FINAL: &str = "I wrote the analysis to docs/work-items/ET-001/01-analysis.md.";
/// The task's spec: several lines, as an operator writes one.
pub const SPEC: &str = "The parser in src/parse.rs reads one line at a time.\n\
    Explain how it handles a line longer than the buffer,\n\
    and what happens on invalid UTF-8.";

/// The provider profile of `cli`.
pub fn provider(cli: Cli) -> &'static str {
    cli.provider()
}

/// The turn in which the model writes [`ARTIFACT`] with `cli`'s own file tool (without
/// asking, under the profile's default mode).
pub fn write_turn(cli: Cli) -> Turn {
    cli.write_turn(ARTIFACT, CONTENT)
}

/// A turn `cli` asks the operator's permission for before it writes [`ARTIFACT`] (Codex run
/// with [`CodexApproval::OnEscalation`]).
pub fn asking_turn(cli: Cli) -> Turn {
    cli.asking_turn(ARTIFACT, CONTENT)
}

/// How a test sets up its stage. [`Stage::new`] gives the defaults.
pub struct Stage {
    pub cli: Cli,
    pub test: &'static str,
    pub turns: Vec<Turn>,
    /// Arguments after the CLI's binary.
    pub args: Vec<String>,
    /// Environment added to the scratch home's.
    pub env: Vec<(String, String)>,
    /// More config TOML (e.g. `[queue]`).
    pub layer: String,
    /// How fast the model answers.
    pub pace: Pace,
    /// `hooks = "none"` for the provider: the screen alone reads the run.
    pub hooks_off: bool,
    /// More keys of the provider's profile (TOML lines, e.g. `witness_grace = "2s"`).
    pub profile: String,
    pub approval: CodexApproval,
    /// `supervisor.max_concurrency` (a handoff needs a second slot).
    pub concurrency: u32,
    /// More keys of the analyst role (TOML lines, e.g. `fallback = ["sim"]`).
    pub role: String,
}

impl Stage {
    pub fn new(cli: Cli, test: &'static str, turns: Vec<Turn>) -> Stage {
        Stage {
            cli,
            test,
            turns,
            args: spec(cli).args(),
            env: vec![],
            layer: String::new(),
            pace: Pace::REALISTIC,
            hooks_off: false,
            profile: String::new(),
            approval: CodexApproval::Never,
            concurrency: 1,
            role: String::new(),
        }
    }
}

/// The rig. Field order is drop order: the supervisor, then tmux (and so the CLI), then the
/// model server, then the directory.
pub struct Harness {
    pub sup: Supervisor,
    _tmux: TmuxServer,
    pub server: ModelServer,
    pub store: Store,
    pub task: Task,
    pub cli: Cli,
    /// The task's worktree, where the supervisor launches the CLI.
    pub worktree: PathBuf,
    pub db: PathBuf,
    pub config_file: PathBuf,
    /// (run id, status) each time a watched run's status changed between ticks.
    pub seen: Vec<(i64, RunStatus)>,
    cfg: Config,
    opts: Options,
    _tmp: tempfile::TempDir,
}

/// `s` as a TOML basic string.
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl Harness {
    /// `None` (after a loud skip message) when the CLI is not installed outside CI.
    pub fn start(stage: Stage) -> Option<Harness> {
        let name = provider(stage.cli);
        let bin = agents::require(name, stage.test)?;
        let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical");
        let repo = crate::support::init_repo(&dir);
        // Where the supervisor will put the task's worktree: the CLI must trust it (Codex
        // resolves a worktree to its repository, so that too).
        let worktree = dir.join("worktrees/example-tool").join(TASK);
        let server = ModelServer::start(stage.turns).expect("model server");
        server.set_pace(stage.pace);
        let mut env = homes::prepare(
            stage.cli,
            &dir,
            &server.url(),
            &[worktree.as_path(), repo.as_path()],
            stage.approval,
        )
        .expect("scratch home");
        env.extend(stage.env);
        let tmux = TmuxServer::new(&format!("bosun-sup-{name}"));
        let socket = tmux.socket().to_string();
        let command: Vec<String> = std::iter::once(bin.display().to_string())
            .chain(stage.args)
            .map(|a| toml_str(&a))
            .collect();
        let env: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("{k} = {}", toml_str(v)))
            .collect();
        // The analyst prompt `bosun init` writes, not a one-liner.
        let builtin = Config::builtin().expect("built-in config");
        let prompt = &builtin.roles["analyst"].prompt;
        let hooks = if stage.hooks_off {
            "hooks = \"none\""
        } else {
            ""
        };
        let layer = format!(
            r#"
[supervisor]
max_concurrency = {concurrency}
tmux_socket = "{socket}"
[providers.{name}]
command = [{command}]
env = {{ {env} }}
{hooks}
{profile}
[roles.analyst]
provider = "{name}"
prompt = {prompt}
{role}
[[stages]]
name = "analysis"
role = "analyst"
[[stages.branches]]
when_exists = "docs/work-items/{{key}}/01-questions.md"
then = "needs_input"
[[stages.gates]]
kind = "artifact"
path = "docs/work-items/{{key}}/01-analysis.md"
{extra}
"#,
            command = command.join(", "),
            env = env.join(", "),
            prompt = toml_str(prompt),
            extra = stage.layer,
            profile = stage.profile,
            concurrency = stage.concurrency,
            role = stage.role,
        );
        let config_file = dir.join("bosun.toml");
        std::fs::write(&config_file, &layer).expect("config file");
        let cfg = Config::from_layers(&[(config_file.as_path(), layer.as_str())]).expect("config");
        let db = dir.join("bosun.db");
        let store = crate::support::open_with_project(&db, &repo, "true");
        let (task, _) = Engine::new(&cfg, &store)
            .create_task("example-tool", "Explain the parser", SPEC, 100)
            .expect("task");
        assert_eq!(task.key, TASK);
        let mut opts = Options::new(dir.clone(), &socket);
        opts.owner = "test".into();
        // The agents' hooks call this build's `bosun hook`, not the test executable.
        opts.bosun_exe = env!("CARGO_BIN_EXE_bosun").into();
        let sup = Supervisor::start(cfg.clone(), Store::open(&db).expect("store"), opts.clone())
            .expect("supervisor");
        Some(Harness {
            sup,
            _tmux: tmux,
            server,
            store,
            task,
            cli: stage.cli,
            worktree,
            db,
            config_file,
            seen: Vec::new(),
            cfg,
            opts,
            _tmp: tmp,
        })
    }

    /// The supervisor dies without a word (no release: its lanes just stop) and a new one
    /// starts on the same database and tmux server, re-adopting the runs.
    pub fn restart(&mut self) {
        let fresh = Supervisor::start(
            self.cfg.clone(),
            Store::open(&self.db).expect("store"),
            self.opts.clone(),
        )
        .expect("supervisor");
        drop(std::mem::replace(&mut self.sup, fresh));
    }

    /// One supervisor tick; records status changes of the watched runs.
    pub fn tick(&mut self) {
        self.sup.tick().expect("tick");
        for (id, _, s) in self.sup.run_statuses() {
            let last = self
                .seen
                .iter()
                .rev()
                .find(|(r, _)| *r == id)
                .map(|(_, s)| *s);
            if last != Some(s) {
                self.seen.push((id, s));
            }
        }
    }

    /// Ticks every 25 ms until `done` holds; panics after `timeout`, or as soon as the task
    /// is blocked or needs input, with the statuses seen, the model's requests and the screen.
    pub fn tick_until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut(&Harness) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            self.tick();
            if done(self) {
                return;
            }
            let t = self.task();
            assert!(
                !matches!(t.state, TaskState::Blocked | TaskState::NeedsInput),
                "{} is {}: {:?}; statuses seen {:?}\n{}",
                t.key,
                t.state,
                t.state_reason,
                self.seen,
                self.screen()
            );
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; statuses seen {:?}; model requests:\n{}\n{}",
                self.seen,
                self.requests(),
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn task(&self) -> Task {
        tasks::by_key(self.store.conn(), TASK).expect("task")
    }

    /// The task's runs, oldest first.
    pub fn runs(&self) -> Vec<Run> {
        runs::for_task(self.store.conn(), self.task.id).expect("runs")
    }

    /// Statuses seen of run `id`, in order.
    pub fn seen_of(&self, id: i64) -> Vec<RunStatus> {
        self.seen
            .iter()
            .filter(|(r, _)| *r == id)
            .map(|(_, s)| *s)
            .collect()
    }

    /// The latest run's pane as tmux shows it, for failure messages.
    pub fn screen(&self) -> String {
        let Some(pane) = self.runs().pop().and_then(|r| r.pane_id) else {
            return "no pane yet".into();
        };
        match self.sup.tmux().capture(&pane, false) {
            Ok(screen) => format!("screen of {pane}:\n{screen}"),
            Err(e) => format!("no screen of {pane}: {e}"),
        }
    }

    /// One line per request the model server got.
    pub fn requests(&self) -> String {
        self.server
            .requests()
            .iter()
            .map(|r| format!("{} {} -> {:?}\n", r.method, r.path, r.answer))
            .collect()
    }

    /// The real `bosun` binary on this database and config file, with private XDG dirs.
    pub fn bosun(&self, args: &[&str]) -> Command {
        let dir = self.db.parent().expect("data dir");
        let mut c = Command::new(env!("CARGO_BIN_EXE_bosun"));
        c.arg("--db")
            .arg(&self.db)
            .args(args)
            .env("BOSUN_CONFIG", &self.config_file)
            .env("XDG_CONFIG_HOME", dir.join("xdg/config"))
            .env("XDG_STATE_HOME", dir.join("xdg/state"))
            .env("XDG_DATA_HOME", dir.join("xdg/data"))
            .stdin(std::process::Stdio::null());
        c
    }

    /// Runs `bosun answer TASK yes` from another process while the supervisor keeps ticking;
    /// asserts it succeeded at once (one call: the answer is verified and pressed again by
    /// bosun itself if the dialog dropped it).
    pub fn answer_yes(&mut self) {
        let mut answer = self
            .bosun(&["answer", TASK, "yes"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("bosun answer runs");
        self.tick_until(Duration::from_secs(30), "bosun answer to exit", |_| {
            answer.try_wait().expect("try_wait").is_some()
        });
        let out = answer.wait_with_output().expect("bosun answer output");
        assert!(
            out.status.success(),
            "bosun answer: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.screen()
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "ET-001: answered yes"
        );
    }

    /// Ticks until the task is done, then checks what a finished stage leaves: the artifact
    /// the CLI wrote, the artifact gate passed, the latest run done, the work committed.
    pub fn finish(&mut self, timeout: Duration) {
        self.tick_until(timeout, "the task to be done", |h| {
            h.task().state == TaskState::Done
        });
        let written = std::fs::read_to_string(self.worktree.join(ARTIFACT))
            .expect("artifact written by the agent");
        assert_eq!(written, CONTENT);
        let gate = gates::for_task(self.store.conn(), self.task.id).expect("gate results");
        assert!(
            gate.iter()
                .any(|g| g.kind == "artifact" && g.outcome == GateOutcome::Pass),
            "the artifact gate passed: {gate:?}"
        );
        let run = self.runs().pop().expect("run");
        assert_eq!(run.status, RunStatus::Done, "{run:?}");
        let log = Command::new("git")
            .args(["-C", &self.worktree.to_string_lossy(), "log", "--format=%s"])
            .output()
            .expect("git log");
        let log = String::from_utf8_lossy(&log.stdout);
        let commit = format!("{TASK} analysis: work of run {} (bosun)", run.id);
        assert!(log.contains(&commit), "{commit:?} in git log:\n{log}");
    }

    /// The run's status events, oldest first.
    pub fn status_events(&self, run_id: i64) -> Vec<Event> {
        events::recent(self.store.conn(), Some(self.task.id), 1000)
            .expect("events")
            .into_iter()
            .filter(|e| e.kind == EventKind::RunStatus && e.run_id == Some(run_id))
            .collect()
    }

    /// The hook calls the run's agent made, in order.
    pub fn hook_events(&self, run_id: i64) -> Vec<HookEvent> {
        hooks::for_run(self.store.conn(), run_id)
            .expect("hooks")
            .iter()
            .map(|c| c.event)
            .collect()
    }

    /// The rule a slow model tests: from the first busy reading until the model's last byte
    /// the run read busy (or waiting) and nothing else — in particular never idle or done —
    /// and it was done within 2 s after that byte, from the agent's `Stop` hook when
    /// `by_hook`. Returns the latency in ms.
    pub fn assert_busy_until_the_last_byte(&self, run_id: i64, by_hook: bool) -> i64 {
        let last_byte = self
            .server
            .last_main_finished_ms()
            .expect("the model answered");
        let statuses = self.status_events(run_id);
        let first_busy = statuses
            .iter()
            .position(|e| e.message.contains(" is busy"))
            .unwrap_or_else(|| panic!("never busy: {statuses:#?}"));
        let lines: Vec<String> = statuses
            .iter()
            .map(|e| format!("{} {}", e.ts - last_byte, e.message))
            .collect();
        for e in &statuses[first_busy..] {
            if e.ts < last_byte {
                assert!(
                    e.message.contains(" is busy") || e.message.contains(" is waiting"),
                    "before the model's last byte the run read something else than busy \
                     (ms relative to the last byte):\n{}",
                    lines.join("\n")
                );
            }
        }
        let done = statuses
            .iter()
            .find(|e| e.message.contains(" is done"))
            .unwrap_or_else(|| panic!("never done:\n{}", lines.join("\n")));
        assert!(
            done.ts >= last_byte,
            "done {} ms before the model's last byte:\n{}",
            last_byte - done.ts,
            lines.join("\n")
        );
        let latency = done.ts - last_byte;
        assert!(
            latency <= 2_000,
            "done {latency} ms after the model's last byte:\n{}",
            lines.join("\n")
        );
        assert_eq!(
            done.message.ends_with("(agent hook)"),
            by_hook,
            "done from the hook: {by_hook}; {}",
            done.message
        );
        eprintln!(
            "{:?}: done {latency} ms after the model's last byte ({})",
            self.cli,
            if by_hook { "Stop hook" } else { "screen" }
        );
        latency
    }
}

/// Runs `stage` with a `reviewer` role on agent-sim and room for it (two slots) until the
/// task is done; `None` when the CLI is not installed.
pub fn with_a_reviewer(mut stage: Stage) -> Option<Harness> {
    stage.concurrency = 2;
    stage.pace = Pace {
        first_token: Duration::from_millis(800),
        gap: Duration::from_millis(20),
    };
    stage.layer = "[roles.reviewer]\nprovider = \"sim\"\nprompt = \"unused for helpers\"\n".into();
    let mut h = Harness::start(stage)?;
    h.tick_until(Duration::from_secs(180), "the task to be done", |h| {
        h.task().state == TaskState::Done
    });
    Some(h)
}
