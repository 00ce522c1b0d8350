//! An agent controls every file in its worktree (ARCHITECTURE.md, Invariants). Here, in real worktrees of a
//! real daemon with real agents (agent-sim) on a private tmux server, each hostile kind of
//! file — a 3 GB sparse file, a symlink to `/dev/zero`, a FIFO, a symlink to a secret outside
//! the worktree — stands where each gate kind looks (branch file, artifact, verdict), is read
//! by MCP's `read_artifact`, shown in the console's artifact view and, untracked, in its diff
//! view; a command gate prints 2.5 GB. Peak RSS of the daemon and of the console stays under
//! 100 MB, nothing blocks, every gate's reason names what it found, and the secret's content
//! appears nowhere: not in the database (its file and WAL), the events, the feedback, the CLI
//! or the console's screens.

use crate::support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bosun::status::{RunStatus, TaskState};
use bosun::store::runs;
use support::rig::{BOSUN, Daemon, Rig, daemon, wait_for};
use support::terminal::Terminal;

/// What stands where a gate looks.
const CASES: [&str; 4] = ["sparse", "zero", "fifo", "outside"];
/// Where: the branch file (q), the artifact (a), the verdict file (v).
const SLOTS: [&str; 3] = ["q", "a", "v"];
/// Peak RSS allowed for the daemon and the console.
const MAX_RSS_KB: u64 = 100 * 1024;

const LAYER: &str = r#"
[supervisor]
max_concurrency = 16
kill_grace = "1s"
[roles.worker]
provider = "sim"
prompt = '@sim {question = "planted?"}'
[[stages]]
name = "work"
role = "worker"
max_retries = 0
[[stages.branches]]
when_exists = "h/{key}/q.md"
then = "needs_input"
[[stages.gates]]
kind = "artifact"
path = "h/{key}/a.md"
[[stages.gates]]
kind = "command"
command = "[ ! -e h/$BOSUN_TASK/flood ] || head -c 2500000000 /dev/zero"
timeout = "5m"
[[stages.gates]]
kind = "verdict"
path = "h/{key}/v.md"
pass_words = ["APPROVED"]
fail_words = ["REJECTED"]
on_fail = "block"
"#;

fn plant(path: &Path, case: &str, secret: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    match case {
        "sparse" => std::fs::File::create(path)
            .and_then(|f| f.set_len(3 << 30))
            .expect("sparse file"),
        "zero" => std::os::unix::fs::symlink("/dev/zero", path).expect("symlink"),
        "fifo" => assert!(
            Command::new("mkfifo")
                .arg(path)
                .status()
                .expect("mkfifo")
                .success()
        ),
        "outside" => std::os::unix::fs::symlink(secret, path).expect("symlink"),
        _ => unreachable!(),
    }
}

/// What a reason must say about `case` at `rel`.
fn named(case: &str, rel: &str, secret: &Path) -> String {
    match case {
        "zero" => format!("{rel} is a symlink (to /dev/zero), not a regular file"),
        "fifo" => format!("{rel} is a FIFO, not a regular file"),
        "outside" => format!(
            "{rel} is a symlink (to {}), not a regular file",
            secret.display()
        ),
        _ => unreachable!(),
    }
}

/// Peak resident set (`VmHWM`, kB) of process `pid`.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn latest_run(rig: &Rig, key: &str) -> Option<runs::Run> {
    let task = rig.task(key);
    runs::for_task(rig.store().conn(), task.id)
        .expect("runs")
        .pop()
}

/// Opens `key` alone on the board of the console in `term` (filter; `other` is a key on
/// the board that the filter hides), then `view_key`; returns the screen once it shows
/// `expect`.
fn open(term: &Terminal, key: &str, view_key: &str, expect: &str, other: &str) -> String {
    let wait = |what: &str, f: &dyn Fn(&str) -> bool| term.wait(Duration::from_secs(20), what, f);
    for k in ["Escape", "Escape", "1"] {
        term.keys(&[k]);
    }
    wait("the whole board", &|s| s.contains(other));
    term.keys(&["/"]);
    term.keys(&["-l", key]);
    term.keys(&["Enter"]);
    wait(&format!("{key} alone on the board"), &|s| {
        s.contains(key) && !s.contains(other)
    });
    term.keys(&[view_key]);
    wait(&format!("{key}'s view showing {expect:?}"), &|s| {
        s.contains(expect)
    })
}

#[test]
fn hostile_files_in_a_worktree_are_named_never_read_or_followed() {
    let rig = Rig::new(LAYER);
    let repo = rig.dir.path().join("repo");
    std::fs::write(repo.join(".gitignore"), "h/\n").expect("gitignore");
    support::git(&repo, &["add", ".gitignore"]);
    support::git(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "ignore h/",
        ],
    );
    let secret_text = format!("TOPSECRET-{:016x}", fastrand::u64(..));
    let secret = rig.dir.path().join("outside-secret.txt");
    std::fs::write(&secret, &secret_text).expect("secret");

    let mut cases: HashMap<String, (&str, &str)> = HashMap::new();
    for slot in SLOTS {
        for case in CASES {
            let key = rig.add_task(&format!("{slot}-{case}"), "");
            cases.insert(key, (slot, case));
        }
    }
    let flood = rig.add_task("command gate prints 2.5 GB", "");
    let diff = rig.add_task("diff view of hostile untracked files", "");
    let mut keys: Vec<String> = cases.keys().cloned().collect();
    keys.push(flood.clone());
    keys.sort();

    // Killed when dropped, also if an assertion below fails.
    let mut d = Daemon(daemon(&rig));
    let d_pid = d.0.id();
    wait_for(
        Duration::from_secs(180),
        "every agent to ask its question",
        || {
            keys.iter()
                .chain([&diff])
                .all(|k| latest_run(&rig, k).is_some_and(|r| r.status == RunStatus::Waiting))
        },
    );

    // The agents "write" their files.
    let worktree = |key: &str| PathBuf::from(rig.task(key).worktree.expect("worktree"));
    for (key, (slot, case)) in &cases {
        let h = worktree(key).join("h").join(key);
        if *slot == "v" {
            std::fs::create_dir_all(&h).expect("mkdir");
            std::fs::write(h.join("a.md"), "analysis\n").expect("a.md");
        }
        plant(&h.join(format!("{slot}.md")), case, &secret);
    }
    let h = worktree(&flood).join("h").join(&flood);
    std::fs::create_dir_all(&h).expect("mkdir");
    std::fs::write(h.join("a.md"), "analysis\n").expect("a.md");
    std::fs::write(h.join("v.md"), "APPROVED\n").expect("v.md");
    std::fs::write(h.join("flood"), "").expect("flood");
    for (i, case) in CASES.iter().enumerate() {
        plant(
            &worktree(&diff).join(format!("x/{i}-{case}")),
            case,
            &secret,
        );
    }
    // read_artifact (MCP) on each hostile artifact while its run is live.
    let store = rig.store();
    for (key, (slot, case)) in &cases {
        if *slot != "a" {
            continue;
        }
        let run = latest_run(&rig, key).expect("run");
        let rel = format!("h/{key}/a.md");
        let got = bosun::agent::read_artifact(&store, &run, &rel);
        match *case {
            "sparse" => {
                let text = got.expect("a regular file is read, cut");
                assert!(
                    text.ends_with("cut at 524288 of 3221225472 bytes"),
                    "{}",
                    &text[text.len() - 80..]
                );
            }
            _ => {
                let e = got.expect_err("refused").to_string();
                assert_eq!(e, named(case, &rel, &secret));
            }
        }
    }

    // Each answers its question; the gates judge what they left.
    for key in &keys {
        let out = rig.bosun(&["send", key, "go"]).output().expect("send");
        assert!(out.status.success(), "{key}: {out:?}");
    }
    wait_for(Duration::from_secs(240), "every task to be judged", || {
        keys.iter().all(|k| rig.task(k).state != TaskState::Active)
    });
    let daemon_rss = peak_rss_kb(d_pid);
    assert!(
        daemon_rss < MAX_RSS_KB,
        "the daemon peaked at {daemon_rss} kB"
    );
    eprintln!("daemon peak RSS: {daemon_rss} kB");

    // Every gate's reason names what it found.
    let c = store.conn();
    for (key, (slot, case)) in &cases {
        let task = rig.task(key);
        let results = bosun::store::gates::for_task(c, task.id).expect("gates");
        let reasons: Vec<String> = results.iter().map(|g| g.reason.clone()).collect();
        let all = reasons.join("\n");
        let rel = format!("h/{key}/{slot}.md");
        match (*slot, *case) {
            ("q", _) => {
                assert_eq!(task.state, TaskState::NeedsInput, "{key}: {all}");
                if *case != "sparse" {
                    assert!(all.contains(&named(case, &rel, &secret)), "{key}: {all}");
                }
            }
            ("a", "sparse") => assert!(all.contains(&format!("artifact {rel} exists")), "{all}"),
            ("a", _) => {
                assert_eq!(task.state, TaskState::Blocked, "{key}: {all}");
                assert!(all.contains(&named(case, &rel, &secret)), "{key}: {all}");
            }
            ("v", "sparse") => assert!(all.contains(&format!("no verdict in {rel}")), "{all}"),
            ("v", _) => {
                assert_eq!(task.state, TaskState::Blocked, "{key}: {all}");
                assert!(all.contains(&named(case, &rel, &secret)), "{key}: {all}");
            }
            _ => unreachable!(),
        }
    }
    let f = rig.task(&flood);
    assert_eq!(f.state, TaskState::Done, "{:?}", f.state_reason);
    let gates = bosun::store::gates::for_task(c, f.id).expect("gates");
    let out = gates
        .iter()
        .find(|g| g.kind == "command")
        .and_then(|g| g.output.clone())
        .expect("the command's output");
    assert!(
        out.starts_with("… 2499983616 earlier bytes not kept"),
        "{}",
        &out[..60]
    );

    // The console (a client of the daemon): the artifact view of each hostile artifact, the
    // diff view of the hostile untracked files.
    let console = Terminal::new(format!("bosun-hostile-console-{}", std::process::id()));
    let cmd = format!(
        "cd '{dir}' && XDG_CONFIG_HOME='{dir}/xdg' XDG_STATE_HOME='{dir}/state' exec '{BOSUN}' --db '{db}' --config '{dir}/bosun.toml'",
        dir = rig.dir.path().display(),
        db = rig.db().display(),
    );
    console.start(&cmd, 200, 50);
    console.wait(Duration::from_secs(20), "the board", |s| s.contains(&diff));
    let mut screens = Vec::new();
    for (key, (slot, case)) in &cases {
        if *slot != "a" {
            continue;
        }
        let rel = format!("h/{key}/a.md");
        let expect = match *case {
            "sparse" => "cut at 524288".to_string(),
            "fifo" => "is a FIFO".to_string(),
            _ => format!("{rel} is a symlink"),
        };
        screens.push(open(&console, key, "v", &expect, &flood));
    }
    screens.push(open(&console, &diff, "d", "not shown", &flood));
    let s = screens.last().expect("diff screen").clone();
    // (git itself skips the FIFO: it lists no file of that kind, so neither does the view.)
    for what in [
        "3221225472 bytes, not shown",
        "x/1-zero is a symlink (to /dev/zero)",
        "x/3-outside is a symlink (to",
    ] {
        assert!(s.contains(what), "the diff view names {what:?}:\n{s}");
    }
    let console_rss = peak_rss_kb(console.pid());
    eprintln!("console peak RSS: {console_rss} kB");
    assert!(
        console_rss < MAX_RSS_KB,
        "the console peaked at {console_rss} kB"
    );
    console.keys(&["q"]);

    // The secret's content appears nowhere.
    let mut places: Vec<(String, Vec<u8>)> = screens
        .into_iter()
        .map(|s| ("a console screen".to_string(), s.into_bytes()))
        .collect();
    for file in ["bosun.db", "bosun.db-wal"] {
        if let Ok(bytes) = std::fs::read(rig.dir.path().join(file)) {
            places.push((file.to_string(), bytes));
        }
    }
    for key in keys.iter().chain([&diff]) {
        let out = rig.bosun(&["task", "show", key]).output().expect("show");
        places.push((format!("task show {key}"), out.stdout));
        let out = rig
            .bosun(&["task", "show", key, "--json"])
            .output()
            .expect("show");
        places.push((format!("task show {key} --json"), out.stdout));
    }
    let out = rig.bosun(&["log", "-n", "1000"]).output().expect("log");
    places.push(("bosun log".into(), out.stdout));
    for (what, bytes) in &places {
        assert!(
            !bytes
                .windows(secret_text.len())
                .any(|w| w == secret_text.as_bytes()),
            "the secret reached {what}"
        );
    }

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(d_pid).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    assert!(d.0.wait().expect("wait").success());
}
