//! The real Claude Code CLI, in its full TUI inside a private tmux server, against the scripted
//! model server: a prompt goes in, a scripted `Write` tool call comes back, and the file appears.
//!
//! Needs `claude` (run `scripts/install-agents.sh`; found in `$BOSUN_CLAUDE_BIN`,
//! `${BOSUN_AGENTS_DIR:-.cache/agents}/node_modules/.bin/claude`, or `PATH`). Without it the
//! test skips loudly, or fails when `CI=true`. Set `BOSUN_CAPTURE_DIR=DIR` to save every
//! distinct screen seen as `DIR/<n>.txt` (how `tests/fixtures/claude-*/` was harvested).

#[path = "support/model_server.rs"]
mod model_server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use model_server::{Answer, ModelServer, Turn};

const KEY: &str = "sk-ant-api03-bosun-scripted-test-key-0123456789abcdef";

fn find_claude() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BOSUN_CLAUDE_BIN") {
        return Some(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("BOSUN_AGENTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache/agents"));
    let local = root.join(dir).join("node_modules/.bin/claude");
    if local.is_file() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("claude"))
            .find(|p| p.is_file())
    })
}

/// A private tmux server, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn tmux");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input)
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("tmux output");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "live"], None).stdout)
            .into_owned()
    }

    fn paste(&self, text: &str) {
        self.run(&["load-buffer", "-b", "prompt", "-"], Some(text.as_bytes()));
        self.run(
            &[
                "paste-buffer",
                "-d",
                "-p",
                "-r",
                "-b",
                "prompt",
                "-t",
                "live",
            ],
            None,
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
    }
}

/// Saves each distinct screen when `BOSUN_CAPTURE_DIR` is set.
struct Recorder {
    dir: Option<PathBuf>,
    last: String,
    n: usize,
}

impl Recorder {
    fn see(&mut self, screen: &str) {
        if screen == self.last {
            return;
        }
        self.last = screen.to_string();
        if let Some(dir) = &self.dir {
            self.n += 1;
            std::fs::write(dir.join(format!("{:03}.txt", self.n)), screen).expect("save screen");
        }
    }
}

/// Poll the screen until `done(screen)` or the deadline; returns the last screen.
fn poll(
    tmux: &Tmux,
    rec: &mut Recorder,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let screen = tmux.capture();
        rec.see(&screen);
        if done(&screen) {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn claude_code_writes_a_file_from_a_scripted_tool_call() {
    let Some(claude) = find_claude() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("claude is not installed; run scripts/install-agents.sh");
        }
        eprintln!(
            "\n*** SKIPPED claude_live: claude not installed (scripts/install-agents.sh) ***\n"
        );
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let project = tmp.path().join("project");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&project).expect("project");
    let project = project.canonicalize().expect("canonical project");
    let target = project.join("hello.txt");
    let content = "hello from the scripted model\n";

    let server = ModelServer::start([
        // Long enough to see the busy screen.
        Turn::delay(Duration::from_millis(1500)),
        Turn::write_file(target.to_string_lossy(), content),
        Turn::text("Created hello.txt."),
    ]);

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

    let tmux = Tmux {
        socket: format!("bosun-live-{}-{}", std::process::id(), fastrand::u32(..)),
    };
    let base_url = server.url();
    let env = [
        format!("ANTHROPIC_BASE_URL={base_url}"),
        format!("ANTHROPIC_API_KEY={KEY}"),
        format!("HOME={}", home.display()),
        "DISABLE_AUTOUPDATER=1".to_string(),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1".to_string(),
        "TERM=xterm-256color".to_string(),
    ];
    let mut args: Vec<String> = vec![
        "new-session".into(),
        "-d".into(),
        "-s".into(),
        "live".into(),
        "-x".into(),
        "200".into(),
        "-y".into(),
        "50".into(),
        "-c".into(),
        project.display().to_string(),
    ];
    for e in &env {
        args.push("-e".into());
        args.push(e.clone());
    }
    args.push(format!(
        "{} --permission-mode acceptEdits",
        claude.display()
    ));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tmux.run(&args, None);
    tmux.run(&["set-option", "-t", "live", "remain-on-exit", "on"], None);

    let mut rec = Recorder {
        dir: std::env::var_os("BOSUN_CAPTURE_DIR").map(PathBuf::from),
        last: String::new(),
        n: 0,
    };
    if let Some(d) = &rec.dir {
        std::fs::create_dir_all(d).expect("capture dir");
    }

    // Ready: the input box with its prompt marker.
    poll(
        &tmux,
        &mut rec,
        Duration::from_secs(60),
        "the idle prompt",
        |s| s.contains('❯') || s.contains('>'),
    );
    // Let the UI settle (the ready screen must stay the same for a few polls).
    let mut same = 0;
    let mut prev = String::new();
    poll(
        &tmux,
        &mut rec,
        Duration::from_secs(30),
        "a stable idle screen",
        |s| {
            same = if s == prev { same + 1 } else { 0 };
            prev = s.to_string();
            same >= 5
        },
    );

    tmux.paste("Create hello.txt with a greeting.");
    tmux.run(&["send-keys", "-t", "live", "Enter"], None);

    poll(
        &tmux,
        &mut rec,
        Duration::from_secs(90),
        "hello.txt",
        |_| std::fs::read_to_string(&target).is_ok_and(|t| t == content),
    );
    // The final text turn shows up and the CLI goes idle again.
    poll(
        &tmux,
        &mut rec,
        Duration::from_secs(60),
        "the final text",
        |s| s.contains("Created hello.txt.") && !s.contains("esc to interrupt"),
    );

    let reqs = server.requests();
    let mut summary = String::new();
    for r in &reqs {
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
    eprintln!("requests seen:\n{summary}");
    if let Some(d) = &rec.dir {
        std::fs::write(d.join("requests.txt"), &summary).expect("requests.txt");
        let first = reqs
            .iter()
            .find(|r| r.answer == Answer::Scripted(0))
            .expect("main request");
        std::fs::write(d.join("main-request.json"), &first.body).expect("main request body");
    }
    assert_eq!(server.answered(), 2, "all scripted turns used:\n{summary}");
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
