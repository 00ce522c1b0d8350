//! Budgets under a real `bosun daemon` supervising agent-sim (issue 22): the agent's session
//! record reports the tokens it used (`tokens` steps), read when its turn completes and, with
//! `[budget] hard`, while it works. The run that crosses a budget finishes (or, with `hard`, is
//! stopped — not failed, its job requeued); no next run starts, `bosun task show` says why,
//! and `bosun budget KEY --tokens N --note …` lets the task move on.

use crate::support::config::Layer;
use crate::support::rig::{Daemon, Rig, daemon, wait_for};
use crate::support::{eventually, eventually_showing};

use std::path::Path;
use std::time::Duration;

use bosun::status::{JobStatus, RunStatus, TaskState};
use bosun::store::events::{self, EventKind};
use bosun::store::{jobs, runs, tasks};

/// Two stages on agent-sim, `one` then `two`, each passing on its artifact `out-<stage>.md`;
/// `one` plays `prompt`. Budget notices go to `<dir>/notices.jsonl`.
fn two_stages(dir: &Path, prompt: &str, budget: &str) -> Layer {
    Layer::new()
        .max_concurrency(2)
        .set("supervisor.kill_grace", "1s")
        .role("r-one", "sim", &format!("{prompt}\n"))
        .role(
            "r-two",
            "sim",
            "@sim {write = \"out-two.md\", text = \"ok\"}\n",
        )
        .stage("one", "r-one", "out-one.md")
        .stage("two", "r-two", "out-two.md")
        .merge(budget)
        .notify_command(&[
            "sh",
            "-c",
            &format!("cat >> '{}/notices.jsonl'", dir.display()),
        ])
        .set("notify.kinds", vec!["budget"])
}

/// `bosun ARGS` on the rig: (success, stdout and stderr).
fn cli(rig: &Rig, args: &[&str]) -> (bool, String) {
    let out = rig.bosun(args).output().expect("bosun");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The budget notices the notify command got.
fn notices(rig: &Rig) -> Vec<String> {
    std::fs::read_to_string(rig.dir.path().join("notices.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "budget")
        .filter_map(|v| v["message"].as_str().map(str::to_string))
        .collect()
}

/// The runs of `key`'s task at `stage`.
fn runs_at(rig: &Rig, key: &str, stage: &str) -> Vec<runs::Run> {
    let store = rig.store();
    runs::for_task(store.conn(), rig.task(key).id)
        .expect("runs")
        .into_iter()
        .filter(|r| r.stage == stage)
        .collect()
}

/// What the world looks like, for a wait that timed out.
fn world(rig: &Rig, key: &str) -> String {
    let (_, shown) = cli(rig, &["task", "show", key]);
    let log = std::fs::read_to_string(rig.dir.path().join("daemon.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    format!(
        "{shown}\ndaemon log (last lines first):\n{}",
        tail.join("\n")
    )
}

#[test]
fn the_run_that_crosses_a_token_budget_finishes_and_the_next_waits_for_the_raise() {
    let rig = Rig::build(|_, dir| {
        two_stages(
            dir,
            "@sim {tokens = 1500}\n@sim {write = \"out-one.md\", text = \"ok\"}",
            "[budget]\ntask_tokens = 1000\n",
        )
    });
    let key = rig.add_task("Spend", "");
    let _daemon = Daemon(daemon(&rig));
    // Stage one's run used 1500 tokens and finished: the task moved to stage two, whose job
    // waits, and task show says which budget holds it and how to raise it.
    let shown = eventually_showing(
        Duration::from_secs(60),
        "task show to say the task is over budget",
        || {
            let (_, shown) = cli(&rig, &["task", "show", &key]);
            shown.contains("over budget").then_some(shown)
        },
        || world(&rig, &key),
    );
    assert!(
        shown.contains("over budget: the task used 1500 of 1000 tokens")
            && shown.contains(&format!("`bosun budget {key} --tokens N --note WHY`")),
        "{shown}"
    );
    let one = runs_at(&rig, &key, "one");
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(one[0].status, RunStatus::Done, "the run finished its turn");
    assert_eq!(rig.task(&key).stage, "two");
    // The operator hears of it once, through the notify command (kind `budget`).
    let told = eventually(Duration::from_secs(30), "the budget notice", || {
        let n = notices(&rig);
        (!n.is_empty()).then_some(n)
    });
    assert_eq!(
        told,
        [format!(
            "{key}: its task budget is used up: 1500 of 1000 tokens"
        )]
    );
    // Meanwhile (the daemon claims every 200 ms) stage two's job stayed queued, unrun.
    let store = rig.store();
    let job = jobs::open_for_task(store.conn(), rig.task(&key).id)
        .expect("job")
        .expect("stage two's job");
    assert_eq!((job.stage.as_str(), job.status), ("two", JobStatus::Queued));
    assert!(runs_at(&rig, &key, "two").is_empty());
    let (raised, said) = cli(
        &rig,
        &["budget", &key, "--tokens", "100000", "--note", "worth it"],
    );
    assert!(raised, "{said}");
    wait_for(Duration::from_secs(60), "the task done", || {
        rig.task(&key).state == TaskState::Done
    });
    assert_eq!(runs_at(&rig, &key, "two").len(), 1);
    let set: Vec<String> = events::recent(store.conn(), Some(rig.task(&key).id), 200)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::BudgetSet)
        .map(|e| e.message)
        .collect();
    assert_eq!(
        set,
        [format!(
            "budget of task {key} set to 100000 tokens: worth it"
        )]
    );
}

#[test]
fn a_hard_budget_stops_the_run_that_crosses_it_and_the_raise_runs_its_job_again() {
    // The first run marks the worktree, uses 1500 tokens and would work forever; the run
    // after the raise finds the mark and finishes.
    let prompt = "@sim {write = \"first-run.txt\", text = \"x\", unless_exists = \"first-run.txt\"}\n\
         @sim {tokens = 1500, unless_exists = \"first-run.txt\"}\n\
         @sim {hang = true, unless_exists = \"first-run.txt\"}\n\
         @sim {write = \"out-one.md\", text = \"ok\", if_exists = \"first-run.txt\"}";
    let rig =
        Rig::build(|_, dir| two_stages(dir, prompt, "[budget]\ntask_tokens = 1000\nhard = true\n"));
    let key = rig.add_task("Spend hard", "");
    let _daemon = Daemon(daemon(&rig));
    let store = rig.store();
    let stopped = eventually_showing(
        Duration::from_secs(60),
        "the run stopped over budget",
        || {
            let one = runs_at(&rig, &key, "one");
            one.first().filter(|r| r.ended_at.is_some()).cloned()
        },
        || world(&rig, &key),
    );
    assert_eq!(stopped.status, RunStatus::Error, "{stopped:?}");
    assert!(
        stopped
            .error
            .as_deref()
            .is_some_and(|e| e.contains("stopped ([budget] hard)")
                && e.contains("the task used 1500 of 1000 tokens")),
        "{stopped:?}"
    );
    // Not a failed attempt: the same job is queued again with no attempt spent, and held.
    let job = jobs::get(store.conn(), stopped.job_id.expect("job")).expect("job");
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(
        (job.attempts, job.transient_attempts, job.infra_attempts),
        (0, 0, 0)
    );
    let why: Vec<String> = events::recent(store.conn(), Some(rig.task(&key).id), 200)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::BudgetStopped)
        .map(|e| e.message)
        .collect();
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].starts_with(&format!("{key} run {} stopped", stopped.id)),
        "{why:?}"
    );
    let (_, shown) = cli(&rig, &["task", "show", &key]);
    assert!(
        shown.contains("over budget: the task used 1500 of 1000 tokens"),
        "{shown}"
    );
    assert_eq!(rig.task(&key).state, TaskState::Active);
    // Its agent is stopped: the pane goes.
    let pane = stopped.pane_id.clone().expect("pane");
    wait_for(
        Duration::from_secs(30),
        "the stopped run's pane gone",
        || {
            let out = std::process::Command::new("tmux")
                .args(["-L", &rig.socket, "list-panes", "-a", "-F", "#{pane_id}"])
                .output()
                .expect("tmux");
            !String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|p| p == pane)
        },
    );
    let (raised, said) = cli(
        &rig,
        &["budget", &key, "--tokens", "100000", "--note", "finish it"],
    );
    assert!(raised, "{said}");
    eventually_showing(
        Duration::from_secs(60),
        "the task done",
        || (rig.task(&key).state == TaskState::Done).then_some(()),
        || world(&rig, &key),
    );
    let one = runs_at(&rig, &key, "one");
    assert_eq!(one.len(), 2, "the stopped run and the one after the raise");
    assert_eq!(one[1].job_id, stopped.job_id, "the same job ran again");
    assert_eq!(one[1].status, RunStatus::Done);
    let t = tasks::by_key(store.conn(), &key).expect("task");
    assert_eq!(t.state, TaskState::Done);
}
