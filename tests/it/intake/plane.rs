//! Plane: its deliveries name a work item whose labels, state and comments bosun reads back
//! from Plane's API (UUIDs, rich text, cursor pages); a labelled work item becomes a task,
//! the work item gets bosun's comment and label, and an allow-listed `/approve` decides.

use std::time::Duration;

use super::{Source, intake_rig, repo_of};
use crate::support::rig::wait_for;

use bosun::sim::forge::Flavor;
use bosun::status::TaskState;
use bosun::store::intake;

#[test]
fn a_labelled_plane_work_item_becomes_a_task_reports_back_and_takes_an_approve() {
    let mut r = intake_rig(
        Source {
            flavor: Flavor::Plane,
            poll: "off",
            webhooks: true,
            max_new: None,
        },
        |l| l,
    );
    r.start_daemon();
    let n = r.forge.open_issue(
        "alice",
        "Export to CSV",
        "Add an <b>export</b> button.",
        &["bosun"],
    );
    r.wait_tasks(1, 30);
    let task = r.tasks().remove(0);
    assert_eq!(task.title, "Export to CSV");
    assert!(
        task.spec.contains("Add an <b>export</b> button."),
        "{}",
        task.spec
    );
    let entry = intake::for_task(r.rig.store().conn(), task.id)
        .expect("ledger")
        .expect("entry");
    assert_eq!(
        (entry.number, entry.source.clone()),
        (
            i64::try_from(n).expect("n"),
            format!("plane:{}", repo_of(Flavor::Plane))
        )
    );
    assert!(entry.issue_id.is_some(), "Plane's UUID kept");
    wait_for(Duration::from_secs(60), "awaiting approval", || {
        r.rig.task(&task.key).state == TaskState::AwaitingApproval
    });
    let ours = |r: &super::IntakeRig| -> Vec<String> {
        r.forge.issues()[0]
            .comments
            .iter()
            .filter(|c| c.user == "bosun-bot")
            .map(|c| c.body.clone())
            .collect()
    };
    wait_for(Duration::from_secs(20), "bosun's comment", || {
        ours(&r).iter().any(|b| b.contains("awaiting approval"))
    });
    wait_for(Duration::from_secs(20), "the needs-you label", || {
        r.forge.issues()[0]
            .labels
            .iter()
            .any(|l| l == "bosun:needs-you")
    });
    r.forge.comment(n, "octocat", "/approve");
    wait_for(Duration::from_secs(30), "done", || {
        r.rig.task(&task.key).state == TaskState::Done
    });
    wait_for(Duration::from_secs(20), "the done label", || {
        let labels = &r.forge.issues()[0].labels;
        labels.iter().any(|l| l == "bosun:done") && !labels.iter().any(|l| l == "bosun:needs-you")
    });
    assert_eq!(ours(&r).len(), 1, "one comment, edited in place");
}
