//! Deliveries and polls turn an issue into exactly one task; forged, unsigned and oversized
//! deliveries are refused; a daemon killed between recording a delivery and creating its
//! task makes it once after the restart.

use std::time::Duration;

use super::{IntakeRig, SECRET, Source, intake_rig, spawn_daemon};
use crate::support::rig::wait_for;

use bosun::sim::forge::Flavor;
use bosun::store::intake;

fn status(r: &IntakeRig) -> intake::SourceStatus {
    intake::status(r.rig.store().conn(), "github:octo/app").expect("status")
}

#[test]
fn a_labelled_issue_becomes_one_task_however_often_and_however_it_arrives() {
    let mut r = intake_rig(
        Source {
            flavor: Flavor::GitHub,
            poll: "5s",
            webhooks: true,
            max_new: None,
        },
        |l| l,
    );
    r.start_daemon();
    let plain = r
        .forge
        .open_issue("alice", "Not for bosun", "no label", &[]);
    let n = r.forge.open_issue(
        "alice",
        "Crash on empty input\x1b]0;pwn\x07",
        "Steps: run it with no input.",
        &["bosun"],
    );
    r.wait_tasks(1, 30);
    let tasks = r.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].title, "Crash on empty input");
    assert!(
        tasks[0].spec.contains("Steps: run it with no input.")
            && tasks[0].spec.contains(&format!("/octo/app/issues/{n}")),
        "{}",
        tasks[0].spec
    );
    // Every delivery replayed 10 times, as GitHub's "Redeliver" sends it: 202, nothing new.
    let sent = r.forge.deliveries();
    assert!(
        sent.iter().any(|d| d.event == "issues" && d.status == 202),
        "{sent:?}"
    );
    for d in sent.iter().filter(|d| d.event == "issues") {
        for _ in 0..10 {
            assert_eq!(r.forge.redeliver(&d.id), 202);
        }
    }
    // And a poll that lists the same issue.
    let polled = status(&r).last_poll_at.unwrap_or(0);
    wait_for(Duration::from_secs(20), "a poll after the replays", || {
        status(&r).last_poll_at.unwrap_or(0) > polled
    });
    wait_for(Duration::from_secs(10), "the replays processed", || {
        intake::pending(r.rig.store().conn(), 10)
            .expect("pending")
            .is_empty()
    });
    assert_eq!(r.tasks().len(), 1, "one task for the issue");
    let st = status(&r);
    assert_eq!((st.tasks_created, st.error.as_deref()), (1, None), "{st:?}");
    // The unlabelled issue gets its label: now it is one.
    r.forge.add_label(plain, "bosun");
    r.wait_tasks(2, 30);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(r.tasks().len(), 2);
}

#[test]
fn forged_unsigned_and_oversized_deliveries_are_refused_and_create_nothing() {
    let mut r = intake_rig(
        Source {
            flavor: Flavor::GitHub,
            poll: "off",
            webhooks: true,
            max_new: None,
        },
        |l| l,
    );
    // A real delivery of a labelled issue, caught before the daemon sees it.
    r.forge.hook("http://127.0.0.1:9/nowhere", SECRET);
    r.forge.open_issue("alice", "Crash", "steps", &["bosun"]);
    let real = super::eventually_delivery(&r, "issues");
    r.start_daemon();
    let headers: Vec<(String, String)> = real
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("x-hub-signature-256"))
        .cloned()
        .collect();
    let with = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut h = headers.clone();
        h.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        h
    };
    let send = |h: &[(String, String)], body: &[u8]| {
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        r.forge.send_raw(&h, body)
    };
    let forged = format!("sha256={}", "0".repeat(64));
    assert_eq!(
        send(&with(&[("X-Hub-Signature-256", &forged)]), &real.body),
        401
    );
    assert_eq!(send(&with(&[]), &real.body), 401, "no signature");
    let mut big = real.body.clone();
    big.extend(std::iter::repeat_n(b' ', 2 << 20));
    let signed = r.forge.sign(&big);
    assert_eq!(
        send(&with(&[("X-Hub-Signature-256", &signed)]), &big),
        413,
        "a body over [server] max_body"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(r.tasks().is_empty(), "nothing created");
    assert_eq!(status(&r).bad_signatures, 2);
    // The same bytes, signed: taken.
    let good = r.forge.sign(&real.body);
    assert_eq!(
        send(&with(&[("X-Hub-Signature-256", &good)]), &real.body),
        202
    );
    r.wait_tasks(1, 20);
}

/// A daemon killed (SIGKILL) at `point` while it takes a delivery, then a second one: one
/// task.
fn killed_while_taking_a_delivery(point: &str) {
    use std::os::unix::process::ExitStatusExt;
    let mut r = intake_rig(
        Source {
            flavor: Flavor::GitHub,
            poll: "off",
            webhooks: true,
            max_new: None,
        },
        |l| l,
    );
    let (mut first, base) = spawn_daemon(&r.rig, &[("BOSUN_CRASH_AT", point)]);
    r.forge.hook(&format!("{base}/webhooks/github"), SECRET);
    r.forge.open_issue("alice", "Crash", "steps", &["bosun"]);
    let status = crate::support::eventually(Duration::from_secs(30), point, || {
        first.0.try_wait().expect("try_wait")
    });
    assert_eq!(status.signal(), Some(9), "{point}: {status:?}");
    // Recorded before the kill (the 202 itself may not have left: the process died with it,
    // and the forge would deliver again), not yet taken.
    assert!(
        !intake::pending(r.rig.store().conn(), 10)
            .expect("pending")
            .is_empty(),
        "{point}: the delivery was recorded before the kill"
    );
    r.start_daemon();
    r.wait_tasks(1, 30);
    wait_for(Duration::from_secs(10), "the delivery processed", || {
        intake::pending(r.rig.store().conn(), 10)
            .expect("pending")
            .is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(r.tasks().len(), 1, "{point}: one task");
}

#[test]
fn killed_before_the_task_is_created_the_next_daemon_creates_it() {
    killed_while_taking_a_delivery("intake_create");
}

#[test]
fn killed_after_the_task_is_created_the_next_daemon_creates_no_second() {
    killed_while_taking_a_delivery("intake_created");
}

#[test]
fn every_intake_crash_point_is_tested() {
    let source = include_str!("deliveries.rs");
    for point in bosun::crash::INTAKE_POINTS {
        assert!(
            source.contains(&format!("killed_while_taking_a_delivery(\"{point}\")")),
            "no test kills the daemon at {point}"
        );
    }
}
