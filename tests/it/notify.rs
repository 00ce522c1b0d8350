//! Notifications from a real supervisor on real tmux and agent-sim: the `[notify]` command
//! gets the JSON of approval-needed and done, once each, also across a supervisor restart.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use bosun::pipeline::{Decision, Engine, Input};
use bosun::status::TaskState;
use support::config::Layer;
use support::rig::{Rig, tick_until};

/// The notify command's shell line: appends each notice to `<dir>/notices.jsonl`.
fn notices(dir: &Path) -> String {
    format!("cat >> '{}/notices.jsonl'", dir.display())
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn the_notify_command_gets_approval_and_done_once_each() {
    let rig = Rig::build(|_, dir| {
        Layer::parse(
            "[supervisor]\nkill_grace = \"1s\"\n\
         [roles.analyst]\nprovider = \"sim\"\nprompt = '''\n@sim {tokens = 2000}\n@sim {write = \"a.md\", text = \"analysis\"}\n'''\n\
         [[stages]]\nname = \"analysis\"\nrole = \"analyst\"\n\
         [[stages.gates]]\nkind = \"artifact\"\npath = \"a.md\"\n\
         [[stages.gates]]\nkind = \"approval\"\n\
         [prices.models.\"agent-sim\"]\ninput = 3.0\noutput = 15.0\n",
        )
        .notify_command(&["sh", "-c", &notices(dir)])
    });
    let out = rig.dir.path().join("notices.jsonl");
    let key = rig.add_task("Notify me", "");
    let mut sup = rig.supervisor();
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the approval notice",
        |_| lines(&out).len() == 1,
    );
    let first = &lines(&out)[0];
    assert_eq!(first["kind"], "approval", "{first}");
    assert_eq!(first["task"], key.as_str());
    assert_eq!(first["title"], "Notify me");
    assert_eq!(first["stage"], "analysis");
    assert!(
        first["message"].as_str().is_some_and(|m| m.contains(&key)),
        "{first}"
    );
    // A restarted supervisor does not send it again.
    drop(sup);
    let mut sup = rig.supervisor();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        sup.tick().expect("tick");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lines(&out).len(), 1, "sent twice: {:?}", lines(&out));
    let store = rig.store();
    Engine::new(&rig.cfg, &store)
        .handle(Input::Decide {
            task: key.clone(),
            decision: Decision::Approve { note: None },
            by: "test".into(),
        })
        .expect("approve");
    tick_until(&mut sup, Duration::from_secs(30), "the done notice", |_| {
        lines(&out).len() >= 2
    });
    assert_eq!(rig.task(&key).state, TaskState::Done);
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        sup.tick().expect("tick");
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = lines(&out);
    let kinds: Vec<&str> = all.iter().filter_map(|v| v["kind"].as_str()).collect();
    assert_eq!(kinds, ["approval", "done"], "{all:#?}");
    // The done notice carries the task's tokens (agent-sim's `tokens` step: 2,000 input
    // tokens) and their cost at the configured price ($3 per million input tokens).
    assert_eq!(all[1]["usage"]["input"], 2000, "{all:#?}");
    assert_eq!(all[1]["cost"]["kind"], "usd", "{all:#?}");
    let usd = all[1]["cost"]["usd"].as_f64().expect("usd");
    assert!((usd - 0.006).abs() < 1e-9, "{all:#?}");
    assert!(all[0].get("usage").is_none(), "{all:#?}");
    assert!(all[0].get("cost").is_none(), "{all:#?}");
}

#[test]
fn kinds_not_asked_for_are_held_back() {
    let layer = "[supervisor]\nkill_grace = \"1s\"\n\
         [roles.analyst]\nprovider = \"sim\"\nprompt = '''\n@sim {exit = 3}\n'''\n\
         [queue]\nmax_attempts = 1\nbackoff_base = \"1s\"\n\
         [[stages]]\nname = \"analysis\"\nrole = \"analyst\"\n\
         [[stages.gates]]\nkind = \"artifact\"\npath = \"a.md\"\n";
    let rig = Rig::build(|_, dir| {
        Layer::parse(layer)
            .notify_command(&["sh", "-c", &notices(dir)])
            .set("notify.kinds", vec!["blocked"])
    });
    let out = rig.dir.path().join("notices.jsonl");
    let key = rig.add_task("Crashes at once", "");
    let mut sup = rig.supervisor();
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the task blocked",
        |_| rig.task(&key).state == TaskState::Blocked,
    );
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        sup.tick().expect("tick");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The job failed for good and the task blocked: only `blocked` was asked for.
    let kinds: Vec<String> = lines(&out)
        .iter()
        .filter_map(|v| v["kind"].as_str().map(str::to_string))
        .collect();
    assert_eq!(kinds, ["blocked"]);
}
