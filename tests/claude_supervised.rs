//! The real Claude Code CLI playing a stage under bosun's supervisor: launched in its pane
//! from the built-in `claude` profile, prompt pasted and submitted, busy and done read from
//! its real screen, the worktree committed, the artifact gate passed. The model is bosun's
//! scripted Anthropic Messages API server on 127.0.0.1, whose Write tool call creates the
//! artifact. Needs `claude` (`scripts/install-agents.sh`): skipped loudly without it, failed
//! under `CI=true`.

#[path = "support/agents.rs"]
mod agents;
#[path = "support/model_server.rs"]
mod model_server;
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::store::Store;
use bosun::store::runs::{self, RunStatus};
use bosun::store::tasks::{self, TaskState};
use bosun::supervisor::{Options, Supervisor};
use model_server::{ModelServer, Turn};

const KEY: &str = "sk-ant-api03-bosun-scripted-test-key-0123456789abcdef";

struct KillServer(String);

impl Drop for KillServer {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .output();
    }
}

#[test]
fn claude_code_completes_a_stage_under_the_supervisor() {
    let Some(claude) = agents::require("claude", "claude_code_completes_a_stage") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().canonicalize().expect("canonical");
    let repo = support::init_repo(&dir);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    // Where the supervisor will put the task's worktree: Claude must trust it.
    let worktree = dir.join("worktrees/example-tool/ET-001");
    let claude_json = serde_json::json!({
        "hasCompletedOnboarding": true,
        "customApiKeyResponses": { "approved": [&KEY[KEY.len() - 20..]], "rejected": [] },
        "projects": { worktree.to_string_lossy(): {
            "hasTrustDialogAccepted": true,
            "hasCompletedProjectOnboarding": true,
        }},
    });
    std::fs::write(home.join(".claude.json"), claude_json.to_string()).expect(".claude.json");
    let server = ModelServer::start(vec![
        Turn::write_file("out.md", "# Analysis\n\nwritten by the scripted model\n"),
        Turn::text("I wrote out.md with the analysis."),
    ]);
    let layer = format!(
        r#"
[supervisor]
max_concurrency = 1
[providers.claude]
command = ["{claude}", "--permission-mode", "acceptEdits"]
env = {{ ANTHROPIC_BASE_URL = "{url}", ANTHROPIC_API_KEY = "{KEY}", HOME = "{home}", DISABLE_AUTOUPDATER = "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1" }}
[roles.analyst]
provider = "claude"
prompt = "Write the analysis of {{key}} ({{title}}) to out.md."
[[stages]]
name = "analysis"
role = "analyst"
[[stages.gates]]
kind = "artifact"
path = "out.md"
"#,
        claude = claude.display(),
        url = server.url(),
        home = home.display()
    );
    let cfg = Config::from_layers(&[(Path::new("bosun.toml"), layer.as_str())]).expect("config");
    let db = dir.join("bosun.db");
    let store = support::open_with_project(&db, &repo, "true");
    let (task, _) = Engine::new(&cfg, &store)
        .create_task("example-tool", "Explain the parser", "", 100)
        .expect("task");
    let socket = format!("bosun-claude-sup-{}", std::process::id());
    let _kill = KillServer(socket.clone());
    let mut opts = Options::new(dir.clone(), &socket);
    opts.owner = "test".into();
    let mut sup =
        Supervisor::start(cfg, Store::open(&db).expect("store"), opts).expect("supervisor");

    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        sup.tick().expect("tick");
        for (_, _, s) in sup.run_statuses() {
            if seen.last() != Some(&s) {
                seen.push(s);
            }
        }
        let t = tasks::by_key(store.conn(), &task.key).expect("task");
        if t.state == TaskState::Done {
            break;
        }
        assert!(
            !matches!(t.state, TaskState::Blocked | TaskState::NeedsInput),
            "{} is {}: {:?}; statuses seen {seen:?}",
            t.key,
            t.state,
            t.state_reason
        );
        assert!(
            Instant::now() < deadline,
            "claude did not finish the stage; statuses seen {seen:?}; model requests: {}",
            server.requests().len()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        seen.contains(&RunStatus::Busy),
        "busy was seen on claude's screen: {seen:?}"
    );
    let written =
        std::fs::read_to_string(worktree.join("out.md")).expect("artifact written by claude");
    assert!(written.contains("written by the scripted model"));
    let run = runs::for_task(store.conn(), task.id)
        .expect("runs")
        .pop()
        .expect("run");
    assert_eq!(run.status, RunStatus::Done);
    let log = Command::new("git")
        .args(["-C", &worktree.to_string_lossy(), "log", "--format=%s"])
        .output()
        .expect("git log");
    assert!(String::from_utf8_lossy(&log.stdout).contains("ET-001 analysis: work of run"));
    // The prompt reached the model through Claude Code.
    let prompt_seen = server.requests().iter().any(|r| {
        String::from_utf8_lossy(&r.body)
            .contains("Write the analysis of ET-001 (Explain the parser) to out.md.")
    });
    assert!(
        prompt_seen,
        "the rendered prompt was not in any model request"
    );
}
