//! Landing with each strategy: the result on the base, the operator's checkout untouched,
//! a moved base, verify, conflicts.

use std::time::Duration;

use bosun::git::{self, LandError, Strategy, Verify};

use super::{Project, a_with, ident, move_main, sh_git, two_commit_task};

#[test]
fn each_strategy_lands_without_touching_the_operators_checkout() {
    for &strategy in Strategy::ALL {
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
    for &strategy in Strategy::ALL {
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
