//! After landing: integration, worktree and branch removal, push and the remote.

use std::process::Command;

use bosun::git::{self, GitError, Integration, Removed, Strategy};

use super::{Project, a_with, ident, sh_git, two_commit_task};

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
