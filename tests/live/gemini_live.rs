//! The real Gemini CLI, in its full TUI inside a private tmux server, against the scripted
//! model server (Gemini API): a prompt goes in, a scripted `write_file` call comes back and is
//! allowed in its dialog, and the file appears; a 429 it gives up on and a 400 show as errors.
//!
//! Needs `gemini` (run `scripts/install-agents.sh`); without it the test skips loudly, or fails
//! when `CI=true`. `scripts/capture-fixtures.sh gemini` runs these tests with
//! `BOSUN_FIXTURES_DIR` set: each screen a test waits for is saved, named after its status,
//! into `tests/fixtures/gemini-<version>/`.

use crate::support::agents;

use std::path::PathBuf;
use std::time::Duration;

use agents::{Tmux, poll};
use bosun::config::{Config, ScreenStatus};
use bosun::provider::wiring::merge;
use bosun::provider::{classify, screen_text};
use bosun::sim::homes::{self, Cli, CodexApproval};
use bosun::sim::model::{Answer, ModelServer, Pace, Turn};

/// Gemini CLI in its own tmux server and home against a scripted model server.
struct Live {
    // Field order is drop order: tmux (and so gemini) goes before the server and the dir.
    tmux: Tmux,
    fixtures: agents::Fixtures,
    server: ModelServer,
    project: PathBuf,
    cfg: Config,
    _tmp: tempfile::TempDir,
}

impl Live {
    /// `None` (after a loud skip message) when the CLI is not installed outside CI. `args`
    /// follow `gemini`; `layer` is merged into the home's user settings as bosun merges its
    /// per-run layer (no system layer: Gemini CLI reads those only from root-owned paths).
    fn start(
        name: &str,
        scenario: Vec<Turn>,
        args: &str,
        layer: serde_json::Value,
    ) -> Option<Live> {
        let gemini = agents::require("gemini", name)?;
        let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical");
        let project = dir.join("project");
        std::fs::create_dir_all(&project).expect("project");
        // A git repository, as a task's worktree is (the footer shows its branch).
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(args)
                .current_dir(&project)
                .output()
                .expect("git")
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q", "-b", "main"]);
        let server = ModelServer::start(scenario).expect("model server");
        server.set_pace(Pace::INSTANT);
        let env = homes::prepare(
            Cli::Gemini,
            &dir,
            &server.url(),
            &[&project],
            CodexApproval::Never,
        )
        .expect("gemini home");
        let settings = dir.join("gemini-home/.gemini/settings.json");
        let user = merge::parse_user_settings(&std::fs::read_to_string(&settings).expect("read"))
            .expect("settings");
        std::fs::write(&settings, merge::merge(&user, &layer).to_string()).expect("settings");
        let tmux = Tmux::new("bosun-gemini");
        tmux.launch(&project, &env, &[format!("{} {args}", gemini.display())]);
        Some(Live {
            tmux,
            fixtures: agents::Fixtures::from_env(),
            server,
            project,
            cfg: Config::builtin().expect("config"),
            _tmp: tmp,
        })
    }

    fn poll(&self, timeout: Duration, what: &str, done: impl FnMut(&str) -> bool) -> String {
        poll(&self.tmux, timeout, what, done)
    }

    /// The built-in gemini profile's reading of `screen`.
    fn reads(&self, screen: &str) -> Option<ScreenStatus> {
        classify(&self.cfg.providers["gemini"], &screen_text(screen))
    }

    /// Polls until the profile reads `status`; saves the screen as that status's fixture.
    fn wait_for(&mut self, status: ScreenStatus, name: &str, timeout: Duration) -> String {
        let screen = self.poll(timeout, &format!("the screen to read {name}"), |s| {
            classify(
                &Config::builtin().expect("config").providers["gemini"],
                &screen_text(s),
            ) == Some(status)
        });
        self.fixtures.save(self.tmux.socket(), "live", name);
        screen
    }

    /// Waits for the input box with its placeholder and a screen that holds still.
    fn wait_ready(&mut self) {
        self.poll(Duration::from_secs(60), "the input box", |s| {
            s.contains("Type your message")
        });
        let mut same = 0;
        let mut prev = String::new();
        self.poll(Duration::from_secs(30), "a stable idle screen", |s| {
            same = if s == prev { same + 1 } else { 0 };
            prev = s.to_string();
            same >= 5
        });
    }

    /// Pastes `text` (a multi-line prompt, as bosun's roles have) and submits it: Enter more
    /// than 40 ms after the paste, again until the input is empty (an Enter that comes too
    /// soon becomes a newline).
    fn prompt(&mut self, text: &str) {
        self.tmux.paste(text);
        self.poll(Duration::from_secs(10), "the pasted prompt", |s| {
            s.contains("[Pasted Text") || s.contains(text.lines().next().unwrap_or(text))
        });
        std::thread::sleep(Duration::from_millis(300));
        self.tmux.press_until(
            &["Enter"],
            Duration::from_secs(2),
            "the prompt to be submitted",
            |s| s.contains("Type your message") && !s.contains("[Pasted Text"),
        );
    }
}

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
        "",
        serde_json::json!({}),
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
    live.tmux.press_until(
        &["Enter"],
        Duration::from_secs(1),
        "the dialog to close",
        |s| !s.contains("Apply this change?"),
    );
    let target = live.project.join("hello.txt");
    live.poll(Duration::from_secs(60), "hello.txt", |_| {
        std::fs::read_to_string(&target).is_ok_and(|t| t == content)
    });
    live.wait_for(ScreenStatus::Busy, "busy", Duration::from_secs(10));
    let screen = live.poll(Duration::from_secs(60), "the final text", |s| {
        s.contains("Created hello.txt.") && !s.contains("esc to cancel")
    });
    assert_eq!(live.reads(&screen), Some(ScreenStatus::Idle), "{screen}");
    live.fixtures.save(live.tmux.socket(), "live", "done");

    let reqs = live.server.requests();
    let main: Vec<_> = reqs.iter().filter(|r| r.is_main()).collect();
    assert_eq!(main.len(), 2, "the tool call and the final answer");
    assert!(
        main[0].route().ends_with(":streamGenerateContent"),
        "{}",
        main[0].path
    );
    assert_eq!(main[0].header("x-goog-api-key"), Some(homes::GEMINI_KEY));
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
        "",
        // What bosun's per-run settings layer sets: show the error instead of retrying forever.
        serde_json::json!({ "ui": { "errorVerbosity": "full" } }),
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
    live.tmux
        .press_until(&["2"], Duration::from_secs(1), "the dialog to close", |s| {
            !s.contains("Keep trying")
        });
    let screen = live.poll(Duration::from_secs(30), "the error line", |s| {
        s.contains("✕ [API Error")
    });
    assert_eq!(live.reads(&screen), Some(ScreenStatus::Error), "{screen}");
    live.fixtures.save(live.tmux.socket(), "live", "error");
    live.prompt("Try again.\nPlease.");
    let screen = live.poll(Duration::from_secs(60), "the 400", |s| {
        s.contains("invalid argument")
    });
    assert_eq!(live.reads(&screen), Some(ScreenStatus::Error), "{screen}");
    live.fixtures.save(live.tmux.socket(), "live", "error");
}
