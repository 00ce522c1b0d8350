//! Landing through the pipeline, under a real supervisor: agent-sim writes the change, the
//! last stage passes, the lander merges the branch into `main` of the project's repository
//! while the operator's checkout of `main` holds uncommitted edits, then removes the task's
//! worktree and branch.

use std::path::Path;
use std::time::Duration;

use crate::support::config::Layer;
use crate::support::rig::{Rig, tick_until};

use bosun::status::{LandingState, Strategy, TaskState};
use bosun::store::events::{self, EventKind};
use bosun::store::landings;

use crate::support::git_output as git;

/// One `development` stage whose agent writes `file` with `text` (and its artifact), landing
/// by `strategy` into `main`.
fn rig(strategy: Strategy, file: &str, text: &str) -> Rig {
    let prompt = format!(
        "@sim {{write = \"{file}\", text = \"{text}\"}}\n@sim {{write = \"out.md\", text = \"ok\"}}\n"
    );
    rig_with(strategy, &prompt)
}

/// One `development` stage whose agent follows `prompt`, landing by `strategy` into `main`.
fn rig_with(strategy: Strategy, prompt: &str) -> Rig {
    Rig::build(|socket, _| {
        Layer::new()
            .tmux_socket(socket)
            .max_concurrency(2)
            .set("supervisor.kill_grace", "1s")
            .role("r-development", "sim", prompt)
            .stage("development", "r-development", "out.md")
            .set("projects.land.mode", "merge")
            .set("projects.land.strategy", strategy.as_str())
            .set("projects.land.base", "main")
    })
}

#[test]
fn each_strategy_lands_on_main_leaving_the_operators_checkout_and_nothing_behind() {
    for &strategy in Strategy::ALL {
        let rig = rig(strategy, "feature.txt", "a feature\\n");
        let repo = rig.repo().to_path_buf();
        // The operator is editing README.md in the checkout of main.
        std::fs::write(repo.join("README.md"), "demo\noperator's edit\n").expect("edit");
        let key = rig.add_task("Add a feature", "");
        let mut sup = rig.supervisor();
        tick_until(
            &mut sup,
            Duration::from_secs(60),
            "the task to land",
            |_| rig.task(&key).state == TaskState::Landed,
        );
        let task = rig.task(&key);
        let store = rig.store();
        tick_until(&mut sup, Duration::from_secs(30), "the cleanup", |_| {
            landings::latest_for(store.conn(), task.id)
                .expect("landing")
                .is_some_and(|l| l.cleaned_at.is_some())
        });
        let landing = landings::latest_for(store.conn(), task.id)
            .expect("landing")
            .expect("a landing");
        assert_eq!(landing.state, LandingState::Landed, "{strategy}");
        assert_eq!(landing.strategy, strategy.as_str());
        assert_eq!(
            git(&repo, &["show", "main:feature.txt"]),
            "a feature",
            "{strategy}: the change is on main"
        );
        assert_eq!(
            git(&repo, &["rev-parse", "main"]),
            landing.commit_sha.clone().expect("commit"),
            "{strategy}"
        );
        // The operator's checkout: still the old main, the edit still there and nothing else.
        assert_eq!(
            std::fs::read_to_string(repo.join("README.md")).expect("readme"),
            "demo\noperator's edit\n",
            "{strategy}"
        );
        assert!(
            !repo.join("feature.txt").exists(),
            "{strategy}: working tree untouched"
        );
        // Its index too: against it only the operator's edit shows (main moved under the
        // checkout, which the landed event says, with how to catch up keeping the edit).
        assert_eq!(
            git(&repo, &["diff", "--name-only"]),
            "README.md",
            "{strategy}"
        );
        // Nothing left behind: the worktree and the branch are gone.
        let worktree = task.worktree.clone().expect("worktree");
        assert!(!Path::new(&worktree).exists(), "{strategy}: {worktree}");
        assert_eq!(
            git(&repo, &["branch", "--list", "bosun/*"]),
            "",
            "{strategy}"
        );
        let all = events::recent(store.conn(), Some(task.id), 50).expect("events");
        let landed = all
            .iter()
            .find(|e| e.kind == EventKind::Landed)
            .expect("a landed event");
        assert!(
            landed.message.contains("is now behind"),
            "the operator is told the checkout is behind: {}",
            landed.message
        );
        assert!(all.iter().any(|e| e.kind == EventKind::CleanedUp));
        drop(sup);
    }
}

#[test]
fn a_landing_that_conflicts_goes_back_to_development_with_the_hunks_then_lands() {
    // The agent merges main before it writes, as one told of a conflict does (`merge`
    // keeps its own side): its first run has nothing to merge, its run after the rollback
    // takes the other task's landed change.
    let rig = rig_with(
        Strategy::Squash,
        "@sim {merge = \"main\"}\n\
         @sim {write = \"README.md\", text = \"rewritten by {key}\\n\"}\n\
         @sim {write = \"out.md\", text = \"ok\"}\n",
    );
    let first = rig.add_task("First", "");
    let second = rig.add_task("Second", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    tick_until(
        &mut sup,
        Duration::from_secs(90),
        "one landed and the other sent back",
        |_| {
            let states = [rig.task(&first).state, rig.task(&second).state];
            states.contains(&TaskState::Landed)
                && events::recent(store.conn(), None, 200)
                    .expect("events")
                    .iter()
                    .any(|e| e.kind == EventKind::LandingFailed)
        },
    );
    let (landed, back) = if rig.task(&first).state == TaskState::Landed {
        (first, second)
    } else {
        (second, first)
    };
    let repo = rig.repo();
    assert_eq!(
        git(repo, &["show", "main:README.md"]),
        format!("rewritten by {landed}")
    );
    let task = rig.task(&back);
    let failed = events::recent(store.conn(), Some(task.id), 100)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == EventKind::LandingFailed)
        .expect("landing_failed");
    assert!(
        failed.message.contains("conflicts with main in README.md")
            && failed.message.contains("back to development"),
        "{}",
        failed.message
    );
    // The next development job carries the conflict, markers and both sides, as feedback.
    let job = bosun::store::jobs::for_task(store.conn(), task.id)
        .expect("jobs")
        .into_iter()
        .rev()
        .find(|j| j.feedback.is_some())
        .expect("a job with feedback");
    let feedback = job.feedback.expect("feedback");
    assert!(feedback.contains("README.md"), "{feedback}");
    assert!(
        feedback.contains("<<<<<<<") && feedback.contains(">>>>>>>"),
        "{feedback}"
    );
    assert!(
        feedback.contains(&format!("rewritten by {landed}"))
            && feedback.contains(&format!("rewritten by {back}")),
        "{feedback}"
    );
    // Its agent brings the branch up to date; then it lands cleanly.
    tick_until(
        &mut sup,
        Duration::from_secs(90),
        "the second to land",
        |_| rig.task(&back).state == TaskState::Landed,
    );
    assert_eq!(
        git(repo, &["show", "main:README.md"]),
        format!("rewritten by {back}")
    );
}

/// A daemon killed at landing step `point` (SIGKILL, as `kill -9`), then a second one: the
/// task lands exactly once — one commit on main for the squash, not two — and nothing of it
/// is left behind.
fn killed_while_landing(point: &str) {
    let rig = rig(Strategy::Squash, "feature.txt", "a feature\\n");
    let repo = rig.repo().to_path_buf();
    let before = git(&repo, &["rev-parse", "main"]);
    let key = rig.add_task(&format!("Killed at {point}"), "");
    crate::support::rig::daemon_killed_at(&rig, point);
    let _second = crate::support::rig::Daemon(crate::support::rig::daemon(&rig));
    let store = rig.store();
    let task_id = rig.task(&key).id;
    crate::support::rig::wait_for(
        Duration::from_secs(60),
        &format!("{point}: landed and cleaned up"),
        || {
            rig.task(&key).state == TaskState::Landed
                && landings::latest_for(store.conn(), task_id)
                    .expect("landing")
                    .is_some_and(|l| l.cleaned_at.is_some())
        },
    );
    assert_eq!(
        git(&repo, &["rev-list", "--count", &format!("{before}..main")]),
        "1",
        "{point}: one squash commit on main"
    );
    assert_eq!(git(&repo, &["show", "main:feature.txt"]), "a feature");
    let landed = events::recent(store.conn(), Some(task_id), 100)
        .expect("events")
        .iter()
        .filter(|e| e.kind == EventKind::Landed)
        .count();
    assert_eq!(landed, 1, "{point}: landed once");
    let worktree = rig.task(&key).worktree.expect("worktree");
    assert!(!Path::new(&worktree).exists(), "{point}");
    assert_eq!(git(&repo, &["branch", "--list", "bosun/*"]), "", "{point}");
}

#[test]
fn killed_after_the_base_moved_the_landing_is_recorded_once() {
    killed_while_landing("land_merged");
}

#[test]
fn killed_before_the_cleanup_the_next_supervisor_cleans_up() {
    killed_while_landing("land_cleanup");
}

#[test]
fn every_landing_crash_point_is_tested() {
    let merge = include_str!("pipeline.rs");
    let pr = include_str!("pr.rs");
    for point in bosun::crash::LAND_POINTS {
        let pr_point = format!("killed_while_landing_a_pr(\"{point}\")");
        let merge_point = format!("killed_while_landing(\"{point}\")");
        assert!(
            merge.contains(&merge_point) || pr.contains(&pr_point),
            "no test kills the daemon at {point}"
        );
    }
}
