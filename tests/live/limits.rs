//! Usage limits park, they do not fail (issue 22): the real Codex CLI meets its account's
//! usage limit (the scripted server's `usage_limit_reached`, resetting 20 s later, as the
//! Responses API sends it to a ChatGPT plan) under the supervisor.

use std::time::Duration;

use crate::support::supervised::{Harness, Stage, write_turn};
use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::sim::homes::Cli;
use bosun::sim::model::{Answer, Turn};
use bosun::status::{BreakerState, RunStatus, TaskState};
use bosun::store::events::{self, EventKind};
use bosun::store::{breakers, jobs, limits, runs};

const FINAL: &str = "The analysis is written.";

/// A stage whose first answer is the account's usage limit, resetting `reset` later; then
/// the artifact and the final text, each at the realistic pace (3 s to the first token).
fn limited_stage(cli: Cli, test: &'static str, reset: Duration) -> Stage {
    Stage::new(
        cli,
        test,
        vec![Turn::usage_limit(reset), write_turn(cli), Turn::text(FINAL)],
    )
}

/// A limit with its reset 20 s ahead: the run waits in its pane (parked; no attempt spent;
/// the breaker untouched); nothing is claimed for Codex meanwhile, and a second task's job
/// goes to the role's fallback (the built-in agent); at the reset the run is resumed in
/// the same pane — the model-switch dialog closed, the resume prompt sent as a new turn of
/// the same session — and completes the stage.
#[test]
fn codex_parks_at_a_usage_limit_and_resumes_in_the_same_pane() {
    let cli = Cli::Codex;
    let reset = Duration::from_secs(20);
    let mut stage = limited_stage(
        cli,
        "codex_parks_at_a_usage_limit_and_resumes_in_the_same_pane",
        reset,
    );
    stage.concurrency = 2;
    stage.role = "fallback = [\"sim\"]".into();
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.tick_until(Duration::from_secs(120), "the run to park", |h| {
        h.runs()
            .first()
            .is_some_and(|r| r.status == RunStatus::Parked)
    });
    let first = h.runs().remove(0);
    let limit = limits::list(h.store.conn())
        .expect("limits")
        .into_iter()
        .find(|l| l.provider == "codex")
        .expect("codex parked");
    let limited = h
        .server
        .requests()
        .into_iter()
        .find(|r| r.answer == Answer::Scripted(0))
        .expect("the limited request");
    assert!(limit.until_at > bosun::store::now_ms(), "{limit:?}");
    assert_eq!(
        limit.used_percent,
        Some(100.0),
        "from the rollout: {limit:?}"
    );
    assert!(
        limit.words.contains("usage limit"),
        "the screen's words: {limit:?}"
    );
    // The reset is the rollout's, to the second: 20 s after the limited answer.
    let answered = limited.finished_ms.expect("answered");
    assert!(
        (limit.resets_at - (answered + 20_000)).abs() <= 1_500,
        "{limit:?} vs answered at {answered}"
    );

    // A second task while Codex is parked: its job goes to the fallback.
    let cfg = Config::from_layers(&[(
        h.config_file.as_path(),
        std::fs::read_to_string(&h.config_file)
            .expect("config")
            .as_str(),
    )])
    .expect("config");
    let (second, _) = Engine::new(&cfg, &h.store)
        .create_task(
            "example-tool",
            "Explain the lexer",
            "Explain the lexer.",
            100,
        )
        .expect("second task");
    h.tick_until(Duration::from_secs(30), "the second task's run", |h| {
        !runs::for_task(h.store.conn(), second.id)
            .expect("runs")
            .is_empty()
    });
    // agent-sim writes no analysis: the second task's outcome is not this test's concern.
    let cancel = h
        .bosun(&["task", "cancel", &second.key])
        .output()
        .expect("cancel");
    assert!(cancel.status.success(), "{cancel:?}");
    let moved = jobs::for_task(h.store.conn(), second.id).expect("jobs");
    assert_eq!(moved[0].provider, "sim", "{moved:?}");
    let second_run = runs::for_task(h.store.conn(), second.id).expect("runs");
    assert_eq!(second_run[0].provider, "sim", "{second_run:?}");
    assert!(
        events::recent(h.store.conn(), Some(second.id), 50)
            .expect("events")
            .iter()
            .any(|e| e.kind == EventKind::JobMoved && e.message.contains("fallback sim")),
        "a job_moved event"
    );

    // bosun dies while the run is parked; the next one re-adopts it parked.
    h.restart();
    h.tick_until(Duration::from_secs(30), "the run re-adopted parked", |h| {
        h.sup
            .run_statuses()
            .iter()
            .any(|(id, _, s)| *id == first.id && *s == RunStatus::Parked)
    });
    h.finish(Duration::from_secs(120));
    // One run, in the same pane, no attempt of any budget spent, the breaker untouched.
    let runs = h.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].id, first.id);
    assert_eq!(runs[0].pane_id, first.pane_id);
    let job = jobs::get(h.store.conn(), first.job_id.expect("job")).expect("job");
    assert_eq!(
        (job.attempts, job.transient_attempts),
        (0, 0),
        "no attempt spent: {job:?}"
    );
    let breaker = breakers::get(h.store.conn(), "codex").expect("breaker");
    assert_eq!(breaker.state, BreakerState::Closed);
    assert_eq!(breaker.consecutive_failures, 0, "{breaker:?}");
    // The resume came after the reset, and was the next main request of the same session.
    let requests = h.server.requests();
    let resumed = requests
        .iter()
        .find(|r| r.answer == Answer::Scripted(1))
        .expect("the resumed request");
    let elapsed = resumed.received.duration_since(limited.received);
    assert!(elapsed >= reset, "resumed {elapsed:?} after the limit");
    assert!(
        !requests.iter().any(|r| r.answer == Answer::Limited),
        "nothing asked before the reset: {}",
        h.requests()
    );
    let session = |r: &bosun::sim::model::Request| r.header("session_id").map(str::to_string);
    assert_eq!(session(resumed), session(&limited), "the same session");
    assert!(
        String::from_utf8_lossy(&resumed.body).contains("Your usage limit has reset"),
        "the resume prompt went in"
    );
    let evs = events::recent(h.store.conn(), Some(h.task.id), 100).expect("events");
    for kind in [EventKind::ProviderParked, EventKind::RunResumed] {
        assert!(evs.iter().any(|e| e.kind == kind), "{kind:?} in {evs:?}");
    }
    assert_eq!(h.task().state, TaskState::Done);
    // Only the first run ever ran on Codex.
    let codex_runs: Vec<_> = [h.task.id, second.id]
        .iter()
        .flat_map(|t| runs::for_task(h.store.conn(), *t).expect("runs"))
        .filter(|r| r.provider == "codex")
        .collect();
    assert_eq!(codex_runs.len(), 1, "{codex_runs:?}");
}

/// Claude Code waits out a limit that resets soon by itself (`5-hour limit reached ·
/// retrying in 15s`): bosun reads it off the screen and parks Claude meanwhile (its run
/// stays busy, nothing is pasted), and the run completes without a failure.
#[test]
fn claude_waits_out_a_usage_limit_itself_while_bosun_parks_claude() {
    let cli = Cli::Claude;
    let reset = Duration::from_secs(15);
    let stage = limited_stage(
        cli,
        "claude_waits_out_a_usage_limit_itself_while_bosun_parks_claude",
        reset,
    );
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.tick_until(Duration::from_secs(60), "claude parked", |h| {
        limits::list(h.store.conn())
            .expect("limits")
            .iter()
            .any(|l| l.provider == "claude" && l.parks(bosun::store::now_ms()))
    });
    let limit = limits::list(h.store.conn()).expect("limits").remove(0);
    assert!(limit.words.contains("limit reached"), "{limit:?}");
    let run = h.runs().remove(0);
    assert_ne!(
        run.status,
        RunStatus::Parked,
        "the CLI waits itself: {run:?}"
    );
    h.finish(Duration::from_secs(120));
    let runs = h.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(
        !h.seen.iter().any(|(_, s)| *s == RunStatus::Parked),
        "{:?}",
        h.seen
    );
    let job = jobs::get(h.store.conn(), runs[0].job_id.expect("job")).expect("job");
    assert_eq!((job.attempts, job.transient_attempts), (0, 0), "{job:?}");
    let breaker = breakers::get(h.store.conn(), "claude").expect("breaker");
    assert_eq!(breaker.consecutive_failures, 0, "{breaker:?}");
    // Claude's own retry came at the reset, and bosun sent nothing of its own.
    let requests = h.server.requests();
    let limited = requests
        .iter()
        .find(|r| r.answer == Answer::Scripted(0))
        .expect("limited");
    let retried = requests
        .iter()
        .find(|r| r.answer == Answer::Scripted(1))
        .expect("retried");
    assert!(retried.received.duration_since(limited.received) >= reset);
    assert!(
        !String::from_utf8_lossy(&retried.body).contains("Your usage limit has reset"),
        "no resume prompt"
    );
}
