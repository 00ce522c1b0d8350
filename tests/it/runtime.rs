//! The supervisor on real tmux (a private socket per test, server killed on drop), real git
//! worktrees, real SQLite, and the real `bosun agent-sim` as the agent.

use crate::support;

use support::config::Layer;
use support::rig::{BOSUN, Rig, daemon, tick_until, wait_for};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bosun::pipeline::{Decision, Engine, Input};
use bosun::status::{JobStatus, RunStatus, TaskState};
use bosun::store::Store;
use bosun::store::events::{self, EventKind};
use bosun::store::jobs;
use bosun::store::runs;
use bosun::store::tasks;
use bosun::supervisor::Supervisor;

/// Roles on `sim`, a short pipeline of the stages given, artifact gates on `out-<stage>.md`.
fn simple_pipeline(stages: &[(&str, &str)], role_extra: &str) -> String {
    let mut layer = Layer::new()
        .max_concurrency(4)
        .set("supervisor.kill_grace", "1s")
        .set("queue.backoff_base", "1s")
        .set("queue.backoff_cap", "2s");
    for (stage, prompt) in stages {
        let role = format!("r-{stage}");
        layer = layer
            .role(&role, "sim", &format!("{prompt}\n"))
            .merge_at(&format!("roles.{role}"), role_extra);
    }
    for (stage, _) in stages {
        layer = layer.stage(stage, &format!("r-{stage}"), &format!("out-{stage}.md"));
    }
    layer.to_toml()
}

/// The built-in sim profile calls Claude-style hooks; this test is about an agent without them.
const NO_HOOKS: &str = "[providers.sim]\nhooks = \"none\"\n";

const DEMO: &str = include_str!("../../src/cmd/demo.toml");

#[test]
fn a_task_goes_through_every_stage_with_a_rollback_an_approval_and_a_permission_question() {
    let rig = Rig::new(DEMO);
    let picky = rig.add_task(
        "Handle empty input",
        "@sim {stage = \"analysis\", write = \"docs/work-items/{key}/picky-review\", text = \"yes\"}\n\
         @sim {stage = \"development\", ask = \"src/loader.txt\"}",
    );
    let plain = rig.add_task("Add a flag", "no tricks");
    let mut sup = rig.supervisor();
    let mut answered = std::collections::HashSet::new();
    let mut approved = std::collections::HashSet::new();
    let store = rig.store();
    let engine = Engine::new(&rig.cfg, &store);
    tick_until(
        &mut sup,
        Duration::from_secs(240),
        "both tasks done",
        |sup| {
            for (run_id, key, status) in sup.run_statuses() {
                if status == RunStatus::Waiting && key == picky && answered.insert(run_id) {
                    // The question is in the database as `waiting` before anyone answers.
                    let row = runs::get(store.conn(), run_id).expect("run");
                    assert_eq!(row.status, RunStatus::Waiting);
                    sup.answer(run_id, true).expect("answer");
                }
            }
            for key in [&picky, &plain] {
                let t = tasks::by_key(store.conn(), key).expect("task");
                assert!(
                    !matches!(t.state, TaskState::Blocked | TaskState::NeedsInput),
                    "{key} is {}: {:?}",
                    t.state,
                    t.state_reason
                );
                if t.state == TaskState::AwaitingApproval && approved.insert(key.clone()) {
                    assert_eq!(t.stage, "deploy");
                    engine
                        .handle(Input::Decide {
                            task: key.clone(),
                            decision: Decision::Approve { note: None },
                            by: "test".into(),
                        })
                        .expect("approve");
                }
            }
            [&picky, &plain]
                .iter()
                .all(|k| tasks::by_key(store.conn(), k).expect("task").state == TaskState::Done)
        },
    );
    // Both development runs (before and after the rollback) asked, were seen waiting in the
    // database, and were answered.
    assert_eq!(
        answered.len(),
        2,
        "permission questions answered: {answered:?}"
    );

    let t = rig.task(&picky);
    let evs = events::recent(store.conn(), Some(t.id), 1000).expect("events");
    let rollbacks: Vec<&str> = evs
        .iter()
        .filter(|e| e.kind == EventKind::RolledBack)
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(rollbacks.len(), 1, "one review rollback: {rollbacks:?}");
    assert!(rollbacks[0].contains("review to development"));
    // Every job ran the role of its own stage.
    for job in jobs::for_task(store.conn(), t.id).expect("jobs") {
        let stage = rig
            .cfg
            .stages
            .iter()
            .find(|s| s.name == job.stage)
            .expect("stage");
        assert_eq!(job.role, stage.role);
        assert_eq!(job.status, JobStatus::Done);
    }
    // The stages' work was committed on the task's branch in its worktree.
    let wt = t.worktree.clone().expect("worktree");
    let log = Command::new("git")
        .args(["-C", &wt, "log", "--format=%s"])
        .output()
        .expect("git log");
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.contains(&format!("{picky} review: work of run")),
        "{log}"
    );
    assert!(
        Path::new(&wt)
            .join("src")
            .join(format!("{picky}.txt"))
            .is_file()
    );
    assert_eq!(
        t.branch
            .as_deref()
            .map(|b| b.starts_with(&format!("bosun/{picky}-"))),
        Some(true)
    );
    // The feedback of the review reached the development run after the rollback.
    let dev_runs: Vec<runs::Run> = runs::for_task(store.conn(), t.id)
        .expect("runs")
        .into_iter()
        .filter(|r| r.stage == "development")
        .collect();
    assert_eq!(dev_runs.len(), 2);
    assert!(
        dev_runs[1]
            .feedback
            .as_deref()
            .unwrap_or("")
            .contains("an empty list is not handled")
    );
}

#[test]
fn a_rate_limited_run_is_requeued_no_earlier_than_retry_after() {
    let prompt = "@sim {write = \"marker\", text = \"1\", unless_exists = \"marker\"}\n\
                  @sim {fail = \"429 Too Many Requests … retry-after: 7\", unless_exists = \"marker\"}\n\
                  @sim {write = \"out-only.md\", text = \"ok\", if_exists = \"marker\"}";
    // Without hooks: the agent's exit (status 1) is what fails the run.
    let rig = Rig::new(&(simple_pipeline(&[("only", prompt)], "") + NO_HOOKS));
    let key = rig.add_task("Rate limited", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    tick_until(
        &mut sup,
        Duration::from_secs(60),
        "the task to finish",
        |_| tasks::by_key(store.conn(), &key).expect("task").state == TaskState::Done,
    );
    let t = rig.task(&key);
    let all = runs::for_task(store.conn(), t.id).expect("runs");
    assert_eq!(all.len(), 2, "one failed run, one good one");
    assert!(
        all[0].error.as_deref().unwrap_or("").contains("429"),
        "{:?}",
        all[0].error
    );
    assert_eq!(all[0].exit_code, Some(1));
    let gap = all[1].started_at - all[0].ended_at.expect("ended");
    assert!(
        gap >= 7_000,
        "second run started {gap} ms after the 429, before Retry-After"
    );
    let job = jobs::get(store.conn(), all[0].job_id.expect("job")).expect("job");
    assert_eq!(
        (job.transient_attempts, job.attempts),
        (1, 0),
        "counted as transient"
    );
}

/// Pids of `pid` and all its descendants, from /proc.
fn tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")) {
            out.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
        i += 1;
    }
    out
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn a_hung_agent_is_killed_by_the_watchdog_with_no_process_left() {
    // Two children in its session, one that left it (`setsid -f`, re-parented away): only
    // the run's identity in its environment ties that one to the run.
    let prompt = "@sim {hang = true, ignore_sigterm = true, children = 2, detached = 1}";
    // One attempt: the timeout blocks the task instead of relaunching the agent.
    let layer = Layer::parse(&simple_pipeline(&[("only", prompt)], "timeout = \"3s\"\n"))
        .set("queue.max_attempts", 1)
        .to_toml();
    let rig = Rig::new(&layer);
    let key = rig.add_task("Hangs", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    let mut pids = Vec::new();
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the run to hang with its children",
        |sup| {
            let Some((run_id, _, _)) = sup.run_statuses().first().cloned() else {
                return false;
            };
            let Some(pane) = runs::get(store.conn(), run_id).expect("run").pane_id else {
                return false;
            };
            let out = Command::new("tmux")
                .args([
                    "-L",
                    &rig.socket,
                    "display-message",
                    "-p",
                    "-t",
                    &pane,
                    "#{pane_pid}",
                ])
                .output()
                .expect("tmux");
            let Ok(pid) = String::from_utf8_lossy(&out.stdout).trim().parse::<u32>() else {
                return false;
            };
            pids = tree(pid);
            pids.len() >= 3
        },
    );
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the watchdog to fire",
        |_| tasks::by_key(store.conn(), &key).expect("task").state == TaskState::Blocked,
    );
    let t = rig.task(&key);
    assert!(
        t.state_reason
            .as_deref()
            .unwrap_or("")
            .contains("timed out"),
        "{:?}",
        t.state_reason
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        sup.tick().expect("tick");
        std::thread::sleep(Duration::from_millis(50));
    }
    let survivors: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        survivors.is_empty(),
        "processes of the run survived: {survivors:?}"
    );
    // Nothing that carries the run's token is left either (the `setsid -f` sleeper).
    let run = runs::for_task(store.conn(), t.id).expect("runs").remove(0);
    let (hash, _) = runs::hook_token_hash(store.conn(), run.id)
        .expect("token")
        .expect("run");
    let hashes = vec![hash.expect("token")];
    let carriers = || -> Vec<u32> {
        support::token_carriers(&hashes)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !carriers().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        carriers().is_empty(),
        "detached processes of the run survived: {:?}",
        carriers()
    );
}

#[test]
fn a_hostile_prompt_is_delivered_byte_exact() {
    let record = tempfile::tempdir().expect("record dir");
    let hostile = format!(
        "-leading dash; trailing semicolon;\n\"double\" 'single' `back` $HOME $(rm -rf /) \\ \t tab\nunicode: ünïcødé — 日本語 🚢\n\
         an early paste end \x1b[201~ and more on the same line\n{}",
        "0123456789abcdef".repeat(100 * 1024 / 16)
    );
    let layer = simple_pipeline(
        &[(
            "only",
            "{spec}\n@sim {write = \"out-only.md\", text = \"ok\"}",
        )],
        "",
    ) + &format!(
        "[providers.sim]\nenv = {{ BOSUN_SIM_RECORD = \"{}\" }}\n",
        record.path().display()
    );
    let rig = Rig::new(&layer);
    let key = rig.add_task("Hostile", &hostile);
    let mut sup = rig.supervisor();
    let store = rig.store();
    tick_until(
        &mut sup,
        Duration::from_secs(60),
        "the task to finish",
        |_| tasks::by_key(store.conn(), &key).expect("task").state == TaskState::Done,
    );
    let got = std::fs::read(record.path().join("prompt-1.txt")).expect("recorded prompt");
    let t = rig.task(&key);
    let expected = bosun::supervisor::prompt::render(
        &rig.cfg.roles["r-only"].prompt,
        &bosun::supervisor::prompt::PromptVars {
            key: &t.key,
            title: &t.title,
            spec: &t.spec,
            stage: "only",
            worktree: t.worktree.as_deref().expect("worktree"),
            feedback: None,
            artifacts: vec!["out-only.md".into()],
        },
    );
    // The one change: the bracketed-paste end marker is dropped (else the rest of the
    // prompt would arrive as typed keys, its first newline submitting it early).
    let expected = expected.replace("\x1b[201~", "");
    assert!(got.len() > 100 * 1024);
    assert!(
        String::from_utf8_lossy(&got).contains("an early paste end  and more on the same line\n"),
        "the line survived whole"
    );
    assert!(
        got == expected.as_bytes(),
        "prompt differs: got {} bytes, expected {}",
        got.len(),
        expected.len()
    );
}

#[test]
fn a_killed_daemon_readopts_busy_runs_and_requeues_a_run_whose_pane_died() {
    let prompt = "@sim {spin = \"6s\"}\n@sim {write = \"out-only.md\", text = \"ok\"}";
    let rig = Rig::new(&simple_pipeline(&[("only", prompt)], ""));
    assert!(!rig.config_text.is_empty());
    let keys: Vec<String> = (0..3)
        .map(|i| rig.add_task(&format!("task {i}"), ""))
        .collect();
    let store = rig.store();
    let mut first = daemon(&rig);
    let busy = |store: &Store| -> Vec<runs::Run> {
        runs::open(store.conn())
            .expect("runs")
            .into_iter()
            .filter(|r| r.status == RunStatus::Busy)
            .collect()
    };
    wait_for(Duration::from_secs(30), "three busy runs", || {
        busy(&store).len() == 3
    });
    let before = busy(&store);
    // SIGKILL: no chance to clean up; the lease stays behind with a dead pid.
    first.kill().expect("kill daemon");
    first.wait().expect("reap");
    // Meanwhile one agent's pane dies.
    let victim = &before[2];
    let out = Command::new("tmux")
        .args([
            "-L",
            &rig.socket,
            "kill-pane",
            "-t",
            victim.pane_id.as_deref().expect("pane"),
        ])
        .output()
        .expect("tmux");
    assert!(out.status.success());
    let mut second = daemon(&rig);
    wait_for(Duration::from_secs(60), "all tasks done", || {
        keys.iter()
            .all(|k| tasks::by_key(store.conn(), k).expect("task").state == TaskState::Done)
    });
    second.kill().expect("stop daemon");
    second.wait().expect("reap");
    for run in &before[..2] {
        let r = runs::get(store.conn(), run.id).expect("run");
        assert_eq!(
            r.status,
            RunStatus::Done,
            "re-adopted run {} finished",
            run.id
        );
        let job_runs: Vec<_> = runs::for_task(store.conn(), r.task_id)
            .expect("runs")
            .into_iter()
            .filter(|x| x.job_id == r.job_id)
            .collect();
        assert_eq!(job_runs.len(), 1, "no job runs twice");
    }
    let lost = runs::get(store.conn(), victim.id).expect("run");
    assert!(lost.ended_at.is_some() && lost.status != RunStatus::Done);
    let again: Vec<_> = runs::for_task(store.conn(), victim.task_id)
        .expect("runs")
        .into_iter()
        .filter(|x| x.job_id == victim.job_id)
        .collect();
    assert_eq!(again.len(), 2, "the lost run was requeued and ran again");
    let readopted = events::recent(store.conn(), None, 1000)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::JobReadopted)
        .count();
    assert_eq!(readopted, 2);
}

#[test]
fn a_second_daemon_refuses_while_the_first_holds_the_lease() {
    let rig = Rig::new(&simple_pipeline(
        &[("only", "@sim {write = \"out-only.md\", text = \"ok\"}")],
        "",
    ));
    let store = rig.store();
    let mut first = daemon(&rig);
    wait_for(Duration::from_secs(20), "the lease", || {
        bosun::store::lease::get(store.conn())
            .expect("lease")
            .is_some()
    });
    let second = daemon(&rig).wait_with_output().expect("second daemon");
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("another supervisor") && err.contains(&first.id().to_string()),
        "{err}"
    );
    // SIGTERM: the first stops cleanly and gives the lease up.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(first.id()).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    let status = first.wait().expect("wait");
    assert!(status.success(), "daemon exits cleanly on SIGTERM");
    assert!(
        bosun::store::lease::get(store.conn())
            .expect("lease")
            .is_none()
    );
}

/// A daemon whose lease another supervisor took over (here one with the same pid, as in
/// another pid namespace) stops with a non-zero status and a sentence naming the new holder.
#[test]
fn a_daemon_that_lost_its_lease_exits_non_zero_naming_the_holder() {
    let rig = Rig::new(&simple_pipeline(
        &[("only", "@sim {write = \"out-only.md\", text = \"ok\"}")],
        "",
    ));
    let store = rig.store();
    let mut d = daemon(&rig);
    wait_for(Duration::from_secs(20), "the lease", || {
        bosun::store::lease::get(store.conn())
            .expect("lease")
            .is_some()
    });
    store
        .conn()
        .execute(
            "UPDATE lease SET owner = 'usurper', host = 'elsewhere', acquired_at = acquired_at + 1",
            [],
        )
        .expect("take the lease");
    let mut status = None;
    wait_for(Duration::from_secs(30), "the daemon to stop", || {
        status = d.try_wait().expect("wait");
        status.is_some()
    });
    let out = d.wait_with_output().expect("output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!status.expect("status").success(), "{err}");
    assert!(
        err.contains("lost the supervisor lease: usurper (pid") && err.contains("on elsewhere"),
        "{err}"
    );
}

#[test]
fn the_demo_runs_to_completion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BOSUN)
        .args(["demo", "--headless", "--auto-approve", "--dir"])
        .arg(dir.path().join("demo"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all 3 tasks done"), "{stdout}");
    assert!(
        stdout.contains("back from review to development"),
        "{stdout}"
    );
    assert!(stdout.contains("permission prompt"), "{stdout}");
    assert!(
        !dir.path().join("demo").exists(),
        "the demo cleans up without --keep"
    );
}

#[test]
fn a_batch_provider_gets_the_prompt_as_an_argument_and_completes_on_exit() {
    // A one-shot agent: writes its prompt (its last argument) as the stage's artifact.
    let layer = Layer::parse(&simple_pipeline(
        &[("only", "batch prompt for {key}; with 'quotes' and ;")],
        "",
    ))
    .set("roles.r-only.provider", "oneshot")
    .to_toml()
        + "[providers.oneshot]\nmode = \"batch\"\nready = \".\"\n\
           command = [\"sh\", \"-c\", \"printf '%s' \\\"$1\\\" > out-only.md\", \"sh\"]\n";
    let rig = Rig::new(&layer);
    let key = rig.add_task("Batch", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the batch task to finish",
        |_| tasks::by_key(store.conn(), &key).expect("task").state == TaskState::Done,
    );
    let t = rig.task(&key);
    let wt = PathBuf::from(t.worktree.expect("worktree"));
    let written = std::fs::read_to_string(wt.join("out-only.md")).expect("artifact");
    assert_eq!(
        written.trim(),
        format!("batch prompt for {key}; with 'quotes' and ;")
    );
    let run = runs::for_task(store.conn(), t.id)
        .expect("runs")
        .pop()
        .expect("run");
    assert_eq!(run.status, RunStatus::Done);
}

#[test]
fn bosun_answer_answers_a_waiting_agent_from_the_command_line() {
    // Works 3 s before it asks: long enough to find no dialog with `--wait 1s`.
    let prompt = "@sim {spin = \"3s\"}\n@sim {ask = \"out-only.md\"}\n@sim {write = \"out-only.md\", text = \"ok\"}";
    // One run at a time: the second task starts once the first is done.
    let layer = simple_pipeline(&[("only", prompt)], "");
    let rig = Rig::build(|socket, _| Layer::parse(&layer).tmux_socket(socket).max_concurrency(1));
    let key = rig.add_task("Asks first", "");
    let other = rig.add_task("Not started", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    let cli = |args: &[&str]| rig.bosun(args).output().expect("bosun runs");
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the agent to ask",
        |sup| {
            sup.run_statuses()
                .iter()
                .any(|(_, k, s)| *k == key && *s == RunStatus::Waiting)
        },
    );
    // `task list` flags the task whose agent waits for an answer, first, as the console does.
    let list = String::from_utf8_lossy(&cli(&["task", "list"]).stdout).into_owned();
    let first = list.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("! {key}")) && first.contains("agent waiting"),
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&cli(&["task", "list", "--json"]).stdout).expect("json");
    let row = json
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["key"] == key.as_str()))
        .expect("the task in --json");
    assert_eq!(row["needs_operator"], true, "{row}");
    assert_eq!(row["agent"], "waiting", "{row}");
    assert_eq!(row["state"], "active", "{row}");
    let out = cli(&["answer", &key, "yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("answered yes"));
    // The agent showed `Waiting for permission…` (read as waiting) before its dialog, and
    // dropped keys for a moment after it opened: the answer went into the dialog, not the
    // input line.
    let answered = events::recent(store.conn(), None, 100)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == EventKind::Answered)
        .expect("an answered event");
    assert_eq!(answered.actor, "cli");
    assert!(
        answered.message.contains("answered yes"),
        "{}",
        answered.message
    );
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the run to finish",
        |_| tasks::by_key(store.conn(), &key).expect("task").state == TaskState::Done,
    );
    let t = rig.task(&key);
    let log = runs::for_task(store.conn(), t.id).expect("runs")[0]
        .log_path
        .clone()
        .expect("log");
    let log = std::fs::read_to_string(log).expect("log");
    assert!(log.contains("Permission granted"));
    assert!(
        !log.contains("> 1"),
        "the answer key went into the input line"
    );
    // An agent that asks nothing (yet): a clear error naming the task and quoting its screen.
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the other agent to work",
        |sup| {
            sup.run_statuses()
                .iter()
                .any(|(_, k, s)| *k == other && *s == RunStatus::Busy)
        },
    );
    let out = cli(&["answer", &other, "yes", "--wait", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot answer {other}: no dialog that takes an answer appeared within 1s; the agent's screen ends with:")),
        "{err}"
    );
    assert!(err.contains("agent-sim"), "the screen is quoted: {err}");
    // A task without a running agent, and a reply that is not yes/no, are clear errors.
    let out = cli(&["answer", &key, "yes"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no running agent"));
    let out = cli(&["answer", &other, "maybe"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("answer `yes` or `no`"));
}

/// Runs `bosun --db DB hook --run RUN --token TOKEN` with `payload` on stdin.
fn call_hook(rig: &Rig, run: i64, token: &str, payload: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BOSUN)
        .arg("--db")
        .arg(rig.db())
        .args(["hook", "--run", &run.to_string(), "--token", token])
        .env("BOSUN_CONFIG", rig.dir.path().join("bosun.toml"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bosun hook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(payload.as_bytes())
        .expect("payload");
    child.wait_with_output().expect("bosun hook output")
}

/// The supervisor launched the task's run and its agent is busy: (run id, hook token).
fn busy_run(sup: &mut Supervisor, store: &Store, key: &str) -> (i64, String) {
    tick_until(
        sup,
        Duration::from_secs(30),
        "the agent to be busy",
        |sup| {
            sup.run_statuses()
                .iter()
                .any(|(_, k, s)| k == key && *s == RunStatus::Busy)
        },
    );
    let (run_id, _, _) = sup.run_statuses().into_iter().next().expect("run");
    let token = support::run_token(store, run_id).expect("every run gets a hook token");
    (run_id, token)
}

#[test]
fn a_stop_hook_completes_a_run_whose_screen_still_looks_busy() {
    // The agent spins for a minute: only the hook can say it is done. Its own hooks are
    // off: the hooks here are a wrapper's, calling `bosun hook` itself.
    let prompt = "@sim {write = \"out-only.md\", text = \"ok\"}\n@sim {spin = \"60s\"}";
    let rig = Rig::new(&(simple_pipeline(&[("only", prompt)], "") + NO_HOOKS));
    let key = rig.add_task("Hooked", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    let (run_id, token) = busy_run(&mut sup, &store, &key);

    // A wrong token is refused, logged, and changes nothing; a flood of them (500 forged
    // calls) is counted in place and reported as ONE hook_rejected event with the count.
    const FLOOD: usize = 500;
    for i in 0..FLOOD {
        let out = call_hook(
            &rig,
            run_id,
            "0000",
            r#"{"hook_event_name":"Stop","last_assistant_message":"forged"}"#,
        );
        assert_eq!(out.status.code(), Some(1));
        if i == 0 {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("wrong token"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let rejected_events = || -> Vec<events::Event> {
        events::recent(store.conn(), None, 2000)
            .expect("events")
            .into_iter()
            .filter(|e| e.kind == EventKind::HookRejected)
            .collect()
    };
    tick_until(
        &mut sup,
        Duration::from_secs(15),
        "the flood's count reported",
        |_| !rejected_events().is_empty(),
    );
    for _ in 0..20 {
        sup.tick().expect("tick");
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = rejected_events();
    assert_eq!(all.len(), 1, "one event for the whole flood: {all:?}");
    let rejected = &all[0];
    assert_eq!(rejected.run_id, Some(run_id));
    assert!(
        rejected
            .message
            .starts_with(&format!("{FLOOD} hook calls for run {run_id} refused")),
        "{}",
        rejected.message
    );
    assert!(rejected.message.contains("Stop"), "{}", rejected.message);
    assert!(
        bosun::store::hooks::for_run(store.conn(), run_id)
            .expect("hooks")
            .is_empty()
    );
    for _ in 0..20 {
        sup.tick().expect("tick");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rig.task(&key).state, TaskState::Active, "not completed");

    // The right one is taken: the run completes at once with the hook's last message.
    let out = call_hook(
        &rig,
        run_id,
        &token,
        r#"{"hook_event_name":"Stop","stop_hook_active":false,"last_assistant_message":"Wrote out-only.md."}"#,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "a hook prints nothing on stdout");
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the task to be done",
        |_| rig.task(&key).state == TaskState::Done,
    );
    let run = runs::get(store.conn(), run_id).expect("run");
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.final_message.as_deref(), Some("Wrote out-only.md."));
    let by_hook = events::recent(store.conn(), None, 50)
        .expect("events")
        .into_iter()
        .any(|e| e.run_id == Some(run_id) && e.message.ends_with("is done (agent hook)"));
    assert!(by_hook, "the status event names the hook as its source");
    // A late call for the ended run is accepted and dropped.
    let out = call_hook(&rig, run_id, &token, r#"{"hook_event_name":"PreToolUse"}"#);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        bosun::store::hooks::for_run(store.conn(), run_id)
            .expect("hooks")
            .len(),
        1
    );
}

#[test]
fn a_stop_failure_hook_fails_the_run_as_transient() {
    let prompt = "@sim {spin = \"60s\"}";
    let rig = Rig::new(&simple_pipeline(&[("only", prompt)], ""));
    let key = rig.add_task("Rate limited by hook", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    let (run_id, token) = busy_run(&mut sup, &store, &key);
    let out = call_hook(
        &rig,
        run_id,
        &token,
        r#"{"hook_event_name":"StopFailure","error":"rate_limit","last_assistant_message":"API Error: Request rejected (429) · rate limit"}"#,
    );
    assert!(out.status.success(), "{out:?}");
    tick_until(&mut sup, Duration::from_secs(10), "the run to fail", |_| {
        runs::get(store.conn(), run_id)
            .expect("run")
            .ended_at
            .is_some()
    });
    let run = runs::get(store.conn(), run_id).expect("run");
    assert!(
        run.error.as_deref().unwrap_or("").contains("rate_limit"),
        "{:?}",
        run.error
    );
    let job = jobs::get(store.conn(), run.job_id.expect("job")).expect("job");
    assert_eq!(job.status, JobStatus::Queued, "requeued");
    assert_eq!(
        (job.transient_attempts, job.attempts),
        (1, 0),
        "as transient"
    );
}

#[test]
fn a_missing_agent_cli_fails_the_run_saying_what_to_install() {
    let layer = "[supervisor]\nmax_concurrency = 1\n\
                 [providers.ghost]\ncommand = [\"no-such-agent-cli\", \"--flag\"]\nready = \">\"\n\
                 install = \"npm install -g ghost-agent\"\n\
                 [roles.r-only]\nprovider = \"ghost\"\nprompt = \"hi\"\n\
                 [[stages]]\nname = \"only\"\nrole = \"r-only\"\n";
    let rig = Rig::new(layer);
    let key = rig.add_task("Ghost", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    let task_id = rig.task(&key).id;
    tick_until(&mut sup, Duration::from_secs(20), "the run to fail", |_| {
        runs::for_task(store.conn(), task_id)
            .expect("runs")
            .first()
            .is_some_and(|r| r.ended_at.is_some())
    });
    let run = runs::for_task(store.conn(), task_id)
        .expect("runs")
        .remove(0);
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains(
            "the `ghost` provider's CLI `no-such-agent-cli` is not installed (not on PATH); \
             install it with: npm install -g ghost-agent"
        ),
        "{error}"
    );
    assert!(run.pane_id.is_none(), "nothing was launched");
}

#[test]
fn hooks_that_stay_silent_fall_back_to_the_screen_after_the_grace_period() {
    let prompt = "@sim {write = \"out-only.md\", text = \"ok\"}";
    let layer = "[providers.sim]\nhook_grace = \"2s\"\nenv = { BOSUN_SIM_HOOKS = \"off\" }\n";
    let rig = Rig::new(&(simple_pipeline(&[("only", prompt)], "") + layer));
    let key = rig.add_task("Silent hooks", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    tick_until(
        &mut sup,
        Duration::from_secs(60),
        "the task to be done",
        |_| rig.task(&key).state == TaskState::Done,
    );
    let t = rig.task(&key);
    let run = runs::for_task(store.conn(), t.id).expect("runs").remove(0);
    assert!(
        bosun::store::hooks::for_run(store.conn(), run.id)
            .expect("hooks")
            .is_empty()
    );
    let all = events::recent(store.conn(), None, 200).expect("events");
    let silent = all
        .iter()
        .find(|e| e.kind == EventKind::HooksSilent)
        .expect("a hooks_silent event");
    assert_eq!(silent.run_id, Some(run.id));
    assert!(
        silent.message.contains("no hook call within 2s"),
        "{}",
        silent.message
    );
    // Done from the screen (no "(agent hook)"); that the screen waits out the grace period
    // first is the run machine's rule, shown without timing in
    // `supervisor::machine::tests::silent_hooks_fall_back_to_the_screen_after_the_grace_period`
    // (and a screen that says done while hooks say busy never completes: `with_hooks_the_…`).
    assert!(
        all.iter()
            .any(|e| e.run_id == Some(run.id) && e.message.ends_with("is done")),
        "done from the screen"
    );
}

#[test]
fn a_stop_hook_that_came_while_no_supervisor_ran_completes_the_readopted_run() {
    // The agent's screen says it is still working (it spins for a minute); its Stop hook
    // arrives while no supervisor is reading. The next supervisor re-adopts the run, replays
    // its hook calls, and completes it: the hooks' word survives a restart.
    let prompt = "@sim {write = \"out-only.md\", text = \"ok\"}\n@sim {spin = \"60s\"}";
    let rig = Rig::new(&simple_pipeline(&[("only", prompt)], ""));
    let key = rig.add_task("Finished while nobody watched", "");
    let store = rig.store();
    let (run_id, token) = {
        let mut sup = rig.supervisor();
        let r = busy_run(&mut sup, &store, &key);
        // Gone, as a quit console or a stopped daemon is: the agent keeps running in tmux.
        sup.release().expect("release");
        r
    };
    let out = call_hook(
        &rig,
        run_id,
        &token,
        r#"{"hook_event_name":"Stop","stop_hook_active":false,"last_assistant_message":"Wrote out-only.md."}"#,
    );
    assert!(out.status.success(), "{out:?}");
    let mut sup = rig.supervisor();
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the re-adopted run to complete",
        |_| rig.task(&key).state == TaskState::Done,
    );
    let run = runs::get(store.conn(), run_id).expect("run");
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.final_message.as_deref(), Some("Wrote out-only.md."));
    let all = runs::for_task(store.conn(), rig.task(&key).id).expect("runs");
    assert_eq!(all.len(), 1, "the stage did not run again");
}

#[test]
fn windows_left_open_by_a_supervisor_that_died_are_closed_on_restart() {
    // The run is done and its window waits out exit_grace (3 s) when the supervisor goes:
    // the next one closes it.
    let prompt = "@sim {write = \"out-only.md\", text = \"ok\"}";
    let rig = Rig::new(&simple_pipeline(&[("only", prompt)], ""));
    let key = rig.add_task("Leaves a window", "");
    let store = rig.store();
    let window = {
        let mut sup = rig.supervisor();
        tick_until(
            &mut sup,
            Duration::from_secs(30),
            "the task to be done",
            |_| rig.task(&key).state == TaskState::Done,
        );
        let run = runs::for_task(store.conn(), rig.task(&key).id)
            .expect("runs")
            .remove(0);
        sup.release().expect("release");
        let pane = run.pane_id.expect("pane");
        assert!(
            sup.tmux()
                .list_panes()
                .expect("panes")
                .iter()
                .any(|p| p.pane_id == pane),
            "the window is still open"
        );
        pane
    };
    let sup = rig.supervisor();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sup
        .tmux()
        .list_panes()
        .expect("panes")
        .iter()
        .any(|p| p.pane_id == window)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the window of the ended run stayed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_supervisor_that_died_between_paste_and_submit_is_followed_by_one_that_submits() {
    // A long submit_delay makes the moment between paste and submit wide enough to die in.
    let prompt = "@sim {write = \"out-only.md\", text = \"ok\"}";
    let layer = "[providers.sim]\nsubmit_delay = \"5s\"\n";
    let rig = Rig::new(&(simple_pipeline(&[("only", prompt)], "") + layer));
    let key = rig.add_task("Pasted, never submitted", "");
    let store = rig.store();
    {
        let mut sup = rig.supervisor();
        tick_until(
            &mut sup,
            Duration::from_secs(30),
            "the prompt to be pasted",
            |_| {
                runs::for_task(store.conn(), rig.task(&key).id)
                    .expect("runs")
                    .first()
                    .is_some_and(|r| r.prompt_sent_at.is_some())
            },
        );
        sup.release().expect("release");
    }
    let run = runs::for_task(store.conn(), rig.task(&key).id)
        .expect("runs")
        .remove(0);
    assert!(run.submitted_at.is_none(), "died before submitting");
    let mut sup = rig.supervisor();
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the re-adopted run to finish",
        |_| rig.task(&key).state == TaskState::Done,
    );
    let all = runs::for_task(store.conn(), rig.task(&key).id).expect("runs");
    assert_eq!(all.len(), 1, "the same run, not a new one");
    assert!(all[0].submitted_at.is_some());
}

#[test]
fn a_daemon_killed_during_a_command_gate_does_not_run_the_stage_again() {
    // The agent's turn is done; its command gate takes 6 s; the window closes after the 3 s
    // exit grace; the daemon is killed in the middle. The next daemon finishes the completion
    // (the gate runs again) and the stage's agent never runs a second time.
    let layer = "[supervisor]\nmax_concurrency = 2\nkill_grace = \"1s\"\n\
        [roles.r-only]\nprovider = \"sim\"\nprompt = '''\n@sim {write = \"out-only.md\", text = \"ok\"}\n'''\n\
        [[stages]]\nname = \"only\"\nrole = \"r-only\"\n\
        [[stages.gates]]\nkind = \"command\"\ncommand = \"sleep 6\"\n";
    let rig = Rig::new(layer);
    let key = rig.add_task("Slow gate", "");
    let store = rig.store();
    let mut first = daemon(&rig);
    wait_for(
        Duration::from_secs(30),
        "the turn to be recorded done",
        || {
            runs::for_task(store.conn(), rig.task(&key).id)
                .expect("runs")
                .first()
                .is_some_and(|r| r.turn_done_at.is_some())
        },
    );
    // Past the exit grace: the window is gone while the gate still runs.
    std::thread::sleep(Duration::from_secs(4));
    first.kill().expect("kill daemon");
    first.wait().expect("reap");
    let run = runs::for_task(store.conn(), rig.task(&key).id)
        .expect("runs")
        .remove(0);
    assert!(run.ended_at.is_none(), "killed before the decision");
    let mut second = daemon(&rig);
    wait_for(Duration::from_secs(60), "the task to be done", || {
        rig.task(&key).state == TaskState::Done
    });
    second.kill().expect("stop daemon");
    second.wait().expect("reap");
    let all = runs::for_task(store.conn(), rig.task(&key).id).expect("runs");
    assert_eq!(all.len(), 1, "the stage's agent ran once: {all:?}");
    assert_eq!(all[0].status, RunStatus::Done);
    let job = jobs::get(store.conn(), all[0].job_id.expect("job")).expect("job");
    assert_eq!(
        (job.attempts, job.transient_attempts),
        (0, 0),
        "no attempt spent"
    );
}

#[test]
fn losing_the_tmux_server_spends_the_infrastructure_budget_not_the_agents_attempts() {
    // First run: spins; the tmux server dies under it. Second run: finishes the stage.
    let prompt = "@sim {write = \"marker\", text = \"1\", unless_exists = \"marker\"}\n\
                  @sim {spin = \"60s\", unless_exists = \"marker\"}\n\
                  @sim {write = \"out-only.md\", text = \"ok\", if_exists = \"marker\"}";
    let rig = Rig::new(&simple_pipeline(&[("only", prompt)], ""));
    let key = rig.add_task("Survives a tmux crash", "");
    let store = rig.store();
    let mut sup = rig.supervisor();
    let (run_id, _) = busy_run(&mut sup, &store, &key);
    // The first run has marked its worktree (so the next one finishes) and spins.
    let marker =
        std::path::PathBuf::from(rig.task(&key).worktree.expect("worktree")).join("marker");
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the first run to mark its worktree",
        |_| marker.exists(),
    );
    let out = Command::new("tmux")
        .args(["-L", &rig.socket, "kill-server"])
        .output()
        .expect("tmux");
    assert!(out.status.success());
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the lost run to be requeued",
        |_| {
            runs::get(store.conn(), run_id)
                .expect("run")
                .ended_at
                .is_some()
        },
    );
    let run = runs::get(store.conn(), run_id).expect("run");
    assert!(
        run.error.as_deref().unwrap_or("").contains("pane is gone"),
        "{run:?}"
    );
    let job = jobs::get(store.conn(), run.job_id.expect("job")).expect("job");
    assert_eq!(job.status, JobStatus::Queued, "{job:?}");
    assert_eq!(
        (job.attempts, job.transient_attempts, job.infra_attempts),
        (0, 0, 1),
        "only the infrastructure budget is spent: {job:?}"
    );
    let breaker = bosun::store::breakers::get(store.conn(), "sim").expect("breaker");
    assert_eq!(
        breaker.consecutive_failures, 0,
        "the provider is not blamed"
    );
    // A new tmux server is started for the next run, which finishes the stage.
    tick_until(
        &mut sup,
        Duration::from_secs(60),
        "the task to be done",
        |_| rig.task(&key).state == TaskState::Done,
    );
    assert_eq!(
        runs::for_task(store.conn(), rig.task(&key).id)
            .expect("runs")
            .len(),
        2
    );
}

/// The processes (pids) alive that carry a token hashing to one of `hashes` in their
/// environment.
fn carrying(hashes: &[String]) -> Vec<u32> {
    support::token_carriers(hashes)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// A daemon killed (SIGKILL, as `kill -9`) at crash point `point`, then a fresh one: the
/// stage's agent completed its turn exactly once, nothing stalled, no window or process of
/// the task is left, no permanent attempt was spent, and the task is done.
fn crash_at(point: &str) {
    let layer = "[supervisor]\nmax_concurrency = 2\nkill_grace = \"1s\"\n\
        [queue]\nbackoff_base = \"1s\"\nbackoff_cap = \"2s\"\n\
        [roles.r-only]\nprovider = \"sim\"\nprompt = '''\n@sim {spin = \"1s\"}\n@sim {write = \"out-only.md\", text = \"ok\"}\n'''\n\
        [[stages]]\nname = \"only\"\nrole = \"r-only\"\n\
        [[stages.gates]]\nkind = \"artifact\"\npath = \"out-only.md\"\n\
        [[stages.gates]]\nkind = \"command\"\ncommand = \"true\"\n";
    let rig = Rig::new(layer);
    let key = rig.add_task(&format!("Crash at {point}"), "");
    let store = rig.store();
    support::rig::daemon_killed_at(&rig, point);
    let mut second = daemon(&rig);
    wait_for(
        Duration::from_secs(90),
        &format!("{point}: the task to be done"),
        || rig.task(&key).state == TaskState::Done,
    );
    let runs_all = runs::for_task(store.conn(), rig.task(&key).id).expect("runs");
    let turns = runs_all.iter().filter(|r| r.turn_done_at.is_some()).count();
    assert_eq!(
        turns, 1,
        "{point}: the stage's agent completed once: {runs_all:#?}"
    );
    for r in &runs_all {
        let job = jobs::get(store.conn(), r.job_id.expect("job")).expect("job");
        assert_eq!(
            job.attempts, 0,
            "{point}: no permanent attempt spent: {job:?}"
        );
    }
    // Nothing left behind: every window of the task's runs closes, every process goes.
    let tokens: Vec<String> = runs_all
        .iter()
        .filter_map(|r| runs::hook_token_hash(store.conn(), r.id).ok().flatten()?.0)
        .collect();
    let windows = || -> Vec<String> {
        let out = Command::new("tmux")
            .args([
                "-L",
                &rig.socket,
                "list-windows",
                "-a",
                "-F",
                "#{window_name}",
            ])
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|w| w.starts_with(&key))
            .map(str::to_string)
            .collect()
    };
    wait_for(
        Duration::from_secs(20),
        &format!("{point}: windows and processes gone"),
        || windows().is_empty() && carrying(&tokens).is_empty(),
    );
    second.kill().expect("stop daemon");
    second.wait().expect("reap");
}

macro_rules! crash_points {
    ($($name:ident => $point:literal),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                crash_at($point);
            }
        )+
        #[test]
        fn every_crash_point_is_tested() {
            let tested = [$($point),+];
            assert_eq!(&tested[..], bosun::crash::POINTS);
        }
    };
}

crash_points! {
    crash_at_claim => "claim",
    crash_at_worktree => "worktree",
    crash_at_window => "window",
    crash_at_paste => "paste",
    crash_at_submit => "submit",
    crash_at_busy => "busy",
    crash_at_turn_done => "turn_done",
    crash_at_commit => "commit",
    crash_at_gate => "gate",
    crash_at_decision => "decision",
    crash_at_window_close => "window_close",
}

#[test]
fn of_simultaneous_answers_to_one_dialog_exactly_one_presses() {
    let prompt = "@sim {ask = \"out-only.md\"}\n@sim {spin = \"2s\"}\n@sim {write = \"out-only.md\", text = \"ok\"}";
    let layer = simple_pipeline(&[("only", prompt)], "");
    let rig = Rig::build(|socket, _| Layer::parse(&layer).tmux_socket(socket));
    let key = rig.add_task("Asked once", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the agent to ask",
        |sup| {
            sup.run_statuses()
                .iter()
                .any(|(_, _, s)| *s == RunStatus::Waiting)
        },
    );
    let answers: Vec<std::process::Child> = (0..4)
        .map(|_| {
            rig.bosun(&["answer", &key, "yes", "--wait", "3s"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("bosun answer")
        })
        .collect();
    let mut outputs = Vec::new();
    for mut a in answers {
        loop {
            if a.try_wait().expect("try_wait").is_some() {
                break;
            }
            sup.tick().expect("tick");
            std::thread::sleep(Duration::from_millis(25));
        }
        outputs.push(a.wait_with_output().expect("output"));
    }
    let winners = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1, "{outputs:#?}");
    for o in outputs.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(err.contains("already"), "{err}");
    }
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the task to be done",
        |_| rig.task(&key).state == TaskState::Done,
    );
    let run = runs::for_task(store.conn(), rig.task(&key).id)
        .expect("runs")
        .remove(0);
    let log = std::fs::read_to_string(run.log_path.expect("log")).expect("log");
    assert!(
        !log.contains("> 1"),
        "a second answer's key went into the input line"
    );
}

#[test]
fn answer_and_send_reach_the_runs_own_tmux_server_not_the_configs() {
    // The config names no socket (the default, `bosun`); the supervisor runs on this test's
    // own, as `bosun daemon --socket NAME` or `bosun demo` do. The CLI must follow the run.
    let prompt = "@sim {question = \"Which name?\"}\n@sim {ask = \"out-only.md\"}\n\
                  @sim {write = \"out-only.md\", text = \"ok\"}";
    let rig = Rig::new(&simple_pipeline(&[("only", prompt)], ""));
    assert_eq!(rig.cfg.supervisor.tmux_socket, "bosun");
    let key = rig.add_task("Elsewhere", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    tick_until(&mut sup, Duration::from_secs(30), "the question", |sup| {
        sup.run_statuses()
            .iter()
            .any(|(_, _, s)| *s == RunStatus::Waiting)
    });
    let run = runs::for_task(store.conn(), rig.task(&key).id)
        .expect("runs")
        .remove(0);
    assert_eq!(
        run.socket.as_deref(),
        Some(rig.socket.as_str()),
        "the run knows its server"
    );
    assert!(
        run.rows.is_some() && run.cols.is_some(),
        "and its pane's size"
    );
    let out = rig.bosun(&["send", &key, "Bob"]).output().expect("send");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the permission dialog",
        |_| {
            std::fs::read_to_string(run.log_path.as_deref().expect("log"))
                .unwrap_or_default()
                .contains("Do you want to create")
        },
    );
    let mut answer = rig
        .bosun(&["answer", &key, "yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("answer");
    let status = loop {
        if let Some(s) = answer.try_wait().expect("wait") {
            break s;
        }
        sup.tick().expect("tick");
        std::thread::sleep(Duration::from_millis(25));
    };
    assert!(status.success());
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the task to be done",
        |_| rig.task(&key).state == TaskState::Done,
    );
    let log = std::fs::read_to_string(run.log_path.as_deref().expect("log")).expect("log");
    assert!(
        log.contains("● Answer: Bob") && log.contains("Permission granted"),
        "{log}"
    );
}

/// SIGTERM reaches a daemon in the window between claiming a job and launching its run, after
/// the operator killed its tmux server: it launches nothing (no run, no new tmux server), the
/// job goes back to the queue, and it exits cleanly.
#[test]
fn a_daemon_sent_sigterm_while_claiming_launches_nothing() {
    let rig = Rig::new(
        "[roles.r-only]\nprovider = \"sim\"\nprompt = \"@sim {write = \\\"out.md\\\", text = \\\"ok\\\"}\"\n\
         [[stages]]\nname = \"only\"\nrole = \"r-only\"\n",
    );
    let key = rig.add_task("Stop while claiming", "");
    let store = rig.store();
    let mut d = rig
        .bosun(&["daemon", "--socket", &rig.socket])
        .arg("--log-file")
        .arg(rig.dir.path().join("daemon.log"))
        .env("BOSUN_PAUSE_AT", "claim:3000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn daemon");
    let task_id = rig.task(&key).id;
    let job = || {
        jobs::for_task(store.conn(), task_id)
            .expect("jobs")
            .pop()
            .expect("the task's job")
    };
    wait_for(Duration::from_secs(30), "the job to be claimed", || {
        job().status == JobStatus::Running
    });
    // The operator kills the tmux server (if any: the first launch makes it), then stops the
    // daemon, while it holds the claim.
    let _ = Command::new("tmux")
        .args(["-L", &rig.socket, "kill-server"])
        .output()
        .expect("tmux");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(d.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = d.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a clean exit: {status:?}");
    let runs_all = runs::for_task(store.conn(), task_id).expect("runs");
    assert!(runs_all.is_empty(), "no run launched: {runs_all:?}");
    assert_eq!(job().status, JobStatus::Queued, "the claim went back");
    let server = Command::new("tmux")
        .args(["-L", &rig.socket, "has-session"])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("tmux");
    assert!(!server.success(), "no tmux server was started again");
}
