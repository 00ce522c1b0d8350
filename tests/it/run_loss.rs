//! Issue 18, run-loss cases: no run outlives its task (a cancel or a loss decided while no
//! supervisor runs is carried out by the next one before it claims anything), and a lost
//! hook cannot hang a run (a second witness ends the turn). Real tmux on a private socket,
//! real SQLite, real daemons (`kill -9`), the real `bosun agent-sim`.

use crate::support;

use support::rig::{Daemon, Rig, daemon, wait_for};

use std::process::Command;
use std::time::{Duration, Instant};

use bosun::status::TaskState;
use bosun::store::events;
use bosun::store::hooks::{self, HookEvent};
use bosun::store::runs;

/// One stage `only` played by `sim` with `prompt`, an artifact gate on `out-only.md`.
fn one_stage(prompt: &str, extra: &str) -> String {
    format!(
        "[supervisor]\nmax_concurrency = 2\nkill_grace = \"1s\"\n\
         [queue]\nbackoff_base = \"1s\"\nbackoff_cap = \"2s\"\n\
         [roles.r-only]\nprovider = \"sim\"\nprompt = '''\n{prompt}\n'''\n\
         [[stages]]\nname = \"only\"\nrole = \"r-only\"\n\
         [[stages.gates]]\nkind = \"artifact\"\npath = \"out-only.md\"\n{extra}"
    )
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

/// The live processes whose environment carries the run's hook token.
fn carrying(token: &str) -> Vec<u32> {
    let marker = format!("BOSUN_HOOK_TOKEN={token}");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| alive(*p))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|e| e == marker.as_bytes()))
        })
        .collect()
}

/// The live `sleep` processes carrying the token that left the pane's session (`setsid -f`):
/// each leads its own session.
fn detached(token: &str) -> Vec<u32> {
    carrying(token)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                let f: Vec<&str> = s
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                f.get(3) == Some(&p.to_string().as_str())
            })
        })
        .collect()
}

/// Prints the recent events and the daemon's log, for a failed test.
fn dump(rig: &Rig) {
    for e in events::recent(rig.store().conn(), None, 30)
        .expect("events")
        .iter()
        .rev()
    {
        eprintln!("event: {}", e.message);
    }
    let log = std::fs::read_to_string(rig.dir.path().join("daemon.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    for l in tail.iter().rev() {
        eprintln!("daemon: {l}");
    }
}

/// A daemon that is killed (SIGKILL, as `kill -9`: it leaves its agents running in tmux)
/// when dropped, also when the test fails.
/// A daemon on `rig`'s database, killed when dropped.
fn start(rig: &Rig) -> Daemon {
    Daemon(daemon(rig))
}

/// SIGKILL, as `kill -9`.
fn kill9(d: Daemon) {
    drop(d);
}

/// The task's only run so far, once it is busy with its detached sleeper started:
/// (run id, hook token).
fn hung_run(rig: &Rig, key: &str) -> (i64, String) {
    let store = rig.store();
    let mut found = None;
    wait_for(
        Duration::from_secs(60),
        "the agent to hang with a detached child",
        || {
            let Some(run) = runs::for_task(store.conn(), rig.task(key).id)
                .expect("runs")
                .into_iter()
                .next()
            else {
                return false;
            };
            // The store keeps only its hash: the token as the agent's environment has it.
            let Some(token) = support::run_token(&store, run.id) else {
                return false;
            };
            let ok = !detached(&token).is_empty();
            found = Some((run.id, token));
            ok
        },
    );
    found.expect("a run")
}

fn windows(rig: &Rig, key: &str) -> Vec<String> {
    let out = Command::new("tmux")
        .args([
            "-L",
            &rig.socket,
            "list-windows",
            "-a",
            "-F",
            "#{window_name}",
        ])
        .output()
        .expect("tmux");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|w| w.starts_with(key))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_task_cancelled_while_no_supervisor_runs_is_stopped_by_the_next_one() {
    let prompt = "@sim {hang = true, children = 1, detached = 1}";
    let rig = Rig::new(&one_stage(prompt, ""));
    let key = rig.add_task("Cancelled in the gap", "");
    let store = rig.store();
    let first = start(&rig);
    let (run_id, token) = hung_run(&rig, &key);
    kill9(first);
    let out = rig
        .bosun(&["task", "cancel", &key])
        .output()
        .expect("cancel");
    assert!(out.status.success(), "{out:?}");
    // Nobody acts on it yet: the agent works on.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !carrying(&token).is_empty(),
        "the agent runs while no supervisor does"
    );

    let started = Instant::now();
    let second = start(&rig);
    wait_for(
        Duration::from_secs(20),
        "the cancelled run's agent, children and detached processes to be gone",
        || carrying(&token).is_empty() && windows(&rig, &key).is_empty(),
    );
    let took = started.elapsed();
    let run = runs::get(store.conn(), run_id).expect("run");
    assert!(run.ended_at.is_some(), "the run ended: {run:?}");
    let all = runs::for_task(store.conn(), rig.task(&key).id).expect("runs");
    assert_eq!(all.len(), 1, "the stage did not run again: {all:?}");
    let ends: Vec<String> = events::recent(store.conn(), None, 200)
        .expect("events")
        .into_iter()
        .filter(|e| e.run_id == Some(run_id) && e.message.contains("ended on restart"))
        .map(|e| e.message)
        .collect();
    assert_eq!(ends.len(), 1, "ended once: {ends:?}");
    assert!(ends[0].contains("cancelled"), "{}", ends[0]);
    assert_ne!(rig.task(&key).state, TaskState::Active);
    kill9(second);
    eprintln!("stopped {took:?} after the restart");
}

#[test]
fn processes_of_a_run_lost_with_the_tmux_server_are_gone_before_the_rerun_starts() {
    // First run: marks its worktree, starts a detached sleeper and hangs. The tmux server
    // dies while no supervisor runs. The re-run finishes the stage.
    let prompt = "@sim {write = \"marker\", text = \"1\", unless_exists = \"marker\"}\n\
                  @sim {hang = true, detached = 1, unless_exists = \"marker\"}\n\
                  @sim {write = \"out-only.md\", text = \"ok\", if_exists = \"marker\"}";
    let rig = Rig::new(&one_stage(prompt, ""));
    let key = rig.add_task("Tmux lost in the gap", "");
    let store = rig.store();
    let first = start(&rig);
    let (run_id, token) = hung_run(&rig, &key);
    kill9(first);
    let out = Command::new("tmux")
        .args(["-L", &rig.socket, "kill-server"])
        .output()
        .expect("tmux");
    assert!(out.status.success(), "{out:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !detached(&token).is_empty(),
        "the detached sleeper outlives the tmux server"
    );

    let second = start(&rig);
    let task_id = rig.task(&key).id;
    let mut leftovers_at_rerun = None;
    wait_for(Duration::from_secs(60), "the re-run to start", || {
        let started = runs::for_task(store.conn(), task_id).expect("runs").len() >= 2;
        if started {
            leftovers_at_rerun = Some(carrying(&token));
        }
        started
    });
    assert_eq!(
        leftovers_at_rerun,
        Some(Vec::new()),
        "the lost run's processes were gone before the re-run started"
    );
    wait_for(Duration::from_secs(60), "the task to be done", || {
        rig.task(&key).state == TaskState::Done
    });
    let lost = runs::get(store.conn(), run_id).expect("run");
    assert!(lost.ended_at.is_some());
    let all = runs::for_task(store.conn(), task_id).expect("runs");
    assert_eq!(all.len(), 2, "one lost run, one re-run: {all:?}");
    assert_eq!(all.iter().filter(|r| r.turn_done_at.is_some()).count(), 1);
    kill9(second);
}

#[test]
fn a_stop_hook_lost_to_a_locked_database_is_replaced_by_the_screen_witness() {
    // agent-sim calls Claude Code's hooks but names no transcript: the screen is its second
    // witness. A short grace and quiet period keep the test short.
    let prompt = "@sim {spin = \"3s\"}\n@sim {write = \"out-only.md\", text = \"ok\"}";
    let extra = "[providers.sim]\nwitness_grace = \"2s\"\nquiet = \"1s\"\n";
    let rig = Rig::new(&one_stage(prompt, extra));
    let key = rig.add_task("Stop hook lost", "");
    let store = rig.store();
    let d = start(&rig);
    let task_id = rig.task(&key).id;
    let mut run_id = 0;
    wait_for(Duration::from_secs(60), "a hook to open the turn", || {
        let Some(run) = runs::for_task(store.conn(), task_id)
            .expect("runs")
            .into_iter()
            .next()
        else {
            return false;
        };
        run_id = run.id;
        hooks::for_run(store.conn(), run.id)
            .expect("hooks")
            .iter()
            .any(|h| h.event == HookEvent::UserPromptSubmit)
    });
    // The database is locked for 25 s from a separate connection while the turn ends and
    // its Stop hook fires.
    let locker = rusqlite::Connection::open(rig.db()).expect("open");
    locker.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let locked = Instant::now();
    let log = rig.dir.path().join("runs").join(format!("{run_id}.log"));
    let noted = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("[bosun] the agent's Stop hook was lost")
    };
    wait_for(
        Duration::from_secs(25),
        "the hook to give up and say so in the run's log",
        noted,
    );
    std::thread::sleep(Duration::from_secs(25).saturating_sub(locked.elapsed()));
    locker.execute_batch("ROLLBACK").expect("unlock");
    drop(locker);

    let deadline = Instant::now() + Duration::from_secs(30);
    while rig.task(&key).state != TaskState::Done {
        if Instant::now() > deadline {
            dump(&rig);
            panic!("timed out waiting for the task to be done");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        hooks::for_run(store.conn(), run_id)
            .expect("hooks")
            .iter()
            .all(|h| h.event != HookEvent::Stop),
        "the Stop hook was lost"
    );
    let all = runs::for_task(store.conn(), task_id).expect("runs");
    assert_eq!(all.len(), 1, "the stage ran once: {all:?}");
    assert_eq!(all[0].status, bosun::status::RunStatus::Done);
    let witness = events::recent(store.conn(), None, 200)
        .expect("events")
        .into_iter()
        .find(|e| e.run_id == Some(run_id) && e.message.contains("is done ("))
        .expect("a done event");
    assert!(
        witness
            .message
            .ends_with("is done (screen, the Stop hook never came)"),
        "{}",
        witness.message
    );
    kill9(d);
}
