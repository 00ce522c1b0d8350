//! The supervisor: turns queued jobs into agents working in tmux panes, watches them, and
//! feeds the pipeline engine.
//!
//! One loop, driven by [`Supervisor::tick`] every [`Options::tick`]:
//! 1. read the agents' hook calls recorded since the last tick (the strongest signal, see
//!    [`hooks`]); read each run's new output from its `pipe-pane` log, feed the terminal
//!    emulator, and classify the rendered screen (after every output batch, and once more
//!    after a quiet period); write status changes to SQLite;
//! 2. every [`Options::liveness_every`], one `list-panes -a` for the liveness and exit status
//!    of every pane (never one tmux process per pane per tick), and a look at cancelled jobs;
//! 3. advance each run: wait until the agent is ready, paste the prompt, press the submit
//!    keys, verify it started (resend once), complete it after the debounce (commit the
//!    worktree, hand it to the engine, send the exit command, close the window), enforce the
//!    role's timeout (SIGTERM to the process tree, kill grace, SIGKILL, kill the pane);
//! 4. claim jobs while below `max_concurrency` and launch them.
//!
//! Exactly one supervisor drives a database: it holds the lease row, heartbeats it, and
//! re-adopts live runs on start (see [`Supervisor::start`]).

pub mod control;
pub mod hooks;
pub mod prompt;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::{Config, HookStyle, ProviderConfig, ProviderMode};
use crate::pipeline::{Engine, EngineError, Input, RunResult, read_tail};
use crate::provider::{Detector, HookSignal, Tracker, classify, launch_argv};
use crate::store::events::{self, EventKind, NewEvent};
use crate::store::jobs::{self, Job, JobStatus};
use crate::store::runs::{self, Run, RunStatus};
use crate::store::{Store, StoreError, hooks as hook_rows, lease, now_ms, projects, tasks};
use crate::tmux::{NewWindow, PaneState, Tmux, TmuxError};

/// A supervisor failure.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// tmux failed (missing, too old, or a command failed).
    #[error(transparent)]
    Tmux(#[from] TmuxError),
    /// git failed.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// A file could not be read or created.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The provider's CLI is not installed: the message says what to install.
    #[error("{0}")]
    AgentMissing(String),
    /// Another supervisor took the lease (this one must stop).
    #[error("lost the supervisor lease to another process; stopping")]
    LeaseLost,
}

/// Result alias.
pub type Result<T> = std::result::Result<T, SupervisorError>;

/// Tuning and placement. [`Options::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// tmux socket name (`tmux -L NAME`).
    pub socket: String,
    /// tmux session holding one window per run.
    pub session: String,
    /// Where `runs/<id>.log`, `worktrees/` and the tmux config go.
    pub data_dir: PathBuf,
    /// Names the lease holder: `daemon`, `console`, `demo`.
    pub owner: String,
    /// Loop period (25 ms): the bound on output-to-status latency from polling.
    pub tick: Duration,
    /// Period of the `list-panes -a` liveness check and cancel check (500 ms).
    pub liveness_every: Duration,
    /// Period of claim attempts (200 ms).
    pub claim_every: Duration,
    /// A turn must look finished this long to count as complete (800 ms).
    pub done_debounce: Duration,
    /// Quiet time after output before the screen is classified once more (250 ms).
    pub quiet: Duration,
    /// Wait after the exit command before the window is closed (3 s).
    pub exit_grace: Duration,
    /// Lease heartbeat period (2 s); a lease silent for 5 periods is stale.
    pub heartbeat_every: Duration,
    /// Pane size for new windows, columns × rows (200 × 50).
    pub pane_size: (u16, u16),
    /// Path of the bosun binary, for `{bosun}` in provider commands.
    pub bosun_exe: String,
}

impl Options {
    /// Defaults, with the data directory and tmux socket given.
    pub fn new(data_dir: PathBuf, socket: &str) -> Options {
        Options {
            socket: socket.to_string(),
            session: "bosun".into(),
            data_dir,
            owner: "daemon".into(),
            tick: Duration::from_millis(25),
            liveness_every: Duration::from_millis(500),
            claim_every: Duration::from_millis(200),
            done_debounce: Duration::from_millis(800),
            quiet: Duration::from_millis(250),
            exit_grace: Duration::from_secs(3),
            heartbeat_every: Duration::from_secs(2),
            pane_size: (200, 50),
            bosun_exe: std::env::current_exe()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "bosun".into()),
        }
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Launched; waiting for the ready pattern (or its timeout) to paste the prompt.
    WaitReady { since: Instant },
    /// Prompt pasted; the submit keys go after the provider's delay.
    Pasted { at: Instant },
    /// Submitted; waiting to see the agent take it (submit keys resent once if not).
    Submitted { at: Instant, resent: bool },
    /// Working on its turn.
    Working,
    /// Completed; exit command sent; the window closes after the grace period.
    Exiting { since: Instant },
}

/// A run the supervisor watches.
struct Active {
    run_id: i64,
    job_id: i64,
    task_key: String,
    pane: String,
    pid: u32,
    worktree: PathBuf,
    provider: ProviderConfig,
    prompt: String,
    log_path: PathBuf,
    log: File,
    detector: Detector,
    /// The emulator's size, rows × columns (kept equal to the pane's).
    size: (u16, u16),
    tracker: Tracker,
    phase: Phase,
    deadline: Instant,
    timeout: Duration,
    last_output: Instant,
    /// Since when the screen shows an error.
    error_since: Option<Instant>,
    /// Since when tmux shows the pane dead.
    dead_since: Option<Instant>,
    fresh_output: bool,
    quiet_checked: bool,
    written: RunStatus,
    /// The agent's last message, from its `Stop` hook.
    final_message: Option<String>,
}

/// How long an error must stay on an agent's screen before it fails the run.
const ERROR_DEBOUNCE: Duration = Duration::from_secs(3);

/// How long a dead pane may wait for tmux to record its exit status.
const DEAD_STATUS_WAIT: Duration = Duration::from_secs(2);

/// Wall time one tick may spend launching runs.
const LAUNCH_BUDGET: Duration = Duration::from_millis(30);

/// Bytes read from one log per tick at most, so a flooding agent cannot starve the others.
const READ_BUDGET: usize = 1 << 20;

/// The supervisor. See the module docs.
pub struct Supervisor {
    cfg: Config,
    store: Store,
    tmux: Tmux,
    opts: Options,
    runs: HashMap<i64, Active>,
    /// Completion threads still working (joined before the lease is given up).
    completions: Vec<std::thread::JoinHandle<()>>,
    pid: i64,
    next_liveness: Instant,
    next_claim: Instant,
    next_heartbeat: Instant,
    /// Id of the last hook row read.
    hook_cursor: i64,
}

impl Supervisor {
    /// Checks tmux, takes the lease (a stale one — silent for 5 heartbeats, or whose process
    /// is gone — is taken over), starts the tmux session, and reconciles: jobs left running
    /// whose pane is alive are re-adopted (log stream and detector re-attached), the rest are
    /// requeued with backoff or failed when attempts are spent.
    ///
    /// # Errors
    /// [`SupervisorError::Store`] with the holder's name if another live supervisor holds the
    /// lease; [`SupervisorError::Tmux`] if tmux is missing or too old.
    pub fn start(cfg: Config, store: Store, opts: Options) -> Result<Supervisor> {
        let tmux = Tmux::new(
            &opts.socket,
            &opts.data_dir,
            opts.pane_size.0,
            opts.pane_size.1,
        )?;
        let pid = i64::from(std::process::id());
        let host = hostname();
        let stale_ms = i64::try_from(opts.heartbeat_every.as_millis() * 5).unwrap_or(i64::MAX);
        let now = now_ms();
        store.write(|tx| {
            lease::acquire(tx, &opts.owner, pid, &host, now, |held| {
                now - held.heartbeat_at > stale_ms
                    || (held.host == host && !process_alive(held.pid))
            })
        })?;
        tmux.ensure_session(&opts.session)?;
        let hook_cursor = hook_rows::last_id(store.conn())?;
        let start = Instant::now();
        let mut sup = Supervisor {
            cfg,
            store,
            tmux,
            opts,
            runs: HashMap::new(),
            completions: Vec::new(),
            pid,
            next_liveness: start,
            next_claim: start,
            next_heartbeat: start + Duration::from_secs(2),
            hook_cursor,
        };
        sup.reconcile()?;
        Ok(sup)
    }

    /// The tmux server this supervisor uses.
    pub fn tmux(&self) -> &Tmux {
        &self.tmux
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs being watched.
    pub fn active_runs(&self) -> usize {
        self.runs.len()
    }

    /// (run id, task key, status) of every watched run.
    pub fn run_statuses(&self) -> Vec<(i64, String, RunStatus)> {
        let mut out: Vec<_> = self
            .runs
            .values()
            .map(|r| (r.run_id, r.task_key.clone(), r.tracker.status()))
            .collect();
        out.sort_by_key(|(id, _, _)| *id);
        out
    }

    /// Answers a waiting agent's permission prompt with the provider's yes or no keys.
    ///
    /// # Errors
    /// [`SupervisorError::Engine`] if the run is not watched; tmux failures.
    pub fn answer(&mut self, run_id: i64, yes: bool) -> Result<()> {
        let run = self.runs.get_mut(&run_id).ok_or_else(|| {
            SupervisorError::Engine(EngineError::State(format!(
                "run {run_id} is not running here"
            )))
        })?;
        let keys = if yes {
            &run.provider.yes_keys
        } else {
            &run.provider.no_keys
        };
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let screen = run.detector.text();
        self.tmux.send_keys(&run.pane, &keys)?;
        run.tracker.answer_sent(&screen);
        Ok(())
    }

    /// Ticks until `stop` is set, sleeping [`Options::tick`] between ticks; then gives up
    /// the lease, leaving every agent running.
    ///
    /// # Errors
    /// [`SupervisorError::LeaseLost`] if another supervisor took over; store failures.
    pub fn run_until(&mut self, stop: &AtomicBool) -> Result<()> {
        while !stop.load(Ordering::SeqCst) {
            let began = Instant::now();
            if let Err(e) = self.tick() {
                if matches!(e, SupervisorError::LeaseLost) {
                    return Err(e);
                }
                tracing::error!(error = %e, "supervisor tick failed");
            }
            let spent = began.elapsed();
            if spent < self.opts.tick {
                std::thread::sleep(self.opts.tick - spent);
            }
        }
        self.release()
    }

    /// Waits for completions in progress, then gives up the lease (agents keep running in
    /// tmux).
    ///
    /// # Errors
    /// Store failures.
    pub fn release(&mut self) -> Result<()> {
        for h in self.completions.drain(..) {
            if h.join().is_err() {
                tracing::error!("a completion thread panicked");
            }
        }
        self.store.write(|tx| lease::release(tx, self.pid))?;
        Ok(())
    }

    /// One pass of the loop (see the module docs).
    ///
    /// # Errors
    /// [`SupervisorError::LeaseLost`]; store failures. Failures of one run (tmux, git) are
    /// recorded on that run and do not stop the loop.
    pub fn tick(&mut self) -> Result<()> {
        let now = Instant::now();
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.opts.heartbeat_every;
            let ok = self
                .store
                .write(|tx| lease::heartbeat(tx, self.pid, now_ms()))?;
            if !ok {
                return Err(SupervisorError::LeaseLost);
            }
        }
        self.read_hooks()?;
        for run in self.runs.values_mut() {
            pump(run, &self.opts, now);
        }
        if now >= self.next_liveness {
            self.next_liveness = now + self.opts.liveness_every;
            self.check_liveness()?;
        }
        let ids: Vec<i64> = self.runs.keys().copied().collect();
        for id in ids {
            if let Err(e) = self.advance(id, now) {
                tracing::warn!(run = id, error = %e, "run step failed");
                self.fail(
                    id,
                    &format!("bosun could not drive the run: {e}"),
                    None,
                    false,
                )?;
            }
        }
        self.write_statuses()?;
        if now >= self.next_claim {
            let cut_short = self.claim_and_launch()?;
            // Claim again next tick when the launch budget ran out with room left.
            self.next_claim = if cut_short {
                now
            } else {
                now + self.opts.claim_every
            };
        }
        Ok(())
    }

    /// Applies the hook calls recorded since the last tick to their runs' trackers; a
    /// `StopFailure` fails its run at once, with the agent's error as the reason.
    fn read_hooks(&mut self) -> Result<()> {
        if self.runs.is_empty() {
            return Ok(());
        }
        let calls = hook_rows::since(self.store.conn(), self.hook_cursor)?;
        let mut failed = Vec::new();
        for call in calls {
            self.hook_cursor = call.id;
            let Some(run) = self.runs.get_mut(&call.run_id) else {
                continue;
            };
            let Some(signal) = hooks::signal(&call) else {
                continue;
            };
            tracing::debug!(run = call.run_id, hook = %call.event, "hook applied");
            if run.tracker.is_complete() {
                continue;
            }
            match signal {
                HookSignal::Done => run.final_message = Some(call.detail.clone()),
                HookSignal::Failed => failed.push((call.run_id, call.detail.clone())),
                HookSignal::Busy | HookSignal::Waiting => {}
            }
            run.tracker.hook(signal);
        }
        for (id, detail) in failed {
            let tail = self.log_tail(id);
            let reason = format!("the agent's turn failed: {detail}");
            self.fail_with_tail(id, &reason, format!("{tail}\n{detail}"), None, false)?;
        }
        Ok(())
    }

    fn engine(&self) -> Engine<'_> {
        Engine::new(&self.cfg, &self.store)
    }

    /// Re-adopts live runs, fails or requeues lost ones.
    fn reconcile(&mut self) -> Result<()> {
        let panes: HashMap<String, PaneState> = self
            .tmux
            .list_panes()?
            .into_iter()
            .map(|p| (p.pane_id.clone(), p))
            .collect();
        let alive = |run: &Run| {
            run.pane_id
                .as_deref()
                .and_then(|p| panes.get(p))
                .is_some_and(|p| !p.dead)
        };
        let report = self.engine().recover(alive)?;
        tracing::info!(?report, "reconciled after start");
        for run_id in report.readopted {
            let run = runs::get(self.store.conn(), run_id)?;
            let Some(pane) = run.pane_id.as_deref().and_then(|p| panes.get(p)).cloned() else {
                continue;
            };
            if let Err(e) = self.readopt(&run, &pane) {
                tracing::warn!(run = run_id, error = %e, "cannot re-adopt run");
                self.fail(
                    run_id,
                    &format!("cannot re-adopt after restart: {e}"),
                    None,
                    false,
                )?;
            }
        }
        Ok(())
    }

    fn readopt(&mut self, run: &Run, pane: &PaneState) -> Result<()> {
        let job_id = run.job_id.unwrap_or_default();
        let job = jobs::get(self.store.conn(), job_id)?;
        let task = tasks::get(self.store.conn(), run.task_id)?;
        let provider = self.provider(&job.provider)?;
        let worktree = PathBuf::from(task.worktree.clone().unwrap_or_default());
        let log_path = PathBuf::from(run.log_path.clone().unwrap_or_default());
        let mut log = File::open(&log_path).map_err(|source| SupervisorError::Io {
            what: "cannot open the run log",
            path: log_path.clone(),
            source,
        })?;
        log.seek(SeekFrom::End(0))
            .map_err(|source| SupervisorError::Io {
                what: "cannot seek the run log",
                path: log_path.clone(),
                source,
            })?;
        let mut detector = Detector::new(provider.clone(), pane.height, pane.width);
        detector.load_capture(&self.tmux.capture(&pane.pane_id, true)?);
        let timeout = self.timeout_of(&job);
        let elapsed = Duration::from_millis(u64::try_from(now_ms() - run.started_at).unwrap_or(0));
        let now = Instant::now();
        let phase = if run.prompt_sent_at.is_some() {
            Phase::Working
        } else {
            Phase::WaitReady { since: now }
        };
        let prompt = self.render_prompt(&job, &task, &worktree);
        self.runs.insert(
            run.id,
            Active {
                run_id: run.id,
                job_id,
                task_key: task.key.clone(),
                pane: pane.pane_id.clone(),
                pid: pane.pid,
                worktree,
                provider,
                prompt,
                log_path,
                log,
                detector,
                size: (pane.height, pane.width),
                tracker: Tracker::resumed(self.opts.done_debounce, run.status),
                phase,
                deadline: now + timeout.saturating_sub(elapsed),
                timeout,
                last_output: now,
                error_since: None,
                dead_since: None,
                fresh_output: true,
                quiet_checked: false,
                written: run.status,
                final_message: None,
            },
        );
        Ok(())
    }

    fn provider(&self, name: &str) -> Result<ProviderConfig> {
        self.cfg.providers.get(name).cloned().ok_or_else(|| {
            SupervisorError::Engine(EngineError::State(format!(
                "no provider `{name}` in the config"
            )))
        })
    }

    fn timeout_of(&self, job: &Job) -> Duration {
        self.cfg
            .roles
            .get(&job.role)
            .map_or(self.cfg.supervisor.default_timeout, |r| {
                self.cfg.timeout_of(r)
            })
    }

    fn render_prompt(&self, job: &Job, task: &tasks::Task, worktree: &Path) -> String {
        let template = self
            .cfg
            .roles
            .get(&job.role)
            .map_or("", |r| r.prompt.as_str());
        let artifacts = self
            .cfg
            .stage_index(&job.stage)
            .map(|i| prompt::artifacts(&self.cfg.stages[i], &task.key))
            .unwrap_or_default();
        prompt::render(
            template,
            &prompt::PromptVars {
                key: &task.key,
                title: &task.title,
                spec: &task.spec,
                stage: &job.stage,
                worktree: &worktree.to_string_lossy(),
                feedback: job.feedback.as_deref(),
                artifacts,
            },
        )
    }

    /// Claims and launches while below `max_concurrency`, for at most [`LAUNCH_BUDGET`] of
    /// this tick: a launch forks git and tmux (tens of ms), and a burst of them must not hold
    /// up status detection of the runs already working. The rest go in the next ticks.
    /// Returns true when the budget ran out with room left.
    fn claim_and_launch(&mut self) -> Result<bool> {
        let max = self.cfg.supervisor.max_concurrency as usize;
        let began = Instant::now();
        while self.runs.len() < max && began.elapsed() < LAUNCH_BUDGET {
            let engine = self.engine();
            let Some(job) = engine.queue.claim(&self.store, now_ms())? else {
                return Ok(false);
            };
            let run = engine.start_run(job.id)?;
            if let Err(e) = self.launch(&job, &run) {
                tracing::warn!(job = job.id, error = %e, "launch failed");
                let outcome = self.engine().handle(Input::RunFinished {
                    run_id: run.id,
                    result: RunResult::Failed {
                        reason: format!("launch failed: {e}"),
                        log_tail: String::new(),
                        exit_code: None,
                        timed_out: false,
                    },
                })?;
                tracing::info!(?outcome, "launch failure handled");
            }
        }
        Ok(self.runs.len() < max)
    }

    /// Worktree, window, log stream, detector: everything a new run needs.
    fn launch(&mut self, job: &Job, run: &Run) -> Result<()> {
        let c = self.store.conn();
        let task = tasks::get(c, job.task_id)?;
        let project = projects::get(c, task.project_id)?;
        let provider = self.provider(&job.provider)?;
        if let Some(missing) = crate::provider::missing_cli(&provider, &self.opts.bosun_exe) {
            return Err(SupervisorError::AgentMissing(missing));
        }
        let worktree = match &task.worktree {
            Some(w) => PathBuf::from(w),
            None => self
                .opts
                .data_dir
                .join("worktrees")
                .join(&project.name)
                .join(&task.key),
        };
        let repo = Path::new(&project.path);
        let branch = task
            .branch
            .clone()
            .unwrap_or_else(|| crate::git::branch_name(&task.key, &task.title));
        let base = match &project.default_branch {
            Some(b) => b.clone(),
            None => crate::git::head_branch(repo)?,
        };
        crate::git::ensure_worktree(repo, &worktree, &branch, &base)?;
        if task.worktree.is_none() {
            let (b, w) = (branch.clone(), worktree.to_string_lossy().into_owned());
            self.store
                .write(|tx| tasks::set_worktree(tx, task.id, &b, &w, now_ms()))?;
        }

        let prompt = self.render_prompt(job, &task, &worktree);
        let batch = provider.mode == ProviderMode::Batch;
        let mut argv = launch_argv(
            &provider,
            &self.opts.bosun_exe,
            batch.then_some(prompt.as_str()),
        );
        let runs_dir = self.opts.data_dir.join("runs");
        std::fs::create_dir_all(&runs_dir).map_err(|source| SupervisorError::Io {
            what: "cannot create the run log directory",
            path: runs_dir.clone(),
            source,
        })?;
        let token = hooks::new_token().map_err(|source| SupervisorError::Io {
            what: "cannot read random bytes for the hook token from",
            path: PathBuf::from("/dev/urandom"),
            source,
        })?;
        self.store
            .write(|tx| runs::set_hook_token(tx, run.id, &token))?;
        // Absolute: the hook runs in the worktree.
        let db = std::path::absolute(self.store.path())
            .unwrap_or_else(|_| self.store.path().to_path_buf());
        if provider.hooks == HookStyle::Codex {
            argv.splice(1..1, hooks::codex_args(&self.opts.bosun_exe, &db, run.id));
        }
        if provider.hooks == HookStyle::ClaudeCode {
            let path = runs_dir.join(format!("{}.settings.json", run.id));
            let settings = hooks::claude_settings(&self.opts.bosun_exe, &db, run.id, &token);
            hooks::write_settings(&path, &settings).map_err(|source| SupervisorError::Io {
                what: "cannot write the agent's hook settings",
                path: path.clone(),
                source,
            })?;
            argv.splice(
                1..1,
                [
                    "--settings".to_string(),
                    path.to_string_lossy().into_owned(),
                ],
            );
        }
        let mut env: Vec<(String, String)> = provider
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.push(("BOSUN_RUN_ID".into(), run.id.to_string()));
        env.push(("BOSUN_TASK".into(), task.key.clone()));
        env.push(("BOSUN_STAGE".into(), job.stage.clone()));
        env.push(("BOSUN_HOOK_TOKEN".into(), token));
        let log_path = runs_dir.join(format!("{}.log", run.id));
        File::create(&log_path).map_err(|source| SupervisorError::Io {
            what: "cannot create the run log",
            path: log_path.clone(),
            source,
        })?;
        let window = format!("{}-{}-r{}", task.key, job.stage, run.id);
        self.tmux.ensure_session(&self.opts.session)?;
        let pane = self.tmux.new_window(&NewWindow {
            session: &self.opts.session,
            name: &window,
            cwd: &worktree,
            env: &env,
            argv: &argv,
            log: Some(&log_path),
        })?;
        let log_s = log_path.to_string_lossy().into_owned();
        self.store
            .write(|tx| runs::set_pane(tx, run.id, &pane.pane_id, &window, &log_s))?;
        let log = File::open(&log_path).map_err(|source| SupervisorError::Io {
            what: "cannot open the run log",
            path: log_path.clone(),
            source,
        })?;
        let timeout = self.timeout_of(job);
        let now = Instant::now();
        self.runs.insert(
            run.id,
            Active {
                run_id: run.id,
                job_id: job.id,
                task_key: task.key.clone(),
                pane: pane.pane_id.clone(),
                pid: pane.pid,
                worktree,
                detector: Detector::new(provider.clone(), pane.height, pane.width),
                size: (pane.height, pane.width),
                provider,
                prompt,
                log_path,
                log,
                tracker: Tracker::new(self.opts.done_debounce),
                phase: if batch {
                    Phase::Working
                } else {
                    Phase::WaitReady { since: now }
                },
                deadline: now + timeout,
                timeout,
                last_output: now,
                error_since: None,
                dead_since: None,
                fresh_output: false,
                quiet_checked: true,
                written: RunStatus::Starting,
                final_message: None,
            },
        );
        tracing::info!(run = run.id, pane = %pane.pane_id, "launched {window}");
        Ok(())
    }

    /// Moves one run along its phases; enforces its timeout.
    fn advance(&mut self, id: i64, now: Instant) -> Result<()> {
        let Some(run) = self.runs.get_mut(&id) else {
            return Ok(());
        };
        if now >= run.deadline && !matches!(run.phase, Phase::Exiting { .. }) {
            let reason = format!(
                "timed out after {} (the role's timeout)",
                humantime::format_duration(run.timeout)
            );
            return self.fail(id, &reason, None, true);
        }
        if run.tracker.status() != RunStatus::Error {
            run.error_since = None;
        }
        // An error on screen fails the run once it has stood for ERROR_DEBOUNCE: an agent
        // that exits on errors is caught by the liveness check first, with its exit status.
        let error_for = run.error_since.map(|t| now.duration_since(t));
        if run.tracker.status() == RunStatus::Error && run.error_since.is_none() {
            run.error_since = Some(now);
        }
        if error_for.is_some_and(|d| d >= ERROR_DEBOUNCE)
            && !matches!(run.phase, Phase::Exiting { .. } | Phase::WaitReady { .. })
        {
            let screen = run.detector.text();
            let line = screen
                .lines()
                .rev()
                .find(|l| l.contains("Error") || l.contains("error"))
                .unwrap_or("the agent shows an error")
                .trim()
                .to_string();
            return self.fail_with_tail(id, &line, screen, None, false);
        }
        match run.phase {
            Phase::WaitReady { since } => {
                if run.detector.is_ready()
                    || now.duration_since(since) >= run.provider.ready_timeout
                {
                    self.tmux.paste(&run.pane, &run.prompt)?;
                    self.store
                        .write(|tx| runs::set_prompt_sent(tx, id, now_ms()))?;
                    run.phase = Phase::Pasted { at: now };
                }
            }
            Phase::Pasted { at } => {
                if now.duration_since(at) >= run.provider.submit_delay {
                    submit(&self.tmux, run)?;
                    run.phase = Phase::Submitted {
                        at: now,
                        resent: false,
                    };
                }
            }
            Phase::Submitted { at, resent } => {
                if run.tracker.started() || run.tracker.is_complete() {
                    run.phase = Phase::Working;
                } else if !resent && now.duration_since(at) >= Duration::from_secs(3) {
                    tracing::info!(
                        run = id,
                        "agent did not take the prompt; pressing submit again"
                    );
                    for key in &run.provider.submit_keys {
                        self.tmux.send_keys(&run.pane, &[key.as_str()])?;
                    }
                    run.phase = Phase::Submitted { at, resent: true };
                } else if now.duration_since(at) >= Duration::from_secs(15) {
                    run.phase = Phase::Working;
                }
            }
            Phase::Working => {
                if run.tracker.is_complete() {
                    return self.complete(id, now);
                }
            }
            Phase::Exiting { since } => {
                if now.duration_since(since) >= self.opts.exit_grace {
                    let run = self.runs.remove(&id);
                    if let Some(run) = run {
                        self.close(&run);
                    }
                }
            }
        }
        Ok(())
    }

    /// A completed turn: commit, gates, exit command.
    fn complete(&mut self, id: i64, now: Instant) -> Result<()> {
        let Some(run) = self.runs.get_mut(&id) else {
            return Ok(());
        };
        run.phase = Phase::Exiting { since: now };
        let work = Completion {
            run_id: id,
            task_key: run.task_key.clone(),
            worktree: run.worktree.clone(),
            pane: run.pane.clone(),
            exit_command: run.provider.exit_command.clone(),
            submit_keys: run.provider.submit_keys.clone(),
            final_message: run.final_message.clone(),
            cfg: self.cfg.clone(),
            db: self.store.path().to_path_buf(),
            tmux: self.tmux.clone(),
        };
        self.completions.retain(|h| !h.is_finished());
        self.completions
            .push(std::thread::spawn(move || work.run()));
        Ok(())
    }

    /// Fails a run: the engine classifies it (transient or permanent) and requeues or
    /// blocks; the pane's process tree is stopped and the window closed.
    fn fail(
        &mut self,
        id: i64,
        reason: &str,
        exit_code: Option<i64>,
        timed_out: bool,
    ) -> Result<()> {
        let tail = self.log_tail(id);
        self.fail_with_tail(id, reason, tail, exit_code, timed_out)
    }

    /// The end of a watched run's output log (empty if it is not watched).
    fn log_tail(&self, id: i64) -> String {
        self.runs
            .get(&id)
            .map(|r| read_tail(&r.log_path.to_string_lossy()))
            .unwrap_or_default()
    }

    fn fail_with_tail(
        &mut self,
        id: i64,
        reason: &str,
        log_tail: String,
        exit_code: Option<i64>,
        timed_out: bool,
    ) -> Result<()> {
        let outcome = self.engine().handle(Input::RunFinished {
            run_id: id,
            result: RunResult::Failed {
                reason: reason.to_string(),
                log_tail,
                exit_code,
                timed_out,
            },
        })?;
        tracing::info!(run = id, reason, ?outcome, "run failed");
        if let Some(run) = self.runs.remove(&id) {
            self.close(&run);
        }
        Ok(())
    }

    /// Stops a run's process tree and closes its pane. Termination waits up to the kill
    /// grace, so it runs on its own thread.
    fn close(&self, run: &Active) {
        let pid = run.pid;
        let grace = self.cfg.supervisor.kill_grace;
        let tmux = self.tmux.clone();
        let pane = run.pane.clone();
        let run_id = run.run_id;
        std::thread::spawn(move || {
            match crate::tmux::process::terminate(pid, grace) {
                Ok(survivors) if !survivors.is_empty() => {
                    tracing::error!(run = run_id, ?survivors, "processes survived SIGKILL");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(run = run_id, error = %e, "cannot stop the run's processes")
                }
            }
            if let Err(e) = tmux.kill_pane(&pane) {
                tracing::debug!(run = run_id, error = %e, "pane already gone");
            }
        });
    }

    /// One `list-panes -a` for every pane; exits, vanished panes, cancelled jobs.
    fn check_liveness(&mut self) -> Result<()> {
        if self.runs.is_empty() {
            return Ok(());
        }
        let panes: HashMap<String, PaneState> = self
            .tmux
            .list_panes()?
            .into_iter()
            .map(|p| (p.pane_id.clone(), p))
            .collect();
        let ids: Vec<i64> = self.runs.keys().copied().collect();
        for id in ids {
            let Some(run) = self.runs.get_mut(&id) else {
                continue;
            };
            let exiting = matches!(run.phase, Phase::Exiting { .. });
            let job = jobs::get(self.store.conn(), run.job_id)?;
            if job.status != JobStatus::Running && !exiting {
                // Cancelled (or otherwise taken away) while it ran.
                let outcome = self.engine().handle(Input::RunFinished {
                    run_id: id,
                    result: RunResult::Completed {
                        final_message: None,
                    },
                })?;
                tracing::info!(
                    run = id,
                    ?outcome,
                    "job no longer running; stopping its run"
                );
                if let Some(run) = self.runs.remove(&id) {
                    self.close(&run);
                }
                continue;
            }
            match panes.get(&run.pane) {
                Some(p) if !p.dead => {
                    if (p.height, p.width) != run.size {
                        run.detector.resize(p.height, p.width);
                        run.size = (p.height, p.width);
                    }
                }
                Some(p) => {
                    // tmux can show a pane dead before it has reaped the process (list_panes
                    // nudges it with SIGCHLD): give the exit status up to DEAD_STATUS_WAIT.
                    let now = Instant::now();
                    let since = *run.dead_since.get_or_insert(now);
                    if p.dead_status.is_none()
                        && p.dead_signal.is_none()
                        && !exiting
                        && now.duration_since(since) < DEAD_STATUS_WAIT
                    {
                        continue;
                    }
                    // Drain what is left of its output first.
                    pump(run, &self.opts, now);
                    let code = p.dead_status.map(i64::from);
                    if exiting {
                        if let Some(run) = self.runs.remove(&id) {
                            self.close(&run);
                        }
                    } else if run.provider.mode == ProviderMode::Batch && code == Some(0) {
                        run.tracker = Tracker::resumed(Duration::ZERO, RunStatus::Done);
                        self.complete(id, Instant::now())?;
                        if let Some(run) = self.runs.remove(&id) {
                            self.close(&run);
                        }
                    } else {
                        let reason = match (code, p.dead_signal) {
                            (Some(c), _) => format!("agent exited with status {c}"),
                            (None, Some(sig)) => format!("agent killed by signal {sig}"),
                            (None, None) => "agent exited (tmux recorded no status)".to_string(),
                        };
                        self.fail(id, &reason, code, false)?;
                    }
                }
                None if exiting => {
                    self.runs.remove(&id);
                }
                None => self.fail(id, "the run's pane is gone", None, false)?,
            }
        }
        Ok(())
    }

    /// Writes every changed status in one transaction, with an event each.
    fn write_statuses(&mut self) -> Result<()> {
        let changed: Vec<(i64, i64, RunStatus, String, bool)> = self
            .runs
            .values()
            .filter(|r| r.tracker.status() != r.written)
            .map(|r| {
                (
                    r.run_id,
                    r.job_id,
                    r.tracker.status(),
                    r.task_key.clone(),
                    r.tracker.from_hook(),
                )
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.store.write(|tx| {
            for (run_id, job_id, status, key, from_hook) in &changed {
                runs::set_status(tx, *run_id, *status, now)?;
                let task_id = tasks::by_key(tx, key)?.id;
                events::append(
                    tx,
                    EventKind::RunStatus,
                    NewEvent {
                        task_id: Some(task_id),
                        job_id: Some(*job_id),
                        run_id: Some(*run_id),
                        actor: "supervisor",
                        message: format!(
                            "{key} run {run_id} is {status}{}",
                            if *from_hook { " (agent hook)" } else { "" }
                        ),
                        ..Default::default()
                    },
                    now,
                )?;
            }
            Ok::<_, StoreError>(())
        })?;
        for (run_id, _, status, _, _) in changed {
            if let Some(r) = self.runs.get_mut(&run_id) {
                r.written = status;
            }
        }
        Ok(())
    }
}

/// What finishing a completed run needs, moved to its own thread: committing the worktree
/// and the engine's gates (a command gate may run the test suite for minutes) must not stall
/// the loop that reads every other agent's screen.
struct Completion {
    run_id: i64,
    task_key: String,
    worktree: PathBuf,
    pane: String,
    exit_command: Option<String>,
    submit_keys: Vec<String>,
    final_message: Option<String>,
    cfg: Config,
    db: PathBuf,
    tmux: Tmux,
}

impl Completion {
    /// Commit, gates, exit command. Failures are logged: the run stays `running` in the
    /// database, so a restart re-adopts it and completes it again.
    fn run(self) {
        let id = self.run_id;
        let result = (|| -> Result<()> {
            let store = Store::open(&self.db)?;
            let job = runs::get(store.conn(), id)?.job_id;
            let stage = match job {
                Some(j) => jobs::get(store.conn(), j)?.stage,
                None => String::new(),
            };
            let message = format!("{} {stage}: work of run {id} (bosun)", self.task_key);
            match crate::git::commit_all(&self.worktree, &message) {
                Ok(Some(sha)) => tracing::info!(run = id, %sha, "committed the stage's work"),
                Ok(None) => {}
                Err(e) => tracing::warn!(run = id, error = %e, "cannot commit the worktree"),
            }
            let outcome = Engine::new(&self.cfg, &store).handle(Input::RunFinished {
                run_id: id,
                result: RunResult::Completed {
                    final_message: self.final_message.clone(),
                },
            })?;
            tracing::info!(run = id, ?outcome, "run completed");
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(run = id, error = %e, "completing the run failed");
        }
        if let Some(exit) = &self.exit_command {
            let keys: Vec<&str> = self.submit_keys.iter().map(String::as_str).collect();
            let sent = self
                .tmux
                .paste(&self.pane, exit)
                .and_then(|()| self.tmux.send_keys(&self.pane, &keys));
            if let Err(e) = sent {
                tracing::debug!(run = id, error = %e, "exit command not delivered");
            }
        }
    }
}

/// Reads a run's new output, feeds the emulator, and classifies the screen after each batch
/// and once more after a quiet period; a pending completion is re-checked every tick.
fn pump(run: &mut Active, opts: &Options, now: Instant) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    while total < READ_BUDGET {
        match run.log.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                run.detector.feed(&buf[..n]);
                total += n;
            }
            Err(e) => {
                tracing::warn!(run = run.run_id, error = %e, "cannot read the run log");
                break;
            }
        }
    }
    let classify_now = if total > 0 {
        run.last_output = now;
        run.fresh_output = true;
        run.quiet_checked = false;
        true
    } else if !run.quiet_checked && now.duration_since(run.last_output) >= opts.quiet {
        run.quiet_checked = true;
        true
    } else {
        // A finished-looking screen must be re-checked as time passes (the debounce), also
        // when the agent has gone quiet after idle-after-busy (status still busy).
        matches!(run.phase, Phase::Working | Phase::Submitted { .. })
            && (matches!(run.tracker.status(), RunStatus::Done | RunStatus::Idle)
                || run.tracker.completion_pending())
            && !run.tracker.is_complete()
    };
    if classify_now {
        let text = run.detector.text();
        let raw = classify(&run.provider, &text);
        run.tracker.observe(raw, &text, now);
    }
}

/// Presses the provider's submit keys after the paste and tells the tracker input went in.
fn submit(tmux: &Tmux, run: &mut Active) -> Result<()> {
    let screen = run.detector.text();
    for (i, key) in run.provider.submit_keys.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(run.provider.submit_delay);
        }
        tmux.send_keys(&run.pane, &[key.as_str()])?;
    }
    run.tracker.input_sent(&screen);
    Ok(())
}

/// This machine's host name, from the kernel.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// True if a process with this pid exists (signal 0 probe).
fn process_alive(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e != nix::errno::Errno::ESRCH,
    }
}
