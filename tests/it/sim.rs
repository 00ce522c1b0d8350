//! The real `bosun agent-sim` in real tmux, on a private server per test: what it shows, what
//! it records, the files it writes, how it exits. Input goes in the way the supervisor sends
//! it (`send-keys`, `load-buffer -` + bracketed `paste-buffer`); the screen is read with
//! `capture-pane` and polled against a deadline, never timed with fixed sleeps.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::support::TmuxServer;

const DEADLINE: Duration = Duration::from_secs(20);
const SPINNER: &str = r"^([·✢✳✶✻✽]) Working… \((\d+)s · esc to interrupt\)$";

/// A private tmux server running `bosun agent-sim` in session `sim`; stopped on drop (its
/// guard, [`TmuxServer`]).
struct Sim {
    server: TmuxServer,
    dir: tempfile::TempDir,
}

impl Sim {
    /// Starts agent-sim with `args` after `agent-sim`, env `env`, in `<tmp>/work`.
    fn start(env: &[(&str, &str)], args: &[&str]) -> Sim {
        let sim = Sim {
            server: TmuxServer::new("bosun-sim-test"),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(sim.work()).expect("mkdir work");
        let work = sim.work().to_str().expect("utf-8 path").to_owned();
        let state = format!("XDG_STATE_HOME={}", sim.path("state").display());
        let mut cmd: Vec<String> = [
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "new-session",
            "-d",
            "-s",
            "sim",
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            &work,
            "-e",
            &state,
        ]
        .into_iter()
        .map(String::from)
        .collect();
        for (k, v) in env {
            cmd.push("-e".into());
            cmd.push(format!("{k}={v}"));
        }
        cmd.push("--".into());
        cmd.push(env!("CARGO_BIN_EXE_bosun").into());
        cmd.push("agent-sim".into());
        cmd.extend(args.iter().map(|a| (*a).to_owned()));
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        sim.tmux_ok(&refs);
        sim
    }

    /// A path in the test's temporary directory.
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The agent's cwd.
    fn work(&self) -> PathBuf {
        self.path("work")
    }

    fn tmux_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new("tmux");
        cmd.arg("-L")
            .arg(self.server.socket())
            .arg("-f")
            .arg("/dev/null")
            .args(args)
            .env_remove("TMUX")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().expect("tmux runs");
        if let Some(bytes) = stdin {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            pipe.write_all(bytes).expect("write to tmux");
        }
        child.wait_with_output().expect("tmux finishes")
    }

    fn tmux(&self, args: &[&str]) -> Output {
        self.tmux_with_stdin(args, None)
    }

    fn tmux_ok(&self, args: &[&str]) -> String {
        let out = self.tmux(args);
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen, one string per line, trailing spaces trimmed by tmux.
    fn screen(&self) -> String {
        self.tmux_ok(&["capture-pane", "-p", "-t", "sim"])
    }

    fn display(&self, format: &str) -> String {
        self.tmux_ok(&["display-message", "-p", "-t", "sim", format])
            .trim_end()
            .to_owned()
    }

    /// Polls `probe` (given the screen) until it returns `Some`, or panics after `limit`.
    fn wait<T>(&self, what: &str, limit: Duration, mut probe: impl FnMut(&str) -> Option<T>) -> T {
        let end = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if let Some(v) = probe(&screen) {
                return v;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen contains `needle`; returns the screen.
    fn wait_for(&self, needle: &str) -> String {
        self.wait(&format!("{needle:?}"), DEADLINE, |s| {
            s.contains(needle).then(|| s.to_owned())
        })
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "sim"];
        args.extend_from_slice(keys);
        self.tmux_ok(&args);
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.tmux_ok(&["send-keys", "-t", "sim", "-l", "--", text]);
    }

    /// Pastes `bytes` the way the supervisor does: `load-buffer -` from stdin, then a
    /// bracketed `paste-buffer` that keeps newlines as they are.
    fn paste(&self, bytes: &[u8]) {
        let out = self.tmux_with_stdin(&["load-buffer", "-b", "sim-test", "-"], Some(bytes));
        assert!(out.status.success(), "load-buffer failed: {out:?}");
        self.tmux_ok(&[
            "paste-buffer",
            "-d",
            "-p",
            "-r",
            "-b",
            "sim-test",
            "-t",
            "sim",
        ]);
    }

    /// Types `text` and presses Enter once it is echoed.
    fn submit_typed(&self, text: &str) {
        self.type_text(text);
        self.wait_for(&format!("> {text}"));
        self.keys(&["Enter"]);
    }

    /// Pastes `text`, waits for its label, and presses Enter.
    fn submit_pasted(&self, text: &[u8]) {
        self.paste(text);
        self.wait_for(&label(text));
        self.keys(&["Enter"]);
    }

    /// The exit status of the agent once its pane is dead.
    ///
    /// tmux 3.3a built with libutempter sometimes misses the agent's SIGCHLD (utempter swaps
    /// in its own handler while it removes the utmp record, tmux/tmux#311): the pane shows
    /// dead with an empty `pane_dead_status` and the agent stays a zombie. Sending SIGCHLD to
    /// the server makes it reap the agent and fill the status in.
    fn wait_exit(&self) -> i32 {
        let end = Instant::now() + DEADLINE;
        loop {
            let shown = self.display("#{pane_dead} #{pane_dead_status}");
            if let Some(code) = shown.strip_prefix("1 ").and_then(|c| c.parse().ok()) {
                return code;
            }
            if shown == "1" {
                let server: i32 = self.display("#{pid}").parse().expect("server pid");
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(server),
                    nix::sys::signal::Signal::SIGCHLD,
                );
            }
            assert!(
                Instant::now() < end,
                "agent still running ({shown}); screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pane_pid(&self) -> i32 {
        self.display("#{pane_pid}").parse().expect("pane pid")
    }
}

/// The label a paste shows: `[Pasted text: N lines, M bytes]`.
fn label(bytes: &[u8]) -> String {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
    let lines = newlines + usize::from(bytes.last().is_some_and(|&b| b != b'\n'));
    format!("[Pasted text: {lines} lines, {} bytes]", bytes.len())
}

/// The lines of a screen, and whether `lines` appear in it consecutively.
fn has_block(screen: &str, lines: &[&str]) -> bool {
    let all: Vec<&str> = screen.lines().collect();
    all.windows(lines.len()).any(|w| w == lines)
}

/// The spinner's glyph and seconds, if the screen shows it.
fn spinner(screen: &str) -> Option<(char, u64)> {
    let re = Regex::new(SPINNER).expect("regex");
    screen.lines().find_map(|l| {
        let c = re.captures(l)?;
        Some((c[1].chars().next()?, c[2].parse().ok()?))
    })
}

/// Processes as (pid, ppid, pgrp, comm), from /proc.
fn processes() -> Vec<(i32, i32, i32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // After the comm: state, ppid, pgrp. Zombies count as gone.
        if fields.len() < 3 || fields[0] == "Z" {
            continue;
        }
        let (Ok(ppid), Ok(pgrp)) = (fields[1].parse(), fields[2].parse()) else {
            continue;
        };
        out.push((pid, ppid, pgrp, comm));
    }
    out
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    crate::support::eventually(DEADLINE, what, || ok().then_some(()));
}

#[test]
fn banner_and_prompt_then_exit_command_exits_zero() {
    let sim = Sim::start(&[], &[]);
    let screen = sim.wait_for("✻ agent-sim");
    let cwd = sim.work().canonicalize().expect("canonical cwd");
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines[0], "✻ agent-sim — bosun's scripted agent");
    assert_eq!(lines[1], format!("  cwd: {}", cwd.display()));
    assert_eq!(lines[2], "");
    assert_eq!(
        lines[3], ">",
        "prompt line (tmux trims the space after `>`)"
    );
    assert_eq!(sim.display("#{cursor_x} #{cursor_y}"), "2 3");

    sim.submit_typed("/exit");
    sim.wait_for("Bye");
    assert_eq!(sim.wait_exit(), 0);
}

#[test]
fn pasted_prompts_are_recorded_byte_exact() {
    let rec = tempfile::tempdir().expect("tempdir");
    let rec_dir = rec.path().to_str().expect("utf-8").to_owned();
    let sim = Sim::start(&[("BOSUN_SIM_RECORD", &rec_dir)], &[]);
    sim.wait_for("✻ agent-sim");

    // Typed text, then a paste full of what breaks naive delivery.
    let hostile = "-rf \"double\" 'single' `tick` $HOME; rm -rf /tmp/x;\n\
                   --leading-dash line\n\
                   \ttab\tseparated\t\n\
                   unicode: héllo — ✓ 日本語 🚀\n\
                   back\\slash \\n not a newline;\n\
                   ; last line starts with a semicolon";
    sim.type_text("typed ü ");
    sim.wait_for("> typed ü");
    sim.paste(hostile.as_bytes());
    let shown = format!("> typed ü {}", label(hostile.as_bytes()));
    sim.wait_for(&shown);
    sim.keys(&["Enter"]);
    let mut want = b"typed \xc3\xbc ".to_vec();
    want.extend_from_slice(hostile.as_bytes());
    sim.wait_for(&format!("● Received prompt ({} bytes)", want.len()));
    let got = std::fs::read(rec.path().join("prompt-1.txt")).expect("prompt-1 recorded");
    assert_eq!(got, want);
    sim.wait_for("✓ Done in 1s: nothing to do");

    // 100 KB in one paste.
    let mut big = Vec::new();
    let mut i = 0;
    while big.len() < 100 * 1024 {
        big.extend_from_slice(format!("{i:06} -x; \"q\" 'q' ✓\tpadding padding\n").as_bytes());
        i += 1;
    }
    big.truncate(100 * 1024);
    sim.submit_pasted(&big);
    sim.wait_for(&format!("● Received prompt ({} bytes)", big.len()));
    let got = std::fs::read(rec.path().join("prompt-2.txt")).expect("prompt-2 recorded");
    assert!(got == big, "100 KB prompt differs ({} bytes)", got.len());
}

#[test]
fn spinner_line_has_the_exact_format_and_esc_interrupts() {
    let sim = Sim::start(&[], &[]);
    sim.wait_for("✻ agent-sim");
    sim.submit_typed("@sim {spin = \"60s\"}");
    let first = sim.wait("the spinner", DEADLINE, spinner);
    // Redrawn in place: another glyph, the same single line, and the seconds go up.
    let later = sim.wait("the spinner to advance", DEADLINE, |s| {
        spinner(s).filter(|&(g, n)| g != first.0 && n >= 1)
    });
    assert!(later.1 >= first.1);
    let screen = sim.screen();
    let re = Regex::new(SPINNER).expect("regex");
    assert_eq!(screen.lines().filter(|l| re.is_match(l)).count(), 1);

    sim.keys(&["Escape"]);
    let screen = sim.wait_for("✗ Interrupted");
    assert!(spinner(&screen).is_none(), "spinner left behind:\n{screen}");
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "✗ Interrupted")
        .expect("interrupted line");
    assert_eq!(&lines[at + 1..at + 3], ["", ">"]);
}

#[test]
fn permission_dialog_is_answered_then_erased() {
    let sim = Sim::start(&[("BOSUN_TASK", "T-9")], &[]);
    sim.wait_for("✻ agent-sim");
    sim.submit_pasted(
        b"Write the plan.\n\
          @sim {ask = \"docs/{key}/plan.md\"}\n\
          @sim {write = \"docs/{key}/plan.md\", text = \"the plan for {key}\\n\"}\n",
    );
    // First the pre-dialog line (input still live), then the dialog.
    sim.wait_for("● Waiting for permission…");
    let dialog = [
        "Do you want to create docs/T-9/plan.md?",
        "❯ 1. Yes",
        "  2. No",
    ];
    sim.wait("the permission dialog", DEADLINE, |s| {
        has_block(s, &dialog).then_some(())
    });
    let screen = sim.screen();
    assert!(
        spinner(&screen).is_none(),
        "spinner during dialog:\n{screen}"
    );

    // The dialog drops keys for 0.1 s after it is drawn, as Claude Code 2.1.332's does.
    std::thread::sleep(Duration::from_millis(200));
    sim.keys(&["1"]);
    let screen = sim.wait_for("✓ Done in");
    assert!(screen.contains("● Permission granted"), "{screen}");
    assert!(
        screen.contains("✓ Done in 0s: wrote docs/T-9/plan.md"),
        "{screen}"
    );
    for line in dialog {
        assert!(
            !screen.lines().any(|l| l == line.trim_end()),
            "dialog line {line:?} still on screen:\n{screen}"
        );
    }
    let plan = std::fs::read_to_string(sim.work().join("docs/T-9/plan.md")).expect("plan");
    assert_eq!(plan, "the plan for T-9\n");

    // Denied: nothing written, the turn is cancelled.
    sim.submit_pasted(b"@sim {ask = \"secret.md\"}\n@sim {write = \"secret.md\", text = \"no\"}");
    sim.wait_for("Do you want to create secret.md?");
    std::thread::sleep(Duration::from_millis(200));
    sim.keys(&["2"]);
    let screen = sim.wait_for("✗ Cancelled: permission denied");
    assert!(screen.contains("● Permission denied"), "{screen}");
    assert!(
        !screen.contains("Do you want to create secret.md?"),
        "{screen}"
    );
    assert!(!sim.work().join("secret.md").exists());
}

#[test]
fn question_is_answered_then_erased() {
    let sim = Sim::start(&[], &[]);
    sim.wait_for("✻ agent-sim");
    sim.submit_typed("@sim {question = \"Which colour?\"}");
    sim.wait("the question", DEADLINE, |s| {
        has_block(s, &["? Which colour?", ">"]).then_some(())
    });
    sim.type_text("teal");
    sim.wait_for("> teal");
    sim.keys(&["Enter"]);
    let screen = sim.wait_for("✓ Done in");
    assert!(screen.contains("● Answer: teal"), "{screen}");
    assert!(!screen.contains("? Which colour?"), "{screen}");
}

#[test]
fn scenario_writes_expand_key_and_conditions_pick_the_verdict() {
    // The scenario is passed on the command line; the default steps must not run in review.
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        r#"
[[steps]]
say = "default steps, not for review"

[stages.review]
steps = [
  { write = "docs/work-items/{key}/12-review.md", text = "REQUEST_CHANGES\nadd tests ({run})\n",
    unless_exists = "docs/work-items/{key}/12-review.md" },
  { write = "docs/work-items/{key}/12-review.md", text = "APPROVED\nfine ({run})\n",
    if_exists = "docs/work-items/{key}/12-review.md" },
  { say = "only in develop", stage = "develop" },
]
"#,
    )
    .expect("write scenario");
    let scenario = scenario.to_str().expect("utf-8").to_owned();
    let sim = Sim::start(
        &[
            ("BOSUN_TASK", "T-42"),
            ("BOSUN_STAGE", "review"),
            ("BOSUN_RUN_ID", "r7"),
        ],
        &["--scenario", &scenario],
    );
    sim.wait_for("✻ agent-sim");
    let review = sim.work().join("docs/work-items/T-42/12-review.md");
    let done = ": wrote docs/work-items/T-42/12-review.md";

    sim.submit_typed("review it");
    sim.wait_for(done);
    assert_eq!(
        std::fs::read_to_string(&review).expect("review"),
        "REQUEST_CHANGES\nadd tests (r7)\n"
    );

    sim.submit_typed("review again");
    sim.wait("the second verdict", DEADLINE, |s| {
        (s.matches(done).count() == 2).then_some(())
    });
    assert_eq!(
        std::fs::read_to_string(&review).expect("review"),
        "APPROVED\nfine (r7)\n"
    );
    let screen = sim.screen();
    assert!(!screen.contains("default steps"), "{screen}");
    assert!(!screen.contains("only in develop"), "{screen}");
}

#[test]
fn fail_prints_the_api_error_and_exits_with_its_code() {
    let sim = Sim::start(&[], &[]);
    sim.wait_for("✻ agent-sim");
    sim.submit_typed("@sim {fail = \"429 Too Many Requests … retry-after: 7\", code = 42}");
    assert_eq!(sim.wait_exit(), 42);
    let screen = sim.screen();
    assert!(
        screen
            .lines()
            .any(|l| l == "✗ API Error: 429 Too Many Requests … retry-after: 7"),
        "{screen}"
    );
}

#[test]
fn bad_sim_line_is_an_api_error_with_exit_code_two() {
    let sim = Sim::start(&[], &[]);
    sim.wait_for("✻ agent-sim");
    sim.submit_pasted(b"first line\n@sim {say = \"unterminated}");
    assert_eq!(sim.wait_exit(), 2);
    assert!(sim.screen().contains("✗ API Error: bad @sim line 2: "));
}

#[test]
fn ctrl_c_exits_130() {
    let sim = Sim::start(&[], &[]);
    sim.wait_for("✻ agent-sim");
    sim.keys(&["C-c"]);
    assert_eq!(sim.wait_exit(), 130);
}

#[test]
fn hang_survives_sigterm_and_esc_with_its_children() {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;

    let sim = Sim::start(&[], &[]);
    sim.wait_for("✻ agent-sim");
    sim.submit_typed("@sim {hang = true, ignore_sigterm = true, children = 2}");
    sim.wait("the spinner", DEADLINE, spinner);
    let pid = sim.pane_pid();
    let sleepers = || {
        processes()
            .into_iter()
            .filter(|&(_, ppid, pgrp, ref comm)| ppid == pid && pgrp == pid && comm == "sleep")
            .count()
    };
    wait_until("two sleep children", || sleepers() == 2);

    sim.keys(&["Escape"]);
    kill(Pid::from_raw(pid), Signal::SIGTERM).expect("SIGTERM");
    let (_, at_signal) = sim.wait("the spinner", DEADLINE, spinner);
    // Still drawing seconds later: alive, not interrupted.
    sim.wait("the spinner to keep counting", DEADLINE, |s| {
        spinner(s).filter(|&(_, n)| n >= at_signal + 2)
    });
    assert_eq!(sim.display("#{pane_dead}"), "0");
    assert_eq!(sleepers(), 2);
    assert!(!sim.screen().contains("✗ Interrupted"));

    // The whole tree goes with its process group.
    killpg(Pid::from_raw(pid), Signal::SIGKILL).expect("SIGKILL group");
    wait_until("no process left in the group", || {
        processes().iter().all(|&(_, _, pgrp, _)| pgrp != pid)
    });
}

#[test]
fn flood_of_fifty_thousand_lines_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("flood.toml");
    std::fs::write(&scenario, "[[steps]]\nflood = 50000\n").expect("write scenario");
    let scenario = scenario.to_str().expect("utf-8").to_owned();
    let sim = Sim::start(&[("BOSUN_SIM_SCENARIO", &scenario)], &[]);
    sim.wait_for("✻ agent-sim");
    sim.submit_typed("flood me");
    let screen = sim.wait("the flood to finish", Duration::from_secs(120), |s| {
        s.contains("✓ Done in").then(|| s.to_owned())
    });
    assert!(
        has_block(&screen, &["line 50000 of 50000"]),
        "last line missing:\n{screen}"
    );
    assert!(screen.contains(": nothing to do"), "{screen}");
}
