//! The check's session: a sandbox, the CLI's scratch home and model server (or agent-sim's
//! trace), a supervisor, two tasks, and the ground truth of what the model did.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::read::{hooks, read_error, read_first};
use super::{CONTENT, CheckError, FILE, FINAL, Item, LIMIT, PACE};
use crate::config::{Config, ProviderConfig};
use crate::control;
use crate::pipeline::Engine;
use crate::sandbox::{Project, Sandbox, TmuxServer};
use crate::sim::homes::{self, Cli, CodexApproval};
use crate::sim::model::{ModelServer, Turn};
use crate::store::Store;
use crate::store::events;
use crate::store::runs::{self, Run};
use crate::store::tasks;
use crate::supervisor::{Options, Supervisor};

/// Ground truth from the model server: when the asking turn, the last turn of the first task
/// and the error went out (ms since the epoch).
#[derive(Debug, Default)]
pub(super) struct Truth {
    pub(super) asked: Option<i64>,
    pub(super) last_byte: Option<i64>,
    pub(super) error: Option<i64>,
}

pub(super) fn session(
    cfg: &Config,
    profile: &ProviderConfig,
    cli: Option<Cli>,
    dir: &Path,
    bosun_exe: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Item>, CheckError> {
    let setup = |source| CheckError::Setup {
        path: dir.to_path_buf(),
        source,
    };
    let repo = dir.join("repo");
    let worktrees = dir.join("worktrees/check");
    let trusted: Vec<PathBuf> = ["CHK-001", "CHK-002"]
        .iter()
        .map(|k| worktrees.join(k))
        .chain([repo.clone()])
        .collect();
    let trusted: Vec<&Path> = trusted.iter().map(PathBuf::as_path).collect();
    let mut provider = profile.clone();
    let server = match cli {
        Some(cli) => {
            let mut turns = vec![cli.asking_turn(FILE, CONTENT), Turn::text(FINAL)];
            turns.extend(cli.error_turns());
            let server = ModelServer::start(turns).map_err(setup)?;
            server.set_pace(PACE);
            let env = homes::prepare(
                cli,
                &dir.join("home"),
                &server.url(),
                &trusted,
                CodexApproval::OnEscalation,
            )
            .map_err(setup)?;
            provider.env.extend(env);
            provider
                .command
                .extend(cli.asking_args().iter().map(|a| a.to_string()));
            Some(server)
        }
        None => {
            let trace = dir.join("trace");
            std::fs::create_dir_all(&trace).map_err(setup)?;
            provider
                .env
                .insert("BOSUN_SIM_TRACE".into(), trace.display().to_string());
            None
        }
    };
    let tmux = TmuxServer::named(format!("bosun-check-{}", std::process::id()));
    let socket = tmux.socket().to_string();
    let layer = format!(
        r#"[supervisor]
max_concurrency = 1
kill_grace = "2s"
tmux_socket = "{socket}"
[queue]
max_transient_attempts = 1
backoff_base = "10m"
[roles.checker]
provider = "{name}"
prompt = """
You are checking bosun's profile of this CLI, task {{key}}: {{title}}.
{{spec}}
Write {FILE} when asked, then say that you did.
{{feedback}}"""
[[stages]]
name = "check"
role = "checker"
"#,
        name = profile.name,
    );
    let project = Project {
        name: "check",
        key_prefix: "CHK",
        test_command: None,
        readme: "# check\n\nA scratch project for `bosun providers --check`.\n",
    };
    let sandbox = Sandbox::create(dir, &project, &layer, tmux)?;
    let mut check_cfg = sandbox.cfg.clone();
    check_cfg.providers = cfg.providers.clone();
    // A check tells nobody anything.
    check_cfg.notify.desktop = false;
    check_cfg.notify.command.clear();
    check_cfg
        .providers
        .insert(provider.name.clone(), provider.clone());
    let db = sandbox.db.clone();
    let store = sandbox.store()?;
    let (first_spec, second_spec) = if cli.is_some() {
        (
            "This is a scripted session: the model's answers are fixed.\n\
             It checks that bosun reads every status of this CLI right.\n\
             Nothing here reaches a real model.",
            "The model answers this one with an error.",
        )
    } else {
        (
            "@sim {spin = \"2s\"}\n@sim {ask = \"docs/check/written.md\"}\n\
             @sim {write = \"docs/check/written.md\", text = \"# Check\"}",
            "@sim {spin = \"1s\"}\n@sim {fail = \"429 Too Many Requests\"}",
        )
    };
    let engine = Engine::new(&check_cfg, &store);
    let (first, _) = engine.create_task("check", "Read every status", first_spec, 100)?;
    let (second, _) = engine.create_task("check", "Give up on an error", second_spec, 100)?;
    let mut opts = Options::new(dir.to_path_buf(), &socket);
    opts.owner = "check".into();
    opts.bosun_exe = bosun_exe.to_string();
    let mut sup = Supervisor::start(check_cfg.clone(), Store::open(&db)?, opts)?;
    progress(&format!(
        "running {} in tmux -L {socket} against the scripted model",
        provider.command.join(" ").replace("{bosun}", bosun_exe)
    ));
    let (tx, rx) = mpsc::channel();
    let mut asked = false;
    let mut answer: Option<Result<(), String>> = None;
    let began = Instant::now();
    let finished = |store: &Store| -> Result<bool, CheckError> {
        let a = tasks::get(store.conn(), first.id)?;
        let b = runs::for_task(store.conn(), second.id)?;
        Ok(a.state == crate::status::TaskState::Done
            && b.first().is_some_and(|r| r.ended_at.is_some()))
    };
    while began.elapsed() < LIMIT {
        sup.tick()?;
        if !asked
            && sup
                .run_statuses()
                .iter()
                .any(|(_, k, s)| *k == first.key && *s == crate::status::RunStatus::Waiting)
        {
            asked = true;
            progress("the agent asks; answering yes as `bosun answer` does");
            let (cfg, data, db, key, tx) = (
                check_cfg.clone(),
                dir.to_path_buf(),
                db.clone(),
                first.key.clone(),
                tx.clone(),
            );
            std::thread::spawn(move || {
                let result = Store::open(&db)
                    .map_err(crate::decide::DecideError::from)
                    .and_then(|store| {
                        crate::decide::Decider {
                            cfg: &cfg,
                            store: &store,
                            data_dir: &data,
                            by: "check",
                        }
                        .answer(
                            &key,
                            true,
                            control::AnswerTiming::default(),
                        )
                    })
                    .map_err(|e| e.to_string());
                let _ = tx.send(result);
            });
        }
        if let Ok(r) = rx.try_recv() {
            answer = Some(r);
        }
        if finished(&store)? && (answer.is_some() || !asked) {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    if asked && answer.is_none() {
        answer = rx.recv_timeout(Duration::from_secs(15)).ok();
    }
    let truth = match &server {
        Some(s) => model_truth(s),
        None => sim_truth(&dir.join("trace")),
    };
    let runs_a = runs::for_task(store.conn(), first.id)?;
    let runs_b = runs::for_task(store.conn(), second.id)?;
    let all = events::recent(store.conn(), None, 5000)?;
    let mut items = vec![];
    match runs_a.first() {
        Some(a) => {
            items.extend(read_first(
                &provider,
                a,
                &all,
                &truth,
                asked,
                answer.as_ref(),
            ));
            items.push(hooks(&provider, &store, a, runs_b.first())?);
        }
        None => items.push(Item {
            status: "ready",
            ok: false,
            detail: "no run started".into(),
            ms: None,
        }),
    }
    let hooks_item = items.pop();
    items.push(read_error(runs_b.first(), &all, &truth));
    items.extend(hooks_item);
    sup.release()?;
    stop_agents(&store, sup.tmux(), runs_a.iter().chain(&runs_b));
    // The sandbox goes with its tmux server (the directory is `run`'s to remove).
    drop(sup);
    drop(sandbox);
    Ok(items)
}

/// Stops every process of the check's runs before its scratch directory goes: each pane's
/// process tree and every process carrying a run's marks (`orphans::marks`). The supervisor
/// closes finished panes on threads of its own, and an agent that is still dying (Claude
/// Code saves its session on SIGTERM) would otherwise write into the scratch after it was
/// removed.
fn stop_agents<'a>(store: &Store, tmux: &crate::tmux::Tmux, runs: impl Iterator<Item = &'a Run>) {
    let panes = tmux.list_panes().unwrap_or_default();
    // (pane pid, the run's marks)
    let mut pids: Vec<(u32, Vec<Vec<String>>)> =
        panes.iter().map(|p| (p.pid, Vec::new())).collect();
    for run in runs {
        let pid = panes
            .iter()
            .find(|p| Some(&p.pane_id) == run.pane_id.as_ref())
            .map_or(0, |p| p.pid);
        pids.push((pid, crate::supervisor::orphans::marks(store.path(), run.id)));
    }
    for (pid, marks) in pids {
        if let Err(e) = crate::tmux::process::terminate_marked(pid, &marks, Duration::from_secs(2))
        {
            tracing::debug!(pid, error = %e, "cannot stop a check agent");
        }
    }
}

/// When the model server sent the asking turn (main request 0), the last turn of the first
/// task (main request 1) and the error (main request 2).
fn model_truth(server: &ModelServer) -> Truth {
    let main: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.is_main())
        .collect();
    let at = |i: usize| main.get(i).and_then(|r| r.finished_ms);
    Truth {
        asked: at(0),
        last_byte: at(1),
        error: at(2),
    }
}

/// When agent-sim drew its dialog and its turn's end (its `BOSUN_SIM_TRACE` lines `<ms>
/// <run> <state>`).
fn sim_truth(trace: &Path) -> Truth {
    let mut t = Truth::default();
    for file in std::fs::read_dir(trace).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(file.path()).unwrap_or_default();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(ms), Some(_), Some(state)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(ms) = ms.parse::<i64>() else { continue };
            match state {
                "waiting" => t.asked = t.asked.or(Some(ms)),
                "done" => t.last_byte = t.last_byte.or(Some(ms)),
                _ => {}
            }
        }
    }
    t
}
