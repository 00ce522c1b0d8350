//! Text that agents, models or task authors wrote never reaches the operator's terminal raw
//! from the CLI: `bosun task show`, `task list`, `log` and `queue` run in a real tmux pane,
//! their raw output captured byte for byte (`pipe-pane`), hold no ESC, BEL or C1 control
//! from a hostile title, spec and agent-written feedback; `--json` escapes by construction;
//! piped into another program they are made safe the same way (`--raw` opts out); a carriage
//! return in a title shows as `\r` instead of hiding what came before it; `bosun log |
//! head -1` ends quietly with status 0.

use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::Fixture;

/// A title that would retitle the terminal, set the clipboard (OSC 52), clear the screen,
/// ring the bell and carry C1 controls.
const HOSTILE: &str = "Fix \x1b]0;pwned\x07 \x1b]52;c;cm0gLXJmIH4=\x1b\\ \x1b[2J\x1b[H\u{9b}31m\u{90}dcs\u{9c} \x07 parser";

fn bosun(fx: &Fixture) -> String {
    format!(
        "{} --db {}",
        env!("CARGO_BIN_EXE_bosun"),
        fx.db_path().display()
    )
}

/// Runs `command` (a shell line) as the only program of a fresh tmux pane; returns every
/// byte it wrote to its terminal.
fn in_a_terminal(fx: &Fixture, command: &str) -> Vec<u8> {
    let socket = format!("bosun-tsafe-{}-{}", std::process::id(), fastrand::u32(..));
    let raw = fx.dir.path().join(format!("{socket}.raw"));
    let done = fx.dir.path().join(format!("{socket}.done"));
    let tmux = |args: &[&str]| {
        let ok = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null"])
            .args(args)
            .status()
            .expect("tmux")
            .success();
        assert!(ok, "tmux {args:?}");
    };
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "200",
        "-y",
        "50",
        "sleep 0.5; sleep 100",
    ]);
    tmux(&[
        "pipe-pane",
        "-t",
        "t",
        "-o",
        &format!("cat >> {}", raw.display()),
    ]);
    tmux(&[
        "respawn-pane",
        "-k",
        "-t",
        "t",
        &format!(
            "sleep 0.3; cd {}; {command}; touch {}; sleep 100",
            fx.dir.path().display(),
            done.display()
        ),
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done.exists() {
        assert!(Instant::now() < deadline, "{command} did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .status();
    std::fs::read(&raw).expect("raw output")
}

/// Positions of ESC, BEL and C1 controls (U+0080–U+009F) in `bytes`.
fn controls(bytes: &[u8]) -> Vec<usize> {
    let text = String::from_utf8_lossy(bytes);
    text.char_indices()
        .filter(|(_, c)| matches!(*c, '\x1b' | '\x07') || ('\u{80}'..='\u{9f}').contains(c))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn agent_and_author_text_reaches_the_terminal_without_escapes() {
    let fx = Fixture::new("true");
    let add = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .arg("--db")
        .arg(fx.db_path())
        .args(["task", "add", HOSTILE, "--spec", "-"])
        .current_dir(fx.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(HOSTILE.as_bytes())?;
            c.wait_with_output()
        })
        .expect("task add");
    assert!(add.status.success(), "{add:?}");
    let key = "ET-001";
    // The agent's run fails with a hostile error: it lands in the job, the events and the
    // feedback of the next run.
    let task = fx.task(key);
    let out = fx.fail(&task, &format!("error: {HOSTILE}"), false);
    eprintln!("{out:?}");
    let b = bosun(&fx);
    for cmd in [
        format!("{b} task show {key}"),
        format!("{b} task list"),
        format!("{b} log"),
        format!("{b} queue"),
    ] {
        let bytes = in_a_terminal(&fx, &cmd);
        let text = String::from_utf8_lossy(&bytes);
        if !cmd.ends_with(" queue") {
            assert!(
                text.contains("parser"),
                "{cmd}: the text is there, made safe:\n{text}"
            );
        }
        assert!(
            controls(&bytes).is_empty(),
            "{cmd} wrote control bytes at {:?}:\n{text:?}",
            controls(&bytes)
        );
    }
    // Piped, --json escapes them by construction.
    let json = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .arg("--db")
        .arg(fx.db_path())
        .args(["task", "show", key, "--json"])
        .output()
        .expect("json");
    assert!(controls(&json.stdout).is_empty());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(v["task"]["title"], HOSTILE, "the data itself is kept whole");
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    let fx = Fixture::new("true");
    for i in 0..30 {
        fx.add_task(&format!("Task {i}"));
    }
    let out = Command::new("bash")
        .args([
            "-c",
            &format!("set -o pipefail; {} log -n 1000 | head -1", bosun(&fx)),
        ])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

#[test]
fn piped_output_is_safe_too_and_raw_opts_out() {
    let fx = Fixture::new("true");
    fx.add_task(HOSTILE);
    fx.add_task("rm -rf / on prod\rFix typo");
    let task = fx.task("ET-001");
    fx.fail(&task, &format!("error: {HOSTILE}"), false);
    let send = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .arg("--db")
        .arg(fx.db_path())
        .args(["send", "ET-001", HOSTILE, "--when-idle"])
        .output()
        .expect("send");
    assert!(send.status.success(), "{send:?}");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_bosun"))
            .arg("--db")
            .arg(fx.db_path())
            .args(args)
            .output()
            .expect("bosun");
        assert!(out.status.success(), "{args:?}: {out:?}");
        out.stdout
    };
    for args in [
        &["task", "show", "ET-001"][..],
        &["task", "show", "ET-002"],
        &["task", "list"],
        &["log"],
        &["queue"],
        &["inbox"],
    ] {
        let bytes = run(args);
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            controls(&bytes).is_empty() && !bytes.contains(&b'\r'),
            "{args:?} wrote control bytes at {:?}:\n{text:?}",
            controls(&bytes)
        );
        if args != ["queue"] && args != ["task", "show", "ET-001"] {
            assert!(
                text.contains("rm -rf / on prod\\rFix typo") || args[0] == "inbox",
                "{args:?}: the whole title, its CR visible:\n{text}"
            );
        }
        if args == ["inbox"] || args == ["log"] || args == ["task", "show", "ET-001"] {
            assert!(text.contains("parser"), "{args:?}:\n{text}");
        }
    }
    let raw = run(&["task", "show", "ET-001", "--raw"]);
    assert!(
        raw.windows(5).any(|w| w == b"\x1b]0;p"),
        "--raw prints the title as written"
    );
}
