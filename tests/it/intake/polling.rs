//! Polling (no webhooks): a backlog is taken `max_new` tasks a poll, an unchanged list costs
//! a 304, and a spent rate limit stops the polls until it resets.

use std::time::Duration;

use super::{Source, intake_rig};
use crate::support::rig::wait_for;

use bosun::sim::forge::Flavor;
use bosun::store::intake;

#[test]
fn a_backlog_is_taken_a_few_a_poll_unchanged_lists_cost_304s_and_a_spent_limit_waits() {
    let mut r = intake_rig(
        Source {
            flavor: Flavor::GitHub,
            poll: "5s",
            webhooks: false,
            max_new: Some(3),
        },
        |l| l.max_concurrency(1),
    );
    for i in 0..7 {
        r.forge
            .open_issue("alice", &format!("Backlog {i}"), "old", &["bosun"]);
    }
    r.start_daemon();
    r.wait_tasks(3, 20);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(r.tasks().len(), 3, "three from the first poll");
    r.wait_tasks(7, 30);
    // Once everything is in, the list is read conditionally: 304s.
    wait_for(Duration::from_secs(20), "a 304 on the issue list", || {
        r.forge
            .requests()
            .iter()
            .any(|q| q.status == 304 && q.path.starts_with("/repos/octo/app/issues?"))
    });
    // The budget is spent for 8 s: the next poll is refused and nothing is asked until then.
    r.forge.set_rate_limit(0, Duration::from_secs(8));
    let source = || intake::status(r.rig.store().conn(), "github:octo/app").expect("status");
    wait_for(Duration::from_secs(20), "the limit seen", || {
        source().limited_until.is_some()
    });
    let until = source().limited_until.expect("until");
    let asked_before = r.forge.requests().len();
    std::thread::sleep(Duration::from_secs(3));
    let now = bosun::store::now_ms();
    if now < until - 500 {
        assert_eq!(
            r.forge.requests().len(),
            asked_before,
            "nothing asked while the limit is spent"
        );
    }
    let shown = r.rig.bosun(&["intake", "status"]).output().expect("status");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("github:octo/app → ET · poll 5s"), "{shown}");
    assert!(shown.contains("7 tasks"), "{shown}");
}
