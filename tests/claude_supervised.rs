//! The real Claude Code CLI playing the analysis stage under bosun's supervisor, in the harsh
//! world of `tests/support/supervised.rs`: the `bosun init` analyst prompt (a multi-line
//! paste, after which Claude Code 2.1.197 showed `paste again to expand` instead of `esc to
//! interrupt` for ~8 s), a model that takes seconds, `--settings` hooks calling this build's
//! `bosun hook`, a permission dialog answered with one `bosun answer` (2.1.332 shows
//! `Waiting for permission…` before the dialog and drops keys just after it opens), a 429
//! requeued with backoff, and the screen alone reading the same turn with `hooks = "none"`.
//! The model is bosun's scripted Anthropic Messages API server on 127.0.0.1. Needs `claude`
//! (`scripts/install-agents.sh`): skipped loudly without it, failed under `CI=true`.

#[path = "support/agents.rs"]
mod agents;
#[path = "support/supervised.rs"]
mod supervised;
mod support;

use std::time::Duration;

use bosun::sim::homes::Cli;
use bosun::sim::model::{Pace, Turn};
use bosun::store::events::{self, EventKind};
use bosun::store::hooks::{self, HookEvent};
use bosun::store::jobs::{self, JobStatus};
use bosun::store::runs::RunStatus;
use bosun::store::tasks::TaskState;
use supervised::{ARTIFACT, FINAL, Harness, Stage, asking_turn, write_turn};

const CLI: Cli = Cli::Claude;

#[test]
fn claude_code_completes_a_stage_from_the_init_prompt_with_a_slow_model() {
    let Some(mut h) = Harness::start(Stage::new(
        CLI,
        "claude_code_completes_a_stage_from_the_init_prompt_with_a_slow_model",
        vec![write_turn(CLI), Turn::text(FINAL)],
    )) else {
        return;
    };
    h.finish(Duration::from_secs(180));
    let run = h.runs().pop().expect("run");
    h.assert_busy_until_the_last_byte(run.id, true);
    // Claude's hooks reached bosun: prompt taken, the Write tool, the end of the turn with
    // its last message (the run's final message).
    let calls = h.hook_events(run.id);
    for want in [
        HookEvent::UserPromptSubmit,
        HookEvent::PreToolUse,
        HookEvent::Stop,
    ] {
        assert!(calls.contains(&want), "{want} hook received: {calls:?}");
    }
    assert_eq!(run.final_message.as_deref(), Some(FINAL));
    let sent = h.server.requests().iter().any(|r| {
        let body = String::from_utf8_lossy(&r.body);
        body.contains("You are the analyst for task ET-001: Explain the parser.")
            && body.contains("and what happens on invalid UTF-8.")
    });
    assert!(sent, "the rendered prompt was not in any model request");
}

#[test]
fn claude_code_with_hooks_off_the_screen_reads_the_same_turn() {
    let mut stage = Stage::new(
        CLI,
        "claude_code_with_hooks_off_the_screen_reads_the_same_turn",
        vec![write_turn(CLI), Turn::text(FINAL)],
    );
    stage.hooks_off = true;
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.finish(Duration::from_secs(180));
    let run = h.runs().pop().expect("run");
    assert!(h.hook_events(run.id).is_empty(), "no hooks wired");
    h.assert_busy_until_the_last_byte(run.id, false);
}

#[test]
fn claude_code_waits_for_permission_until_bosun_answer_says_yes() {
    let mut stage = Stage::new(
        CLI,
        "claude_code_waits_for_permission_until_bosun_answer_says_yes",
        vec![asking_turn(CLI), Turn::text(FINAL)],
    );
    stage
        .args
        .extend(CLI.asking_args().iter().map(|a| a.to_string()));
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.tick_until(Duration::from_secs(120), "claude to ask", |h| {
        h.sup
            .run_statuses()
            .iter()
            .any(|(_, _, s)| *s == RunStatus::Waiting)
    });
    let run = h.runs().pop().expect("run");
    assert_eq!(run.status, RunStatus::Waiting, "the runs row says waiting");
    assert!(
        !h.worktree.join(ARTIFACT).exists(),
        "nothing written before the answer"
    );
    // The operator answers from another process, once; the supervisor keeps watching.
    h.answer_yes();
    h.finish(Duration::from_secs(120));
    assert_eq!(h.runs().len(), 1, "the same run went on after the answer");
    let seen = h.seen_of(run.id);
    let waiting = seen.iter().position(|s| *s == RunStatus::Waiting);
    assert!(
        waiting.is_some_and(|i| seen[i..].contains(&RunStatus::Busy)),
        "busy again after waiting: {seen:?}"
    );
    let answered = events::recent(h.store.conn(), Some(h.task.id), 200)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == EventKind::Answered)
        .expect("an answered event");
    eprintln!("{}", answered.message);
}

#[test]
fn claude_code_rate_limited_is_requeued_with_backoff_and_then_completes() {
    let mut stage = Stage::new(
        CLI,
        "claude_code_rate_limited_is_requeued_with_backoff_and_then_completes",
        vec![
            // `x-should-retry: false`: Claude gives up on the 429 at once and shows it;
            // CLAUDE_CODE_MAX_RETRIES=1 bounds it should a version ignore the header.
            Turn::rate_limited(2).no_retry(),
            write_turn(CLI),
            Turn::text(FINAL),
        ],
    );
    stage.env = vec![("CLAUDE_CODE_MAX_RETRIES".into(), "1".into())];
    stage.pace = Pace {
        first_token: Duration::from_millis(500),
        gap: Duration::from_millis(20),
    };
    // Claude's error screen does not show the server's retry-after, so bosun's backoff is
    // what keeps the next attempt from coming sooner: 3 s, no jitter, over the 2 s.
    stage.layer = "[queue]\nbackoff_base = \"3s\"\nbackoff_jitter = 0.0\n".into();
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.tick_until(Duration::from_secs(120), "the first run to fail", |h| {
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
        reason.contains("429"),
        "the failure names the 429: {reason:?}"
    );
    // Transient: back in the queue, counted against the transient budget only, after the
    // backoff — which is not before the server's retry-after.
    let job_id = first.job_id.expect("job");
    let job = jobs::get(h.store.conn(), job_id).expect("job");
    let failed_at = first.ended_at.expect("ended");
    assert_eq!(job.status, JobStatus::Queued, "{job:?}");
    assert_eq!((job.attempts, job.transient_attempts), (0, 1), "{job:?}");
    assert_eq!(
        job.available_at,
        failed_at + 3_000,
        "the configured backoff: {job:?}"
    );
    assert_ne!(h.task().state, TaskState::Blocked);
    let requeued = events::recent(h.store.conn(), Some(h.task.id), 100)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == EventKind::JobRequeued && e.job_id == Some(job_id))
        .expect("a requeue event");
    assert!(
        requeued.message.contains("transient failure, retry in 3s")
            && requeued.message.contains("429"),
        "{}",
        requeued.message
    );
    // The second attempt: a fresh claude gets the Write and the final text.
    h.finish(Duration::from_secs(180));
    let runs = h.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[1].started_at >= job.available_at, "{runs:?}");
    assert_eq!(h.server.remaining(), 0, "{}", h.requests());
}
