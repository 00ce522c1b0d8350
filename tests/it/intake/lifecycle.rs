//! An issue's life on a Gitea forge, by its webhooks: an edit before its task's first run
//! changes the task, closing the issue cancels it, reopening resumes it; `task show` links
//! the issue.

use std::time::Duration;

use super::{Source, intake_rig};
use crate::support::rig::wait_for;

use bosun::sim::forge::Flavor;
use bosun::status::TaskState;

#[test]
fn on_gitea_an_edit_before_the_first_run_is_taken_close_cancels_and_reopen_resumes() {
    let mut r = intake_rig(
        Source {
            flavor: Flavor::Gitea,
            poll: "5s",
            webhooks: true,
            max_new: None,
        },
        |l| {
            // One agent at a time, each spinning 3 s: the second task waits in the queue.
            l.max_concurrency(1).role(
                "r-analysis",
                "sim",
                "@sim {spin = \"3s\"}\n@sim {write = \"docs/{key}/analysis.md\", text = \"plan\"}\n",
            )
        },
    );
    r.start_daemon();
    let first = r.forge.open_issue("alice", "First", "one", &["bosun"]);
    r.wait_tasks(1, 30);
    let second = r.forge.open_issue("alice", "Second", "two", &["bosun"]);
    r.wait_tasks(2, 30);
    let key = |title: &str| {
        r.tasks()
            .into_iter()
            .find(|t| t.title.starts_with(title))
            .map(|t| t.key)
            .expect("task")
    };
    let (k1, k2) = (key("First"), key("Second"));
    // The second has not run yet: its issue's edit is taken.
    r.forge
        .edit_issue(second, Some("Second, clarified"), Some("two, with details"));
    wait_for(Duration::from_secs(20), "the edit taken", || {
        let t = r.rig.task(&k2);
        t.title == "Second, clarified" && t.spec.contains("two, with details")
    });
    r.forge.close_issue(second);
    wait_for(Duration::from_secs(20), "cancelled", || {
        r.rig.task(&k2).state == TaskState::Cancelled
    });
    r.forge.reopen_issue(second);
    wait_for(Duration::from_secs(20), "resumed", || {
        r.rig.task(&k2).state == TaskState::Active
    });
    // task show links the issue.
    let shown = r.rig.bosun(&["task", "show", &k1]).output().expect("show");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains(&format!("issue GT#{first} "))
            && shown.contains(&format!("/octo/app/issues/{first}")),
        "{shown}"
    );
    // Gitea's label filter is loose (every issue comes back when a label is unknown): the
    // polls between made no task of an unlabelled issue.
    r.forge.open_issue("bob", "Unlabelled", "x", &[]);
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(r.tasks().len(), 2);
}
