//! The real `bosun` console in a tmux pane on a private socket, driven with `send-keys` and
//! read with `capture-pane`; its in-process supervisor runs agent-sim on a second private
//! socket. Shows: a task awaiting approval is visible and flagged; `a` approves it and the
//! task advances in the database; `r` with a note rolls a task back and the note reaches
//! the next run's prompt; `y` answers agent-sim's permission question and the run finishes.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::status::TaskState;
use bosun::store::tasks;
use bosun::store::{Store, runs};

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

use crate::support::terminal::Terminal as Server;

/// The shell command that runs the console in `dir` on `db` with private XDG directories;
/// `env` goes before it (e.g. `PATH=/nonexistent `), `args` after.
fn console_cmd(dir: &Path, db: &Path, env: &str, args: &str) -> String {
    format!(
        "cd '{}' && {env}BOSUN_DB='{}' XDG_CONFIG_HOME='{}' XDG_STATE_HOME='{}' exec '{}'{args}",
        dir.display(),
        db.display(),
        dir.join("xdg").display(),
        dir.join("state").display(),
        BOSUN,
    )
}

fn wait(limit: Duration, what: &str, mut f: impl FnMut() -> bool, screen: &dyn Fn() -> String) {
    support::eventually_showing(
        limit,
        what,
        || f().then_some(()),
        || format!("the console shows:\n{}", screen()),
    );
}

#[test]
fn the_operator_approves_rejects_and_answers_from_the_console() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = support::init_repo(dir.path());
    let agents = Server::new(format!("bosun-e2e-agents-{}", std::process::id()));
    let console = Server::new(format!("bosun-e2e-console-{}", std::process::id()));
    let record = dir.path().join("rec-{run}");
    let config = format!(
        r#"
[supervisor]
tmux_socket = "{agents}"
[providers.sim]
env = {{ BOSUN_SIM_RECORD = "{record}" }}
[roles.analyst]
provider = "sim"
prompt = '''
analyse {{key}}
{{feedback}}
@sim {{spin = "1s"}}
@sim {{write = "a-{{key}}.md", text = "analysis"}}
'''
[roles.developer]
provider = "sim"
prompt = '''
develop {{key}}
@sim {{ask = "src/{{key}}.txt"}}
@sim {{write = "d-{{key}}.md", text = "done"}}
'''
[[stages]]
name = "analysis"
role = "analyst"
[[stages.gates]]
kind = "artifact"
path = "a-{{key}}.md"
[[stages.gates]]
kind = "approval"
[[stages]]
name = "development"
role = "developer"
[[stages.gates]]
kind = "artifact"
path = "d-{{key}}.md"
"#,
        agents = agents.socket(),
        record = record.display()
    );
    let config_path = dir.path().join("bosun.toml");
    std::fs::write(&config_path, &config).expect("config");
    let cfg = Config::from_layers(&[(Path::new("bosun.toml"), config.as_str())]).expect("valid");
    let db = dir.path().join("bosun.db");
    let store = support::open_with_project(&db, &repo, "true");
    let engine = Engine::new(&cfg, &store);
    engine
        .create_task("example-tool", "Approve me", "", 100)
        .expect("task");
    engine
        .create_task("example-tool", "Reject me", "", 100)
        .expect("task");

    // The console, 100 columns wide (every column: two stages and done fit), in its own tmux
    // server.
    let args = format!(" --config '{}'", config_path.display());
    console.start(&console_cmd(dir.path(), &db, "", &args), 100, 30);
    let screen = || console.screen();
    let keys = |k: &[&str]| console.keys(k);
    let state = |key: &str| -> (String, TaskState) {
        let s = Store::open(&db).expect("store");
        let t = tasks::by_key(s.conn(), key).expect("task");
        (t.stage, t.state)
    };

    // 1. Both tasks reach the approval gate; the console shows them flagged, ET-001 first.
    wait(
        Duration::from_secs(60),
        "both tasks awaiting approval",
        || {
            ["ET-001", "ET-002"]
                .iter()
                .all(|k| state(k).1 == TaskState::AwaitingApproval)
        },
        &screen,
    );
    wait(
        Duration::from_secs(10),
        "the console to show them",
        || screen().contains("⚑ 2 need you"),
        &screen,
    );
    // Its card (a column's three lines, or the list's one row) is flagged and says why.
    let shown = screen();
    let lines: Vec<&str> = shown.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("ET-001"))
        .expect("ET-001 on the board");
    let card = lines[at..lines.len().min(at + 3)].join("\n");
    assert!(
        lines[at].contains('⚑') && card.contains("awaiting_approval"),
        "{card}"
    );

    // 2. `a` approves the selected (first) task: it advances in the database.
    keys(&["a"]);
    wait(
        Duration::from_secs(10),
        "ET-001 to enter development",
        || state("ET-001").0 == "development",
        &screen,
    );

    // 3. Select ET-002 with the filter, `r` with a note: back to analysis, the note in the
    //    next run's prompt.
    keys(&["/"]);
    keys(&["-l", "ET-002"]);
    keys(&["Enter"]);
    keys(&["r"]);
    keys(&["-l", "Cover the Windows case too"]);
    keys(&["Enter"]);
    wait(
        Duration::from_secs(10),
        "ET-002 to run analysis again",
        || state("ET-002") == ("analysis".into(), TaskState::Active),
        &screen,
    );
    let prompt_of_next_run = || {
        let s = Store::open(&db).expect("store");
        let t = tasks::by_key(s.conn(), "ET-002").expect("task");
        let runs = runs::for_task(s.conn(), t.id).expect("runs");
        runs.get(1).and_then(|r| {
            std::fs::read_to_string(
                dir.path()
                    .join(format!("rec-{}", r.id))
                    .join("prompt-1.txt"),
            )
            .ok()
        })
    };
    wait(
        Duration::from_secs(30),
        "the next analysis run's prompt",
        || prompt_of_next_run().is_some(),
        &screen,
    );
    let prompt = prompt_of_next_run().unwrap_or_default();
    assert!(
        prompt.contains("Cover the Windows case too"),
        "the note is not in the prompt:\n{prompt}"
    );

    // 4. ET-001's developer asks permission: waiting; `y` on it answers and the run finishes.
    let waiting = || {
        let s = Store::open(&db).expect("store");
        let t = tasks::by_key(s.conn(), "ET-001").expect("task");
        runs::for_task(s.conn(), t.id)
            .expect("runs")
            .last()
            .is_some_and(|r| r.stage == "development" && r.status == runs::RunStatus::Waiting)
    };
    wait(
        Duration::from_secs(30),
        "ET-001's agent to ask",
        waiting,
        &screen,
    );
    keys(&["/"]);
    for _ in 0..6 {
        keys(&["BSpace"]);
    }
    keys(&["-l", "ET-001"]);
    keys(&["Enter"]);
    keys(&["y"]);
    wait(
        Duration::from_secs(30),
        "ET-001 to finish",
        || state("ET-001") == ("done".into(), TaskState::Done),
        &screen,
    );

    // Quitting the console leaves agents and the database alone.
    keys(&["q"]);
    wait(
        Duration::from_secs(10),
        "the console to exit",
        || !console.tmux(&["list-sessions"]).contains("c:"),
        &screen,
    );
}

#[test]
fn the_console_says_when_its_supervisor_cannot_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = support::init_repo(dir.path());
    let db = dir.path().join("bosun.db");
    drop(support::open_with_project(&db, &repo, "true"));
    let console = Server::new(format!("bosun-e2e-nosup-{}", std::process::id()));
    // The console's own PATH has no tmux: its in-process supervisor cannot start.
    console.start(
        &console_cmd(dir.path(), &db, "PATH=/nonexistent ", ""),
        120,
        20,
    );
    let screen = || console.screen();
    wait(
        Duration::from_secs(20),
        "the console to report the supervisor failure",
        || {
            screen().contains("the supervisor stopped")
                && screen().contains("no supervisor running")
        },
        &screen,
    );
    assert!(
        screen().contains("tmux"),
        "the message names what is missing:\n{}",
        screen()
    );
    console.tmux(&["send-keys", "-t", "c", "q"]);
    wait(
        Duration::from_secs(10),
        "the console to exit",
        || !console.tmux(&["list-sessions"]).contains("c:"),
        &screen,
    );
}

#[test]
fn a_console_whose_terminal_goes_away_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = support::init_repo(dir.path());
    let db = dir.path().join("bosun.db");
    drop(support::open_with_project(&db, &repo, "true"));
    let console = Server::new(format!("bosun-e2e-hup-{}", std::process::id()));
    let pidfile = dir.path().join("console.pid");
    // The pane's shell records its pid, then becomes the console (exec keeps the pid).
    let cmd = format!(
        "echo $$ > '{}'; {}",
        pidfile.display(),
        console_cmd(dir.path(), &db, "PATH=/nonexistent ", "")
    );
    console.start(&cmd, 120, 20);
    let screen = || console.screen();
    wait(
        Duration::from_secs(20),
        "the console to draw",
        || screen().contains("bosun"),
        &screen,
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");
    // The terminal goes away: the server is killed with the console in it (SIGHUP).
    console.tmux(&["kill-server"]);
    let gone = || {
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
    };
    wait(
        Duration::from_secs(15),
        "the orphaned console to exit",
        gone,
        &|| String::new(),
    );
}

#[test]
fn j_and_k_scroll_a_long_task_detail_instead_of_changing_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = support::init_repo(dir.path());
    let agents = Server::new(format!("bosun-e2e-scroll-agents-{}", std::process::id()));
    let console = Server::new(format!("bosun-e2e-scroll-console-{}", std::process::id()));
    // Agents that keep working: nothing changes under the console while it scrolls.
    let config = format!(
        "[supervisor]\ntmux_socket = \"{}\"\n[roles.analyst]\nprovider = \"sim\"\n\
         prompt = '@sim {{spin = \"120s\"}}'\n[[stages]]\nname = \"analysis\"\nrole = \"analyst\"\n",
        agents.socket()
    );
    let config_path = dir.path().join("bosun.toml");
    std::fs::write(&config_path, &config).expect("config");
    let cfg = Config::from_layers(&[(Path::new("bosun.toml"), config.as_str())]).expect("valid");
    let db = dir.path().join("bosun.db");
    let store = support::open_with_project(&db, &repo, "true");
    let engine = Engine::new(&cfg, &store);
    let (long, _) = engine
        .create_task("example-tool", "Long history", "", 100)
        .expect("task");
    engine
        .create_task("example-tool", "Other task", "", 100)
        .expect("task");
    // A stage history far longer than the screen.
    store
        .write(|tx| {
            for i in 1..=40 {
                bosun::store::events::record(
                    tx,
                    bosun::store::events::EventKind::RolledBack,
                    bosun::store::events::About::task(long.id),
                    "test",
                    format!("history line {i:02}"),
                    bosun::store::now_ms(),
                )?;
            }
            Ok::<_, bosun::store::StoreError>(())
        })
        .expect("events");

    let args = format!(" --config '{}'", config_path.display());
    console.start(&console_cmd(dir.path(), &db, "", &args), 100, 30);
    let screen = || console.screen();
    let keys = |k: &[&str]| console.keys(k);
    wait(
        Duration::from_secs(20),
        "the board",
        || screen().contains("ET-002"),
        &screen,
    );
    // The first task is selected; Enter opens its detail at the top.
    keys(&["Enter"]);
    wait(
        Duration::from_secs(10),
        "the task view",
        || screen().contains("ET-001  Long history"),
        &screen,
    );
    assert!(!screen().contains("history line 40"), "{}", screen());
    for _ in 0..25 {
        keys(&["j"]);
    }
    wait(
        Duration::from_secs(10),
        "the detail to scroll",
        || {
            let s = screen();
            s.contains("history line 40") && !s.contains("ET-001  Long history")
        },
        &screen,
    );
    assert!(
        !screen().contains("Other task"),
        "j scrolled ET-001's detail, it did not select ET-002:\n{}",
        screen()
    );
    for _ in 0..25 {
        keys(&["k"]);
    }
    wait(
        Duration::from_secs(10),
        "the detail back at the top",
        || screen().contains("ET-001  Long history"),
        &screen,
    );
    keys(&["q"]);
}

#[test]
fn the_demo_is_the_console_and_reaches_done_with_a_and_y() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let demo = tmp.path().join("demo");
    let console = Server::new(format!("bosun-e2e-demo-{}", std::process::id()));
    console.start(
        &format!(
            "cd '{}' && XDG_CONFIG_HOME='{}' XDG_STATE_HOME='{}' exec '{BOSUN}' demo --dir '{}'",
            tmp.path().display(),
            tmp.path().join("xdg").display(),
            tmp.path().join("state").display(),
            demo.display()
        ),
        120,
        40,
    );
    let screen = || console.screen();
    wait(
        Duration::from_secs(30),
        "the demo's console",
        || screen().contains("demo: 3 scripted agents at work"),
        &screen,
    );
    let db = demo.join("bosun.db");
    let done = || -> usize {
        Store::open(&db)
            .ok()
            .and_then(|s| tasks::list(s.conn()).ok())
            .map_or(0, |all| {
                all.iter().filter(|t| t.state == TaskState::Done).count()
            })
    };
    // The operator's part: whatever needs them is listed first; approve and answer it.
    let start = Instant::now();
    while done() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "the demo did not finish; console shows:\n{}",
            screen()
        );
        let s = screen();
        if s.contains(" needs you") || s.contains(" need you") {
            console.keys(&["g"]);
            console.keys(&["a"]);
            console.keys(&["y"]);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // Quitting removes the scratch directory and the demo's tmux server.
    console.keys(&["q"]);
    wait(
        Duration::from_secs(20),
        "the demo to clean up",
        || !demo.exists(),
        &screen,
    );
}

/// The processes (not zombies) whose working directory is under `dir`: agents of a demo.
fn processes_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let p = entry.path();
        let Ok(cwd) = std::fs::read_link(p.join("cwd")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(p.join("stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        });
        if cwd.starts_with(dir) && !zombie {
            let cmd = std::fs::read(p.join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{}: {}",
                entry.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            ));
        }
    }
    found
}

/// The terminal of `bosun demo` goes away (its tmux server is killed: SIGHUP) while its
/// agents work: the demo's own tmux server, its agents and its directory go with it.
#[test]
fn a_demo_whose_terminal_goes_away_leaves_no_tmux_server_or_agent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let demo = tmp.path().join("demo");
    let pidfile = tmp.path().join("demo.pid");
    let console = Server::new(format!("bosun-e2e-demohup-{}", std::process::id()));
    console.start(
        &format!(
            "echo $$ > '{}'; cd '{}' && XDG_CONFIG_HOME='{}' XDG_STATE_HOME='{}' exec '{BOSUN}' demo --dir '{}'",
            pidfile.display(),
            tmp.path().display(),
            tmp.path().join("xdg").display(),
            tmp.path().join("state").display(),
            demo.display()
        ),
        120,
        40,
    );
    let screen = || console.screen();
    let pid = || -> Option<u32> { std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok() };
    let server_up_of = |pid: u32| {
        Command::new("tmux")
            .args(["-L", &format!("bosun-demo-{pid}"), "has-session"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    // Agents at work on the demo's own tmux server. Its server starts with the first launch;
    // the `git worktree add` before it also works in the worktrees, and is not an agent.
    wait(
        Duration::from_secs(30),
        "the demo's agents at work on its tmux server",
        || {
            pid().is_some_and(server_up_of)
                && processes_under(&demo.join("worktrees"))
                    .iter()
                    .any(|p| p.contains("agent-sim"))
        },
        &screen,
    );
    let pid = pid().expect("pid");
    let demo_socket = format!("bosun-demo-{pid}");
    let server_up = || server_up_of(pid);
    assert!(
        server_up(),
        "the demo runs its agents on tmux -L {demo_socket}"
    );
    console.tmux(&["kill-server"]);
    let gone = || {
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
    };
    wait(Duration::from_secs(20), "the demo to exit", gone, &|| {
        String::new()
    });
    let log = || {
        let text =
            std::fs::read_to_string(tmp.path().join("state/bosun/bosun.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    assert!(
        !server_up(),
        "the demo's tmux server is gone; its log:\n{}",
        log()
    );
    let left = processes_under(&demo);
    assert!(left.is_empty(), "agents left behind: {left:?}");
    assert!(!demo.exists(), "the scratch directory is removed");
}

/// A `bosun daemon` on a socket that is not the config's, and a console that is its client:
/// the console's `y` answers the agent's permission prompt and `A` attaches the terminal to
/// the agent's pane, both on the daemon's (the run's) tmux server. A stranger's tmux server
/// on the config's socket, with a pane of the same id, gets nothing.
#[test]
fn a_console_client_of_a_daemon_on_another_socket_answers_and_attaches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = support::init_repo(dir.path());
    let pid = std::process::id();
    let stranger = Server::new(format!("bosun-e2e-cfgsock-{pid}"));
    let daemon_socket = Server::new(format!("bosun-e2e-daemonsock-{pid}"));
    let console = Server::new(format!("bosun-e2e-client-{pid}"));
    // The stranger: a server on the config's socket with panes that would take the keys.
    stranger.start("cat > /dev/null", 80, 24);
    stranger.tmux(&["new-window", "-d", "cat > /dev/null"]);
    stranger.tmux(&["new-window", "-d", "cat > /dev/null"]);
    let config = format!(
        r#"
[supervisor]
tmux_socket = "{cfgsock}"
[roles.developer]
provider = "sim"
prompt = '''
develop {{key}}
@sim {{flood = 80}}
@sim {{ask = "src/{{key}}.txt"}}
@sim {{write = "d-{{key}}.md", text = "done"}}
'''
[[stages]]
name = "development"
role = "developer"
[[stages.gates]]
kind = "artifact"
path = "d-{{key}}.md"
"#,
        cfgsock = stranger.socket(),
    );
    let config_path = dir.path().join("bosun.toml");
    std::fs::write(&config_path, &config).expect("config");
    let cfg = Config::from_layers(&[(Path::new("bosun.toml"), config.as_str())]).expect("valid");
    let db = dir.path().join("bosun.db");
    let store = support::open_with_project(&db, &repo, "true");
    Engine::new(&cfg, &store)
        .create_task("example-tool", "Ask first", "", 100)
        .expect("task");
    let _daemon = crate::support::rig::Daemon(
        Command::new(BOSUN)
            .args(["--db", &db.to_string_lossy(), "--config"])
            .arg(&config_path)
            .args(["daemon", "--socket", daemon_socket.socket()])
            .current_dir(dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("daemon"),
    );
    let run = || {
        let s = Store::open(&db).expect("store");
        let t = tasks::by_key(s.conn(), "ET-001").expect("task");
        runs::for_task(s.conn(), t.id)
            .expect("runs")
            .last()
            .cloned()
    };
    let start = Instant::now();
    while !run().is_some_and(|r| r.status == runs::RunStatus::Waiting) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the agent never asked: {:?}",
            run()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let asking = run().expect("run");
    assert_eq!(asking.socket.as_deref(), Some(daemon_socket.socket()));

    // The console: a client of the daemon, 80×24, inside tmux (as operators run it).
    let args = format!(" --config '{}'", config_path.display());
    console.start(&console_cmd(dir.path(), &db, "", &args), 80, 24);
    let screen = || console.screen();
    wait(
        Duration::from_secs(10),
        "the console as the daemon's client",
        || screen().contains("ET-001") && screen().contains("client of"),
        &screen,
    );
    // The pane view shows the bottom of the agent's 200×50 screen, where its dialog is
    // (below 80 lines of output): the agent's last row is on the console's screen. The agent
    // may still be drawing (a pre-dialog line, then the dialog): compare both as they stand.
    let pane = asking.pane_id.clone().expect("pane");
    let agent_last_row = || -> String {
        daemon_socket
            .tmux(&["capture-pane", "-p", "-t", &pane])
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .chars()
            .take(40)
            .collect()
    };
    console.keys(&["4"]);
    wait(
        Duration::from_secs(10),
        "the agent's last row in the pane view",
        || {
            let last = agent_last_row();
            !last.is_empty() && screen().contains(&last)
        },
        &screen,
    );
    console.keys(&["1"]);
    // A attaches to the agent's pane on the daemon's server: the agent's dialog is on the
    // console's screen; the inner client detaches with its prefix key.
    console.keys(&["A"]);
    wait(
        Duration::from_secs(10),
        "the agent's pane in the console's terminal",
        || {
            let s = screen();
            s.contains("src/ET-001.txt") && !s.contains("client of")
        },
        &screen,
    );
    console.keys(&["C-b", "d"]);
    wait(
        Duration::from_secs(10),
        "the console back from the pane",
        || screen().contains("back from the agent's pane"),
        &screen,
    );
    // y answers on the daemon's server; the run finishes.
    console.keys(&["y"]);
    let start = Instant::now();
    while run().is_none_or(|r| r.ended_at.is_none()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the answer did not land; console shows:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        screen().contains("answered yes") || run().is_some_and(|r| r.ended_at.is_some()),
        "{}",
        screen()
    );
    // The stranger's panes, whatever their ids (the agent's is among them), got no key.
    let ids = stranger.tmux(&["list-panes", "-a", "-F", "#{pane_id}"]);
    assert!(ids.lines().any(|p| p == pane), "{ids} lacks {pane}");
    for id in ids.lines() {
        let text = stranger.tmux(&["capture-pane", "-p", "-t", id]);
        assert!(
            text.trim().is_empty(),
            "keys reached pane {id} on the config's socket:\n{text}"
        );
    }
    console.keys(&["q"]);
}

/// A console whose in-process supervisor ran no agent leaves no tmux server behind when the
/// operator quits (the agents' server is made by the first launch).
#[test]
fn a_console_that_ran_no_agent_leaves_no_tmux_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = support::init_repo(dir.path());
    let agents = Server::new(format!("bosun-e2e-noagent-agents-{}", std::process::id()));
    let console = Server::new(format!("bosun-e2e-noagent-console-{}", std::process::id()));
    let config = format!("[supervisor]\ntmux_socket = \"{}\"\n", agents.socket());
    let config_path = dir.path().join("bosun.toml");
    std::fs::write(&config_path, &config).expect("config");
    let db = dir.path().join("bosun.db");
    drop(support::open_with_project(&db, &repo, "true"));
    let args = format!(" --config '{}'", config_path.display());
    console.start(&console_cmd(dir.path(), &db, "", &args), 120, 30);
    let screen = || console.screen();
    wait(
        Duration::from_secs(20),
        "the console with its in-process supervisor",
        || screen().contains("in-process supervisor"),
        &screen,
    );
    std::thread::sleep(Duration::from_secs(1));
    console.keys(&["q"]);
    let alive = || {
        Command::new("tmux")
            .args(["-L", agents.socket(), "list-sessions"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    wait(
        Duration::from_secs(10),
        "the console to quit",
        || {
            Command::new("tmux")
                .args(["-L", console.socket(), "list-panes", "-a"])
                .output()
                .map_or(true, |o| !o.status.success() || o.stdout.is_empty())
        },
        &screen,
    );
    assert!(!alive(), "an agents' tmux server was left behind");
}
