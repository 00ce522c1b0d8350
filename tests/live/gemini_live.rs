//! The real Gemini CLI alone in tmux (`alone.rs`, Gemini CLI's row of
//! `tests/support/cli.rs`) against the scripted model server (Gemini API): a prompt goes in, a
//! scripted `write_file` call comes back and is allowed in its dialog, and the file appears; a
//! 429 it gives up on and a 400 show as errors. `scripts/capture-fixtures.sh gemini` saves its
//! screens into `tests/fixtures/gemini-<version>/`.

use crate::alone::{Live, Setup};

use std::time::Duration;

use bosun::config::ScreenStatus;
use bosun::sim::homes::Cli;
use bosun::sim::model::{Answer, Turn};

const CLI: Cli = Cli::Gemini;

/// A prompt of several lines, like the ones `bosun init` gives each role.
const PROMPT: &str = "You are the analyst for task ET-001: Add a greeting.\n\
    Create hello.txt with a greeting.\n\
    Write your analysis to docs/work-items/ET-001/01-analysis.md. If you need answers from the\n\
    operator before you can analyse, write them to docs/work-items/ET-001/01-questions.md instead.\n\
    Keep it short.\n\
    Do not ask questions you can answer yourself.";

#[test]
fn gemini_writes_a_file_after_its_dialog_is_answered() {
    let content = "hello from the scripted model\n";
    let Some(mut live) = Live::start(
        CLI,
        "gemini_writes_a_file_after_its_dialog_is_answered",
        vec![
            // Long enough to see the busy screen.
            Turn::delay(Duration::from_millis(1500)),
            Turn::ToolUse {
                text: Some("I will create the file.".into()),
                name: "write_file".into(),
                input: serde_json::json!({ "file_path": "hello.txt", "content": content }),
            },
            Turn::delay(Duration::from_millis(1500)),
            Turn::text("Created hello.txt."),
        ],
        // Gemini CLI's own default approval mode: the write asks first.
        Setup::with_args(CLI, ""),
    ) else {
        return;
    };
    live.wait_ready();
    live.wait_for(ScreenStatus::Idle, "idle", Duration::from_secs(5));
    live.prompt(PROMPT);
    live.wait_for(ScreenStatus::Busy, "busy", Duration::from_secs(30));
    let screen = live.wait_for(ScreenStatus::Waiting, "waiting", Duration::from_secs(60));
    assert!(screen.contains("Apply this change?"), "{screen}");
    assert!(
        !live.project.join("hello.txt").exists(),
        "nothing written before the answer"
    );
    live.answer_yes("Apply this change?");
    let target = live.project.join("hello.txt");
    live.poll(Duration::from_secs(60), "hello.txt", |_| {
        std::fs::read_to_string(&target).is_ok_and(|t| t == content)
    });
    live.wait_for(ScreenStatus::Busy, "busy", Duration::from_secs(10));
    let screen = live.poll(Duration::from_secs(60), "the final text", |s| {
        s.contains("Created hello.txt.") && !s.contains(live.spec.busy)
    });
    assert_eq!(live.reads(&screen), Some(ScreenStatus::Idle), "{screen}");
    live.save("done");

    let reqs = live.server.requests();
    let main: Vec<_> = reqs.iter().filter(|r| r.is_main()).collect();
    assert_eq!(main.len(), 2, "the tool call and the final answer");
    assert!(
        main[0].route().ends_with(":streamGenerateContent"),
        "{}",
        main[0].path
    );
    live.spec.assert_authenticated(main[0]);
    // The whole multi-line prompt reached the model.
    let sent = main[0].json().to_string();
    assert!(
        sent.contains("Do not ask questions you can answer yourself."),
        "{sent}"
    );
    // The tool's result came back in the next request.
    let next = main[1].json();
    let response = next["contents"]
        .as_array()
        .and_then(|c| {
            c.iter()
                .rev()
                .find_map(|m| m["parts"][0].get("functionResponse"))
        })
        .expect("a functionResponse");
    assert_eq!(response["name"], "write_file");
    assert!(
        reqs.iter().any(|r| r.answer == Answer::Side),
        "the model router was asked first"
    );
}

#[test]
fn gemini_shows_a_rate_limit_it_gives_up_on_and_a_bad_request_as_errors() {
    let Some(mut live) = Live::start(
        CLI,
        "gemini_shows_a_rate_limit_it_gives_up_on_and_a_bad_request_as_errors",
        vec![
            Turn::rate_limited(1),
            Turn::rate_limited(1),
            Turn::Error {
                status: 400,
                kind: "invalid_request_error".into(),
                message: "Request contains an invalid argument.".into(),
                retry_after: None,
                should_retry: None,
            },
        ],
        Setup {
            // What bosun's per-run settings layer sets: show the error instead of retrying
            // forever.
            gemini_layer: serde_json::json!({ "ui": { "errorVerbosity": "full" } }),
            ..Setup::with_args(CLI, "")
        },
    ) else {
        return;
    };
    live.wait_ready();
    live.prompt("Say hello.\nThen stop.");
    // Two attempts (the home's general.maxAttempts), then the "Keep trying / Stop" dialog.
    let screen = live.wait_for(ScreenStatus::Error, "error", Duration::from_secs(120));
    assert!(
        screen.contains("experiencing high demand") || screen.contains("Usage limit"),
        "{screen}"
    );
    // Option 2: Stop.
    live.press_until_gone("2", "Keep trying");
    let screen = live.poll(Duration::from_secs(30), "the error line", |s| {
        s.contains("✕ [API Error")
    });
    assert_eq!(live.reads(&screen), Some(ScreenStatus::Error), "{screen}");
    live.save("error");
    live.prompt("Try again.\nPlease.");
    let screen = live.poll(Duration::from_secs(60), "the 400", |s| {
        s.contains("invalid argument")
    });
    assert_eq!(live.reads(&screen), Some(ScreenStatus::Error), "{screen}");
    live.save("error");
}
