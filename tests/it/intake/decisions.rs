//! Decisions from the tracker and status back on the issue: bosun's one comment (snapshots
//! of it awaiting approval and landed with its pull request, as the scripted forge received
//! them), its label, an allow-listed `/approve` that lands the task as a pull request merged
//! on the same forge, the same command from anyone else ignored and counted, and an
//! `/approve` racing an operator's reject: one winner.

use std::time::Duration;

use super::{IntakeRig, Source, intake_rig};
use crate::support::rig::wait_for;

use bosun::sim::forge::{Comment, Flavor};
use bosun::status::TaskState;
use bosun::store::events::{self, EventKind};
use bosun::store::intake;

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        filters => vec![
            (r"at [0-9a-f]{10}", "at [COMMIT]"),
            (r"127\.0\.0\.1:\d+", "[FORGE]"),
        ],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

/// Webhooks only, landing by `mode` into `main`; a pull request is read once a minute, or
/// when the forge's webhook says it changed.
fn rig(mode: &str) -> IntakeRig {
    let mut r = intake_rig(
        Source {
            flavor: Flavor::GitHub,
            poll: "off",
            webhooks: true,
            max_new: None,
        },
        |l| {
            l.set("projects.land.mode", mode)
                .set("projects.land.base", "main")
                .set("projects.land.poll", "60s")
        },
    );
    r.start_daemon();
    r
}

/// bosun's comments on issue `n`.
fn bosuns(r: &IntakeRig, n: u64) -> Vec<Comment> {
    r.forge
        .issues()
        .into_iter()
        .find(|i| i.number == n)
        .map(|i| {
            i.comments
                .into_iter()
                .filter(|c| c.user == "bosun-bot")
                .collect()
        })
        .unwrap_or_default()
}

fn labels(r: &IntakeRig, n: u64) -> Vec<String> {
    let i = r.forge.issues().into_iter().find(|i| i.number == n);
    let mut l: Vec<String> = i.map(|i| i.labels).unwrap_or_default();
    l.retain(|l| l.starts_with("bosun:"));
    l
}

/// A task from a new labelled issue, waiting for approval with its status comment written.
fn awaiting(r: &IntakeRig) -> (u64, String) {
    let n = r
        .forge
        .open_issue("alice", "Fix the parser", "It breaks on tabs.", &["bosun"]);
    r.wait_tasks(1, 30);
    let key = r.tasks()[0].key.clone();
    wait_for(Duration::from_secs(60), "awaiting approval", || {
        r.rig.task(&key).state == TaskState::AwaitingApproval
    });
    wait_for(Duration::from_secs(20), "the status comment", || {
        bosuns(r, n)
            .iter()
            .any(|c| c.body.contains("awaiting approval"))
    });
    (n, key)
}

#[test]
fn an_allowed_approve_lands_the_task_and_the_issue_says_so_in_one_comment() {
    let r = rig("pr");
    let (n, key) = awaiting(&r);
    let comments = bosuns(&r, n);
    assert_eq!(comments.len(), 1);
    snapshot("intake-comment-awaiting-approval", &comments[0].body);
    wait_for(Duration::from_secs(20), "the needs-you label", || {
        labels(&r, n) == ["bosun:needs-you"]
    });
    // Someone not on the allow-list: counted, nothing else.
    r.forge.comment(n, "mallory", "/approve");
    let source = || intake::status(r.rig.store().conn(), "github:octo/app").expect("status");
    wait_for(
        Duration::from_secs(20),
        "the ignored command counted",
        || source().ignored_comments == 1,
    );
    assert_eq!(r.rig.task(&key).state, TaskState::AwaitingApproval);
    // octocat may: the task lands as a pull request, merged on the forge.
    r.forge.comment(n, "octocat", "/approve\nLooks right.");
    wait_for(Duration::from_secs(60), "in review", || {
        r.rig.task(&key).state == TaskState::InReview
    });
    wait_for(
        Duration::from_secs(20),
        "the comment says in review",
        || bosuns(&r, n).iter().any(|c| c.body.contains("in_review")),
    );
    let pull = r.forge.pulls()[0].number;
    r.forge.merge(pull, "squash").expect("merge");
    // The forge's pull_request webhook: the landing reads its pull request now, not in a
    // minute.
    let body = format!(
        r#"{{"action":"closed","number":{pull},"pull_request":{{"number":{pull},"merged":true}},"repository":{{"full_name":"octo/app"}}}}"#
    );
    let signature = r.forge.sign(body.as_bytes());
    let status = r.forge.send_raw(
        &[
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", "pr-merged-1"),
            ("X-Hub-Signature-256", &signature),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(status, 202);
    wait_for(Duration::from_secs(20), "landed by the webhook", || {
        r.rig.task(&key).state == TaskState::Landed
    });
    wait_for(Duration::from_secs(20), "the comment says landed", || {
        bosuns(&r, n).iter().any(|c| c.body.contains("landed"))
    });
    let comments = bosuns(&r, n);
    assert_eq!(comments.len(), 1, "one comment, edited in place");
    assert!(comments[0].edits >= 1);
    snapshot("intake-comment-landed", &comments[0].body);
    wait_for(Duration::from_secs(20), "the done label", || {
        labels(&r, n) == ["bosun:done"]
    });
    let approved = events::recent(r.rig.store().conn(), Some(r.rig.task(&key).id), 100)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == EventKind::Approved)
        .expect("approved");
    assert_eq!(approved.actor, "github:octocat");
}

#[test]
fn an_approve_from_the_tracker_and_a_reject_from_the_cli_at_once_have_one_winner() {
    let r = rig("none");
    let (n, key) = awaiting(&r);
    let cli = std::thread::scope(|s| {
        s.spawn(|| r.forge.comment(n, "octocat", "/approve"));
        let reject = s.spawn(|| {
            r.rig
                .bosun(&["reject", &key, "--note", "use the v2 parser"])
                .output()
                .expect("reject")
        });
        reject.join().expect("join")
    });
    wait_for(Duration::from_secs(20), "the command taken", || {
        let st = intake::for_task(r.rig.store().conn(), r.rig.task(&key).id)
            .expect("ledger")
            .expect("entry");
        st.seen_comment.is_some()
    });
    std::thread::sleep(Duration::from_secs(1));
    let all = events::recent(r.rig.store().conn(), Some(r.rig.task(&key).id), 200).expect("events");
    let approved = all.iter().filter(|e| e.kind == EventKind::Approved).count();
    let rejected = all.iter().filter(|e| e.kind == EventKind::Rejected).count();
    assert_eq!(
        approved + rejected,
        1,
        "one winner: {approved} approved, {rejected} rejected"
    );
    if rejected == 1 {
        assert!(cli.status.success(), "{cli:?}");
        // The tracker's /approve lost: the issue is told who decided first.
        wait_for(Duration::from_secs(20), "the reply", || {
            r.forge.issues()[0]
                .comments
                .iter()
                .any(|c| c.user == "bosun-bot" && c.body.contains("was not applied"))
        });
    } else {
        assert_eq!(cli.status.code(), Some(3), "the CLI lost: {cli:?}");
    }
}
