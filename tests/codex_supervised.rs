//! The real Codex CLI playing a stage under bosun's supervisor: launched in its pane from the
//! built-in `codex` profile (command and environment overridden to point at the pinned CLI
//! and a private CODEX_HOME), prompt pasted and submitted, busy, waiting, done and errors read
//! from its real screen and its hooks (`-c hooks={…}` calling this build's `bosun hook`), the worktree committed, the artifact gate passed, a permission prompt
//! answered with `bosun answer`, a 429 requeued with backoff. The model is bosun's scripted
//! Responses API server on 127.0.0.1, whose `exec_command` calls write the artifact. Needs
//! `codex` (`scripts/install-agents.sh`): skipped loudly without it, failed under `CI=true`.

#[path = "support/agents.rs"]
mod agents;
#[path = "support/codex.rs"]
mod codex;
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use agents::KillServer;
use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::sim::model::{Answer, ModelServer, Turn};
use bosun::store::Store;
use bosun::store::events::{self, EventKind};
use bosun::store::hooks::{self, HookEvent};
use bosun::store::jobs::{self, JobStatus};
use bosun::store::runs::{self, RunStatus};
use bosun::store::tasks::{self, TaskState};
use bosun::supervisor::{Options, Supervisor};
use codex::Approval;

/// What the scripted model writes as the stage's artifact.
const ARTIFACT: &str = "# Analysis\n\nwritten by the scripted model\n";
/// The role's prompt template.
const PROMPT: &str = "Write the analysis of {key} ({title}) to out.md.";

/// A project, a database, a CODEX_HOME, the config layer and a supervisor over them.
struct Rig {
    // Field order is drop order: the supervisor's agents (tmux) go before the server.
    _kill: KillServer,
    server: ModelServer,
    dir: PathBuf,
    db: PathBuf,
    worktree: PathBuf,
    cfg: Config,
    config_file: PathBuf,
    socket: String,
    key: String,
    _tmp: tempfile::TempDir,
}

impl Rig {
    /// `None` (after a loud skip message) when codex is not installed outside CI. `queue` is
    /// TOML for the `[queue]` table.
    fn new(test: &str, scenario: Vec<Turn>, approval: Approval, queue: &str) -> Option<Rig> {
        let bin = agents::require("codex", test)?;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical");
        let repo = support::init_repo(&dir);
        // Where the supervisor will put the task's worktree: Codex must trust it (and the
        // repository it belongs to, which Codex resolves a worktree to).
        let worktree = dir.join("worktrees/example-tool/ET-001");
        let server = ModelServer::start(scenario).expect("model server");
        server.set_pace(bosun::sim::model::Pace::INSTANT);
        let (codex_home, home) = codex::dirs(&dir);
        codex::write_home(
            &codex_home,
            &server.url(),
            &[worktree.as_path(), repo.as_path()],
            approval,
        );
        let socket = format!(
            "bosun-codex-sup-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        );
        let mut command = vec![bin.display().to_string()];
        command.extend(codex::ARGS.iter().map(|a| a.to_string()));
        let command: Vec<String> = command.iter().map(|a| format!("{a:?}")).collect();
        let env: Vec<String> = codex::env(&codex_home, &home)
            .into_iter()
            .map(|(k, v)| format!("{k} = {v:?}"))
            .collect();
        let layer = format!(
            r#"
[supervisor]
max_concurrency = 1
tmux_socket = "{socket}"
[queue]
{queue}
[providers.codex]
command = [{command}]
env = {{ {env} }}
[roles.analyst]
provider = "codex"
prompt = "{PROMPT}"
[[stages]]
name = "analysis"
role = "analyst"
[[stages.gates]]
kind = "artifact"
path = "out.md"
"#,
            command = command.join(", "),
            env = env.join(", "),
        );
        let config_file = dir.join("bosun.toml");
        std::fs::write(&config_file, &layer).expect("bosun.toml");
        let cfg = Config::from_layers(&[(config_file.as_path(), layer.as_str())]).expect("config");
        let db = dir.join("bosun.db");
        let store = support::open_with_project(&db, &repo, "true");
        let (task, _) = Engine::new(&cfg, &store)
            .create_task("example-tool", "Explain the parser", "", 100)
            .expect("task");
        Some(Rig {
            _kill: KillServer(socket.clone()),
            server,
            dir,
            db,
            worktree,
            cfg,
            config_file,
            socket,
            key: task.key,
            _tmp: tmp,
        })
    }

    fn store(&self) -> Store {
        Store::open(&self.db).expect("store")
    }

    fn supervisor(&self) -> Supervisor {
        let mut opts = Options::new(self.dir.clone(), &self.socket);
        opts.owner = "test".into();
        // The agent's hooks call this build's `bosun hook`.
        opts.bosun_exe = env!("CARGO_BIN_EXE_bosun").into();
        Supervisor::start(self.cfg.clone(), self.store(), opts).expect("supervisor")
    }

    fn task(&self, store: &Store) -> tasks::Task {
        tasks::by_key(store.conn(), &self.key).expect("task")
    }

    fn runs(&self, store: &Store) -> Vec<runs::Run> {
        let task = self.task(store);
        runs::for_task(store.conn(), task.id).expect("runs")
    }

    /// Recent events, for failure messages.
    fn events(&self, store: &Store) -> Vec<String> {
        events::recent(store.conn(), None, 20)
            .expect("events")
            .into_iter()
            .map(|e| format!("{} {}", e.kind, e.message))
            .collect()
    }

    /// The screen of the task's latest run, for failure messages.
    fn screen(&self, sup: &Supervisor, store: &Store) -> String {
        self.runs(store)
            .pop()
            .and_then(|r| r.pane_id)
            .and_then(|p| sup.tmux().capture(&p, false).ok())
            .unwrap_or_else(|| "(no pane)".into())
    }

    /// One line per model request, for failure messages.
    fn requests(&self) -> String {
        self.server
            .requests()
            .iter()
            .map(|r| format!("{} {} -> {:?}\n", r.method, r.path, r.answer))
            .collect()
    }

    /// Ticks `sup` every 25 ms until `done` holds, collecting the run statuses seen; fails
    /// after `limit` or when the task is blocked or needs input.
    fn tick_until(
        &self,
        sup: &mut Supervisor,
        limit: Duration,
        what: &str,
        seen: &mut Vec<RunStatus>,
        mut done: impl FnMut(&mut Supervisor, &Store) -> bool,
    ) {
        let store = self.store();
        let deadline = Instant::now() + limit;
        loop {
            sup.tick().expect("tick");
            for (_, _, s) in sup.run_statuses() {
                if seen.last() != Some(&s) {
                    seen.push(s);
                }
            }
            if done(sup, &store) {
                return;
            }
            let t = self.task(&store);
            assert!(
                !matches!(t.state, TaskState::Blocked | TaskState::NeedsInput),
                "{} is {}: {:?}; statuses seen {seen:?}; events: {:#?}",
                t.key,
                t.state,
                t.state_reason,
                self.events(&store)
            );
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; statuses seen {seen:?}; task {} {:?}; \
                 events: {:#?}; model requests:\n{}\nscreen:\n{}",
                t.state,
                t.state_reason,
                self.events(&store),
                self.requests(),
                self.screen(sup, &store)
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The events of the hook calls `run_id` received, in order.
    fn hook_events(&self, store: &Store, run_id: i64) -> Vec<HookEvent> {
        hooks::for_run(store.conn(), run_id)
            .expect("hooks")
            .iter()
            .map(|c| c.event)
            .collect()
    }

    /// The `… is done (agent hook)` status event of `run_id`: completion came from its `Stop`
    /// hook, not from the screen.
    fn done_by_hook(&self, store: &Store, run_id: i64) -> events::Event {
        events::recent(store.conn(), None, 100)
            .expect("events")
            .into_iter()
            .find(|e| e.run_id == Some(run_id) && e.message.ends_with("is done (agent hook)"))
            .unwrap_or_else(|| {
                panic!(
                    "no done status event from the Stop hook; events: {:#?}",
                    self.events(store)
                )
            })
    }

    /// The task is done, its last run done, the artifact in the worktree and committed.
    fn assert_stage_done(&self, store: &Store) {
        assert_eq!(self.task(store).state, TaskState::Done);
        let run = self.runs(store).pop().expect("run");
        assert_eq!(run.status, RunStatus::Done, "{run:?}");
        let written = std::fs::read_to_string(self.worktree.join("out.md")).expect("artifact");
        assert_eq!(written, ARTIFACT);
        let log = Command::new("git")
            .args(["-C", &self.worktree.to_string_lossy(), "log", "--format=%s"])
            .output()
            .expect("git log");
        let log = String::from_utf8_lossy(&log.stdout);
        assert!(
            log.contains(&format!("{} analysis: work of run {}", self.key, run.id)),
            "{log}"
        );
        let tracked = Command::new("git")
            .args([
                "-C",
                &self.worktree.to_string_lossy(),
                "ls-files",
                "--error-unmatch",
                "out.md",
            ])
            .status()
            .expect("git ls-files");
        assert!(tracked.success(), "out.md is committed");
    }
}

/// The shell command that writes [`ARTIFACT`] to `out.md`.
fn write_artifact() -> String {
    format!("printf '{}' > out.md", ARTIFACT.replace('\n', "\\n"))
}

#[test]
fn codex_completes_a_stage_whose_artifact_a_tool_call_writes() {
    let Some(rig) = Rig::new(
        "codex_completes_a_stage",
        vec![
            Turn::shell(write_artifact()),
            Turn::text("I wrote out.md with the analysis."),
        ],
        Approval::Never,
        "",
    ) else {
        return;
    };
    let mut sup = rig.supervisor();
    let mut seen = Vec::new();
    rig.tick_until(
        &mut sup,
        Duration::from_secs(120),
        "the stage to finish",
        &mut seen,
        |_, store| rig.task(store).state == TaskState::Done,
    );
    assert!(
        seen.contains(&RunStatus::Busy),
        "busy was seen on codex's screen: {seen:?}"
    );
    rig.assert_stage_done(&rig.store());
    let reqs = rig.server.requests();
    let prompt = PROMPT
        .replace("{key}", &rig.key)
        .replace("{title}", "Explain the parser");
    assert!(
        reqs.iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains(&prompt)),
        "the rendered prompt reached the model:\n{}",
        rig.requests()
    );
    assert_eq!(rig.server.answered(), 2, "{}", rig.requests());
    // Codex's hooks reached bosun: prompt taken, the command, the end of the turn with its
    // last message (the run's final message), and completion came from the Stop hook.
    let store = rig.store();
    let run = rig.runs(&store).pop().expect("run");
    assert_eq!(
        rig.hook_events(&store, run.id),
        [
            HookEvent::UserPromptSubmit,
            HookEvent::PreToolUse,
            HookEvent::Stop
        ]
    );
    let calls = hooks::for_run(store.conn(), run.id).expect("hooks");
    assert_eq!(calls[1].detail, "Bash");
    assert_eq!(
        run.final_message.as_deref(),
        Some("I wrote out.md with the analysis.")
    );
    rig.done_by_hook(&store, run.id);
    let rejected = events::recent(store.conn(), None, 100)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::HookRejected)
        .count();
    assert_eq!(rejected, 0, "every hook call had the run's token");
}

#[test]
fn codex_permission_prompt_is_waiting_and_answered_with_bosun_answer() {
    let Some(rig) = Rig::new(
        "codex_permission_prompt",
        vec![
            Turn::shell_escalated(write_artifact(), "May I write out.md?"),
            Turn::text("I wrote out.md with the analysis."),
        ],
        Approval::OnEscalation,
        "",
    ) else {
        return;
    };
    let mut sup = rig.supervisor();
    let mut seen = Vec::new();
    let key = rig.key.clone();
    let mut dialog_at = None;
    rig.tick_until(
        &mut sup,
        Duration::from_secs(120),
        "codex to ask for approval",
        &mut seen,
        |sup, store| {
            if dialog_at.is_none()
                && rig
                    .screen(sup, store)
                    .contains("Would you like to run the following command?")
            {
                dialog_at = Some(bosun::store::now_ms());
            }
            sup.run_statuses()
                .iter()
                .any(|(_, k, s)| *k == key && *s == RunStatus::Waiting)
        },
    );
    let store = rig.store();
    let run = rig.runs(&store).pop().expect("run");
    assert_eq!(run.status, RunStatus::Waiting, "waiting is in the database");
    assert!(
        !rig.worktree.join("out.md").exists(),
        "nothing written before the answer"
    );
    // The operator answers with the real CLI. A dialog that has only just opened can miss a
    // key (seen with the CPUs loaded), so an answer that left codex waiting is repeated, as an
    // operator would, at most twice.
    let mut answers = 0;
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["--db", &rig.db.to_string_lossy(), "answer", &rig.key, "yes"])
            .env("BOSUN_CONFIG", &rig.config_file)
            .output()
            .expect("bosun answer runs");
        assert!(
            out.status.success(),
            "bosun answer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("answered yes"));
        answers += 1;
        let asked_at = Instant::now();
        rig.tick_until(
            &mut sup,
            Duration::from_secs(60),
            "codex to take the answer",
            &mut seen,
            |sup, _| {
                asked_at.elapsed() >= Duration::from_secs(3)
                    || sup
                        .run_statuses()
                        .iter()
                        .all(|(_, _, s)| *s != RunStatus::Waiting)
            },
        );
        let still_waiting = sup
            .run_statuses()
            .iter()
            .any(|(_, _, s)| *s == RunStatus::Waiting);
        if !still_waiting {
            break;
        }
        assert!(
            answers < 3,
            "codex ignored {answers} answers; statuses {seen:?}"
        );
    }
    eprintln!("codex took the answer after {answers} `bosun answer` call(s)");
    rig.tick_until(
        &mut sup,
        Duration::from_secs(120),
        "the stage to finish after the answer",
        &mut seen,
        |_, store| rig.task(store).state == TaskState::Done,
    );
    let waiting_at = seen
        .iter()
        .position(|s| *s == RunStatus::Waiting)
        .expect("waiting seen");
    assert!(
        seen[waiting_at..].contains(&RunStatus::Busy),
        "busy again after the answer: {seen:?}"
    );
    rig.assert_stage_done(&store);
    assert_eq!(rig.runs(&store).len(), 1, "one run, no retry");
    // The PermissionRequest hook came before the dialog was drawn (which is why it is not
    // taken as waiting: an answer sent then is lost; the screen reports the dialog).
    let run = rig.runs(&store).pop().expect("run");
    let calls = hooks::for_run(store.conn(), run.id).expect("hooks");
    let ask = calls
        .iter()
        .find(|c| c.event == HookEvent::PermissionRequest)
        .unwrap_or_else(|| panic!("a PermissionRequest hook: {calls:?}"));
    assert_eq!(ask.detail, "Bash: May I write out.md?");
    eprintln!(
        "PermissionRequest hook {} ms before the dialog was on screen",
        dialog_at.map_or(0, |d| d - ask.at)
    );
    assert_eq!(calls.last().map(|c| c.event), Some(HookEvent::Stop));
    rig.done_by_hook(&store, run.id);
}

#[test]
fn codex_completion_is_detected_within_two_seconds_of_the_turn_summary() {
    let Some(rig) = Rig::new(
        "codex_completion_latency",
        vec![
            Turn::shell(write_artifact()),
            Turn::text("I wrote out.md with the analysis."),
        ],
        Approval::Never,
        "",
    ) else {
        return;
    };
    let mut sup = rig.supervisor();
    let mut seen = Vec::new();
    let mut run_id = None;
    let mut pane = None;
    let mut summary_at: Option<Instant> = None;
    let mut done_at: Option<Instant> = None;
    rig.tick_until(
        &mut sup,
        Duration::from_secs(120),
        "the turn summary and the run's done status",
        &mut seen,
        |sup, store| {
            if run_id.is_none() {
                run_id = sup.run_statuses().first().map(|(id, _, _)| *id);
            }
            let Some(id) = run_id else {
                return false;
            };
            let run = runs::get(store.conn(), id).expect("run");
            if pane.is_none() {
                pane = run.pane_id.clone();
            }
            // The summary on screen; once the Stop hook completed the run its window may
            // close before the next capture, so the pane's output log counts too.
            let summary_in = |text: &str| {
                text.split_once("I wrote out.md with the analysis.")
                    .is_some_and(|(_, below)| below.contains("Worked for "))
            };
            if summary_at.is_none()
                && (pane
                    .as_ref()
                    .and_then(|p| sup.tmux().capture(p, false).ok())
                    .is_some_and(|screen| summary_in(&screen))
                    || run
                        .log_path
                        .as_ref()
                        .and_then(|l| std::fs::read(l).ok())
                        .is_some_and(|log| summary_in(&String::from_utf8_lossy(&log))))
            {
                summary_at = Some(Instant::now());
            }
            if done_at.is_none() && run.status == RunStatus::Done {
                done_at = Some(Instant::now());
            }
            summary_at.is_some() && done_at.is_some()
        },
    );
    let (summary_at, done_at) = (
        summary_at.expect("summary seen"),
        done_at.expect("done seen"),
    );
    let lag = done_at.saturating_duration_since(summary_at);
    if done_at < summary_at {
        eprintln!(
            "done {:?} before the turn summary appeared (statuses {seen:?})",
            summary_at - done_at
        );
    } else {
        eprintln!("done {lag:?} after the turn summary appeared (statuses {seen:?})");
    }
    assert!(
        lag <= Duration::from_secs(2),
        "the run was marked done {lag:?} after codex showed its turn summary"
    );
    rig.tick_until(
        &mut sup,
        Duration::from_secs(60),
        "the task to be done",
        &mut seen,
        |_, store| rig.task(store).state == TaskState::Done,
    );
    let store = rig.store();
    rig.assert_stage_done(&store);
    // Completion came from the Stop hook.
    let run = runs::get(store.conn(), run_id.expect("run")).expect("run");
    rig.done_by_hook(&store, run.id);
    assert_eq!(
        run.final_message.as_deref(),
        Some("I wrote out.md with the analysis.")
    );
}

#[test]
fn codex_rate_limit_is_a_transient_failure_requeued_with_backoff() {
    let retry_after = 2;
    let Some(rig) = Rig::new(
        "codex_rate_limit",
        vec![
            Turn::rate_limited(retry_after),
            Turn::shell(write_artifact()),
            Turn::text("I wrote out.md with the analysis."),
        ],
        Approval::Never,
        // Codex does not print the Retry-After it got (see the fixtures' README): bosun's own
        // backoff applies, here 3 s for the first retry, at least the server's 2 s.
        "backoff_base = \"3s\"\nbackoff_jitter = 0.0",
    ) else {
        return;
    };
    let mut sup = rig.supervisor();
    let mut seen = Vec::new();
    rig.tick_until(
        &mut sup,
        Duration::from_secs(120),
        "the job to be requeued",
        &mut seen,
        |_, store| {
            let job = jobs::open_for_task(store.conn(), rig.task(store).id)
                .expect("job")
                .expect("an open job");
            job.status == JobStatus::Queued && job.transient_attempts == 1
        },
    );
    let store = rig.store();
    let job = jobs::open_for_task(store.conn(), rig.task(&store).id)
        .expect("job")
        .expect("the requeued job");
    assert_eq!(job.transient_attempts, 1, "{job:?}");
    assert_eq!(
        job.attempts, 0,
        "a transient failure spends no permanent attempt"
    );
    let first = rig.runs(&store).pop().expect("the failed run");
    let ended = first.ended_at.expect("the failed run ended");
    assert_eq!(first.status, RunStatus::Error, "{first:?}");
    let error = first.error.clone().unwrap_or_default();
    assert!(error.contains("429"), "{error}");
    // Codex calls no hook when a turn fails: only the prompt was taken.
    assert_eq!(
        rig.hook_events(&store, first.id),
        [HookEvent::UserPromptSubmit]
    );
    assert!(
        seen.contains(&RunStatus::Error),
        "the error was read from codex's screen: {seen:?}"
    );
    let backoff = job.available_at - ended;
    assert!(
        backoff >= i64::try_from(retry_after).unwrap_or(0) * 1000 && backoff >= 3000,
        "retry in {backoff} ms"
    );
    let requeued = events::recent(store.conn(), None, 50)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == EventKind::JobRequeued)
        .expect("a requeue event");
    assert!(
        requeued.message.contains("transient") && requeued.message.contains("429"),
        "{}",
        requeued.message
    );
    // The second attempt, after the backoff, completes the stage.
    rig.tick_until(
        &mut sup,
        Duration::from_secs(120),
        "the second attempt to finish the stage",
        &mut seen,
        |_, store| rig.task(store).state == TaskState::Done,
    );
    let all = rig.runs(&store);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all[1].started_at >= job.available_at,
        "the retry waited for its backoff"
    );
    rig.assert_stage_done(&store);
    let scripted = rig
        .server
        .requests()
        .iter()
        .filter(|r| matches!(r.answer, Answer::Scripted(_)))
        .count();
    assert_eq!(scripted, 3, "{}", rig.requests());
}
