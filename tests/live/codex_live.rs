//! The real Codex CLI alone in tmux (`alone.rs`, Codex's row of `tests/support/cli.rs`)
//! against the scripted model server speaking the OpenAI Responses API: scripted tool calls
//! write files and run commands, the approval prompt is shown and answered, the trust and
//! model-migration dialogs, errors are shown. `scripts/capture-fixtures.sh codex` saves its
//! screens into `tests/fixtures/codex-<version>/`.

use crate::alone::{Live, Setup};

use std::time::Duration;

use bosun::sim::homes::{Cli, CodexApproval};
use bosun::sim::model::{Answer, Request, Turn};
use serde_json::Value;

const CLI: Cli = Cli::Codex;
/// Starts the summary line of a finished turn (`Worked for 1s • 07:05`).
const SUMMARY: &str = "Worked for ";

/// Wait until a turn that ended with the reply `text` is over and its summary (`Worked for
/// Ns • HH:MM`, drawn a moment after the reply) is below it.
fn wait_done(live: &mut Live, text: &str) -> String {
    let (busy, ready) = (live.spec.busy, live.spec.ready);
    live.poll(Duration::from_secs(90), text, |s| {
        s.split_once(text)
            .is_some_and(|(_, below)| below.contains(SUMMARY))
            && !s.contains(busy)
            && s.contains(ready)
    })
}

/// Codex's `x-codex-turn-metadata` header, parsed.
fn turn_metadata(r: &Request) -> Value {
    r.header("x-codex-turn-metadata")
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or(Value::Null)
}

/// The input items of a Responses request.
fn input_items(r: &Request) -> Vec<Value> {
    r.json()["input"].as_array().cloned().unwrap_or_default()
}

/// The `output` of the tool result for `call_id` in request `r`, if it carries one.
fn tool_output(r: &Request, call_id: &str) -> Option<String> {
    input_items(r)
        .into_iter()
        .find(|i| {
            matches!(
                i["type"].as_str(),
                Some("function_call_output" | "custom_tool_call_output")
            ) && i["call_id"] == call_id
        })
        .map(|i| match &i["output"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
}

/// The call id of the tool call echoed back in request `r`.
fn call_id_of(r: &Request, kind: &str) -> String {
    input_items(r)
        .into_iter()
        .find(|i| i["type"] == kind)
        .and_then(|i| i["call_id"].as_str().map(String::from))
        .unwrap_or_else(|| panic!("no {kind} echoed in the request"))
}

#[test]
fn codex_writes_files_and_runs_commands_from_scripted_tool_calls() {
    let content = "hello from the scripted model";
    let patch = format!("*** Begin Patch\n*** Add File: hello.txt\n+{content}\n*** End Patch\n");
    let Some(mut live) = Live::start(
        CLI,
        "codex-tools",
        vec![
            // Long enough to see the busy screen.
            Turn::delay(Duration::from_millis(1500)),
            Turn::apply_patch(patch),
            Turn::shell("wc -c < hello.txt > size.txt && cat size.txt"),
            // Busy again, below the tool calls.
            Turn::delay(Duration::from_millis(1500)),
            Turn::text("Created hello.txt and size.txt."),
        ],
        Setup::new(CLI),
    ) else {
        return;
    };
    live.wait_ready();
    live.save("idle");
    live.prompt("Create hello.txt with a greeting, then write its size to size.txt.");
    live.poll(Duration::from_secs(60), "the busy status line", |s| {
        s.contains(live.spec.busy)
    });
    live.save("busy");
    let hello = live.project.join("hello.txt");
    let size = live.project.join("size.txt");
    live.poll(Duration::from_secs(90), "hello.txt and size.txt", |_| {
        std::fs::read_to_string(&hello).is_ok_and(|t| t == format!("{content}\n"))
            && std::fs::read_to_string(&size)
                .is_ok_and(|t| t.trim() == (content.len() + 1).to_string())
    });
    live.poll(Duration::from_secs(60), "busy below the tool calls", |s| {
        s.contains("• Ran wc -c") && s.contains(live.spec.busy)
    });
    live.save("busy");
    wait_done(&mut live, "Created hello.txt and size.txt.");
    live.save("done");

    let summary = live.summary();
    eprintln!("requests seen:\n{summary}");
    let reqs = live.server.requests();
    assert_eq!(
        live.server.answered(),
        3,
        "all scripted turns used:\n{summary}"
    );
    let first = reqs
        .iter()
        .find(|r| r.answer == Answer::Scripted(0))
        .expect("main request");
    let tools: Vec<String> = first.json()["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    assert!(
        tools.contains(&"exec_command".to_string()) && tools.contains(&"apply_patch".to_string()),
        "{tools:?}"
    );
    live.spec.assert_authenticated(first);
    live.save_headers(first);
    // Each tool's result goes back to the model in the next request.
    let after_patch = reqs
        .iter()
        .find(|r| r.answer == Answer::Scripted(1))
        .expect("the request after apply_patch");
    let id = call_id_of(after_patch, "custom_tool_call");
    let out = tool_output(after_patch, &id).expect("apply_patch output");
    assert!(out.contains("hello.txt"), "{out}");
    let after_shell = reqs
        .iter()
        .find(|r| r.answer == Answer::Scripted(2))
        .expect("the request after exec_command");
    let id = call_id_of(after_shell, "function_call");
    let out = tool_output(after_shell, &id).expect("exec_command output");
    assert!(
        out.contains("exited with code 0") && out.contains(&(content.len() + 1).to_string()),
        "{out}"
    );
    // The thread title is a side request: it took no scripted turn.
    assert!(
        reqs.iter().any(
            |r| r.answer == Answer::Side && turn_metadata(r)["thread_source"] == "thread_title"
        ),
        "{summary}"
    );
}

#[test]
fn codex_asks_before_running_an_escalated_command() {
    let content = "written after asking";
    let Some(mut live) = Live::start(
        CLI,
        "codex-approval",
        vec![
            Turn::shell_escalated(
                format!("printf '{content}\\n' > hello.txt"),
                "Do you want to let me create hello.txt?",
            ),
            Turn::text("Created hello.txt."),
        ],
        Setup {
            approval: CodexApproval::OnEscalation,
            ..Setup::new(CLI)
        },
    ) else {
        return;
    };
    live.wait_ready();
    live.prompt("Create hello.txt.");
    let screen = live.poll(Duration::from_secs(90), "the approval prompt", |s| {
        s.contains("Would you like to run the following command?")
    });
    assert!(
        screen.contains("Reason: Do you want to let me create hello.txt?"),
        "{screen}"
    );
    assert!(screen.contains("1. Yes, proceed (y)"), "{screen}");
    live.save("waiting");
    let target = live.project.join("hello.txt");
    assert!(!target.exists(), "nothing written before the answer");
    // Option 1 ("Yes, proceed") is selected: Enter takes it, as bosun's profile answers yes
    // (the `y` shortcut works too).
    live.press_until(&["Enter"], "hello.txt", |s| {
        !s.contains("Would you like to run")
            && std::fs::read_to_string(&target).is_ok_and(|t| t == format!("{content}\n"))
    });
    let screen = wait_done(&mut live, "Created hello.txt.");
    live.save("done");
    assert!(screen.contains("You approved codex to run"), "{screen}");
    live.summary();
    assert_eq!(live.server.answered(), 2);
}

#[test]
fn codex_asks_to_trust_an_unknown_folder() {
    let Some(mut live) = Live::start(
        CLI,
        "codex-trust",
        vec![Turn::text("Hi.")],
        Setup {
            trust: false,
            ..Setup::new(CLI)
        },
    ) else {
        return;
    };
    live.poll(Duration::from_secs(60), "the trust dialog", |s| {
        s.contains("Trust this folder?") && s.contains("› 1. Trust and continue")
    });
    live.save("waiting");
    live.press_until(&["Enter"], "the trust dialog to close", |s| {
        !s.contains("Trust this folder?")
    });
    live.wait_ready();
    live.prompt("Say hi.");
    wait_done(&mut live, "Hi.");
    live.save("done");
    live.summary();
}

#[test]
fn codex_offers_a_model_migration_until_it_was_seen() {
    let Some(mut live) = Live::start(
        CLI,
        "codex-migration",
        vec![Turn::text("Hi.")],
        Setup {
            migration_seen: false,
            ..Setup::new(CLI)
        },
    ) else {
        return;
    };
    // The input box shows first; the dialog comes up over it a moment later.
    live.poll(Duration::from_secs(60), "the model migration dialog", |s| {
        s.contains("› 1. Try new model") && s.contains("enter/esc confirm")
    });
    live.save("waiting");
    live.press_until(&["Down"], "option 2 selected", |s| {
        s.contains("› 2. Use existing model")
    });
    live.press_until(&["Enter"], "the dialog to close", |s| {
        !s.contains("Use existing model")
    });
    live.wait_ready();
    let screen = live.tmux.capture();
    assert!(screen.contains("GPT-5.5"), "kept the model:\n{screen}");
    live.prompt("Say hi.");
    wait_done(&mut live, "Hi.");
    live.summary();
}

#[test]
fn codex_reports_a_rate_limit_and_a_dropped_stream() {
    let Some(mut live) = Live::start(
        CLI,
        "codex-errors",
        vec![
            Turn::rate_limited(2),
            Turn::dropped(),
            Turn::text("Recovered."),
        ],
        Setup::new(CLI),
    ) else {
        return;
    };
    live.wait_ready();
    live.prompt("Say hi.");
    live.wait_turn_end("■ exceeded retry limit, last status: 429 Too Many Requests");
    live.save("error");
    live.prompt("Say hi again.");
    live.wait_turn_end("■ stream disconnected before completion");
    live.save("error");
    live.prompt("Once more.");
    wait_done(&mut live, "Recovered.");
    live.save("done");
    let summary = live.summary();
    assert_eq!(live.server.answered(), 3, "{summary}");
    // request_max_retries = 0 and stream_max_retries = 0: one request per turn.
    let main = live
        .server
        .requests()
        .iter()
        .filter(|r| matches!(r.answer, Answer::Scripted(_)))
        .count();
    assert_eq!(main, 3, "{summary}");
}
