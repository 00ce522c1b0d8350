//! The real Gemini CLI playing the analysis stage under bosun's supervisor, in the harsh
//! world of `tests/support/supervised.rs`: the `bosun init` analyst prompt, a model that takes
//! seconds, hooks through a per-run settings layer calling this build's `bosun hook`, a
//! permission dialog answered with `bosun answer`, a 429 Gemini CLI gives up on requeued with
//! backoff, and the screen alone reading the same turn with `hooks = "none"`. The model is
//! bosun's scripted Gemini API server on 127.0.0.1. Needs `gemini`
//! (`scripts/install-agents.sh`): skipped loudly without it, failed under `CI=true`.

use crate::support::supervised;

use std::time::Duration;

use bosun::sim::homes::Cli;
use bosun::sim::model::{Pace, Turn};
use bosun::store::hooks::HookEvent;
use bosun::store::jobs::{self, JobStatus};
use bosun::store::runs::RunStatus;
use supervised::{FINAL, Harness, Stage, with_a_reviewer, write_turn};

const CLI: Cli = Cli::Gemini;

#[test]
fn gemini_completes_a_stage_from_the_init_prompt_with_a_slow_model() {
    supervised::completes_a_stage_with_a_slow_model(
        CLI,
        "gemini_completes_a_stage_from_the_init_prompt_with_a_slow_model",
    );
}

#[test]
fn gemini_with_hooks_off_the_screen_reads_the_same_turn() {
    supervised::the_screen_alone_reads_the_same_turn(
        CLI,
        "gemini_with_hooks_off_the_screen_reads_the_same_turn",
    );
}

#[test]
fn gemini_waits_for_permission_until_bosun_answer_says_yes() {
    supervised::waits_for_permission_until_bosun_answer_says_yes(
        CLI,
        "gemini_waits_for_permission_until_bosun_answer_says_yes",
    );
}

#[test]
fn gemini_rate_limited_is_requeued_with_backoff_and_then_completes() {
    let mut stage = Stage::new(
        CLI,
        "gemini_rate_limited_is_requeued_with_backoff_and_then_completes",
        vec![
            // Two attempts (the scratch home's general.maxAttempts), then Gemini CLI gives up
            // and asks "Keep trying / Stop" (bosun's settings layer sets errorVerbosity).
            Turn::rate_limited(1),
            Turn::rate_limited(1),
            write_turn(CLI),
            Turn::text(FINAL),
        ],
    );
    stage.pace = Pace {
        first_token: Duration::from_millis(500),
        gap: Duration::from_millis(20),
    };
    stage.layer = "[queue]\nbackoff_base = \"3s\"\nbackoff_jitter = 0.0\n".into();
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.tick_until(Duration::from_secs(120), "the first run to fail", |h| {
        h.runs().first().is_some_and(|r| r.ended_at.is_some())
    });
    let first = h.runs().remove(0);
    assert_eq!(first.status, RunStatus::Error, "{first:?}");
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
    assert_eq!(h.runs().len(), 2);
    assert_eq!(h.server.remaining(), 0, "{}", h.requests());
}

/// The model calls bosun's MCP `handoff` from Gemini CLI: a reviewer (agent-sim) answers, the
/// answer comes back as the function's response, and Gemini CLI finishes the stage.
#[test]
fn gemini_hands_off_to_a_reviewer_over_mcp_and_carries_on() {
    let request = "Check the parser analysis.\n@sim {say = \"gemini review: fine\"}";
    let stage = Stage::new(
        CLI,
        "gemini_hands_off_to_a_reviewer_over_mcp_and_carries_on",
        vec![
            // Gemini CLI 0.61.0 names MCP tools `mcp_<server>_<tool>`.
            Turn::tool_use(
                "mcp_bosun_handoff",
                serde_json::json!({ "role": "reviewer", "task_text": request }),
            ),
            write_turn(CLI),
            Turn::text(FINAL),
        ],
    );
    let Some(h) = with_a_reviewer(stage) else {
        return;
    };
    supervised::assert_handed_off(&h, "gemini review: fine");
}

/// The run's home (`GEMINI_CLI_HOME`) holds the user's settings with bosun's merged in: the
/// user's own `AfterAgent` hook fires next to bosun's, Gemini CLI's chat record lands in the
/// user's real `~/.gemini/tmp` (linked), and the home goes when the window is closed.
#[test]
fn gemini_runs_the_users_own_hooks_next_to_bosuns_and_keeps_its_records_in_the_real_home() {
    let mut stage = Stage::new(
        CLI,
        "gemini_runs_the_users_own_hooks_next_to_bosuns_and_keeps_its_records_in_the_real_home",
        vec![write_turn(CLI), Turn::text(FINAL)],
    );
    stage.pace = Pace {
        first_token: Duration::from_millis(300),
        gap: Duration::from_millis(20),
    };
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    // The scratch home is the user's real one; nothing is launched before the first tick.
    let dir = h.db.parent().expect("dir").to_path_buf();
    let real = dir.join("gemini-home/.gemini");
    let file = real.join("settings.json");
    let mut user: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("settings")).expect("json");
    let marker = dir.join("the-users-hook-fired");
    user["hooks"] = serde_json::json!({ "AfterAgent": [{ "hooks": [{
        "type": "command",
        "name": "mine",
        "command": format!("touch {}", marker.display()),
    }] }] });
    std::fs::write(&file, user.to_string()).expect("settings");

    h.finish(Duration::from_secs(180));
    let run = h.runs().pop().expect("run");
    assert!(
        h.hook_events(run.id).contains(&HookEvent::Stop),
        "bosun's AfterAgent hook: {:?}",
        h.hook_events(run.id)
    );
    assert!(marker.exists(), "the user's own AfterAgent hook fired too");
    let chats: Vec<_> = std::fs::read_dir(real.join("tmp"))
        .expect("the real tmp")
        .flatten()
        .flat_map(|p| {
            std::fs::read_dir(p.path().join("chats"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .collect();
    assert!(!chats.is_empty(), "a chat record in the real home");
    let home = dir.join("runs").join(format!("{}.gemini-home", run.id));
    h.tick_until(Duration::from_secs(60), "the run's home to go", |_| {
        std::fs::symlink_metadata(&home).is_err()
    });
    assert!(file.is_file(), "the user's settings stay");
    assert!(
        !std::fs::read_to_string(&file)
            .expect("settings")
            .contains("bosun")
    );
}

#[test]
fn gemini_whose_stop_hook_is_lost_is_done_by_its_transcript() {
    supervised::a_lost_stop_hook_is_replaced_by_the_transcript(
        CLI,
        "gemini_whose_stop_hook_is_lost_is_done_by_its_transcript",
    );
}
