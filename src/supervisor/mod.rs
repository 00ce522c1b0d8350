//! The supervisor: turns queued jobs into agents working in tmux panes, watches them, and
//! feeds the pipeline engine.
//!
//! One loop, driven by [`Supervisor::tick`]. Each run's rules live in its `machine`
//! (a `machine::RunMachine`: events in, commands out, no I/O); the loop turns what happened
//! into events and carries the commands out (`watch`). It sleeps until something happens
//! ([`wake`]: a run log grew, the database was written, a timer is due, handed-off work
//! finished) and runs ticks at most every [`Options::tick`], except that another connection's
//! database write (a hook call) or work a lane finished ends the sleep at once; while a run has
//! time-based steps pending (a prompt to submit, a debounce, a quiet check) it ticks every
//! [`Options::tick`]. One tick:
//! 1. take the runs the `launch` lane launched and the pastes and submit keys the `tmux` lane
//!    finished (`offload`); read the agents' hook calls recorded since the last look (the
//!    strongest signal, see [`crate::agent::hooks`]) when the database changed; read the new output of each
//!    run whose log grew into its machine, which classifies the rendered screen (after every
//!    output batch, and once more after a quiet period); write status changes to SQLite in one
//!    transaction;
//! 2. every [`Options::liveness_every`], ask the `tmux` lane for one `list-panes -a` (never one
//!    tmux process per pane per tick) and judge liveness, exit status and cancelled jobs by
//!    the snapshot once it is back;
//! 3. advance each run: wait until the agent is ready, hand the prompt to the `tmux` lane to
//!    paste, then the submit keys, verify it started (resend once), complete it after the
//!    debounce (the turn is recorded done for all runs of the tick in one transaction, then the
//!    `completion` lane commits the worktree, hands it to the engine and sends the exit
//!    command; the window is closed on the `close` lane), end a turn a hook opened whose
//!    closing hook was lost once its second witness says it is done (`second`), enforce the
//!    role's timeout (SIGTERM to the process tree, kill grace, SIGKILL, kill the pane);
//! 4. claim jobs while below `max_concurrency` and hand them to the `launch` lane.
//!
//! The loop waits for no launch, completion, close, paste, key press or `list-panes` (issue
//! 13: at 100 agents on 2 cores each of them held every other agent's status up to 1.5 s).
//! Every step is recorded once the lane reports it done, before the next is asked for.
//!
//! Exactly one supervisor drives a database: it holds the lease row, heartbeats it, and
//! re-adopts live runs on start (see [`Supervisor::start`]).

mod finish;

mod inbox;
mod intake;
mod land;
mod lane;
mod launch;
mod limits;
mod machine;
mod offload;
mod options;
pub(crate) mod orphans;
pub mod prompt;
mod radar;
mod recover;
mod repeats;
mod second;
mod spend;
pub mod usage;
pub mod wake;
mod watch;

pub use finish::CLOSE_WORKERS;
pub use options::{Options, Result, SupervisorError};

use wake::{Wake, Woken};
use watch::pump;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::agent::hooks;
use crate::config::{Config, HookStyle, ProviderConfig, ProviderMode};
use crate::pipeline::{Engine, EngineError, Input, RunResult, read_tail};
use crate::provider::{classify, launch_argv};
use crate::status::RunStatus;
use crate::store::events::{self, About, EventKind};
use crate::store::jobs::{self, Job};
use crate::store::runs::{self, Run};
use crate::store::{Store, StoreError, hooks as hook_rows, lease, now_ms, projects, tasks};
use crate::tmux::{NewWindow, PaneState, Tmux};

/// A run the supervisor watches: its machine (`machine`) and what the loop needs to drive
/// it (pane, log, second witness).
struct Active {
    run_id: i64,
    job_id: i64,
    task_key: String,
    pane: String,
    pid: u32,
    worktree: PathBuf,
    log_path: PathBuf,
    log: File,
    /// When this supervisor launched (or re-adopted) the run.
    launched: Instant,
    /// The run's state and rules.
    machine: machine::RunMachine,
    /// The second witness of a turn a hook opened (its closing hook may be lost).
    second: second::Second,
}

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
    /// The `tmux` lane: liveness snapshots and key presses the loop does not wait for.
    offload: offload::Offload,
    /// The `launch` lane: claimed jobs become watched runs without the loop waiting.
    launches: offload::Launches,
    /// The `completion` lane (drained before the lease is given up).
    completions: lane::Lane<finish::Completion>,
    /// The `close` lane: stops runs' processes and kills their panes.
    closes: lane::Lane<finish::Close>,
    /// The `land` lane: merges landed tasks' branches and cleans up after them.
    lands: lane::Lane<land::Job>,
    /// The `intake` lane: tracker deliveries and polls.
    intake: intake::IntakeLane,
    /// Landings handed to the `land` lane and not finished.
    landing: land::InFlight,
    /// The `radar` lane: the conflict radar's passes.
    radar: lane::Lane<radar::Pass>,
    /// A radar pass is on its way.
    radar_busy: Arc<AtomicBool>,
    /// `[budget] hard`: the `usage` lane reading working runs' usage.
    spend: spend::Spend,
    /// What the radar keeps between passes.
    radar_memory: Arc<std::sync::Mutex<radar::Memory>>,
    /// The radar looks again no sooner than this after a database change…
    next_radar: Instant,
    /// …and no later than this without one (the base can move outside bosun).
    radar_deadline: Instant,
    /// When a landing whose last step failed is due again (without a database change).
    next_land_check: Instant,
    /// The database's `data_version` when landings and the radar last looked: another
    /// connection's write moves it (this loop's own heartbeats do not).
    looked_version: i64,
    /// Another connection wrote since the radar last looked.
    radar_pending: bool,
    /// Runs whose turn completed this tick, recorded and handed to the workers at its end.
    finishing: Vec<finish::Completion>,
    pid: i64,
    /// The lease this process acquired (renewed only while the row is still this one).
    lease: lease::Lease,
    next_liveness: Instant,
    next_claim: Instant,
    next_heartbeat: Instant,
    /// Id of the last hook row read.
    hook_cursor: i64,
    /// Id of the last event read (for the operator's answers).
    event_cursor: i64,
    /// Tells the operator when they are needed (`[notify]`).
    notifier: crate::notify::Notifier,
    /// The file watches that wake the loop.
    wake: Wake,
    /// What woke the loop and is not yet handled by a tick.
    pending: Woken,
    /// Set when the supervisor is to stop (a signal, the console quitting): nothing more is
    /// claimed or launched, also in the middle of a tick.
    stop: Arc<AtomicBool>,
    /// The database's `data_version` when [`Supervisor::sleep`] last looked.
    seen_version: i64,
    /// Look at the database once more next tick: a wake from a write to the WAL can come a
    /// moment before the commit is visible to readers.
    db_followup: bool,
}

impl Supervisor {
    /// Checks tmux, takes the lease (a stale one — silent for 5 heartbeats, or whose process
    /// is gone — is taken over), starts the tmux session, and reconciles: jobs left running
    /// whose pane is alive are re-adopted (log stream and detector re-attached), the rest are
    /// requeued with backoff or failed when attempts are spent; runs whose job ended while no
    /// supervisor ran are ended, and every process of those and of lost runs is stopped and
    /// waited for (`orphans`) before anything is claimed.
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
        let held = store.write(|tx| {
            lease::acquire(tx, &opts.owner, pid, &host, now, |held| {
                now - held.heartbeat_at > stale_ms
                    || (held.host == host
                        && !crate::tmux::process::holder_alive(held.pid, held.acquired_at))
            })
        })?;
        // The tmux server and session are made by the first launch (launch.rs), not here: a
        // console whose supervisor runs no agent leaves no server behind. Reconciling lists
        // the panes, which also says at once when tmux is not installed.
        // The loop's writes (statuses, delivery steps) must not sleep behind completions'.
        store.poll_for_lock()?;
        let hook_cursor = hook_rows::last_id(store.conn())?;
        let event_cursor = events::last_id(store.conn())?;
        let cfg_notify = cfg.notify.clone();
        let prices = cfg.prices.clone();
        let cfg_completion_workers = cfg.supervisor.completion_workers as usize;
        let wake = Wake::new(&opts.data_dir.join("runs"), store.path());
        let start = Instant::now();
        let store_path = store.path().to_path_buf();
        let store_path_land = store_path.clone();
        let store_path_radar = store_path.clone();
        let spend = spend::Spend::start(&cfg, store_path.clone());
        let intake = intake::IntakeLane::start(store_path.clone());
        let offload = offload::Offload::start(tmux.clone(), wake.waker());
        let launches = offload::Launches::start(
            offload::LauncherParts {
                cfg: cfg.clone(),
                opts: opts.clone(),
                tmux: tmux.clone(),
                db: store_path.clone(),
            },
            wake.waker(),
        );
        let mut sup = Supervisor {
            cfg,
            store,
            tmux,
            opts,
            runs: HashMap::new(),
            offload,
            launches,
            completions: lane::Lane::start(
                lane::Spec {
                    name: "completion",
                    threads: cfg_completion_workers,
                    background: true,
                    db: Some(store_path),
                    poll_for_lock: false,
                },
                |worker, completion: finish::Completion| {
                    let run_id = completion.run_id;
                    match worker.store() {
                        // A failed database write may have left the connection unusable.
                        Some(store) => {
                            if !completion.run(store) {
                                worker.reset();
                            }
                        }
                        None => tracing::error!(
                            run = run_id,
                            "completion skipped: no database; a restart finishes it"
                        ),
                    }
                },
            ),
            closes: lane::Lane::start(
                lane::Spec {
                    name: "close",
                    threads: finish::CLOSE_WORKERS,
                    // Scanning /proc and waiting for processes to exit: no SQLite, so the
                    // threads may run at low priority themselves.
                    background: true,
                    db: None,
                    poll_for_lock: false,
                },
                |_, close: finish::Close| close.run(),
            ),
            lands: lane::Lane::start(
                lane::Spec {
                    name: "land",
                    threads: 1,
                    // git merge-tree, a verify command: no hurry, and never the loop's.
                    background: true,
                    db: Some(store_path_land),
                    poll_for_lock: false,
                },
                |worker, job: land::Job| match worker.store() {
                    Some(store) => {
                        if !job.run(store) {
                            worker.reset();
                        }
                    }
                    None => tracing::error!(
                        landing = job.landing,
                        "landing skipped: no database; a restart lands it"
                    ),
                },
            ),
            landing: land::InFlight::default(),
            intake,
            radar: lane::Lane::start(
                lane::Spec {
                    name: "radar",
                    threads: 1,
                    background: true,
                    db: Some(store_path_radar),
                    poll_for_lock: false,
                },
                |worker, pass: radar::Pass| match worker.store() {
                    Some(store) => {
                        if !pass.run(store) {
                            worker.reset();
                        }
                    }
                    None => {
                        pass.busy.store(false, Ordering::SeqCst);
                        tracing::error!("radar pass skipped: no database");
                    }
                },
            ),
            radar_busy: Arc::new(AtomicBool::new(false)),
            spend,
            radar_memory: Arc::default(),
            next_radar: start,
            radar_deadline: start,
            next_land_check: start,
            looked_version: -1,
            radar_pending: true,
            finishing: Vec::new(),
            pid,
            lease: held,
            next_liveness: start,
            next_claim: start,
            next_heartbeat: start + Duration::from_secs(2),
            hook_cursor,
            event_cursor,
            notifier: crate::notify::Notifier::new(cfg_notify).with_prices(prices),
            wake,
            pending: Woken::everything(),
            db_followup: false,
            seen_version: 0,
            stop: Arc::new(AtomicBool::new(false)),
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
            .map(|r| (r.run_id, r.task_key.clone(), r.machine.status()))
            .collect();
        out.sort_by_key(|(id, _, _)| *id);
        out
    }

    /// Answers a waiting agent's permission prompt with the provider's yes or no keys, the
    /// way `bosun answer` does (pressed once the dialog can take them, confirmed, pressed
    /// again if dropped: see [`crate::control::Answering`]), driven by the next ticks; the answer is
    /// recorded as an `answered` event by this supervisor once the dialog took it.
    ///
    /// # Errors
    /// [`SupervisorError::Engine`] if the run is not watched.
    pub fn answer(&mut self, run_id: i64, yes: bool) -> Result<()> {
        if !self.runs.contains_key(&run_id) {
            return Err(SupervisorError::Engine(EngineError::State(format!(
                "run {run_id} is not running here"
            ))));
        }
        self.step(run_id, machine::Event::AnswerAsked { yes }, Instant::now())
    }

    /// Ticks until `stop` is set, sleeping between ticks until a run log grows, the database
    /// is written or a timer is due (at most [`wake::MAX_SLEEP`]), never ticking more often
    /// than every [`Options::tick`]; then gives up the lease, leaving every agent running.
    /// Once `stop` is set nothing more is claimed or launched, also by a tick in progress (a
    /// job claimed just before goes back to the queue).
    ///
    /// # Errors
    /// [`SupervisorError::LeaseLost`] if another supervisor took over; store failures.
    pub fn run_until(&mut self, stop: &Arc<AtomicBool>) -> Result<()> {
        self.stop = Arc::clone(stop);
        let mut failing = repeats::Repeats::default();
        while !stop.load(Ordering::SeqCst) {
            let began = Instant::now();
            match self.tick() {
                Err(SupervisorError::LeaseLost(holder)) => {
                    return Err(SupervisorError::LeaseLost(holder));
                }
                // The same failure every tick (a full disk) is logged with a backoff.
                Err(e) => match failing.failed(repeats::chain(&e), began) {
                    repeats::Line::Log { message, repeated } if repeated > 0 => {
                        tracing::error!(error = %message, repeated, "supervisor tick failed");
                    }
                    repeats::Line::Log { message, .. } => {
                        tracing::error!(error = %message, "supervisor tick failed");
                    }
                    repeats::Line::Quiet => {}
                },
                Ok(()) => {
                    if let Some((message, repeated)) = failing.succeeded() {
                        tracing::info!(error = %message, repeated, "supervisor ticks again");
                    }
                }
            }
            self.sleep(began);
        }
        self.release()
    }

    /// Sleeps after a tick that began at `began`, as [`Supervisor::run_until`] does: until a
    /// run log grows, the database is written or a timer is due (at most
    /// [`wake::MAX_SLEEP`]), and at least until `began` + [`Options::tick`]. For loops that
    /// drive [`Supervisor::tick`] themselves (the headless demo, benchmarks).
    pub fn sleep(&mut self, began: Instant) {
        let earliest = began + self.opts.tick;
        let mut woken = self.wake.wait(self.next_due(began));
        // Output is read at most every tick; another connection's database write (a hook
        // call, an operator's answer, a finished launch) ends the sleep at once: hooks are
        // the strongest signal, and waiting out the tick cost a done status up to 25 ms.
        let mut urgent = self.urgent(&woken);
        while !urgent && !self.stop.load(Ordering::SeqCst) && Instant::now() < earliest {
            let more = self.wake.wait(earliest);
            urgent = self.urgent(&more);
            woken.merge(more);
        }
        self.pending.merge(woken);
    }

    /// True when `woken` holds work handed back from another thread, or a database write by
    /// another connection (SQLite's `data_version` moved; this loop's own writes do not move
    /// it).
    fn urgent(&mut self, woken: &Woken) -> bool {
        if woken.handed {
            return true;
        }
        if !woken.database {
            return false;
        }
        match self.store.data_version() {
            Ok(v) if v != self.seen_version => {
                self.seen_version = v;
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the database's data version");
                true
            }
        }
    }

    /// When the loop must tick again at the latest, with nothing waking it: next tick while a
    /// run has time-based steps pending (or the database is to be looked at again), else the
    /// first of the liveness check (with runs), claim attempt, heartbeat and notifier, and
    /// at most [`wake::MAX_SLEEP`] from `began`.
    fn next_due(&self, began: Instant) -> Instant {
        if self.db_followup || self.runs.values().any(|r| r.machine.hot()) {
            return began + self.opts.tick;
        }
        let mut due = began + wake::MAX_SLEEP;
        let mut timers = vec![self.next_claim, self.next_heartbeat];
        // A run parked at a usage limit resumes at its time.
        timers.extend(self.runs.values().filter_map(|r| r.machine.wakes_at()));
        timers.extend(self.notifier.next_due());
        if !self.runs.is_empty() {
            timers.push(self.next_liveness);
        }
        for t in timers {
            due = due.min(t);
        }
        due
    }

    /// Waits for completions in progress, then gives up the lease (agents keep running in
    /// tmux).
    ///
    /// # Errors
    /// Store failures.
    pub fn release(&mut self) -> Result<()> {
        // Launches on their way finish (a restart re-adopts their runs).
        self.launches.drain();
        // Completions of the last tick first (their turns recorded), then every queued one,
        // then the closes they and the loop asked for, then the tmux lane's presses.
        let flushed = self.flush_completions();
        self.completions.drain();
        // Readings on their way may stop runs: before the closes they ask for.
        self.spend.drain();
        self.closes.drain();
        self.lands.drain();
        self.radar.drain();
        self.intake.drain();
        self.offload.drain();
        // Pastes and submit keys the lane finished are recorded: a restart resumes from them.
        let handed = self.take_handed(Instant::now());
        flushed?;
        handed?;
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
        let mut woken = std::mem::take(&mut self.pending);
        woken.merge(self.wake.poll());
        let liveness = now >= self.next_liveness;
        // The liveness check reads every log too: the safety net for a change the watch missed.
        woken.all |= liveness;
        let followup = std::mem::replace(&mut self.db_followup, woken.database);
        woken.database |= followup;
        if woken.database {
            // A new job may be claimable (a task created, a job retried): look now.
            self.next_claim = self.next_claim.min(now);
        }
        let heartbeat = now >= self.next_heartbeat;
        if heartbeat {
            self.next_heartbeat = now + self.opts.heartbeat_every;
            let ok = self
                .store
                .write(|tx| lease::heartbeat(tx, &self.lease, now_ms()))?;
            if !ok {
                let holder = match lease::get(self.store.conn())? {
                    Some(l) => format!(
                        "{} (pid {} on {}) drives this database now",
                        l.owner, l.pid, l.host
                    ),
                    None => "the lease row was removed".to_string(),
                };
                return Err(SupervisorError::LeaseLost(holder));
            }
            // Counts of refused hook calls whose burst is over: one event each.
            hooks::report_rejections(&self.store, now_ms())?;
        }
        self.take_launched(&mut woken)?;
        self.take_handed(now)?;
        if woken.database {
            self.read_hooks(now)?;
        }
        for run in self.runs.values_mut() {
            let read = woken.log(run.run_id);
            pump(run, now, read);
        }
        // What the hooks and screens said is recorded before anything slower this tick.
        self.write_statuses()?;
        if liveness && !self.runs.is_empty() {
            self.offload.ask_panes(now);
        }
        if liveness {
            self.next_liveness = now + self.opts.liveness_every;
        }
        if let Some(snapshot) = self.offload.take_panes() {
            self.check_liveness(snapshot)?;
        }
        let ids: Vec<i64> = self.runs.keys().copied().collect();
        for id in ids {
            if let Err(e) = self.advance(id, now) {
                tracing::warn!(run = id, error = %e, "run step failed");
                let reason = format!("bosun could not drive the run: {e}");
                if matches!(e, SupervisorError::Tmux(_)) {
                    self.lose(id, &reason)?;
                } else {
                    self.fail(id, &reason, None, false)?;
                }
            }
        }
        self.flush_completions()?;
        self.write_statuses()?;
        self.watch_spend(now);
        // A notification that cannot be recorded is not worth stopping the fleet for.
        if let Err(e) = self.notifier.tick(&self.store, now) {
            tracing::warn!(error = %e, "cannot look for notifications");
        }
        // Landings are opened by other connections' writes (completions, decisions); one tried
        // and failed is tried again after its backoff.
        let written = woken.database && {
            let v = self.store.data_version()?;
            std::mem::replace(&mut self.looked_version, v) != v
        };
        if written || now >= self.next_land_check {
            self.hand_landings(now)?;
        }
        if !self.stop.load(Ordering::SeqCst) {
            self.intake.tick(&self.cfg, written);
        }
        // Branch tips move with commits, which come with database writes (completions), or
        // outside bosun (the operator's base): the radar looks after a write, at most every
        // radar::EVERY, and at least every radar::QUIET_EVERY.
        self.radar_pending |= written;
        let radar_due =
            (self.radar_pending && now >= self.next_radar) || now >= self.radar_deadline;
        if radar_due && !self.stop.load(Ordering::SeqCst) {
            self.radar_pending = false;
            self.next_radar = now + radar::EVERY;
            self.radar_deadline = now + radar::QUIET_EVERY;
            if !self.radar_busy.swap(true, Ordering::SeqCst)
                && !self.radar.submit(radar::Pass {
                    cfg: self.cfg.clone(),
                    busy: Arc::clone(&self.radar_busy),
                    memory: Arc::clone(&self.radar_memory),
                })
            {
                self.radar_busy.store(false, Ordering::SeqCst);
            }
        }
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

    fn engine(&self) -> Engine<'_> {
        Engine::new(&self.cfg, &self.store)
    }

    /// Hands the open `merge` landings (and the landed ones not cleaned up) that are not on
    /// their way yet to the `land` lane.
    ///
    /// # Errors
    /// Store failures.
    fn hand_landings(&mut self, now: Instant) -> Result<()> {
        if self.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let (due, wait_ms) = land::due(&self.cfg, &self.store, now_ms())?;
        self.next_land_check = now + Duration::from_millis(wait_ms);
        for id in due {
            if self.landing.take(id) {
                self.lands.submit(land::Job {
                    landing: id,
                    cfg: self.cfg.clone(),
                    in_flight: self.landing.clone(),
                });
            }
        }
        Ok(())
    }

    /// The time rules runs follow.
    fn timing(&self) -> machine::Timing {
        timing(&self.opts)
    }

    fn provider(&self, name: &str) -> Result<ProviderConfig> {
        provider_of(&self.cfg, name)
    }
}

/// The time rules runs follow under `opts`.
fn timing(opts: &Options) -> machine::Timing {
    machine::Timing {
        done_debounce: opts.done_debounce,
        quiet: opts.quiet,
        exit_grace: opts.exit_grace,
    }
}

/// Provider `name` of `cfg`.
///
/// # Errors
/// [`SupervisorError::Engine`] when the config has no such provider.
fn provider_of(cfg: &Config, name: &str) -> Result<ProviderConfig> {
    cfg.providers.get(name).cloned().ok_or_else(|| {
        SupervisorError::Engine(EngineError::State(format!(
            "no provider `{name}` in the config"
        )))
    })
}

/// The timeout of `job`'s role (the supervisor's default when the role has none).
fn timeout_of(cfg: &Config, job: &Job) -> Duration {
    cfg.roles
        .get(&job.role)
        .map_or(cfg.supervisor.default_timeout, |r| cfg.timeout_of(r))
}

/// This machine's host name, from the kernel.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
