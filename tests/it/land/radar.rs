//! The conflict radar under a real supervisor: two tasks whose agents rewrite the same lines
//! of the same file are marked as conflicting with each other while both wait for approval,
//! before either lands; `task show --json` lists the file for each.

use std::time::Duration;

use crate::support::config::Layer;
use crate::support::rig::{Rig, tick_until};

use bosun::status::TaskState;

#[test]
fn two_tasks_rewriting_the_same_lines_are_marked_before_either_lands() {
    let prompt = "@sim {write = \"README.md\", text = \"rewritten by {key}\\n\"}\n\
                  @sim {write = \"out.md\", text = \"ok\"}\n";
    let rig = Rig::build(|socket, _| {
        Layer::new()
            .tmux_socket(socket)
            .max_concurrency(2)
            .set("supervisor.kill_grace", "1s")
            .role("r-development", "sim", prompt)
            .merge(
                "[[stages]]\nname = \"development\"\nrole = \"r-development\"\n\
                 [[stages.gates]]\nkind = \"artifact\"\npath = \"out.md\"\n\
                 [[stages.gates]]\nkind = \"approval\"\n",
            )
            .set("projects.land.mode", "merge")
    });
    let a = rig.add_task("One", "");
    let b = rig.add_task("Two", "");
    let mut sup = rig.supervisor();
    let store = rig.store();
    tick_until(
        &mut sup,
        Duration::from_secs(60),
        "both to await approval",
        |_| {
            [&a, &b]
                .iter()
                .all(|k| rig.task(k).state == TaskState::AwaitingApproval)
        },
    );
    let branch = |k: &str| rig.task(k).branch.expect("branch");
    tick_until(
        &mut sup,
        Duration::from_secs(30),
        "the radar to mark the pair",
        |_| {
            !bosun::store::radar::conflicts_of(store.conn(), rig.task(&a).project_id, &branch(&a))
                .expect("radar")
                .is_empty()
        },
    );
    for (me, other) in [(&a, &b), (&b, &a)] {
        let out = rig
            .bosun(&["task", "show", me, "--json"])
            .output()
            .expect("task show");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let conflicts = v["conflicts"].as_array().expect("conflicts");
        assert_eq!(conflicts.len(), 1, "{me}: {v:#}");
        assert_eq!(conflicts[0]["with"], other.as_str(), "{me}");
        assert_eq!(
            conflicts[0]["files"],
            serde_json::json!(["README.md"]),
            "{me}"
        );
    }
    // The console's board marks both.
    let snapshot = bosun::tui::load::snapshot(
        &store,
        &bosun::queue::Queue::new(&rig.cfg),
        &bosun::tui::state::Want::default(),
    )
    .expect("snapshot");
    for k in [&a, &b] {
        let row = snapshot
            .rows
            .iter()
            .find(|r| &r.task.key == k)
            .expect("row");
        assert_eq!(row.conflicts.len(), 1, "{k}: {:?}", row.conflicts);
    }
    assert!(rig.task(&a).state != TaskState::Landed && rig.task(&b).state != TaskState::Landed);
    // The diff view's header: each still merges cleanly into main, with the project's strategy.
    let d = bosun::tui::load::diff(&rig.db(), rig.task(&a).id, &rig.cfg.land);
    assert_eq!(
        d.merge.as_deref(),
        Some("merges cleanly into main (squash)")
    );
}
