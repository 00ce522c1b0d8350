//! The real Claude Code CLI playing a stage under bosun's supervisor: launched in its pane
//! from the built-in `claude` profile, prompt pasted and submitted, busy, waiting, done and
//! errors read from its real screen, the worktree committed, the artifact gate passed. The
//! model is bosun's scripted Anthropic Messages API server on 127.0.0.1, whose Write tool call
//! creates the artifact. Needs `claude` (`scripts/install-agents.sh`): skipped loudly without
//! it, failed under `CI=true`.

#[path = "support/agents.rs"]
mod agents;
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use agents::KillServer;
use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::sim::model::{ModelServer, Turn};
use bosun::store::events::{self, EventKind};
use bosun::store::gates::{self, GateOutcome};
use bosun::store::hooks::{self, HookEvent};
use bosun::store::jobs::{self, JobStatus};
use bosun::store::runs::{self, Run, RunStatus};
use bosun::store::tasks::{self, Task, TaskState};
use bosun::store::{Store, now_ms};
use bosun::supervisor::{Options, Supervisor};

const KEY: &str = "sk-ant-api03-bosun-scripted-test-key-0123456789abcdef";
/// The task every test runs: the project's first.
const TASK: &str = "ET-001";
/// The artifact the stage's gate wants and the scripted Write call creates.
const ARTIFACT: &str = "out.md";
const CONTENT: &str = "# Analysis\n\nwritten by the scripted model\n";

/// One analysis stage played by the real `claude` under a real [`Supervisor`]: a git project,
/// a SQLite database, a private tmux server (killed on drop), a HOME whose `.claude.json`
/// trusts the task's worktree, and the scripted model server.
struct Harness {
    // Field order is drop order: the supervisor, then tmux (and so claude), then the model
    // server, then the directory.
    sup: Supervisor,
    _kill: KillServer,
    server: ModelServer,
    store: Store,
    task: Task,
    /// The task's worktree, where the supervisor launches claude.
    worktree: PathBuf,
    /// The database file.
    db: PathBuf,
    /// The config layer the supervisor runs with, as a file (for the `bosun` binary).
    config_file: PathBuf,
    /// (run id, status) each time a run's status changed between ticks.
    seen: Vec<(i64, RunStatus)>,
    _tmp: tempfile::TempDir,
}

impl Harness {
    /// `None` (after a loud skip message) when claude is not installed outside CI. `args`
    /// follow the claude binary in the provider's command; `env` is added to the provider's;
    /// `layer` is more config TOML (e.g. `[queue]`).
    fn start(
        test: &str,
        turns: Vec<Turn>,
        args: &[&str],
        env: &[(&str, &str)],
        layer: &str,
    ) -> Option<Harness> {
        let claude = agents::require("claude", test)?;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical");
        let repo = support::init_repo(&dir);
        let home = dir.join("home");
        std::fs::create_dir_all(&home).expect("home");
        // Where the supervisor will put the task's worktree: Claude must trust it.
        let worktree = dir.join("worktrees/example-tool").join(TASK);
        let claude_json = serde_json::json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": { "approved": [&KEY[KEY.len() - 20..]], "rejected": [] },
            "projects": { worktree.to_string_lossy(): {
                "hasTrustDialogAccepted": true,
                "hasCompletedProjectOnboarding": true,
            }},
        });
        std::fs::write(home.join(".claude.json"), claude_json.to_string()).expect(".claude.json");
        let server = ModelServer::start(turns).expect("model server");
        server.set_pace(bosun::sim::model::Pace::INSTANT);
        let socket = format!(
            "bosun-claude-sup-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        );
        let command: Vec<String> = std::iter::once(claude.display().to_string())
            .chain(args.iter().map(|a| a.to_string()))
            .collect();
        let url = server.url();
        let home_s = home.display().to_string();
        let env: Vec<(&str, &str)> = [
            ("ANTHROPIC_BASE_URL", url.as_str()),
            ("ANTHROPIC_API_KEY", KEY),
            ("HOME", home_s.as_str()),
            ("DISABLE_AUTOUPDATER", "1"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ]
        .into_iter()
        .chain(env.iter().copied())
        .collect();
        let env = env
            .iter()
            .map(|(k, v)| format!("{k} = {}", toml_str(v)))
            .collect::<Vec<_>>()
            .join(", ");
        let layer = format!(
            r#"
[supervisor]
max_concurrency = 1
tmux_socket = "{socket}"
[providers.claude]
command = [{command}]
env = {{ {env} }}
[roles.analyst]
provider = "claude"
prompt = "Write the analysis of {{key}} ({{title}}) to {ARTIFACT}."
[[stages]]
name = "analysis"
role = "analyst"
[[stages.gates]]
kind = "artifact"
path = "{ARTIFACT}"
{layer}
"#,
            command = command
                .iter()
                .map(|a| toml_str(a))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let config_file = dir.join("bosun.toml");
        std::fs::write(&config_file, &layer).expect("config file");
        let cfg = Config::from_layers(&[(config_file.as_path(), layer.as_str())]).expect("config");
        let db = dir.join("bosun.db");
        let store = support::open_with_project(&db, &repo, "true");
        let (task, _) = Engine::new(&cfg, &store)
            .create_task("example-tool", "Explain the parser", "", 100)
            .expect("task");
        assert_eq!(task.key, TASK);
        let kill = KillServer(socket.clone());
        let mut opts = Options::new(dir.clone(), &socket);
        opts.owner = "test".into();
        // Claude's hooks call this binary (`bosun hook`), not the test executable.
        opts.bosun_exe = env!("CARGO_BIN_EXE_bosun").into();
        let sup =
            Supervisor::start(cfg, Store::open(&db).expect("store"), opts).expect("supervisor");
        Some(Harness {
            sup,
            _kill: kill,
            server,
            store,
            task,
            worktree,
            db,
            config_file,
            seen: Vec::new(),
            _tmp: tmp,
        })
    }

    /// One supervisor tick; records status changes of the watched runs.
    fn tick(&mut self) {
        self.sup.tick().expect("tick");
        for (id, _, s) in self.sup.run_statuses() {
            if self
                .seen
                .iter()
                .rev()
                .find(|(r, _)| *r == id)
                .map(|(_, s)| *s)
                != Some(s)
            {
                self.seen.push((id, s));
            }
        }
    }

    /// Ticks every 25 ms until `done` holds; panics after `timeout`, or as soon as the task
    /// is blocked or needs input, with the statuses seen and the model's requests.
    fn tick_until(
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
                "{} is {}: {:?}; statuses seen {:?}",
                t.key,
                t.state,
                t.state_reason,
                self.seen
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

    fn task(&self) -> Task {
        tasks::by_key(self.store.conn(), TASK).expect("task")
    }

    /// The task's runs, oldest first.
    fn runs(&self) -> Vec<Run> {
        runs::for_task(self.store.conn(), self.task.id).expect("runs")
    }

    /// Statuses seen of run `id`, in order.
    fn seen_of(&self, id: i64) -> Vec<RunStatus> {
        self.seen
            .iter()
            .filter(|(r, _)| *r == id)
            .map(|(_, s)| *s)
            .collect()
    }

    /// The latest run's pane as tmux shows it, for failure messages.
    fn screen(&self) -> String {
        let Some(pane) = self.runs().pop().and_then(|r| r.pane_id) else {
            return "no pane yet".into();
        };
        match self.sup.tmux().capture(&pane, false) {
            Ok(screen) => format!("screen of {pane}:\n{screen}"),
            Err(e) => format!("no screen of {pane}: {e}"),
        }
    }

    /// One line per request the model server got.
    fn requests(&self) -> String {
        self.server
            .requests()
            .iter()
            .map(|r| format!("{} {} -> {:?}\n", r.method, r.path, r.answer))
            .collect()
    }

    /// The real `bosun` binary on this database and config file, with private XDG dirs.
    fn bosun(&self, args: &[&str]) -> Command {
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

    /// Ticks until the task is done, then checks what a finished stage leaves: the artifact
    /// claude wrote, the artifact gate passed, the latest run done, the work committed.
    fn finish(&mut self, timeout: Duration) {
        self.tick_until(timeout, "the task to be done", |h| {
            h.task().state == TaskState::Done
        });
        let written = std::fs::read_to_string(self.worktree.join(ARTIFACT))
            .expect("artifact written by claude");
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
}

/// `s` as a TOML basic string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[test]
fn claude_code_completes_a_stage_under_the_supervisor() {
    let Some(mut h) = Harness::start(
        "claude_code_completes_a_stage",
        vec![
            Turn::write_file(ARTIFACT, CONTENT),
            Turn::text("I wrote out.md with the analysis."),
        ],
        &["--permission-mode", "acceptEdits"],
        &[],
        "",
    ) else {
        return;
    };
    // Watch claude's own screen for its turn summary (the final text, then
    // `✻ <Verb> for Ns`), noting when it first shows.
    let summary =
        regex::Regex::new(r"(?m)^● I wrote out\.md with the analysis\.(?s:.*)^✻ \S+ for \d+s")
            .expect("regex");
    let mut summary_at: Option<i64> = None;
    h.tick_until(Duration::from_secs(120), "the turn summary", |h| {
        if summary_at.is_none() {
            let pane = h.runs().pop().and_then(|r| r.pane_id);
            if let Some(screen) = pane.and_then(|p| h.sup.tmux().capture(&p, false).ok())
                && summary.is_match(&screen)
            {
                summary_at = Some(now_ms());
            }
        }
        summary_at.is_some()
    });
    h.finish(Duration::from_secs(60));
    let run = h.runs().pop().expect("run");
    let seen = h.seen_of(run.id);
    assert!(seen.contains(&RunStatus::Busy), "busy was seen: {seen:?}");
    // Claude's hooks reached bosun: prompt taken, the Write tool, the end of the turn with
    // its last message (the run's final message).
    let calls: Vec<HookEvent> = hooks::for_run(h.store.conn(), run.id)
        .expect("hooks")
        .iter()
        .map(|c| c.event)
        .collect();
    for want in [
        HookEvent::UserPromptSubmit,
        HookEvent::PreToolUse,
        HookEvent::Stop,
    ] {
        assert!(calls.contains(&want), "{want} hook received: {calls:?}");
    }
    assert_eq!(
        run.final_message.as_deref(),
        Some("I wrote out.md with the analysis.")
    );
    // Completion was detected (from the Stop hook) within 2 s of the summary showing.
    let done = events::recent(h.store.conn(), Some(h.task.id), 100)
        .expect("events")
        .into_iter()
        .find(|e| e.run_id == Some(run.id) && e.message.ends_with("is done (agent hook)"))
        .expect("a done status event from the Stop hook");
    let summary_at = summary_at.expect("summary seen");
    eprintln!(
        "completion detected {} ms after claude showed its turn summary",
        done.ts - summary_at
    );
    assert!(
        done.ts - summary_at <= 2_000,
        "done {} ms after the summary showed",
        done.ts - summary_at
    );
    // The prompt reached the model through Claude Code.
    let prompt_seen = h.server.requests().iter().any(|r| {
        String::from_utf8_lossy(&r.body)
            .contains("Write the analysis of ET-001 (Explain the parser) to out.md.")
    });
    assert!(
        prompt_seen,
        "the rendered prompt was not in any model request"
    );
}

#[test]
fn claude_code_waits_for_permission_until_bosun_answer_says_yes() {
    let Some(mut h) = Harness::start(
        "claude_code_waits_for_permission",
        vec![
            Turn::write_file(ARTIFACT, CONTENT),
            Turn::text("I wrote out.md with the analysis."),
        ],
        // Explicit: 2.1.197's default mode asks before a Write (2.1.330's default writes).
        &["--permission-mode", "default"],
        &[],
        "",
    ) else {
        return;
    };
    h.tick_until(Duration::from_secs(90), "claude to ask", |h| {
        h.sup
            .run_statuses()
            .iter()
            .any(|(_, k, s)| k == TASK && *s == RunStatus::Waiting)
    });
    let run = h.runs().pop().expect("run");
    assert_eq!(run.status, RunStatus::Waiting, "the runs row says waiting");
    assert!(
        !h.worktree.join(ARTIFACT).exists(),
        "nothing is written before the answer"
    );

    // The operator answers from another process; the supervisor keeps watching meanwhile.
    let mut answer = h
        .bosun(&["answer", TASK, "yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bosun answer runs");
    h.tick_until(Duration::from_secs(30), "bosun answer to exit", |_| {
        answer.try_wait().expect("try_wait").is_some()
    });
    let out = answer.wait_with_output().expect("bosun answer output");
    assert!(
        out.status.success(),
        "bosun answer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ET-001: answered yes"
    );

    h.finish(Duration::from_secs(60));
    let runs = h.runs();
    assert_eq!(
        runs.len(),
        1,
        "the same run went on after the answer: {runs:?}"
    );
    let seen = h.seen_of(run.id);
    let waiting = seen.iter().position(|s| *s == RunStatus::Waiting);
    assert!(
        waiting.is_some_and(|i| seen[i..].contains(&RunStatus::Busy)),
        "busy again after waiting: {seen:?}"
    );
}

#[test]
fn claude_code_rate_limited_is_requeued_with_backoff_and_then_completes() {
    let Some(mut h) = Harness::start(
        "claude_code_rate_limited",
        vec![
            // `x-should-retry: false`: Claude gives up on the 429 at once and shows it;
            // CLAUDE_CODE_MAX_RETRIES=1 bounds it should a version ignore the header.
            Turn::rate_limited(2).no_retry(),
            Turn::write_file(ARTIFACT, CONTENT),
            Turn::text("I wrote out.md with the analysis."),
        ],
        &["--permission-mode", "acceptEdits"],
        &[("CLAUDE_CODE_MAX_RETRIES", "1")],
        // Claude's error screen does not show the server's retry-after (only its own
        // countdown while it retries), so bosun's backoff is what keeps the next attempt
        // from coming sooner: 3 s, no jitter, longer than the 2 s retry-after.
        "[queue]\nbackoff_base = \"3s\"\nbackoff_jitter = 0.0\n",
    ) else {
        return;
    };
    // The 429 stays on claude's screen; after ERROR_DEBOUNCE the supervisor fails the run.
    h.tick_until(Duration::from_secs(90), "the first run to fail", |h| {
        h.runs().first().is_some_and(|r| r.ended_at.is_some())
    });
    let first = h.runs().remove(0);
    assert_eq!(first.status, RunStatus::Error, "{first:?}");
    // Claude's StopFailure hook says so at once (the screen's error is the fallback).
    let failure = hooks::for_run(h.store.conn(), first.id)
        .expect("hooks")
        .into_iter()
        .find(|c| c.event == HookEvent::StopFailure)
        .expect("a StopFailure hook");
    assert!(failure.detail.starts_with("rate_limit: "), "{failure:?}");
    let reason = first.error.clone().unwrap_or_default();
    assert!(
        reason.contains("API Error: Request rejected (429)"),
        "the failure names the 429: {reason:?}"
    );
    // Transient: back in the queue, counted against the transient budget only, after the
    // backoff — which is not before the server's retry-after.
    let job_id = first.job_id.expect("job");
    let job = jobs::get(h.store.conn(), job_id).expect("job");
    let failed_at = first.ended_at.expect("ended");
    assert_eq!(job.status, JobStatus::Queued, "{job:?}");
    assert_eq!((job.attempts, job.transient_attempts), (0, 1), "{job:?}");
    assert!(
        job.available_at >= failed_at + 2_000,
        "{job:?} failed at {failed_at}"
    );
    assert_eq!(
        job.available_at,
        failed_at + 3_000,
        "the configured backoff: {job:?}"
    );
    assert!(
        job.last_error.as_deref().is_some_and(|e| e.contains("429")),
        "{job:?}"
    );
    assert_ne!(h.task().state, TaskState::Blocked);
    let events = events::recent(h.store.conn(), Some(h.task.id), 100).expect("events");
    let requeued = events
        .iter()
        .find(|e| e.kind == EventKind::JobRequeued && e.job_id == Some(job_id))
        .unwrap_or_else(|| panic!("a requeue event: {events:#?}"));
    assert!(
        requeued.message.contains("transient failure, retry in 3s")
            && requeued.message.contains("429"),
        "{}",
        requeued.message
    );

    // The second attempt: a fresh claude gets the Write and the final text.
    h.finish(Duration::from_secs(90));
    let runs = h.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[1].started_at >= job.available_at, "{runs:?}");
    let job = jobs::get(h.store.conn(), job_id).expect("job");
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    assert_eq!((job.attempts, job.transient_attempts), (0, 1), "{job:?}");
    assert!(
        job.claimed_at.is_some_and(|c| c >= job.available_at),
        "{job:?}"
    );
    assert_eq!(h.server.remaining(), 0, "{}", h.requests());
}
