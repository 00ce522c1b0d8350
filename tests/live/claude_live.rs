//! The real Claude Code CLI, in its full TUI inside a private tmux server, against the scripted
//! model server: a prompt goes in, a scripted `Write` tool call comes back, and the file appears.
//!
//! Needs `claude` (run `scripts/install-agents.sh`; found in `$BOSUN_CLAUDE_BIN`,
//! `${BOSUN_AGENTS_DIR:-.cache/agents}/node_modules/.bin/claude`, or `PATH`). Without it the
//! test skips loudly, or fails when `CI=true`. `scripts/capture-fixtures.sh claude` runs these
//! tests with `BOSUN_FIXTURES_DIR` set: each screen a test waits for is saved, named after its
//! status, into `tests/fixtures/claude-<version>/`.

use crate::support::agents;

use std::path::PathBuf;
use std::time::Duration;

use agents::{Tmux, poll};
use bosun::sim::model::{Answer, ModelServer, Turn};

const KEY: &str = "sk-ant-api03-bosun-scripted-test-key-0123456789abcdef";

/// Claude Code running in its own tmux server and HOME against a scripted model server.
struct Live {
    // Field order is drop order: tmux (and so claude) goes before the server and the dir.
    tmux: Tmux,
    fixtures: agents::Fixtures,
    /// Prompts sent so far.
    prompts: usize,
    server: ModelServer,
    project: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Live {
    /// `None` (after a loud skip message) when the CLI is not installed outside CI.
    fn start(name: &str, scenario: Vec<Turn>, args: &str, extra_env: &[&str]) -> Option<Live> {
        let claude = agents::require("claude", name)?;
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        let project = tmp.path().join("project");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::create_dir_all(&project).expect("project");
        let project = project.canonicalize().expect("canonical project");
        let server = ModelServer::start(scenario).expect("model server");
        server.set_pace(bosun::sim::model::Pace::INSTANT);

        let key_tail = &KEY[KEY.len() - 20..];
        let config = serde_json::json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": { "approved": [key_tail], "rejected": [] },
            "projects": { project.to_string_lossy(): {
                "hasTrustDialogAccepted": true,
                "hasCompletedProjectOnboarding": true,
            }},
        });
        std::fs::write(home.join(".claude.json"), config.to_string()).expect(".claude.json");

        let tmux = Tmux::new("bosun-live");
        let env: Vec<(String, String)> = [
            ("ANTHROPIC_BASE_URL", server.url().as_str()),
            ("ANTHROPIC_API_KEY", KEY),
            ("HOME", &home.display().to_string()),
            ("DISABLE_AUTOUPDATER", "1"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("TERM", "xterm-256color"),
        ]
        .into_iter()
        .chain(extra_env.iter().filter_map(|e| e.split_once('=')))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        tmux.launch(&project, &env, &[format!("{} {args}", claude.display())]);

        Some(Live {
            tmux,
            fixtures: agents::Fixtures::from_env(),
            prompts: 0,
            server,
            project,
            _tmp: tmp,
        })
    }

    fn poll(&mut self, timeout: Duration, what: &str, done: impl FnMut(&str) -> bool) -> String {
        poll(&self.tmux, timeout, what, done)
    }

    /// When recording fixtures, wait for the retry line (`Retrying in 1s`) and save it as
    /// busy; it may be gone already, which only means one fixture fewer.
    fn save_if_retrying(&mut self) {
        if !self.fixtures.enabled() {
            return;
        }
        let screen = self.poll(Duration::from_secs(30), "a retry or an error", |s| {
            s.contains("Retrying in") || s.contains("API Error")
        });
        if screen.contains("Retrying in") {
            self.save("busy");
        }
    }

    /// Save the current screen as a `status` fixture (when recording fixtures).
    fn save(&mut self, status: &str) {
        self.fixtures.save(self.tmux.socket(), "live", status);
    }

    /// Wait for the input box, then for the screen to hold still for a few polls.
    fn wait_ready(&mut self) {
        self.poll(Duration::from_secs(60), "the idle prompt", |s| {
            s.contains("❯\u{a0}")
        });
        let mut same = 0;
        let mut prev = String::new();
        self.poll(Duration::from_secs(30), "a stable idle screen", |s| {
            same = if s == prev { same + 1 } else { 0 };
            prev = s.to_string();
            same >= 5
        });
    }

    /// Paste `text` into the input box and submit it. When recording fixtures, the box with
    /// the session's first prompt pasted is saved as idle first (later ones would sit below
    /// the previous turn's error or summary).
    fn prompt(&mut self, text: &str) {
        self.tmux.paste(text);
        self.prompts += 1;
        // In the input box the text follows `❯` and a no-break space; once submitted it is
        // echoed above with a plain space.
        let first = text.lines().next().unwrap_or(text);
        let in_box = format!("❯\u{a0}{first}");
        self.poll(Duration::from_secs(10), "the pasted prompt", |s| {
            s.contains(&in_box)
        });
        if self.fixtures.enabled() && self.prompts == 1 {
            self.save("idle");
        }
        // Claude can drop an Enter that comes while it is still taking the paste in: press
        // it again (as bosun's supervisor does) until the box is empty.
        self.tmux.press_until(
            &["Enter"],
            Duration::from_secs(2),
            "the prompt to be submitted",
            |s| !s.contains(&in_box),
        );
    }

    /// Press `key` (once a second) until `text` is gone from the screen: a dialog can ignore
    /// keys for a moment after it appears.
    fn press_until_gone(&mut self, key: &str, text: &str) {
        self.tmux
            .press_until(&[key], Duration::from_secs(1), "the dialog to close", |s| {
                !s.contains(text)
            });
    }

    /// One line per recorded request; saved as `requests.txt` when capturing.
    fn summary(&self) -> String {
        let mut summary = String::new();
        for r in &self.server.requests() {
            let b = r.json();
            summary.push_str(&format!(
                "{} {} -> {:?} model={} max_tokens={} stream={} tools={}\n",
                r.method,
                r.path,
                r.answer,
                b["model"],
                b["max_tokens"],
                b["stream"],
                b["tools"].as_array().map_or(0, Vec::len),
            ));
        }
        summary
    }
}

#[test]
fn claude_code_writes_a_file_from_a_scripted_tool_call() {
    let content = "hello from the scripted model\n";
    let Some(mut live) = Live::start(
        "accept-edits",
        vec![
            // Long enough to see the busy screen.
            Turn::delay(Duration::from_millis(1500)),
            Turn::write_file("hello.txt", content),
            Turn::text("Created hello.txt."),
        ],
        "--permission-mode acceptEdits",
        &[],
    ) else {
        return;
    };
    live.wait_ready();
    live.save("idle");
    live.prompt("Create hello.txt with a greeting.");
    live.poll(Duration::from_secs(60), "the busy footer", |s| {
        s.contains("esc to interrupt")
    });
    live.save("busy");
    let target = live.project.join("hello.txt");
    live.poll(Duration::from_secs(90), "hello.txt", |_| {
        std::fs::read_to_string(&target).is_ok_and(|t| t == content)
    });
    // The final text turn shows up and the CLI goes idle again.
    live.poll(Duration::from_secs(60), "the final text", |s| {
        s.contains("Created hello.txt.") && !s.contains("esc to interrupt")
    });
    live.save("done");

    let summary = live.summary();
    eprintln!("requests seen:\n{summary}");
    let reqs = live.server.requests();
    if let Some(d) = live.fixtures.dir() {
        let first = reqs
            .iter()
            .find(|r| r.answer == Answer::Scripted(0))
            .expect("main request");
        let headers: String = first
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        std::fs::write(d.join("main-request-headers.txt"), headers).expect("main request headers");
    }
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
    assert_eq!(tool_result.header("x-api-key"), Some(KEY));
}

#[test]
fn claude_code_asks_before_writing_without_accept_edits() {
    let content = "written after asking\n";
    let Some(mut live) = Live::start(
        "permission",
        vec![
            Turn::write_file("hello.txt", content),
            Turn::text("Created hello.txt."),
        ],
        // Explicit: from 2.1.330 on the default mode is "auto", which writes without asking.
        "--permission-mode default",
        &[],
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
    live.press_until_gone("Enter", "Do you want to create hello.txt?");
    live.poll(Duration::from_secs(60), "hello.txt", |_| {
        std::fs::read_to_string(&target).is_ok_and(|t| t == content)
    });
    live.poll(Duration::from_secs(60), "the final text", |s| {
        s.contains("Created hello.txt.") && !s.contains("esc to interrupt")
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
        "errors",
        turns,
        "--permission-mode acceptEdits",
        &["CLAUDE_CODE_MAX_RETRIES=1"],
    ) else {
        return;
    };
    live.wait_ready();
    live.prompt("Say hi.");
    live.save_if_retrying();
    live.poll(Duration::from_secs(60), "the 429 error", |s| {
        !s.contains("esc to interrupt") && s.contains("API Error: Request rejected (429)")
    });
    live.save("error");
    live.prompt("Say hi again.");
    live.save_if_retrying();
    live.poll(Duration::from_secs(60), "the 529 error", |s| {
        !s.contains("esc to interrupt") && s.matches("API Error").count() >= 2
    });
    live.save("error");
    live.prompt("Once more.");
    live.poll(Duration::from_secs(60), "the recovery", |s| {
        !s.contains("esc to interrupt") && s.contains("Recovered.")
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
        "question-plan",
        vec![
            Turn::tool_use("AskUserQuestion", question),
            Turn::tool_use("ExitPlanMode", plan),
            Turn::text("Plan approved."),
        ],
        "--permission-mode plan",
        &[],
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
    live.press_until_gone("Enter", "Exit plan mode?");
    live.poll(Duration::from_secs(60), "the final text", |s| {
        s.contains("Plan approved.") && !s.contains("esc to interrupt")
    });
    live.save("done");
    let summary = live.summary();
    assert_eq!(live.server.answered(), 3, "{summary}");
}
