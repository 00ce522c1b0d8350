//! Private by default (issue 18): what bosun writes is the operator's alone, and a run's hook
//! token is on no command line and not in the database in clear. Real binaries, real tmux,
//! real files.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bosun::status::{RunStatus, TaskState};
use bosun::store::hooks;
use bosun::store::runs;
use support::rig::{BOSUN, Rig, daemon, tick_until, wait_for};

/// Every file and directory under `roots` (not following links) that group or others may
/// read, write or enter, with its mode.
fn loose(roots: &[PathBuf]) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = roots.to_vec();
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        seen += 1;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            out.push((p.clone(), mode));
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).expect("read_dir").flatten() {
                stack.push(e.path());
            }
        }
    }
    assert!(seen > 0, "nothing found under {roots:?}");
    out
}

/// One stage on `sim` whose agent writes its artifact.
const ONE_STAGE: &str = "[supervisor]\nkill_grace = \"1s\"\n\
    [roles.r-only]\nprovider = \"sim\"\nprompt = '''\n@sim {write = \"out-only.md\", text = \"ok\"}\n'''\n\
    [[stages]]\nname = \"only\"\nrole = \"r-only\"\n[[stages.gates]]\nkind = \"artifact\"\npath = \"out-only.md\"\n";

#[test]
fn nothing_init_a_daemon_or_the_demo_writes_is_open_to_group_or_others() {
    // `bosun init`.
    let scratch = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BOSUN)
        .arg("init")
        .current_dir(scratch.path())
        .env("XDG_STATE_HOME", scratch.path().join("state"))
        .output()
        .expect("bosun init");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        loose(&[
            scratch.path().join("bosun.toml"),
            scratch.path().join("state")
        ]),
        []
    );

    // A daemon's run, on a database the test made 0644 (as an older bosun did): tightened.
    let rig = Rig::new(ONE_STAGE);
    std::fs::set_permissions(rig.db(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let key = rig.add_task("Private", "");
    let mut d = daemon(&rig);
    wait_for(Duration::from_secs(60), "the task done", || {
        rig.task(&key).state == TaskState::Done
    });
    let _ = Command::new("kill")
        .arg(d.id().to_string())
        .status()
        .expect("kill");
    let _ = d.wait();
    let dir = rig.dir.path();
    let mut written: Vec<PathBuf> = ["runs", "worktrees", "tmux.conf", "daemon.log", "state"]
        .iter()
        .map(|n| dir.join(n))
        .collect();
    for suffix in ["", "-wal", "-shm"] {
        written.push(PathBuf::from(format!("{}{suffix}", rig.db().display())));
    }
    assert!(dir.join("runs").read_dir().expect("runs").count() > 0);
    assert_eq!(loose(&written), [], "after a daemon run");

    // The demo, in a directory of its own making (mkdtemp under $TMPDIR), kept afterwards.
    let tmp = scratch.path().join("tmpdir");
    std::fs::create_dir(&tmp).expect("mkdir");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let out = Command::new(BOSUN)
        .args(["demo", "--headless", "--auto-approve", "--keep"])
        .env("TMPDIR", &tmp)
        .env("XDG_STATE_HOME", scratch.path().join("demo-state"))
        .env("XDG_DATA_HOME", scratch.path().join("demo-data"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(socket) = stdout
        .lines()
        .find_map(|l| l.split("tmux -L ").nth(1))
        .and_then(|s| s.split_whitespace().next())
    {
        // The kept demo's server: stopped by the kit's one guard.
        drop(crate::support::TmuxServer::named(socket));
    }
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .expect("tmpdir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    let name = made[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("bosun-demo-") && name != format!("bosun-demo-{}", out.status),
        "{name}"
    );
    assert!(
        !name
            .trim_start_matches("bosun-demo-")
            .chars()
            .all(|c| c.is_ascii_digit()),
        "not a pid: {name}"
    );
    assert!(made[0].join("bosun.db").exists() && made[0].join("runs").exists());
    assert_eq!(
        loose(&[made[0].clone(), scratch.path().join("demo-state")]),
        [],
        "after the demo"
    );
}

#[test]
fn a_claude_profile_runs_tokens_are_on_no_command_line_and_not_in_the_database() {
    // The sim profile is wired like Claude Code (`--settings` hooks run with `sh -c`). Its
    // agent writes 50 files (a PreToolUse hook each, after UserPromptSubmit), then spins.
    let mut prompt: String = (0..50)
        .map(|i| format!("@sim {{write = \"f{i}.md\", text = \"x\"}}\n"))
        .collect();
    prompt.push_str("@sim {spin = \"60s\"}");
    let layer = format!(
        "[supervisor]\nkill_grace = \"1s\"\n[roles.r-only]\nprovider = \"sim\"\n\
         prompt = '''\n{prompt}\n'''\n[[stages]]\nname = \"only\"\nrole = \"r-only\"\n"
    );
    let rig = Rig::new(&layer);
    rig.add_task("Hooked fifty times", "");
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = support::sample_command_lines(Arc::clone(&stop));
    let mut sup = rig.supervisor();
    let store = rig.store();
    tick_until(&mut sup, Duration::from_secs(60), "50 hook calls", |s| {
        s.run_statuses().iter().any(|(run, _, st)| {
            *st == RunStatus::Busy && hooks::for_run(store.conn(), *run).expect("hooks").len() >= 51
        })
    });
    stop.store(true, Ordering::Relaxed);
    let seen = sampler.join().expect("sampler");
    let (run_id, _, _) = sup.run_statuses()[0].clone();
    let token = support::run_token(&store, run_id).expect("the agent holds its token");
    assert_eq!(token.len(), 32);

    // No command line ever showed it; the sampler did see the hook calls' own.
    assert_eq!(
        support::lines_with(&seen, &token),
        Vec::<String>::new(),
        "token on a command line"
    );
    let hook_calls = support::hook_calls_caught(&seen);
    eprintln!(
        "{} distinct command lines sampled; hook calls caught {hook_calls} times",
        seen.len()
    );
    assert!(hook_calls > 0, "the sampler never caught a hook call");

    // Not in the database, its WAL, the run's settings file or its log either.
    let dir = rig.dir.path();
    let mut files = vec![
        rig.db(),
        dir.join("bosun.db-wal"),
        dir.join(format!("runs/{run_id}.settings.json")),
        dir.join(format!("runs/{run_id}.log")),
    ];
    files.retain(|f| f.exists());
    assert!(files.len() >= 3, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "{} holds the token in clear",
            f.display()
        );
    }
    let hash = runs::hook_token_hash(store.conn(), run_id)
        .expect("query")
        .and_then(|(h, _)| h)
        .expect("a hash");
    assert_eq!(hash, bosun::secret::token_hash(&token));
}
