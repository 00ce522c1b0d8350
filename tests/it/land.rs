//! Landing on real repositories: a bare remote reached by file://, the project's clone with
//! the operator's checkout on `main` holding uncommitted edits, task branches in worktrees.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bosun::git::{self, GitError, Integration, LandError, Removed, Strategy, Verify};

/// `a.txt`'s lines before any task touches it.
const A_TXT: &str = "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\n";

/// A bare remote `remote.git` and its clone `repo` (the operator's checkout, on `main`).
struct Project {
    dir: tempfile::TempDir,
    remote: PathBuf,
    repo: PathBuf,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let remote = dir.path().join("remote.git");
        sh_git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        let seed = dir.path().join("seed");
        sh_git(dir.path(), &["init", "-q", "-b", "main", "seed"]);
        std::fs::write(seed.join("README.md"), "demo\n").expect("write");
        std::fs::write(seed.join("a.txt"), A_TXT).expect("write");
        sh_git(&seed, &["add", "."]);
        sh_git(&seed, &ident(&["commit", "-qm", "init"]));
        let url = format!("file://{}", remote.display());
        sh_git(&seed, &["push", "-q", &url, "main"]);
        sh_git(dir.path(), &["clone", "-q", &url, "repo"]);
        let repo = dir.path().join("repo");
        sh_git(&repo, &["config", "user.name", "Operator"]);
        sh_git(&repo, &["config", "user.email", "op@example.org"]);
        Project { dir, remote, repo }
    }

    /// A task branch `bosun/<name>` in worktree `wt/<name>` from `main`, with one commit per
    /// entry of `commits` (files written, then committed as `Agent <agent@example.org>`).
    fn task(&self, name: &str, commits: &[(&str, &[(&str, &str)])]) -> (PathBuf, String) {
        let path = self.dir.path().join("wt").join(name);
        let branch = format!("bosun/{name}");
        git::ensure_worktree(&self.repo, &path, &branch, "main").expect("ensure_worktree");
        for (message, files) in commits {
            for (file, text) in *files {
                std::fs::write(path.join(file), text).expect("write");
            }
            sh_git(&path, &["add", "-A"]);
            let args = [
                "-c",
                "user.name=Agent",
                "-c",
                "user.email=agent@example.org",
                "commit",
                "-qm",
                message,
            ];
            sh_git(&path, &args);
        }
        (path, branch)
    }

    fn rev(&self, rev: &str) -> String {
        sh_git(&self.repo, &["rev-parse", rev])
    }

    fn show(&self, spec: &str) -> String {
        sh_git(&self.repo, &["show", spec])
    }

    /// Uncommitted edits in the operator's checkout: a tracked file changed, a new file
    /// staged, an untracked file. Returns what must not change.
    fn dirty_operator(&self) -> Snapshot {
        std::fs::write(self.repo.join("README.md"), "demo\nmy edit\n").expect("write");
        std::fs::write(self.repo.join("notes.txt"), "staged\n").expect("write");
        sh_git(&self.repo, &["add", "notes.txt"]);
        std::fs::write(self.repo.join("scratch.txt"), "untracked\n").expect("write");
        self.snapshot()
    }

    fn snapshot(&self) -> Snapshot {
        let mut files = Vec::new();
        for name in ["README.md", "a.txt", "notes.txt", "scratch.txt", "new.txt"] {
            files.push((name, std::fs::read_to_string(self.repo.join(name)).ok()));
        }
        Snapshot {
            index: sh_git(&self.repo, &["ls-files", "--stage"]),
            files: format!("{files:?}"),
        }
    }
}

/// The operator's index entries and file contents.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    index: String,
    files: String,
}

/// `-c user.name=t -c user.email=t@t` before `args`.
fn ident<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["-c", "user.name=t", "-c", "user.email=t@t"];
    all.extend(args);
    all
}

/// Runs git for set-up and checks; panics on failure; returns trimmed stdout.
fn sh_git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `a.txt` with line `n` replaced by `text`.
fn a_with(n: usize, text: &str) -> String {
    A_TXT
        .lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == n { text } else { l })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Moves `main` in the operator's checkout by a commit changing line 9 of `a.txt` and
/// resets that file, so the tasks' branches are behind; the checkout's edits stay.
fn move_main(p: &Project) {
    let tree_file = a_with(9, "line 9 from main");
    let blob = {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(&p.repo)
            .args(["hash-object", "-w", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(tree_file.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Build the commit in a scratch index so the operator's index is not involved.
    let index = p.dir.path().join("scratch-index");
    let env_git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&p.repo)
            .args(args)
            .env("GIT_INDEX_FILE", &index)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    env_git(&["read-tree", "main"]);
    env_git(&[
        "update-index",
        "--cacheinfo",
        &format!("100644,{blob},a.txt"),
    ]);
    let tree = env_git(&["write-tree"]);
    let commit = env_git(&["commit-tree", &tree, "-p", "main", "-m", "main moves"]);
    env_git(&["update-ref", "refs/heads/main", &commit]);
}

fn two_commit_task(p: &Project) -> (PathBuf, String) {
    p.task(
        "feat",
        &[
            (
                "Change line 2",
                &[("a.txt", &a_with(2, "line 2 by the task"))],
            ),
            ("Add new.txt", &[("new.txt", "new\n")]),
        ],
    )
}

#[test]
fn each_strategy_lands_without_touching_the_operators_checkout() {
    for strategy in Strategy::ALL {
        let p = Project::new();
        let (_wt, branch) = two_commit_task(&p);
        move_main(&p);
        let before = p.dirty_operator();
        let main_before = p.rev("main");
        let landed = git::land(
            &p.repo,
            "main",
            &branch,
            strategy,
            "Land feat\n\nBody.",
            None,
        )
        .unwrap_or_else(|e| panic!("{strategy}: {e}"));
        assert_eq!(landed.base_before, main_before);
        assert_eq!(landed.commit, p.rev("main"), "{strategy}");
        assert!(landed.moved() && landed.checked_out_behind, "{strategy}");
        assert_eq!(
            landed
                .checked_out_at
                .as_deref()
                .map(std::fs::canonicalize)
                .transpose()
                .ok(),
            Some(Some(std::fs::canonicalize(&p.repo).expect("canonical"))),
        );
        assert_eq!(
            p.snapshot(),
            before,
            "{strategy}: the operator's checkout changed"
        );
        let a = p.show("main:a.txt");
        assert!(
            a.contains("line 2 by the task") && a.contains("line 9 from main"),
            "{a}"
        );
        assert_eq!(p.show("main:new.txt"), "new");
        let parents = sh_git(&p.repo, &["log", "-1", "--format=%P", "main"]);
        let log = sh_git(
            &p.repo,
            &["log", "--format=%an|%s", &format!("{main_before}..main")],
        );
        match strategy {
            Strategy::Squash => {
                assert_eq!(parents, main_before);
                assert_eq!(log, "Operator|Land feat");
            }
            Strategy::Merge => {
                assert_eq!(parents, format!("{main_before} {}", p.rev(&branch)));
                assert!(log.starts_with("Operator|Land feat\n"), "{log}");
            }
            Strategy::Rebase => {
                assert_eq!(log, "Agent|Add new.txt\nAgent|Change line 2");
                let first = sh_git(&p.repo, &["rev-parse", "main~2"]);
                assert_eq!(first, main_before, "linear history on the old tip");
                let committer = sh_git(&p.repo, &["log", "-1", "--format=%cn", "main"]);
                assert_eq!(committer, "Operator");
                // Author, e-mail, date and message as the agent made them.
                let format = "--format=%an|%ae|%ad|%B";
                let replayed = sh_git(&p.repo, &["log", format, &format!("{main_before}..main")]);
                let original = sh_git(
                    &p.repo,
                    &["log", format, &format!("{main_before}~1..{branch}")],
                );
                assert_eq!(replayed, original);
            }
        }
    }
}

#[test]
fn a_rebase_on_an_unmoved_base_fast_forwards_and_nothing_to_land_is_ok() {
    let p = Project::new();
    let (_wt, branch) = two_commit_task(&p);
    let landed =
        git::land(&p.repo, "main", &branch, Strategy::Rebase, "unused", None).expect("land");
    assert_eq!(landed.commit, p.rev(&branch), "the branch's own commits");
    let again = git::land(&p.repo, "main", &branch, Strategy::Squash, "again", None)
        .expect("nothing to land");
    assert!(!again.moved());
    assert_eq!(again.commit, landed.commit);
}

#[test]
fn a_base_moved_while_landing_is_refused_and_left_as_it_is() {
    let p = Project::new();
    let (_wt, branch) = two_commit_task(&p);
    let repo = p.repo.display().to_string();
    // The verify step runs between building the result and moving the ref: move it there.
    let script = format!(
        "c=$(git -C '{repo}' commit-tree main^{{tree}} -p main -m racer) && \
         git -C '{repo}' update-ref refs/heads/main $c"
    );
    let verify = Verify {
        argv: vec!["sh".into(), "-c".into(), script],
        timeout: Duration::from_secs(30),
    };
    let before = p.rev("main");
    let err = git::land(
        &p.repo,
        "main",
        &branch,
        Strategy::Squash,
        "m",
        Some(&verify),
    )
    .expect_err("the base moved");
    let LandError::BaseMoved {
        expected, found, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(expected, &before);
    assert_eq!(found, &p.rev("main"));
    assert_eq!(
        sh_git(&p.repo, &["log", "-1", "--format=%s", "main"]),
        "racer"
    );
}

#[test]
fn verify_runs_on_the_result_and_a_failure_leaves_the_ref() {
    let p = Project::new();
    let (_wt, branch) = two_commit_task(&p);
    let worktrees = || {
        let list = sh_git(&p.repo, &["worktree", "list", "--porcelain"]);
        list.lines()
            .filter(|l| l.starts_with("worktree "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let worktrees_before = worktrees();
    let before = p.rev("main");
    let failing = Verify {
        argv: vec![
            "sh".into(),
            "-c".into(),
            "echo tests failed >&2; exit 3".into(),
        ],
        timeout: Duration::from_secs(30),
    };
    let err = git::land(
        &p.repo,
        "main",
        &branch,
        Strategy::Merge,
        "m",
        Some(&failing),
    )
    .expect_err("verify fails");
    match &err {
        LandError::VerifyFailed {
            output,
            exit,
            timed_out,
        } => {
            assert_eq!(*exit, Some(3));
            assert!(!timed_out);
            assert!(output.contains("tests failed"), "{output:?}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(p.rev("main"), before);
    assert_eq!(worktrees(), worktrees_before, "temp worktree removed");

    let slow = Verify {
        argv: vec!["sleep".into(), "30".into()],
        timeout: Duration::from_millis(200),
    };
    let err = git::land(&p.repo, "main", &branch, Strategy::Merge, "m", Some(&slow))
        .expect_err("verify times out");
    assert!(
        matches!(
            err,
            LandError::VerifyFailed {
                timed_out: true,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(p.rev("main"), before);

    let missing = Verify {
        argv: vec!["/nonexistent/verify".into()],
        timeout: Duration::from_secs(30),
    };
    let err = git::land(
        &p.repo,
        "main",
        &branch,
        Strategy::Merge,
        "m",
        Some(&missing),
    )
    .expect_err("cannot run");
    assert!(matches!(err, LandError::VerifyNotRun { .. }), "{err}");
    assert_eq!(p.rev("main"), before);
    assert_eq!(worktrees(), worktrees_before, "temp worktree removed");

    // The command sees the merged result: the task's new file.
    let passing = Verify {
        argv: vec!["test".into(), "-f".into(), "new.txt".into()],
        timeout: Duration::from_secs(30),
    };
    let landed = git::land(
        &p.repo,
        "main",
        &branch,
        Strategy::Merge,
        "m",
        Some(&passing),
    )
    .expect("verify passes");
    assert_eq!(p.rev("main"), landed.commit);
    assert_eq!(worktrees(), worktrees_before, "temp worktree removed");
}

#[test]
fn two_branches_editing_the_same_lines_conflict_with_hunks() {
    let p = Project::new();
    let (_, one) = p.task("one", &[("one", &[("a.txt", &a_with(5, "line 5 by one"))])]);
    let (_, two) = p.task("two", &[("two", &[("a.txt", &a_with(5, "line 5 by two"))])]);
    let (_, other) = p.task("other", &[("other", &[("b.txt", "b\n")])]);
    assert_eq!(
        git::conflicts(&p.repo, &one, &other).expect("merge-tree"),
        None
    );
    let c = git::conflicts(&p.repo, &one, &two)
        .expect("merge-tree")
        .expect("conflicts");
    assert_eq!(c.paths(), ["a.txt"]);
    let f = &c.files[0];
    assert!(
        f.messages.iter().any(|m| m.contains("CONFLICT (content)")),
        "{f:?}"
    );
    for want in [
        "<<<<<<< bosun/one",
        "line 5 by one",
        "=======",
        "line 5 by two",
        ">>>>>>> bosun/two",
        "line 2\n",
        "line 8\n",
    ] {
        assert!(f.hunks.contains(want), "{want:?} missing in {}", f.hunks);
    }
    assert!(
        !f.hunks.contains("line 1\n") && !f.hunks.contains("line 9"),
        "{}",
        f.hunks
    );

    // The first lands; the second then conflicts with the base, marked with its name.
    git::land(&p.repo, "main", &one, Strategy::Squash, "one", None).expect("land one");
    let before = p.rev("main");
    for strategy in Strategy::ALL {
        let err = git::land(&p.repo, "main", &two, strategy, "two", None).expect_err("conflict");
        let LandError::Conflict(c) = &err else {
            panic!("{err}");
        };
        assert_eq!(c.paths(), ["a.txt"], "{strategy}");
        let hunks = &c.files[0].hunks;
        assert!(
            hunks.contains("<<<<<<< main") && hunks.contains(">>>>>>> bosun/two"),
            "{hunks}"
        );
        assert!(err.to_string().contains("a.txt"), "{err}");
    }
    assert_eq!(p.rev("main"), before);
}

#[test]
fn integration_is_recognised_after_squash_and_merge() {
    let p = Project::new();
    let (sq_wt, squashed) = p.task("sq", &[("sq", &[("a.txt", &a_with(3, "squashed"))])]);
    let (_, merged) = p.task("mg", &[("mg", &[("c.txt", "merged\n")])]);
    let (_, open) = p.task("open", &[("open", &[("d.txt", "open\n")])]);
    assert_eq!(
        git::integrated(&p.repo, &squashed, "main").expect("check"),
        None
    );
    git::land(&p.repo, "main", &squashed, Strategy::Squash, "sq", None).expect("squash");
    git::land(&p.repo, "main", &merged, Strategy::Merge, "mg", None).expect("merge");
    let check = |b: &str| git::integrated(&p.repo, b, "main").expect("check");
    assert_eq!(check(&squashed), Some(Integration::TreesEqual));
    assert_eq!(check(&merged), Some(Integration::Ancestor));
    assert_eq!(check("main"), Some(Integration::SameCommit));
    assert_eq!(check(&open), None);

    // Branch deletion follows: refused while not integrated or checked out.
    let err = git::delete_branch(&p.repo, &open, "main").expect_err("not integrated");
    assert!(matches!(err, GitError::NotIntegrated { .. }), "{err}");
    let err = git::delete_branch(&p.repo, &squashed, "main").expect_err("checked out");
    assert!(matches!(err, GitError::BranchCheckedOut { .. }), "{err}");
    assert_eq!(
        git::remove_task_worktree(&p.repo, &sq_wt).expect("remove"),
        Removed::Removed
    );
    assert!(!sq_wt.exists());
    assert_eq!(
        git::delete_branch(&p.repo, &squashed, "main").expect("delete"),
        Integration::TreesEqual
    );
    let gone = Command::new("git")
        .arg("-C")
        .arg(&p.repo)
        .args(["rev-parse", "--verify", "--quiet", &squashed])
        .output()
        .expect("git");
    assert!(!gone.status.success(), "branch deleted");
}

#[test]
fn a_dirty_task_worktree_is_refused_with_its_files() {
    let p = Project::new();
    let (wt, _) = p.task("dirty", &[("c", &[("c.txt", "c\n")])]);
    std::fs::write(wt.join("c.txt"), "changed\n").expect("write");
    std::fs::write(wt.join("untracked.txt"), "u\n").expect("write");
    let err = git::remove_task_worktree(&p.repo, &wt).expect_err("dirty");
    let GitError::DirtyWorktree { files, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(files, &["c.txt", "untracked.txt"]);
    assert!(err.to_string().contains("untracked.txt"), "{err}");
    assert!(wt.join("untracked.txt").exists());

    std::fs::remove_dir_all(&wt).expect("rm");
    assert_eq!(
        git::remove_task_worktree(&p.repo, &wt).expect("prune"),
        Removed::Pruned
    );
    assert_eq!(
        git::remove_task_worktree(&p.repo, &wt).expect("gone"),
        Removed::NotAWorktree
    );
}

#[test]
fn push_to_a_bare_remote_with_a_lease() {
    let p = Project::new();
    let (wt, branch) = two_commit_task(&p);
    git::push(&p.repo, "origin", &branch).expect("push");
    let remote_tip =
        |p: &Project| sh_git(&p.remote, &["rev-parse", &format!("refs/heads/{branch}")]);
    assert_eq!(remote_tip(&p), p.rev(&branch));

    // A rewritten branch is pushed over what this clone last saw there.
    sh_git(
        &wt,
        &ident(&["commit", "-q", "--amend", "-m", "Add new.txt, amended"]),
    );
    git::push(&p.repo, "origin", &branch).expect("force push within the lease");
    assert_eq!(remote_tip(&p), p.rev(&branch));

    // Someone else pushes to it: the lease no longer holds.
    let other = p.dir.path().join("other");
    let url = format!("file://{}", p.remote.display());
    sh_git(p.dir.path(), &["clone", "-q", "-b", &branch, &url, "other"]);
    std::fs::write(other.join("theirs.txt"), "theirs\n").expect("write");
    sh_git(&other, &["add", "."]);
    sh_git(&other, &ident(&["commit", "-qm", "theirs"]));
    sh_git(&other, &["push", "-q", "origin", &branch]);
    sh_git(
        &wt,
        &ident(&["commit", "-q", "--amend", "-m", "amended again"]),
    );
    let err = git::push(&p.repo, "origin", &branch).expect_err("stale lease");
    assert!(matches!(err, GitError::Failed { .. }), "{err}");
    assert_eq!(remote_tip(&p), sh_git(&other, &["rev-parse", "HEAD"]));

    assert_eq!(git::remote_url(&p.repo, "origin").expect("url"), Some(url));
    assert_eq!(git::remote_url(&p.repo, "nope").expect("url"), None);
}

#[test]
fn the_default_branch_comes_from_the_remote_then_the_repository() {
    let p = Project::new();
    sh_git(&p.repo, &["checkout", "-q", "-b", "elsewhere"]);
    assert_eq!(git::default_branch(&p.repo).expect("origin/HEAD"), "main");

    let dir = tempfile::tempdir().expect("tempdir");
    sh_git(dir.path(), &["init", "-q", "-b", "trunk", "solo"]);
    let solo = dir.path().join("solo");
    sh_git(
        &solo,
        &ident(&["commit", "-q", "--allow-empty", "-m", "init"]),
    );
    assert_eq!(git::default_branch(&solo).expect("HEAD"), "trunk");
    sh_git(&solo, &["branch", "master"]);
    sh_git(&solo, &["checkout", "-q", "-b", "topic"]);
    assert_eq!(git::default_branch(&solo).expect("master"), "master");
    sh_git(&solo, &["config", "init.defaultBranch", "trunk"]);
    assert_eq!(git::default_branch(&solo).expect("configured"), "trunk");
}

#[test]
fn the_operator_catches_up_as_landed_says_keeping_their_edits() {
    let p = Project::new();
    let (_wt, branch) = two_commit_task(&p);
    p.dirty_operator();
    let landed = git::land(&p.repo, "main", &branch, Strategy::Squash, "Land", None).expect("land");
    assert!(landed.checked_out_behind);
    // The command Landed::checked_out_behind documents.
    sh_git(
        &p.repo,
        &["read-tree", "-m", "-u", &landed.base_before, &landed.commit],
    );
    let a = std::fs::read_to_string(p.repo.join("a.txt")).expect("read");
    assert!(a.contains("line 2 by the task"), "{a}");
    assert!(p.repo.join("new.txt").exists());
    let readme = std::fs::read_to_string(p.repo.join("README.md")).expect("read");
    assert_eq!(readme, "demo\nmy edit\n", "the edit stays");
    let status = sh_git(&p.repo, &["status", "--porcelain"]);
    assert_eq!(
        status, "M README.md\nA  notes.txt\n?? scratch.txt",
        "{status}"
    );
}

#[test]
fn a_base_not_checked_out_anywhere_is_not_behind() {
    let p = Project::new();
    let (_wt, branch) = two_commit_task(&p);
    sh_git(&p.repo, &["checkout", "-q", "-b", "elsewhere"]);
    let landed = git::land(&p.repo, "main", &branch, Strategy::Merge, "Land", None).expect("land");
    assert!(landed.moved());
    assert!(!landed.checked_out_behind && landed.checked_out_at.is_none());
}

#[test]
fn a_rebase_leaves_out_the_branch_merging_its_base() {
    let p = Project::new();
    let (wt, branch) = two_commit_task(&p);
    move_main(&p);
    // The agent merged the moved base into its branch, then went on.
    sh_git(&wt, &ident(&["merge", "-q", "--no-edit", "main"]));
    std::fs::write(wt.join("after.txt"), "after\n").expect("write");
    sh_git(&wt, &["add", "after.txt"]);
    sh_git(&wt, &ident(&["commit", "-qm", "After the merge"]));
    let before = p.rev("main");
    git::land(&p.repo, "main", &branch, Strategy::Rebase, "unused", None).expect("land");
    let log = sh_git(
        &p.repo,
        &["log", "--format=%s|%P", &format!("{before}..main")],
    );
    let subjects: Vec<&str> = log
        .lines()
        .map(|l| l.split('|').next().unwrap_or(""))
        .collect();
    assert_eq!(
        subjects,
        ["After the merge", "Add new.txt", "Change line 2"]
    );
    let one_parent = |l: &str| l.split('|').nth(1).is_some_and(|ps| !ps.contains(' '));
    assert!(log.lines().all(one_parent), "no merge commits: {log}");
    assert_eq!(p.show("main:after.txt"), "after");
    let a = p.show("main:a.txt");
    assert!(
        a.contains("line 2 by the task") && a.contains("line 9 from main"),
        "{a}"
    );
}
