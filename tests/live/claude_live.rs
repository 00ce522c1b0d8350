//! The real Claude Code CLI alone in tmux (`alone.rs`, Claude Code's row of
//! `tests/support/cli.rs`) against the scripted Anthropic Messages API server: a prompt goes
//! in, a scripted `Write` tool call comes back, and the file appears; a permission dialog; 429
//! and 529 errors; a question and a plan approval. `scripts/capture-fixtures.sh claude` saves
//! its screens into `tests/fixtures/claude-<version>/`.

use crate::alone::{Live, Setup};

use std::time::Duration;

use bosun::sim::homes::Cli;
use bosun::sim::model::{Answer, Turn};

const CLI: Cli = Cli::Claude;

/// When recording fixtures, wait for the retry line (`Retrying in 1s`) and save it as busy;
/// it may be gone already, which only means one fixture fewer.
fn save_if_retrying(live: &mut Live) {
    if !live.fixtures.enabled() {
        return;
    }
    let screen = live.poll(Duration::from_secs(30), "a retry or an error", |s| {
        s.contains("Retrying in") || s.contains("API Error")
    });
    if screen.contains("Retrying in") {
        live.save("busy");
    }
}

#[test]
fn claude_code_writes_a_file_from_a_scripted_tool_call() {
    let content = "hello from the scripted model\n";
    let Some(mut live) = Live::start(
        CLI,
        "accept-edits",
        vec![
            // Long enough to see the busy screen.
            Turn::delay(Duration::from_millis(1500)),
            Turn::write_file("hello.txt", content),
            Turn::text("Created hello.txt."),
        ],
        Setup::new(CLI),
    ) else {
        return;
    };
    live.wait_ready();
    live.save("idle");
    live.prompt("Create hello.txt with a greeting.");
    live.poll(Duration::from_secs(60), "the busy footer", |s| {
        s.contains(live.spec.busy)
    });
    live.save("busy");
    let target = live.project.join("hello.txt");
    live.poll(Duration::from_secs(90), "hello.txt", |_| {
        std::fs::read_to_string(&target).is_ok_and(|t| t == content)
    });
    // The final text turn shows up and the CLI goes idle again.
    live.poll(Duration::from_secs(60), "the final text", |s| {
        s.contains("Created hello.txt.") && !s.contains(live.spec.busy)
    });
    live.save("done");

    let summary = live.summary();
    eprintln!("requests seen:\n{summary}");
    let reqs = live.server.requests();
    let first = reqs
        .iter()
        .find(|r| r.answer == Answer::Scripted(0))
        .expect("main request");
    live.save_headers(first);
    assert_eq!(
        live.server.answered(),
        2,
        "all scripted turns used:\n{summary}"
    );
    let tool_result = reqs
        .iter()
        .find(|r| r.answer == Answer::Scripted(1))
        .expect("the request after the tool call");
    assert!(
        tool_result.json()["messages"]
            .to_string()
            .contains("tool_result"),
        "the CLI sent the Write tool's result back"
    );
    live.spec.assert_authenticated(tool_result);
}

#[test]
fn claude_code_asks_before_writing_without_accept_edits() {
    let content = "written after asking\n";
    let Some(mut live) = Live::start(
        CLI,
        "permission",
        vec![
            Turn::write_file("hello.txt", content),
            Turn::text("Created hello.txt."),
        ],
        // Explicit: from 2.1.330 on the default mode is "auto", which writes without asking.
        Setup::with_args(CLI, "--permission-mode default"),
    ) else {
        return;
    };
    live.wait_ready();
    live.save("idle");
    live.prompt("Create hello.txt with a greeting.");
    live.poll(Duration::from_secs(90), "the permission dialog", |s| {
        s.contains("Do you want to create hello.txt?")
    });
    live.save("waiting");
    let target = live.project.join("hello.txt");
    assert!(!target.exists(), "nothing written before the answer");
    // Option 1 (Yes) is selected. The dialog ignores keys for a moment after it appears
    // (2.1.330 dropped an Enter sent right away), so press Enter again while it is still up.
    live.answer_yes("Do you want to create hello.txt?");
    live.poll(Duration::from_secs(60), "hello.txt", |_| {
        std::fs::read_to_string(&target).is_ok_and(|t| t == content)
    });
    live.poll(Duration::from_secs(60), "the final text", |s| {
        s.contains("Created hello.txt.") && !s.contains(live.spec.busy)
    });
    live.save("done");
    live.summary();
}

#[test]
fn claude_code_reports_rate_limit_and_overload_errors() {
    // Claude Code retries 429 and 529 itself, up to 10 times with backoff growing to 30 s+
    // (529 even with `x-should-retry: false`); one retry keeps this quick while still showing
    // the retry line.
    let turns = vec![
        Turn::rate_limited(1),
        Turn::rate_limited(1),
        Turn::overloaded(),
        Turn::overloaded(),
        Turn::text("Recovered."),
    ];
    let Some(mut live) = Live::start(
        CLI,
        "errors",
        turns,
        Setup {
            env: vec![("CLAUDE_CODE_MAX_RETRIES".into(), "1".into())],
            ..Setup::new(CLI)
        },
    ) else {
        return;
    };
    live.wait_ready();
    live.prompt("Say hi.");
    save_if_retrying(&mut live);
    live.poll(Duration::from_secs(60), "the 429 error", |s| {
        !s.contains(live.spec.busy) && s.contains("API Error: Request rejected (429)")
    });
    live.save("error");
    live.prompt("Say hi again.");
    save_if_retrying(&mut live);
    live.poll(Duration::from_secs(60), "the 529 error", |s| {
        !s.contains(live.spec.busy) && s.matches("API Error").count() >= 2
    });
    live.save("error");
    live.prompt("Once more.");
    live.poll(Duration::from_secs(60), "the recovery", |s| {
        !s.contains(live.spec.busy) && s.contains("Recovered.")
    });
    live.save("done");
    let summary = live.summary();
    assert_eq!(live.server.answered(), 5, "{summary}");
}

#[test]
fn claude_code_asks_a_question_and_for_plan_approval() {
    let question = serde_json::json!({ "questions": [{
        "question": "Which greeting should hello.txt contain?",
        "header": "Greeting",
        "multiSelect": false,
        "options": [
            { "label": "Hello", "description": "The classic." },
            { "label": "Hi there", "description": "Friendlier." },
        ],
    }]});
    let plan = serde_json::json!({ "plan": "1. Write hello.txt with the chosen greeting." });
    let Some(mut live) = Live::start(
        CLI,
        "question-plan",
        vec![
            Turn::tool_use("AskUserQuestion", question),
            Turn::tool_use("ExitPlanMode", plan),
            Turn::text("Plan approved."),
        ],
        Setup::with_args(CLI, "--permission-mode plan"),
    ) else {
        return;
    };
    live.wait_ready();
    live.prompt("Plan a greeting file.");
    live.poll(Duration::from_secs(60), "the question", |s| {
        s.contains("Which greeting should hello.txt contain?") && s.contains("Hi there")
    });
    live.save("waiting");
    std::thread::sleep(Duration::from_millis(500));
    live.tmux.run(&["send-keys", "-t", "live", "Enter"], None);
    // 2.1.197 asks `Exit plan mode?` / `❯ 1. Yes` / `2. No` (the scripted plan wrote no
    // plan file, so there is no plan to show).
    live.poll(Duration::from_secs(60), "the plan approval", |s| {
        s.contains("Exit plan mode?") && s.contains("❯ 1. Yes")
    });
    live.save("waiting");
    live.answer_yes("Exit plan mode?");
    live.poll(Duration::from_secs(60), "the final text", |s| {
        s.contains("Plan approved.") && !s.contains(live.spec.busy)
    });
    live.save("done");
    let summary = live.summary();
    assert_eq!(live.server.answered(), 3, "{summary}");
}
