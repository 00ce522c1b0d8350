//! The git layer on real repositories in temporary directories.

use crate::support;

use std::path::PathBuf;
use std::process::Command;

use bosun::git::{self, DiffStat, GitError, WorktreeStatus};

/// A repository `repo` on `main` with one commit (README.md = "demo\n"), in a temp dir.
struct Repo {
    dir: tempfile::TempDir,
    repo: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = support::init_repo(dir.path());
        Repo { dir, repo }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A worktree `wt/<name>` on a new branch `bosun/<name>` from main.
    fn worktree(&self, name: &str) -> (PathBuf, String) {
        let path = self.path(&format!("wt/{name}"));
        let branch = format!("bosun/{name}");
        git::ensure_worktree(&self.repo, &path, &branch, "main").expect("ensure_worktree");
        (path, branch)
    }
}

use crate::support::git_output as sh_git;

#[test]
fn git_is_present() {
    git::check().expect("git installed");
}

#[test]
fn branch_names_are_slugged_and_valid() {
    let cases = [
        ("T-12", "Fix the login bug!", "bosun/T-12-fix-the-login-bug"),
        ("K1", "  --Hello,,,World!!  ", "bosun/K1-hello-world"),
        (
            "K1",
            "Ünïcødé café — naïve résumé, Straße",
            "bosun/K1-unicode-cafe-naive-resume-strasse",
        ),
        ("K1", "日本語のタイトル", "bosun/K1"),
        ("K1", "emoji 🦀 rust", "bosun/K1-emoji-rust"),
        ("a b/c", "x", "bosun/a-b-c-x"),
        ("K1", "../../etc/passwd.lock", "bosun/K1-etc-passwd-lock"),
    ];
    for (key, title, want) in cases {
        assert_eq!(git::branch_name(key, title), want, "{key} {title:?}");
    }
    let long = git::branch_name("K", &"word ".repeat(30));
    let slug = long.strip_prefix("bosun/K-").expect("prefix");
    assert!(slug.len() <= git::MAX_SLUG, "{long}");
    assert!(!slug.ends_with('-'), "{long}");

    let dir = tempfile::tempdir().expect("tempdir");
    for title in [
        "Fix: the *thing* [urgent] ~now^ @{x} ?",
        "...",
        "a..b",
        "x.lock",
    ] {
        let name = git::branch_name("T-1", title);
        sh_git(
            dir.path(),
            &["check-ref-format", &format!("refs/heads/{name}")],
        );
    }
}

#[test]
fn head_branch_follows_head() {
    let r = Repo::new();
    assert_eq!(git::head_branch(&r.repo).expect("head"), "main");
    sh_git(&r.repo, &["checkout", "-q", "-b", "dev"]);
    assert_eq!(git::head_branch(&r.repo).expect("head"), "dev");
    sh_git(&r.repo, &["checkout", "-q", "--detach"]);
    assert!(matches!(
        git::head_branch(&r.repo),
        Err(GitError::DetachedHead { .. })
    ));
    let not_repo = r.path("plain");
    std::fs::create_dir_all(&not_repo).expect("mkdir");
    assert!(matches!(
        git::head_branch(&not_repo),
        Err(GitError::Failed { .. })
    ));
}

#[test]
fn ensure_worktree_creates_then_reuses() {
    let r = Repo::new();
    let path = r.path("wt/deep/one");
    let branch = git::branch_name("T-1", "First task");
    git::ensure_worktree(&r.repo, &path, &branch, "main").expect("create");
    assert_eq!(
        std::fs::read(path.join("README.md")).expect("file"),
        b"demo\n"
    );
    assert_eq!(sh_git(&path, &["branch", "--show-current"]), branch);

    // Again: same worktree, nothing changes (even with work in it).
    std::fs::write(path.join("work.txt"), "wip\n").expect("write");
    git::ensure_worktree(&r.repo, &path, &branch, "main").expect("reuse");
    assert!(path.join("work.txt").exists());

    // Same path, other branch: refused.
    let err = git::ensure_worktree(&r.repo, &path, "bosun/other", "main").expect_err("wrong");
    assert!(matches!(err, GitError::WrongBranch { .. }), "{err}");
}

#[test]
fn ensure_worktree_attaches_an_existing_branch() {
    let r = Repo::new();
    sh_git(&r.repo, &["branch", "bosun/kept", "main"]);
    let path = r.path("wt/kept");
    git::ensure_worktree(&r.repo, &path, "bosun/kept", "no-such-base").expect("attach");
    assert_eq!(sh_git(&path, &["branch", "--show-current"]), "bosun/kept");
}

#[test]
fn ensure_worktree_recreates_a_deleted_one_and_refuses_foreign_dirs() {
    let r = Repo::new();
    let (path, branch) = r.worktree("gone");
    std::fs::remove_dir_all(&path).expect("rm");
    git::ensure_worktree(&r.repo, &path, &branch, "main").expect("recreate");
    assert!(path.join("README.md").exists());

    let taken = r.path("taken");
    std::fs::create_dir_all(&taken).expect("mkdir");
    std::fs::write(taken.join("x"), "x").expect("write");
    let err = git::ensure_worktree(&r.repo, &taken, "bosun/taken", "main").expect_err("taken");
    assert!(matches!(err, GitError::PathTaken { .. }), "{err}");

    let err = git::ensure_worktree(&r.repo, &r.path("wt/x"), "bosun/x", "nope").expect_err("base");
    assert!(matches!(err, GitError::Failed { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn commit_all_commits_everything_then_nothing() {
    let r = Repo::new();
    let (wt, _) = r.worktree("c");
    assert_eq!(git::commit_all(&wt, "nothing yet").expect("commit"), None);

    std::fs::write(wt.join("new.txt"), "new\n").expect("write");
    std::fs::write(wt.join("README.md"), "changed\n").expect("write");
    let sha = git::commit_all(&wt, "-leading dash; \"quotes\" $HOME")
        .expect("commit")
        .expect("a commit");
    assert_eq!(sha, sh_git(&wt, &["rev-parse", "HEAD"]));
    assert_eq!(
        sh_git(&wt, &["log", "-1", "--format=%s"]),
        "-leading dash; \"quotes\" $HOME"
    );
    assert_eq!(sh_git(&wt, &["status", "--porcelain"]), "");
    assert_eq!(git::commit_all(&wt, "again").expect("commit"), None);
}

#[test]
fn commit_all_uses_the_configured_identity() {
    let r = Repo::new();
    let (wt, _) = r.worktree("id");
    sh_git(&r.repo, &["config", "user.name", "Alice Example"]);
    sh_git(&r.repo, &["config", "user.email", "alice@example.org"]);
    std::fs::write(wt.join("a.txt"), "a\n").expect("write");
    git::commit_all(&wt, "by alice")
        .expect("commit")
        .expect("a commit");
    assert_eq!(
        sh_git(&wt, &["log", "-1", "--format=%an <%ae>"]),
        "Alice Example <alice@example.org>"
    );
}

/// Runs `commit_all_without_identity_child` in a child process whose HOME is empty and
/// whose system config is ignored, so no identity is configured anywhere (changing this
/// process's environment would race with the other tests).
#[test]
fn commit_all_works_without_any_identity() {
    let home = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    // The test's name as libtest knows it: its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = if module.is_empty() {
        "commit_all_without_identity_child".to_string()
    } else {
        format!("{module}::commit_all_without_identity_child")
    };
    cmd.args(["--exact", name.as_str(), "--test-threads=1"])
        .env("BOSUN_GIT_IDENTITY_CHILD", "1")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for var in [
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
        "GIT_CONFIG_GLOBAL",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("run child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn commit_all_without_identity_child() {
    if std::env::var_os("BOSUN_GIT_IDENTITY_CHILD").is_none() {
        return; // Only meaningful inside commit_all_works_without_any_identity.
    }
    let r = Repo::new();
    let unset = Command::new("git")
        .arg("-C")
        .arg(&r.repo)
        .args(["config", "--get", "user.name"])
        .output()
        .expect("git config");
    assert!(
        !unset.status.success(),
        "an identity is configured after all"
    );
    let (wt, _) = r.worktree("anon");
    std::fs::write(wt.join("a.txt"), "a\n").expect("write");
    git::commit_all(&wt, "anonymous")
        .expect("commit")
        .expect("a commit");
    assert_eq!(
        sh_git(&wt, &["log", "-1", "--format=%an <%ae>|%cn <%ce>"]),
        "bosun <bosun@localhost>|bosun <bosun@localhost>"
    );
}

#[test]
fn status_reports_dirty_and_unpushed() {
    let r = Repo::new();
    let (wt, branch) = r.worktree("s");
    let clean = WorktreeStatus {
        dirty: false,
        unpushed: 0,
    };
    assert_eq!(git::status(&wt, "main").expect("status"), clean);

    std::fs::write(wt.join("untracked.txt"), "u\n").expect("write");
    assert!(git::status(&wt, "main").expect("status").dirty);

    git::commit_all(&wt, "one").expect("commit");
    std::fs::write(wt.join("second.txt"), "2\n").expect("write");
    git::commit_all(&wt, "two").expect("commit");
    assert_eq!(
        git::status(&wt, "main").expect("status"),
        WorktreeStatus {
            dirty: false,
            unpushed: 2
        }
    );

    // Pushed to an upstream: nothing is only here any more.
    let remote = r.path("remote.git");
    sh_git(
        r.dir.path(),
        &["init", "-q", "--bare", remote.to_str().expect("utf-8")],
    );
    sh_git(
        &r.repo,
        &["remote", "add", "origin", remote.to_str().expect("utf-8")],
    );
    sh_git(&wt, &["push", "-q", "-u", "origin", &branch]);
    assert_eq!(git::status(&wt, "main").expect("status"), clean);

    // Merged into base: also safe.
    let (wt2, b2) = r.worktree("merged");
    std::fs::write(wt2.join("m.txt"), "m\n").expect("write");
    git::commit_all(&wt2, "m").expect("commit");
    sh_git(&r.repo, &["merge", "-q", "--ff-only", &b2]);
    assert_eq!(git::status(&wt2, "main").expect("status").unpushed, 0);
}

#[test]
fn remove_worktree_refuses_to_lose_work_unless_forced() {
    let r = Repo::new();
    let (wt, branch) = r.worktree("rm");

    std::fs::write(wt.join("wip.txt"), "wip\n").expect("write");
    let err = git::remove_worktree(&r.repo, &wt, "main", false).expect_err("dirty");
    assert!(matches!(err, GitError::WouldLoseWork { .. }), "{err}");
    assert!(err.to_string().contains("force"), "{err}");
    assert!(wt.exists());

    git::commit_all(&wt, "wip").expect("commit");
    let err = git::remove_worktree(&r.repo, &wt, "main", false).expect_err("unmerged");
    assert!(matches!(err, GitError::WouldLoseWork { .. }), "{err}");
    assert!(err.to_string().contains("1 commit"), "{err}");

    std::fs::write(wt.join("more.txt"), "more\n").expect("write");
    git::remove_worktree(&r.repo, &wt, "main", true).expect("forced");
    assert!(!wt.exists());
    let list = sh_git(&r.repo, &["worktree", "list", "--porcelain"]);
    assert!(!list.contains("wt/rm"), "{list}");
    // The branch (and its commit) is kept.
    sh_git(
        &r.repo,
        &["rev-parse", "--verify", &format!("refs/heads/{branch}")],
    );

    // A clean worktree with nothing new goes without force; removing it again is fine.
    let (clean, _) = r.worktree("clean");
    git::remove_worktree(&r.repo, &clean, "main", false).expect("clean remove");
    assert!(!clean.exists());
    git::remove_worktree(&r.repo, &clean, "main", false).expect("already gone");
}

#[test]
fn diff_stat_counts_committed_and_uncommitted_changes() {
    let r = Repo::new();
    let (wt, _) = r.worktree("d");
    assert_eq!(
        git::diff_stat(&wt, "main").expect("diff"),
        DiffStat::default()
    );

    std::fs::write(wt.join("a.txt"), "1\n2\n3\n").expect("write");
    std::fs::write(wt.join("bin.dat"), [0u8, 159, 146, 150, 0, 1]).expect("write");
    git::commit_all(&wt, "add").expect("commit");
    // Uncommitted: README "demo" -> "changed" + one more line.
    std::fs::write(wt.join("README.md"), "changed\nmore\n").expect("write");
    // main moves on meanwhile; that must not count.
    std::fs::write(r.repo.join("other.txt"), "x\ny\n").expect("write");
    sh_git(&r.repo, &["add", "."]);
    sh_git(
        &r.repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "main moves",
        ],
    );

    assert_eq!(
        git::diff_stat(&wt, "main").expect("diff"),
        DiffStat {
            files: 3,
            insertions: 5,
            deletions: 1
        }
    );
}
