//! `bosun providers --check NAME`: does the profile read the CLI that is installed today?
//!
//! The field's most common bug is a CLI update that silently breaks status detection (a
//! footer string changes, a hook stops firing). This runs the installed CLI, at whatever
//! version, through a short scripted session under a real [`Supervisor`] — bosun's own launch,
//! prompt delivery, hooks, screen reading and answers — against the built-in scripted model
//! ([`crate::sim::model`]) on 127.0.0.1, in a private tmux server, a scratch home
//! ([`crate::sim::homes`]), repository and database under bosun's data directory. Two tasks:
//! the first gets the multi-line prompt, a model that takes 2 s per answer, a tool call the
//! CLI asks permission for (answered the way `bosun answer` does) and a final text; the second
//! gets an error the CLI gives up on. The report says, for ready, busy, waiting, answer, done,
//! error and hooks, whether bosun read it right and how fast, measured from what the model
//! server (or agent-sim's trace) says happened.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{Config, HookStyle, ProviderConfig};
use crate::control;
use crate::pipeline::Engine;
use crate::sim::homes::{self, Cli, CodexApproval};
use crate::sim::model::{ModelServer, Pace, Turn};
use crate::store::events::{self, Event, EventKind};
use crate::store::hooks::{self as hook_rows, HookEvent};
use crate::store::projects::{self, NewProject};
use crate::store::runs::{self, Run};
use crate::store::tasks;
use crate::store::{Store, now_ms};
use crate::supervisor::{Options, Supervisor, SupervisorError};

/// Why a check could not run (a status misread is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// No such provider in the config.
    #[error("no provider `{0}` in the config (see `bosun providers`)")]
    NoProvider(String),
    /// The provider is not one the check knows how to script.
    #[error(
        "`{0}` cannot be checked: providers --check scripts claude, codex, gemini and sim \
         (other profiles have no scripted model to talk to)"
    )]
    Unscripted(String),
    /// Its CLI is not installed: the message says what to install.
    #[error("{0}")]
    NotInstalled(String),
    /// The scratch setup failed.
    #[error("cannot set up the check in {}: {source}", path.display())]
    Setup {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The scratch repository could not be made.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// The config could not be built.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store or engine failed.
    #[error(transparent)]
    Engine(#[from] crate::pipeline::EngineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The supervisor failed.
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `ready`, `busy`, `waiting`, `answer`, `done`, `error` or `hooks`.
    pub status: &'static str,
    /// Read right (`true`), misread or missed (`false`).
    pub ok: bool,
    /// What was seen, in words.
    pub detail: String,
    /// How long bosun took to read it, ms (see each detail for from when).
    pub ms: Option<i64>,
}

/// What the check found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The provider profile.
    pub provider: String,
    /// What the CLI's version command printed.
    pub version: Option<String>,
    /// The version the profile is proven against (empty: best effort).
    pub proven: String,
    /// One item per status.
    pub items: Vec<Item>,
}

impl Report {
    /// True when every status was read right.
    pub fn passed(&self) -> bool {
        self.items.iter().all(|i| i.ok)
    }
}

/// The file the scripted model writes (relative to the worktree).
const FILE: &str = "docs/check/written.md";
/// What it writes.
const CONTENT: &str = "# Check\n\nWritten by the scripted model.\n";
/// The model's last words in the first task.
const FINAL: &str = "I wrote docs/check/written.md.";
/// The model's pace: slow enough that a screen reading idle while it thinks is caught.
const PACE: Pace = Pace {
    first_token: Duration::from_secs(2),
    gap: Duration::from_millis(20),
};
/// Longest the whole check may take.
const LIMIT: Duration = Duration::from_secs(300);

/// Runs the check of provider `name` (see the module docs) with the config `cfg` (the
/// profile as the operator's config has it), in a scratch directory under `data_dir`, which
/// is removed afterwards unless `keep`. `progress` gets a line now and then.
///
/// # Errors
/// [`CheckError`] when the check cannot run at all: unknown or unscriptable provider, CLI not
/// installed, scratch setup failures.
pub fn run(
    cfg: &Config,
    name: &str,
    data_dir: &Path,
    bosun_exe: &str,
    keep: bool,
    mut progress: impl FnMut(&str),
) -> Result<Report, CheckError> {
    let profile = cfg
        .providers
        .get(name)
        .ok_or_else(|| CheckError::NoProvider(name.to_string()))?;
    let cli = Cli::of_provider(name);
    let sim = profile.command.iter().any(|a| a == "agent-sim");
    if cli.is_none() && !sim {
        return Err(CheckError::Unscripted(name.to_string()));
    }
    if let Some(missing) = crate::provider::missing_cli(profile, bosun_exe) {
        return Err(CheckError::NotInstalled(missing));
    }
    let version = crate::provider::installed_version(profile, bosun_exe);
    let dir = data_dir
        .join("checks")
        .join(format!("{name}-{}", std::process::id()));
    let setup = |source| CheckError::Setup {
        path: dir.clone(),
        source,
    };
    let _ = std::fs::remove_dir_all(&dir);
    crate::private::private_dir(&dir).map_err(setup)?;
    let dir = dir.canonicalize().map_err(setup)?;
    progress(&format!("scratch directory {}", dir.display()));
    let result = session(cfg, profile, cli, &dir, bosun_exe, &mut progress);
    if !keep {
        remove_scratch(&dir);
    }
    Ok(Report {
        provider: name.to_string(),
        version,
        proven: profile.proven.clone(),
        items: result?,
    })
}

/// Removes the scratch directory; the agents' processes, killed with their tmux server, can
/// still be writing into it for a moment, so a failed removal is tried again (for up to 3 s).
fn remove_scratch(dir: &Path) {
    for _ in 0..30 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    tracing::warn!(dir = %dir.display(), "cannot remove the check's scratch directory");
}

/// Ground truth from the model server: when the asking turn, the last turn of the first task
/// and the error went out (ms since the epoch).
#[derive(Debug, Default)]
struct Truth {
    asked: Option<i64>,
    last_byte: Option<i64>,
    error: Option<i64>,
}

fn session(
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
    crate::git::init_repo(&repo, "main")?;
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
    let socket = format!("bosun-check-{}", std::process::id());
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
    let mut check_cfg = Config::from_layers(&[(Path::new("<providers --check>"), layer.as_str())])?;
    check_cfg.providers = cfg.providers.clone();
    // A check tells nobody anything.
    check_cfg.notify.desktop = false;
    check_cfg.notify.command.clear();
    check_cfg
        .providers
        .insert(provider.name.clone(), provider.clone());
    let db = dir.join("bosun.db");
    let store = Store::open(&db)?;
    let repo_s = repo.to_string_lossy().into_owned();
    store.write(|tx| {
        projects::insert(
            tx,
            &NewProject {
                name: "check",
                path: &repo_s,
                key_prefix: "CHK",
                default_branch: Some("main"),
                test_command: None,
            },
            now_ms(),
        )
        .map(|_| ())
    })?;
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
        Ok(a.state == tasks::TaskState::Done && b.first().is_some_and(|r| r.ended_at.is_some()))
    };
    while began.elapsed() < LIMIT {
        sup.tick()?;
        if !asked
            && sup
                .run_statuses()
                .iter()
                .any(|(_, k, s)| *k == first.key && *s == runs::RunStatus::Waiting)
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
    if let Err(e) = sup.tmux().kill_server() {
        tracing::debug!(error = %e, "check tmux server already gone");
    }
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

/// The run's status events, oldest first: (ms, status word, from a hook).
fn statuses(all: &[Event], run: &Run) -> Vec<(i64, String, bool)> {
    all.iter()
        .filter(|e| e.kind == EventKind::RunStatus && e.run_id == Some(run.id))
        .filter_map(|e| {
            let word = e.message.split(" is ").nth(1)?.split_whitespace().next()?;
            Some((e.ts, word.to_string(), e.message.ends_with("(agent hook)")))
        })
        .collect()
}

fn secs(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// ready, busy, waiting, answer and done, from the first task's run.
fn read_first(
    p: &ProviderConfig,
    run: &Run,
    all: &[Event],
    truth: &Truth,
    asked: bool,
    answer: Option<&Result<(), String>>,
) -> Vec<Item> {
    let mut items = vec![];
    let seen = statuses(all, run);
    let sent = run.prompt_sent_at;
    let ready_in = sent.map(|s| s - run.started_at);
    let timeout_ms = i64::try_from(p.ready_timeout.as_millis()).unwrap_or(i64::MAX);
    items.push(match ready_in {
        Some(ms) if ms + 250 < timeout_ms => Item {
            status: "ready",
            ok: true,
            detail: format!("its prompt box read ready {} after launch", secs(ms)),
            ms: Some(ms),
        },
        Some(ms) => Item {
            status: "ready",
            ok: false,
            detail: format!(
                "never read ready: the prompt went in when ready_timeout ({}) ran out",
                secs(ms)
            ),
            ms: None,
        },
        None => Item {
            status: "ready",
            ok: false,
            detail: "never read ready; no prompt was delivered".into(),
            ms: None,
        },
    });
    let busy_at = seen
        .iter()
        .find(|(_, s, _)| s == "busy")
        .map(|(t, _, _)| *t);
    let premature = seen.iter().find(|(t, s, _)| {
        (s == "done" || s == "idle")
            && truth.last_byte.is_some_and(|lb| *t < lb)
            && busy_at.is_some_and(|b| *t > b)
    });
    items.push(match (busy_at, sent, premature) {
        (Some(b), Some(s), None) => Item {
            status: "busy",
            ok: true,
            detail: format!(
                "{} ms after the prompt was submitted, and busy while the model answered",
                b - s
            ),
            ms: Some(b - s),
        },
        (Some(_), _, Some((t, s, _))) => Item {
            status: "busy",
            ok: false,
            detail: format!(
                "read as {s} {} before the model had finished its answer",
                secs(truth.last_byte.unwrap_or(*t) - t)
            ),
            ms: None,
        },
        _ => Item {
            status: "busy",
            ok: false,
            detail: "never read busy".into(),
            ms: None,
        },
    });
    let waiting_at = seen
        .iter()
        .find(|(_, s, _)| s == "waiting")
        .map(|(t, _, _)| *t);
    items.push(match (waiting_at, truth.asked) {
        (Some(w), Some(a)) => Item {
            status: "waiting",
            ok: true,
            detail: format!("{} ms after the model asked for the tool", w - a),
            ms: Some(w - a),
        },
        (Some(_), None) => Item {
            status: "waiting",
            ok: true,
            detail: "read waiting".into(),
            ms: None,
        },
        (None, _) => Item {
            status: "waiting",
            ok: false,
            detail: "never read waiting while the agent asked for permission".into(),
            ms: None,
        },
    });
    let answered = all
        .iter()
        .find(|e| e.kind == EventKind::Answered && e.run_id == Some(run.id));
    items.push(match (asked, answer, answered) {
        (true, Some(Ok(())), Some(e)) => Item {
            status: "answer",
            ok: true,
            detail: format!(
                "taken: {}",
                e.message.split(" answered ").nth(1).unwrap_or("yes")
            ),
            ms: waiting_at.map(|w| e.ts - w),
        },
        (true, Some(Err(e)), _) => Item {
            status: "answer",
            ok: false,
            detail: crate::text::clean(&e.lines().collect::<Vec<_>>().join(" │ ")),
            ms: None,
        },
        (true, _, _) => Item {
            status: "answer",
            ok: false,
            detail: "the answer did not finish".into(),
            ms: None,
        },
        (false, _, _) => Item {
            status: "answer",
            ok: false,
            detail: "nothing to answer: waiting was never read".into(),
            ms: None,
        },
    });
    let done = seen.iter().find(|(_, s, _)| s == "done");
    items.push(match (done, truth.last_byte) {
        (Some((t, _, hook)), Some(lb)) if *t >= lb => Item {
            status: "done",
            ok: true,
            detail: format!(
                "{} ms after the model's last byte ({})",
                t - lb,
                if *hook { "Stop hook" } else { "screen" }
            ),
            ms: Some(t - lb),
        },
        (Some((t, _, _)), Some(lb)) => Item {
            status: "done",
            ok: false,
            detail: format!("read done {} ms before the model's last byte", lb - t),
            ms: None,
        },
        (Some((_, _, hook)), None) => Item {
            status: "done",
            ok: true,
            detail: format!("read done ({})", if *hook { "Stop hook" } else { "screen" }),
            ms: None,
        },
        (None, _) => Item {
            status: "done",
            ok: false,
            detail: "the turn was never read done".into(),
            ms: None,
        },
    });
    items
}

/// error, from the second task's run.
fn read_error(run: Option<&Run>, all: &[Event], truth: &Truth) -> Item {
    let Some(run) = run else {
        return Item {
            status: "error",
            ok: false,
            detail: "the second run never started".into(),
            ms: None,
        };
    };
    let seen = statuses(all, run);
    // A failure hook fails the run at once, before an `error` status is written: the run's
    // own row then says error.
    let by_hook = seen.iter().all(|(_, s, _)| s != "error")
        && run.status == runs::RunStatus::Error
        && run.ended_at.is_some();
    let error = seen
        .iter()
        .find(|(_, s, _)| s == "error")
        .map(|(t, _, h)| (*t, *h))
        .or_else(|| by_hook.then(|| (run.ended_at.unwrap_or_default(), true)));
    let from = truth.error.or(run.prompt_sent_at);
    match (error, run.ended_at) {
        (Some((t, hook)), _) => Item {
            status: "error",
            ok: true,
            detail: format!(
                "{} after the model's error ({})",
                from.map_or_else(|| "read".into(), |f| secs(t - f)),
                if hook { "failure hook" } else { "screen" },
            ),
            ms: from.map(|f| t - f),
        },
        (None, Some(_)) => Item {
            status: "error",
            ok: false,
            detail: format!(
                "the run ended ({}) but its status never read error",
                run.error.as_deref().unwrap_or("no reason")
            ),
            ms: None,
        },
        (None, None) => Item {
            status: "error",
            ok: false,
            detail: "the error was never read".into(),
            ms: None,
        },
    }
}

/// hooks: which of the CLI's hook calls reached bosun.
fn hooks(p: &ProviderConfig, store: &Store, a: &Run, b: Option<&Run>) -> Result<Item, CheckError> {
    if p.hooks == HookStyle::None {
        return Ok(Item {
            status: "hooks",
            ok: true,
            detail: "not wired (hooks = \"none\"): the screen decides".into(),
            ms: None,
        });
    }
    let mut calls: Vec<HookEvent> = hook_rows::for_run(store.conn(), a.id)?
        .iter()
        .map(|h| h.event)
        .collect();
    if let Some(b) = b {
        calls.extend(
            hook_rows::for_run(store.conn(), b.id)?
                .iter()
                .map(|h| h.event),
        );
    }
    let mut names: Vec<&str> = calls.iter().map(|e| e.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let ok = calls.contains(&HookEvent::UserPromptSubmit) && calls.contains(&HookEvent::Stop);
    Ok(Item {
        status: "hooks",
        ok,
        detail: if names.is_empty() {
            "no hook call arrived: the CLI's hooks are broken or ignored (its turns fall back to \
             the screen after hook_grace)"
                .into()
        } else if ok {
            format!("received {}", names.join(", "))
        } else {
            format!(
                "only {} arrived (a prompt and a Stop hook are needed)",
                names.join(", ")
            )
        },
        ms: None,
    })
}
