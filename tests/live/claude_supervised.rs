//! The real Claude Code CLI playing the analysis stage under bosun's supervisor, in the harsh
//! world of `tests/support/supervised.rs`: the `bosun init` analyst prompt (a multi-line
//! paste, after which Claude Code 2.1.197 showed `paste again to expand` instead of `esc to
//! interrupt` for ~8 s), a model that takes seconds, `--settings` hooks calling this build's
//! `bosun hook`, a permission dialog answered with one `bosun answer` (2.1.332 shows
//! `Waiting for permission…` before the dialog and drops keys just after it opens), a 429
//! requeued with backoff, and the screen alone reading the same turn with `hooks = "none"`.
//! The model is bosun's scripted Anthropic Messages API server on 127.0.0.1. Needs `claude`
//! (`scripts/install-agents.sh`): skipped loudly without it, failed under `CI=true`.

use crate::support;
use crate::support::supervised;

use std::path::PathBuf;
use std::time::Duration;

use bosun::sim::homes::Cli;
use bosun::sim::model::{Pace, Turn};
use bosun::store::events::{self, EventKind};
use bosun::store::hooks::{self, HookEvent};
use bosun::store::jobs::{self, JobStatus};
use bosun::store::runs::RunStatus;
use bosun::store::tasks::TaskState;
use supervised::{FINAL, Harness, Stage, with_a_reviewer, write_turn};

const CLI: Cli = Cli::Claude;

#[test]
fn claude_code_completes_a_stage_from_the_init_prompt_with_a_slow_model() {
    supervised::completes_a_stage_with_a_slow_model(
        CLI,
        "claude_code_completes_a_stage_from_the_init_prompt_with_a_slow_model",
    );
}

#[test]
fn claude_code_with_hooks_off_the_screen_reads_the_same_turn() {
    supervised::the_screen_alone_reads_the_same_turn(
        CLI,
        "claude_code_with_hooks_off_the_screen_reads_the_same_turn",
    );
}

#[test]
fn claude_code_waits_for_permission_until_bosun_answer_says_yes() {
    let Some((h, _)) = supervised::waits_for_permission_until_bosun_answer_says_yes(
        CLI,
        "claude_code_waits_for_permission_until_bosun_answer_says_yes",
    ) else {
        return;
    };
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

/// The model calls bosun's MCP `handoff`: a reviewer (agent-sim) starts in the task's
/// worktree with the request, its final message comes back to Claude Code as the tool's
/// result, and Claude Code carries on to finish the stage.
#[test]
fn claude_code_hands_off_to_a_reviewer_over_mcp_and_carries_on() {
    let request = "Check the parser analysis.\n@sim {say = \"review: two nits, otherwise fine\"}";
    let stage = Stage::new(
        CLI,
        "claude_code_hands_off_to_a_reviewer_over_mcp_and_carries_on",
        vec![
            Turn::tool_use(
                "mcp__bosun__handoff",
                serde_json::json!({ "role": "reviewer", "task_text": request }),
            ),
            write_turn(CLI),
            Turn::text(FINAL),
        ],
    );
    let Some(h) = with_a_reviewer(stage) else {
        return;
    };
    let runs = h.runs();
    assert_eq!(runs.len(), 2, "the analyst and its reviewer: {runs:#?}");
    let helper = bosun::store::helpers::of_job(h.store.conn(), runs[1].job_id.expect("job"))
        .expect("db")
        .expect("the second run is a helper");
    assert_eq!(helper.parent_run_id, runs[0].id);
    assert_eq!(helper.request, request);
    assert_eq!(
        helper.result.as_deref(),
        Some("review: two nits, otherwise fine")
    );
    // The reviewer's answer reached the model as the tool's result, and the analyst went on.
    let second = h
        .server
        .requests()
        .into_iter()
        .filter(|r| matches!(r.answer, bosun::sim::model::Answer::Scripted(1)))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .next()
        .expect("the request after the tool call");
    assert!(
        second.contains("tool_result") && second.contains("review: two nits, otherwise fine"),
        "the tool result in the next request:\n{second}"
    );
    assert_eq!(h.server.remaining(), 0, "{}", h.requests());
    assert_eq!(runs[1].provider, "sim", "the reviewer role's own provider");
    assert_eq!(runs[0].status, RunStatus::Done, "{:?}", runs[0]);
}

/// The model calls bosun's MCP `assign`: the call returns at once with the helper job's id,
/// Claude Code finishes its turn, and the reviewer's answer comes to it as a message — its
/// next turn — before the stage completes.
#[test]
fn claude_code_assigns_a_reviewer_over_mcp_and_gets_the_answer_as_a_message() {
    let request = "Look at the parser.\n@sim {say = \"assigned review: all good\"}";
    let stage = Stage::new(
        CLI,
        "claude_code_assigns_a_reviewer_over_mcp_and_gets_the_answer_as_a_message",
        vec![
            Turn::tool_use(
                "mcp__bosun__assign",
                serde_json::json!({ "role": "reviewer", "task_text": request }),
            ),
            // The analyst takes its time: the reviewer answers while it works.
            Turn::delay(Duration::from_secs(4)),
            write_turn(CLI),
            Turn::text(FINAL),
            Turn::text("Noted the reviewer's answer."),
        ],
    );
    let Some(h) = with_a_reviewer(stage) else {
        return;
    };
    let bodies: Vec<String> = h
        .server
        .requests()
        .into_iter()
        .filter(|r| matches!(r.answer, bosun::sim::model::Answer::Scripted(_)))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(
        bodies.iter().any(|b| b.contains("assigned as job #")),
        "the assign returned at once with the job id"
    );
    let last = bodies.last().expect("requests");
    assert!(
        last.contains("[bosun message #") && last.contains("assigned review: all good"),
        "the answer came as the analyst's next turn:\n{last}"
    );
    assert_eq!(h.server.remaining(), 0, "{}", h.requests());
    let m = bosun::store::messages::list(h.store.conn(), Some(h.task.id), 10).expect("inbox");
    assert_eq!(m.len(), 1, "{m:#?}");
    assert_eq!(m[0].state(), "acked", "{m:#?}");
}

#[test]
fn claude_codes_hook_token_is_on_no_command_line_through_fifty_hook_calls() {
    const NAME: &str = "claude_codes_hook_token_is_on_no_command_line_through_fifty_hook_calls";
    // 49 writes (a PreToolUse hook each) between UserPromptSubmit and Stop: 51 hook calls.
    let mut turns: Vec<Turn> = (0..48)
        .map(|i| Turn::write_file(format!("docs/notes/n{i}.md"), "x\n"))
        .collect();
    turns.push(write_turn(CLI));
    turns.push(Turn::text(FINAL));
    let mut stage = Stage::new(CLI, NAME, turns);
    stage.pace = Pace {
        first_token: Duration::from_millis(20),
        gap: Duration::from_millis(2),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = support::sample_command_lines(std::sync::Arc::clone(&stop));
    let Some(mut h) = Harness::start(stage) else {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        return;
    };
    // The token, read from the agent's environment while it runs (the store has its hash).
    let mut token: Option<String> = None;
    h.tick_until(
        Duration::from_secs(240),
        "51 hook calls and the task done",
        |h| {
            let Some((run_id, _, _)) = h.sup.run_statuses().first().cloned() else {
                return h.task().state == TaskState::Done;
            };
            if token.is_none() {
                token = support::run_token(&h.store, run_id);
            }
            false
        },
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = sampler.join().expect("sampler");
    let token = token.expect("the agent's token");
    let run = bosun::store::runs::for_task(h.store.conn(), h.task.id)
        .expect("runs")
        .remove(0);
    let calls = hooks::for_run(h.store.conn(), run.id).expect("hooks").len();
    assert!(calls >= 50, "{calls} hook calls");
    assert_eq!(support::lines_with(&seen, &token), Vec::<String>::new());
    let caught = support::hook_calls_caught(&seen);
    eprintln!("{calls} hook calls; caught on a command line {caught} times, never with the token");
    assert!(caught > 0, "the sampler never caught a hook call");
    for file in [
        h.db.clone(),
        PathBuf::from(format!("{}-wal", h.db.display())),
    ] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "{} holds the token in clear",
            file.display()
        );
    }
}

#[test]
fn claude_code_whose_stop_hook_is_lost_is_done_by_its_transcript() {
    supervised::a_lost_stop_hook_is_replaced_by_the_transcript(
        CLI,
        "claude_code_whose_stop_hook_is_lost_is_done_by_its_transcript",
    );
}
