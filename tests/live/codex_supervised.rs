//! The real Codex CLI playing the analysis stage under bosun's supervisor, in the harsh world
//! of `tests/support/supervised.rs`: the `bosun init` analyst prompt, a model that takes
//! seconds, `-c hooks={…}` hooks calling this build's `bosun hook`, an approval dialog
//! answered with one `bosun answer`, a 429 requeued with backoff, and the screen alone reading
//! the same turn with `hooks = "none"`. The model is bosun's scripted Responses API server on
//! 127.0.0.1. Needs `codex` (`scripts/install-agents.sh`): skipped loudly without it, failed
//! under `CI=true`.

use crate::support::supervised;

use std::time::Duration;

use bosun::sim::homes::Cli;
use bosun::sim::model::{Pace, Turn};
use bosun::store::hooks::{self, HookEvent};
use bosun::store::jobs::{self, JobStatus};
use bosun::store::runs::RunStatus;
use supervised::{FINAL, Harness, Stage, with_a_reviewer, write_turn};

const CLI: Cli = Cli::Codex;

#[test]
fn codex_completes_a_stage_from_the_init_prompt_with_a_slow_model() {
    let Some((h, run)) = supervised::completes_a_stage_with_a_slow_model(
        CLI,
        "codex_completes_a_stage_from_the_init_prompt_with_a_slow_model",
    ) else {
        return;
    };
    // In order: prompt taken, the patch, the end of the turn.
    let calls = h.hook_events(run.id);
    assert_eq!(
        calls.first(),
        Some(&HookEvent::UserPromptSubmit),
        "{calls:?}"
    );
    assert_eq!(calls.last(), Some(&HookEvent::Stop), "{calls:?}");
}

#[test]
fn codex_with_hooks_off_the_screen_reads_the_same_turn() {
    supervised::the_screen_alone_reads_the_same_turn(
        CLI,
        "codex_with_hooks_off_the_screen_reads_the_same_turn",
    );
}

#[test]
fn codex_waits_for_approval_until_bosun_answer_says_yes() {
    let Some((h, run)) = supervised::waits_for_permission_until_bosun_answer_says_yes(
        CLI,
        "codex_waits_for_approval_until_bosun_answer_says_yes",
    ) else {
        return;
    };
    // The PermissionRequest hook carried the model's justification; it is recorded, not
    // taken as waiting (it comes before the dialog can take a key).
    let calls = hooks::for_run(h.store.conn(), run.id).expect("hooks");
    let ask = calls
        .iter()
        .find(|c| c.event == HookEvent::PermissionRequest)
        .unwrap_or_else(|| panic!("a PermissionRequest hook: {calls:?}"));
    assert_eq!(ask.detail, "Bash: May I write the file?");
    assert_eq!(calls.last().map(|c| c.event), Some(HookEvent::Stop));
}

#[test]
fn codex_rate_limited_is_requeued_with_backoff_and_then_completes() {
    let mut stage = Stage::new(
        CLI,
        "codex_rate_limited_is_requeued_with_backoff_and_then_completes",
        vec![Turn::rate_limited(2), write_turn(CLI), Turn::text(FINAL)],
    );
    stage.pace = Pace {
        first_token: Duration::from_millis(500),
        gap: Duration::from_millis(20),
    };
    // Codex does not print the Retry-After it got: bosun's own backoff applies, here 3 s for
    // the first retry, over the server's 2 s.
    stage.layer = "[queue]\nbackoff_base = \"3s\"\nbackoff_jitter = 0.0\n".into();
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.tick_until(Duration::from_secs(120), "the first run to fail", |h| {
        h.runs().first().is_some_and(|r| r.ended_at.is_some())
    });
    let first = h.runs().remove(0);
    assert_eq!(first.status, RunStatus::Error, "{first:?}");
    assert!(
        first.error.as_deref().unwrap_or("").contains("429"),
        "{first:?}"
    );
    // Codex calls no hook when a turn fails: only the prompt was taken; the error came from
    // its screen.
    assert_eq!(h.hook_events(first.id), [HookEvent::UserPromptSubmit]);
    let job_id = first.job_id.expect("job");
    let job = jobs::get(h.store.conn(), job_id).expect("job");
    assert_eq!(job.status, JobStatus::Queued, "{job:?}");
    assert_eq!(
        (job.attempts, job.transient_attempts),
        (0, 1),
        "transient: {job:?}"
    );
    assert_eq!(
        job.available_at,
        first.ended_at.expect("ended") + 3_000,
        "{job:?}"
    );
    h.finish(Duration::from_secs(180));
    let runs = h.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs[1].started_at >= job.available_at,
        "the retry waited for its backoff"
    );
    assert_eq!(h.server.remaining(), 0, "{}", h.requests());
}

/// The model calls bosun's MCP `handoff` from Codex the way Codex 0.171.0 offers MCP tools:
/// it searches its deferred tools first (`tool_search`), then calls `handoff` in the
/// `mcp__bosun` namespace. A reviewer (agent-sim) answers, the answer comes back as the
/// function's output, and Codex finishes the stage.
#[test]
fn codex_hands_off_to_a_reviewer_over_mcp_and_carries_on() {
    let request = "Check the parser analysis.\n@sim {say = \"codex review: fine\"}";
    let stage = Stage::new(
        CLI,
        "codex_hands_off_to_a_reviewer_over_mcp_and_carries_on",
        vec![
            Turn::tool_search("bosun handoff reviewer"),
            Turn::namespaced(
                "mcp__bosun",
                "handoff",
                serde_json::json!({ "role": "reviewer", "task_text": request }),
            ),
            write_turn(CLI),
            Turn::text(FINAL),
        ],
    );
    let Some(h) = with_a_reviewer(stage) else {
        return;
    };
    supervised::assert_handed_off(&h, "codex review: fine");
}

#[test]
fn codex_whose_stop_hook_is_lost_is_done_by_its_transcript() {
    supervised::a_lost_stop_hook_is_replaced_by_the_transcript(
        CLI,
        "codex_whose_stop_hook_is_lost_is_done_by_its_transcript",
    );
}
