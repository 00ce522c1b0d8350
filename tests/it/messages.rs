//! Messages to agents on real tmux, SQLite and agent-sim: delivered only when the agent's turn
//! has ended, exactly once also when the supervisor is killed at each step of a delivery, and
//! none lost or doubled under load.

use crate::support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bosun::status::{RunStatus, TaskState};
use bosun::store::messages;
use bosun::store::runs;
use support::config::Layer;
use support::rig::{Rig, daemon, tick_until, wait_for};

/// One stage whose agent records its prompts (one file per turn) in `<dir>/rec-<run>`.
fn layer(prompt: &str, extra: &str) -> String {
    format!(
        "[supervisor]\nmax_concurrency = 10\nkill_grace = \"1s\"\n{extra}\n\
         [roles.worker]\nprovider = \"sim\"\nprompt = '''\n{prompt}\n'''\n\
         [[stages]]\nname = \"work\"\nrole = \"worker\"\n\
         [[stages.gates]]\nkind = \"artifact\"\npath = \"out.md\"\n"
    )
}

/// The rig of [`layer`], its agents recording their prompts in `<dir>/rec-<run>`.
fn rig(prompt: &str, extra: &str) -> Rig {
    Rig::build(|_, dir| {
        Layer::parse(&layer(prompt, extra)).provider_env(
            "sim",
            "BOSUN_SIM_RECORD",
            &format!("{}/rec-{{run}}", dir.display()),
        )
    })
}

/// Every prompt the agents of the rig received, by run: (run id, turn, text).
fn prompts(rig: &Rig) -> Vec<(i64, usize, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(rig.dir.path()).expect("dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(run) = name
            .strip_prefix("rec-")
            .and_then(|r| r.parse::<i64>().ok())
        else {
            continue;
        };
        for f in std::fs::read_dir(e.path()).expect("rec").flatten() {
            let fname = f.file_name().to_string_lossy().into_owned();
            if let Some(n) = fname
                .strip_prefix("prompt-")
                .and_then(|n| n.strip_suffix(".txt"))
                .and_then(|n| n.parse().ok())
            {
                let text = std::fs::read_to_string(f.path()).expect("prompt");
                // The exit command bosun types when the run is complete is not a prompt.
                if text.trim() != "/exit" {
                    out.push((run, n, text));
                }
            }
        }
    }
    out.sort();
    out
}

/// How many times each message id was seen by an agent.
fn seen(rig: &Rig) -> HashMap<i64, usize> {
    let mut count = HashMap::new();
    for (_, _, text) in prompts(rig) {
        for line in text.lines() {
            if let Some(id) = line
                .strip_prefix("[bosun message #")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
            {
                *count.entry(id).or_insert(0) += 1;
            }
        }
    }
    count
}

fn queue(rig: &Rig, key: &str, text: &str) -> i64 {
    let out = rig
        .bosun(&["send", key, text, "--when-idle"])
        .output()
        .expect("bosun send");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    said.split('#')
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no message id in {said:?}"))
}

#[test]
fn a_message_for_a_busy_agent_is_delivered_only_after_its_turn_ends() {
    let rig = rig(
        "@sim {spin = \"3s\"}\n@sim {write = \"out.md\", text = \"ok\"}",
        "",
    );
    let key = rig.add_task("Busy worker", "");
    let mut sup = rig.supervisor();
    tick_until(&mut sup, Duration::from_secs(30), "the agent busy", |s| {
        s.run_statuses()
            .iter()
            .any(|(_, k, st)| *k == key && *st == RunStatus::Busy)
    });
    let id = queue(&rig, &key, "Also update the changelog.\nKeep it short.");
    // While the first turn runs, the message waits: not claimed, not typed.
    let store = rig.store();
    let busy_until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < busy_until {
        sup.tick().expect("tick");
        let m = messages::get(store.conn(), id).expect("message");
        let busy = sup
            .run_statuses()
            .iter()
            .any(|(_, k, st)| *k == key && *st == RunStatus::Busy);
        if busy {
            assert_eq!(m.state(), "pending", "a busy agent got a message: {m:?}");
            assert_eq!(prompts(&rig).len(), 1, "only the prompt was typed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tick_until(&mut sup, Duration::from_secs(60), "the task done", |_| {
        rig.task(&key).state == TaskState::Done
    });
    let all = prompts(&rig);
    assert_eq!(
        all.len(),
        2,
        "the prompt, then the message as the next turn: {all:#?}"
    );
    assert_eq!(
        all[1].2,
        format!("[bosun message #{id} from operator]\nAlso update the changelog.\nKeep it short."),
        "byte-exact"
    );
    let m = messages::get(store.conn(), id).expect("message");
    assert_eq!(m.state(), "acked", "{m:?}");
    // The run that took it is the one that completed the stage, after the message's turn.
    let run = runs::get(store.conn(), m.run_id.expect("run")).expect("run");
    assert!(
        run.turn_done_at
            .is_some_and(|t| t >= m.delivered_at.expect("delivered"))
    );
}

/// A daemon killed at `point` during a delivery, then another: the agent saw the message once.
fn killed_while_delivering(point: &str) {
    let rig = rig(
        "@sim {spin = \"2s\"}\n@sim {write = \"out.md\", text = \"ok\"}",
        "",
    );
    let key = rig.add_task(&format!("Crash at {point}"), "");
    let id = queue(&rig, &key, "Message for the crash test");
    crate::support::rig::daemon_killed_at(&rig, point);
    let mut second = daemon(&rig);
    wait_for(Duration::from_secs(90), &format!("{point}: done"), || {
        rig.task(&key).state == TaskState::Done
    });
    let _ = second.kill();
    let _ = second.wait();
    let counts = seen(&rig);
    assert_eq!(
        counts.get(&id),
        Some(&1),
        "{point}: the agent saw message #{id} {:?} times: {:#?}",
        counts.get(&id),
        prompts(&rig)
    );
    let m = messages::get(rig.store().conn(), id).expect("message");
    assert!(m.delivered_at.is_some(), "{point}: {m:?}");
}

#[test]
fn killed_after_claiming_a_message_the_agent_still_sees_it_once() {
    killed_while_delivering("message_claim");
}

#[test]
fn killed_after_pasting_a_message_the_agent_still_sees_it_once() {
    killed_while_delivering("message_paste");
}

#[test]
fn killed_after_submitting_a_message_the_agent_still_sees_it_once() {
    killed_while_delivering("message_submit");
}

#[test]
fn every_message_crash_point_is_tested() {
    // A point added to the delivery without a test of its own fails here.
    let source = include_str!("messages.rs");
    for point in bosun::crash::MESSAGE_POINTS {
        assert!(
            source.contains(&format!("killed_while_delivering(\"{point}\")")),
            "no test kills the daemon at {point}"
        );
    }
}

#[test]
fn a_thousand_messages_to_ten_agents_none_lost_none_doubled() {
    let rig = rig(
        "@sim {spin = \"1s\"}\n@sim {write = \"out.md\", text = \"ok\"}",
        "message_batch = 25",
    );
    let keys: Vec<String> = (0..10)
        .map(|i| rig.add_task(&format!("Agent {i}"), ""))
        .collect();
    // Queued before and while the agents work, from the database (as scripts and agents do).
    let store = rig.store();
    let mut ids = Vec::new();
    let queue_some = |from: usize, to: usize, ids: &mut Vec<i64>| {
        store
            .write(|tx| {
                for n in from..to {
                    let key = &keys[n % keys.len()];
                    let task = bosun::store::tasks::by_key(tx, key)?;
                    let m = messages::insert(
                        tx,
                        "operator",
                        task.id,
                        None,
                        &format!("note {n}"),
                        bosun::store::now_ms(),
                    )?;
                    ids.push(m.id);
                }
                Ok::<_, bosun::store::StoreError>(())
            })
            .expect("queue");
    };
    queue_some(0, 500, &mut ids);
    let mut sup = rig.supervisor();
    tick_until(&mut sup, Duration::from_secs(30), "agents at work", |s| {
        s.active_runs() == 10
    });
    queue_some(500, 1000, &mut ids);
    tick_until(
        &mut sup,
        Duration::from_secs(240),
        "every task done",
        |_| keys.iter().all(|k| rig.task(k).state == TaskState::Done),
    );
    let counts = seen(&rig);
    let lost: Vec<&i64> = ids.iter().filter(|i| !counts.contains_key(i)).collect();
    let doubled: Vec<(&i64, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(doubled.is_empty(), "doubled: {doubled:?}");
    assert_eq!(counts.len(), 1000);
    let states: Vec<String> = messages::list(store.conn(), None, 2000)
        .expect("list")
        .iter()
        .map(|m| m.state().to_string())
        .filter(|s| s != "acked")
        .collect();
    assert!(states.is_empty(), "not all acked: {states:?}");
}
