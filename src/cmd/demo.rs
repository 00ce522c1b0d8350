//! `bosun demo`: the whole pipeline with the built-in scripted agent, no API keys.

use super::out::outln;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::pipeline::Engine;
use crate::sandbox::{Project, Sandbox, TmuxServer};
use crate::status::{RunStatus, TaskState};
use crate::store::Store;
use crate::store::events::{self, EventKind};
use crate::store::tasks;
use crate::supervisor::{Options, Supervisor};

/// The demo's config: the default pipeline without the analysis approval, every role played
/// by agent-sim, whose behaviour per stage is in the `@sim` lines of the prompts.
const DEMO_TOML: &str = include_str!("demo.toml");

/// The demo's tasks: (title, spec). Spec lines starting with `@sim` script the agent.
const TASKS: &[(&str, &str)] = &[
    (
        "Add a --verbose flag",
        "Print each step when -v or --verbose is given.",
    ),
    (
        "Handle empty input",
        "An empty input file must not crash the parser.\n\
         @sim {stage = \"analysis\", write = \"docs/work-items/{key}/picky-review\", text = \"the reviewer will ask for changes once\"}",
    ),
    (
        "Write the config loader",
        "Load settings from config.toml.\n\
         @sim {stage = \"development\", ask = \"src/config_loader.txt\"}",
    ),
];

/// Longest the demo may take before it gives up.
const LIMIT: Duration = Duration::from_secs(600);

/// The demo's sandbox in `dir` (a new temp dir by default): its repository, config (on a
/// tmux server of its own), database and tasks.
fn setup(dir: Option<PathBuf>) -> Result<Sandbox> {
    let dir = scratch_dir(dir)?;
    // One demo per process: `bosun-demo-<pid>` (the e2e test finds it so).
    let tmux = TmuxServer::named(format!("bosun-demo-{}", std::process::id()));
    let mut config: toml::Table = toml::from_str(DEMO_TOML).context("the demo's config")?;
    let supervisor = config
        .entry("supervisor")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(t) = supervisor.as_table_mut() {
        t.insert("tmux_socket".into(), tmux.socket().into());
    }
    let project = Project {
        name: "demo",
        key_prefix: "DEMO",
        test_command: Some("test -d docs/work-items"),
        readme: "# demo\n\nA scratch project for `bosun demo`.\n",
    };
    let sandbox = Sandbox::create(&dir, &project, &config.to_string(), tmux)
        .context("cannot set up the demo")?;
    let store = sandbox.store()?;
    let engine = Engine::new(&sandbox.cfg, &store);
    for (title, spec) in TASKS {
        engine.create_task("demo", title, spec, 100)?;
    }
    Ok(sandbox)
}

/// What the demo writes directly in its directory: none may be a symbolic link (SQLite, git
/// and tmux would follow it).
const WRITTEN: &[&str] = &[
    "repo",
    "bosun.toml",
    "bosun.db",
    "bosun.db-wal",
    "bosun.db-shm",
    "tmux.conf",
    "runs",
    "worktrees",
];

/// The demo's directory: a new one made by `mkdtemp` (0700, a name nobody can predict) in
/// the temp dir, or `--dir`, which must be a directory of this user's that nobody else can
/// write (made 0700 if missing) and must hold no symbolic link where the demo writes.
///
/// # Errors
/// The directory cannot be made, or `--dir` is refused, saying why.
fn scratch_dir(dir: Option<PathBuf>) -> Result<PathBuf> {
    let Some(dir) = dir else {
        let tmp = std::env::temp_dir();
        let made = crate::private::temp_dir(&tmp, "bosun-demo-")
            .with_context(|| format!("cannot make a private directory in {}", tmp.display()))?;
        return Ok(made.canonicalize()?);
    };
    if std::fs::symlink_metadata(&dir).is_err() {
        crate::private::private_dir(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if let Some(why) = crate::private::unsafe_dir(&dir) {
        bail!(
            "refusing --dir {}: {why}; give a directory only you can write, or leave --dir \
             out for a fresh private one",
            dir.display()
        );
    }
    let dir = dir.canonicalize()?;
    for name in WRITTEN {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!(
                "refusing --dir {}: {} is a symbolic link, which the demo would write through; \
                 remove it or choose another directory",
                dir.display(),
                path.display()
            );
        }
    }
    Ok(dir)
}

/// `bosun demo`: the console on the scripted fleet, its supervisor in-process; the scratch
/// directory and tmux server are removed when the console quits (unless `keep`).
pub(super) fn console(keep: bool, dir: Option<PathBuf>, theme: Option<String>) -> Result<()> {
    let sandbox = setup(dir)?;
    let (cfg, db, dir) = (sandbox.cfg.clone(), sandbox.db.clone(), sandbox.dir.clone());
    let theme = theme.unwrap_or_else(|| cfg.ui.theme.clone());
    // Also run by the console's exit guard when a lost terminal (SIGHUP) keeps its loop from
    // ending: the demo's agents and tmux server never outlive it.
    let (teardown, kept): (Option<crate::tui::Teardown>, _) = if keep {
        (None, Some(sandbox.keep()))
    } else {
        let slot = std::sync::Mutex::new(Some(sandbox));
        let f: crate::tui::Teardown = std::sync::Arc::new(move || {
            let taken = slot.lock().map(|mut s| s.take()).unwrap_or_default();
            if let Some(s) = taken {
                s.remove();
            }
        });
        (Some(f), None)
    };
    let result = crate::tui::Console {
        cfg,
        db: db.clone(),
        data_dir: dir.clone(),
        theme,
        supervisor_error: Default::default(),
        hint: Some(
            "demo: 3 scripted agents at work. a approve · y answer yes · v artifact · d diff · 4 pane · A attach · ? keys · q quit"
                .into(),
        ),
        teardown: teardown.clone(),
    }
    .run();
    // The console ran it already unless it failed before its loop.
    if let Some(t) = &teardown {
        t();
    }
    if let Some((dir, socket)) = kept {
        outln!(
            "kept: {} (database {}), tmux -L {socket}",
            dir.display(),
            db.display()
        );
    }
    result
}

pub(super) fn run(auto_approve: bool, keep: bool, dir: Option<PathBuf>) -> Result<()> {
    let sandbox = setup(dir)?;
    let socket = sandbox.socket().to_string();
    let result = headless(&sandbox, auto_approve);
    if keep {
        let (repo, db) = (sandbox.repo.clone(), sandbox.db.clone());
        sandbox.keep();
        outln!(
            "kept: repo {}, database {}, tmux -L {socket}",
            repo.display(),
            db.display()
        );
    } else {
        sandbox.remove();
    }
    result
}

/// The headless demo in `sandbox`: its supervisor in-process, each step printed.
fn headless(sandbox: &Sandbox, auto_approve: bool) -> Result<()> {
    let (cfg, db, socket) = (&sandbox.cfg, &sandbox.db, sandbox.socket());
    let store = sandbox.store()?;
    let engine = Engine::new(cfg, &store);
    let mut opts = Options::new(sandbox.dir.clone(), socket);
    opts.owner = "demo".into();
    let mut sup = Supervisor::start(cfg.clone(), sandbox.store()?, opts)?;
    outln!(
        "bosun demo: {} tasks in {}",
        TASKS.len(),
        sandbox.dir.display()
    );
    outln!("  watch the agents: tmux -L {socket} attach");
    if !auto_approve {
        outln!(
            "  approvals wait for you: bosun --db {} approve KEY",
            db.display()
        );
    }

    // SIGTERM, SIGHUP (the terminal went away) and SIGINT end the run like its end: the
    // demo's agents, tmux server and directory go.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install signal handlers")?;
    }
    let result = drive(&mut sup, &engine, &store, db, socket, auto_approve, &stop);
    sup.release()?;
    result
}

fn drive(
    sup: &mut Supervisor,
    engine: &Engine<'_>,
    store: &Store,
    db: &Path,
    socket: &str,
    auto_approve: bool,
    stop: &AtomicBool,
) -> Result<()> {
    let started = Instant::now();
    let mut last_event = 0;
    let mut told: HashSet<String> = HashSet::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            bail!("stopped by a signal before the tasks were done");
        }
        let began = Instant::now();
        sup.tick()?;
        let since = last_event;
        for e in events::recent(store.conn(), None, 200)?
            .into_iter()
            .filter(|e| e.id > since)
        {
            last_event = e.id;
            let show = match e.kind {
                EventKind::StageEntered
                | EventKind::RolledBack
                | EventKind::ApprovalRequested
                | EventKind::Approved
                | EventKind::Retried
                | EventKind::TaskDone
                | EventKind::Blocked
                | EventKind::JobRequeued
                | EventKind::GateFailed => true,
                EventKind::RunStatus => e.message.ends_with(" waiting"),
                _ => false,
            };
            if show {
                outln!("[{:>6.1}s] {}", started.elapsed().as_secs_f64(), e.message);
            }
        }
        let all = tasks::list(store.conn())?;
        for t in &all {
            match t.state {
                TaskState::AwaitingApproval if auto_approve => {
                    // The demo's data dir holds its tmux config (the decider reaches panes
                    // through it; an approval never does).
                    let data_dir = db.parent().unwrap_or(Path::new("."));
                    crate::decide::Decider {
                        cfg: engine.cfg,
                        store: engine.store,
                        data_dir,
                        by: "demo",
                    }
                    .approve(&t.key, Some("approved by bosun demo --auto-approve".into()))?;
                }
                TaskState::AwaitingApproval if told.insert(format!("approve {}", t.key)) => {
                    outln!(
                        "  -> {} awaits your approval: bosun --db {} approve {}",
                        t.key,
                        db.display(),
                        t.key
                    );
                }
                TaskState::Blocked | TaskState::NeedsInput => {
                    bail!(
                        "{} is {}: {}",
                        t.key,
                        t.state,
                        t.state_reason.as_deref().unwrap_or("no reason recorded")
                    );
                }
                _ => {}
            }
        }
        for (run_id, key, status) in sup.run_statuses() {
            if status != RunStatus::Waiting {
                continue;
            }
            if auto_approve {
                if told.insert(format!("answered {run_id}")) {
                    outln!(
                        "[{:>6.1}s] {key}: answering the agent's permission prompt: yes",
                        started.elapsed().as_secs_f64()
                    );
                    sup.answer(run_id, true)?;
                }
            } else if told.insert(format!("waiting {run_id}")) {
                outln!(
                    "  -> {key}'s agent asks a question: tmux -L {socket} attach, and answer it"
                );
            }
        }
        if all.iter().all(|t| t.state == TaskState::Done) {
            outln!(
                "[{:>6.1}s] all {} tasks done",
                started.elapsed().as_secs_f64(),
                all.len()
            );
            return Ok(());
        }
        if started.elapsed() > LIMIT {
            bail!(
                "the demo did not finish within {}",
                humantime::format_duration(LIMIT)
            );
        }
        sup.sleep(began);
    }
}
