//! The real Codex CLI, in its full TUI inside a private tmux server, against the scripted
//! model server speaking the OpenAI Responses API: scripted tool calls write files and run
//! commands, the approval prompt is shown and answered, errors are shown.
//!
//! Needs `codex` (run `scripts/install-agents.sh`; found in `$BOSUN_CODEX_BIN`,
//! `${BOSUN_AGENTS_DIR:-.cache/agents}/node_modules/.bin/codex`, or `PATH`). Without it the
//! test skips loudly, or fails when `CI=true`. `scripts/capture-fixtures.sh codex` runs these
//! tests with `BOSUN_FIXTURES_DIR` set: each screen a test waits for is saved, named after its
//! status, into `tests/fixtures/codex-<version>/`.

use crate::support::agents;
use crate::support::codex;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use agents::{Tmux, poll};
use bosun::sim::model::{Answer, ModelServer, Request, Turn};
use codex::Approval;
use serde_json::Value;

/// The empty input box (its placeholder), shown when Codex is ready for a prompt.
const READY: &str = "› Ask Codex to do anything";
/// In the status line while a turn runs.
const BUSY: &str = "esc to interrupt";
/// Starts the summary line of a finished turn (`Worked for 1s • 07:05`).
const SUMMARY: &str = "Worked for ";

/// How a test sets Codex up.
#[derive(Debug, Clone, Copy)]
struct Setup {
    approval: Approval,
    /// The project is trusted in the config (no "Trust this folder?" dialog).
    trust: bool,
    /// The model-migration notice is marked as seen (no "Meet GPT-6 Sol" dialog).
    migration_seen: bool,
}

impl Setup {
    /// Trusted, no dialogs, commands run without asking.
    const PLAIN: Setup = Setup {
        approval: Approval::Never,
        trust: true,
        migration_seen: true,
    };
}

/// Codex running in its own tmux server, CODEX_HOME and HOME against a scripted server.
struct Live {
    // Field order is drop order: tmux (and so codex) goes before the server and the dir.
    tmux: Tmux,
    /// The test's short name (names its `requests-<name>.txt`).
    name: String,
    fixtures: agents::Fixtures,
    /// Prompts sent so far.
    prompts: usize,
    server: ModelServer,
    project: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Live {
    /// `None` (after a loud skip message) when the CLI is not installed outside CI. The
    /// project is a git repository.
    fn start(name: &str, scenario: Vec<Turn>, setup: Setup) -> Option<Live> {
        let bin = agents::require("codex", name)?;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical tempdir");
        let project = dir.join("project");
        std::fs::create_dir_all(&project).expect("project");
        let git = Command::new("git")
            .args(["init", "-q"])
            .current_dir(&project)
            .status()
            .expect("git init");
        assert!(git.success());
        let server = ModelServer::start(scenario).expect("model server");
        server.set_pace(bosun::sim::model::Pace::INSTANT);
        let (codex_home, home) = codex::dirs(&dir);
        let trusted = if setup.trust {
            vec![project.as_path()]
        } else {
            vec![]
        };
        codex::write_home(&codex_home, &server.url(), &trusted, setup.approval);
        if !setup.migration_seen {
            codex::forget_migration_notice(&codex_home);
        }

        let tmux = Tmux::new("bosun-codex-live");
        let command: Vec<String> = std::iter::once(bin.display().to_string())
            .chain(codex::ARGS.iter().map(|a| a.to_string()))
            .collect();
        tmux.launch(&project, &codex::env(&codex_home, &home), &command);

        Some(Live {
            tmux,
            name: name.to_string(),
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

    /// Press `keys`, and again every second while `done(screen)` does not hold: a dialog
    /// that has only just opened can miss a key (seen with the CPUs loaded).
    fn press_until(&mut self, keys: &[&str], what: &str, done: impl FnMut(&str) -> bool) {
        self.tmux
            .press_until(keys, Duration::from_secs(1), what, done);
    }

    /// Save the current screen as a `status` fixture (when recording fixtures).
    fn save(&mut self, status: &str) {
        self.fixtures.save(self.tmux.socket(), "live", status);
    }

    /// Wait for the empty input box, then for the screen to hold still for a few polls.
    fn wait_ready(&mut self) {
        self.poll(Duration::from_secs(60), "the idle prompt", |s| {
            s.contains(READY)
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
    /// the session's first prompt pasted is saved as idle first.
    fn prompt(&mut self, text: &str) {
        self.tmux.paste(text);
        self.prompts += 1;
        let first = text.lines().next().unwrap_or(text).to_string();
        self.poll(Duration::from_secs(10), "the pasted prompt", |s| {
            s.contains(&format!("› {first}"))
        });
        if self.fixtures.enabled() && self.prompts == 1 {
            self.save("idle");
        }
        self.tmux.keys(&["Enter"]);
    }

    /// Wait until the turn is over: not busy, the input box empty again, and `what` shown.
    fn wait_turn_end(&mut self, what: &str) -> String {
        let what = what.to_string();
        self.poll(Duration::from_secs(90), &what.clone(), move |s| {
            s.contains(&what) && !s.contains(BUSY) && s.contains(READY)
        })
    }

    /// Wait until a turn that ended with the reply `text` is over and its summary (`Worked
    /// for Ns • HH:MM`, drawn a moment after the reply) is below it.
    fn wait_done(&mut self, text: &str) -> String {
        let text = text.to_string();
        self.poll(Duration::from_secs(90), &text.clone(), move |s| {
            s.split_once(&text)
                .is_some_and(|(_, below)| below.contains(SUMMARY))
                && !s.contains(BUSY)
                && s.contains(READY)
        })
    }

    /// One line per recorded request; saved as `requests-<name>.txt` when capturing.
    fn summary(&self) -> String {
        let mut summary = String::new();
        for r in &self.server.requests() {
            let b = r.json();
            let tools: Vec<&str> = b["tools"]
                .as_array()
                .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
                .unwrap_or_default();
            summary.push_str(&format!(
                "{} {} -> {:?} model={} stream={} format={} source={} tools={}\n",
                r.method,
                r.path,
                r.answer,
                b["model"],
                b["stream"],
                b["text"]["format"]["name"],
                turn_metadata(r)["thread_source"],
                tools.join(","),
            ));
        }
        if let Some(d) = self.fixtures.dir() {
            std::fs::write(d.join(format!("requests-{}.txt", self.name)), &summary)
                .expect("requests file");
        }
        summary
    }
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
        Setup::PLAIN,
    ) else {
        return;
    };
    live.wait_ready();
    live.save("idle");
    live.prompt("Create hello.txt with a greeting, then write its size to size.txt.");
    live.poll(Duration::from_secs(60), "the busy status line", |s| {
        s.contains(BUSY)
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
        s.contains("• Ran wc -c") && s.contains(BUSY)
    });
    live.save("busy");
    live.wait_done("Created hello.txt and size.txt.");
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
    assert_eq!(
        first.header("authorization"),
        Some(format!("Bearer {}", codex::KEY).as_str())
    );
    if let Some(d) = live.fixtures.dir() {
        let headers: String = first
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        std::fs::write(d.join("main-request-headers.txt"), headers).expect("headers");
    }
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
        "codex-approval",
        vec![
            Turn::shell_escalated(
                format!("printf '{content}\\n' > hello.txt"),
                "Do you want to let me create hello.txt?",
            ),
            Turn::text("Created hello.txt."),
        ],
        Setup {
            approval: Approval::OnEscalation,
            ..Setup::PLAIN
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
    let screen = live.wait_done("Created hello.txt.");
    live.save("done");
    assert!(screen.contains("You approved codex to run"), "{screen}");
    live.summary();
    assert_eq!(live.server.answered(), 2);
}

#[test]
fn codex_asks_to_trust_an_unknown_folder() {
    let Some(mut live) = Live::start(
        "codex-trust",
        vec![Turn::text("Hi.")],
        Setup {
            trust: false,
            ..Setup::PLAIN
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
    live.wait_done("Hi.");
    live.save("done");
    live.summary();
}

#[test]
fn codex_offers_a_model_migration_until_it_was_seen() {
    let Some(mut live) = Live::start(
        "codex-migration",
        vec![Turn::text("Hi.")],
        Setup {
            migration_seen: false,
            ..Setup::PLAIN
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
    live.wait_done("Hi.");
    live.summary();
}

#[test]
fn codex_reports_a_rate_limit_and_a_dropped_stream() {
    let Some(mut live) = Live::start(
        "codex-errors",
        vec![
            Turn::rate_limited(2),
            Turn::dropped(),
            Turn::text("Recovered."),
        ],
        Setup::PLAIN,
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
    live.wait_done("Recovered.");
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
