//! The real Claude Code CLI playing the analysis stage under bosun's supervisor, in the harsh
//! world of `tests/support/supervised.rs`: the common scenarios (`scenarios.rs`, Claude Code's
//! row of `tests/support/cli.rs`: `--settings` hooks calling this build's `bosun hook`, the
//! scripted Anthropic Messages API server on 127.0.0.1), and Claude Code's own: an `assign`
//! over MCP answered as a message, and its hook token kept off every command line. Needs
//! `claude` (`scripts/install-agents.sh`): skipped loudly without it, failed under `CI=true`.

use crate::scenarios::common_scenarios;
use crate::support;
use crate::support::supervised;

use std::path::PathBuf;
use std::time::Duration;

use bosun::sim::homes::Cli;
use bosun::sim::model::{Pace, Turn};
use bosun::status::TaskState;
use bosun::store::hooks;
use supervised::{FINAL, Harness, Stage, with_a_reviewer, write_turn};

const CLI: Cli = Cli::Claude;

common_scenarios! {
    cli: CLI,
    slow_model: claude_code_completes_a_stage_from_the_init_prompt_with_a_slow_model,
    hooks_off: claude_code_with_hooks_off_the_screen_reads_the_same_turn,
    permission: claude_code_waits_for_permission_until_bosun_answer_says_yes,
    rate_limited: claude_code_rate_limited_is_requeued_with_backoff_and_then_completes,
    handoff: claude_code_hands_off_to_a_reviewer_over_mcp_and_carries_on,
    lost_stop_hook: claude_code_whose_stop_hook_is_lost_is_done_by_its_transcript,
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
