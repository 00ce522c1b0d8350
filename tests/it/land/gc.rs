//! `bosun gc`: what landed, cancelled and gone tasks left behind, and nothing of a live task.

use std::process::Command;

use crate::support::{Fixture, git};

use bosun::status::TaskState;
use bosun::store::{now_ms, tasks};

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

/// Gives task `key` a worktree with its branch (one commit on it), in `state`.
fn with_worktree(fx: &Fixture, key: &str, state: TaskState) {
    let task = fx.task(key);
    let branch = format!("bosun/{key}-x");
    let wt = fx
        .dir
        .path()
        .join("worktrees")
        .join("example-tool")
        .join(key);
    bosun::git::ensure_worktree(&fx.repo, &wt, &branch, "main").expect("worktree");
    std::fs::write(wt.join(format!("{key}.txt")), "work\n").expect("write");
    bosun::git::commit_all(&wt, "work").expect("commit");
    fx.store
        .write(|tx| {
            tasks::set_worktree(tx, task.id, &branch, &wt.to_string_lossy(), now_ms())?;
            tasks::set_stage(tx, task.id, "done", state, None, now_ms())
        })
        .expect("task");
}

fn gc(fx: &Fixture, args: &[&str]) -> serde_json::Value {
    let out = Command::new(BOSUN)
        .arg("--db")
        .arg(fx.db_path())
        .args(["gc", "--json"])
        .args(args)
        .current_dir(fx.dir.path())
        .output()
        .expect("bosun gc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn gc_lists_only_what_landed_and_cancelled_tasks_left_behind() {
    let fx = Fixture::new("true");
    let keys: Vec<String> = (0..4)
        .map(|i| fx.add_task(&format!("t{i}")).0.key)
        .collect();
    with_worktree(&fx, &keys[0], TaskState::Landed);
    with_worktree(&fx, &keys[1], TaskState::Cancelled);
    with_worktree(&fx, &keys[2], TaskState::Active);
    with_worktree(&fx, &keys[3], TaskState::Done);
    // The landed task's branch is in main (merged), the cancelled one's is not.
    git(
        &fx.repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "merge",
            "-q",
            "--no-edit",
            &format!("bosun/{}-x", keys[0]),
        ],
    );
    let listed = gc(&fx, &["--dry-run"]);
    let rows = listed.as_array().expect("rows");
    let seen: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap_or("").to_string(),
                r["task"].as_str().unwrap_or("-").to_string(),
                r["result"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = |kind: &str, key: &str| {
        (
            kind.to_string(),
            key.to_string(),
            "would remove".to_string(),
        )
    };
    assert_eq!(
        seen,
        [
            want("worktree", &keys[0]),
            want("branch", &keys[0]),
            want("worktree", &keys[1]),
            want("branch", &keys[1]),
        ],
        "{listed:#}"
    );
    // A dry run removed nothing.
    let wt = |k: &str| fx.dir.path().join("worktrees/example-tool").join(k);
    assert!(wt(&keys[0]).exists() && wt(&keys[1]).exists());
    // For real: the landed task's worktree and merged branch go; the cancelled task's
    // worktree goes, its unmerged branch is kept; the live tasks keep everything.
    let done = gc(&fx, &[]);
    let results: Vec<&str> = done
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["result"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(results[..3], ["removed", "removed", "removed"], "{done:#}");
    assert!(results[3].starts_with("kept"), "{done:#}");
    assert!(!wt(&keys[0]).exists() && !wt(&keys[1]).exists());
    assert!(wt(&keys[2]).exists() && wt(&keys[3]).exists());
    let branches = Command::new("git")
        .arg("-C")
        .arg(&fx.repo)
        .args(["branch", "--list", "bosun/*", "--format=%(refname:short)"])
        .output()
        .expect("git");
    let branches = String::from_utf8_lossy(&branches.stdout);
    let left: Vec<&str> = branches.lines().collect();
    assert_eq!(
        left,
        [
            format!("bosun/{}-x", keys[1]),
            format!("bosun/{}-x", keys[2]),
            format!("bosun/{}-x", keys[3])
        ]
    );
}
