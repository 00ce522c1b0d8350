//! The operator's console: `bosun` with no subcommand.
//!
//! State → update → effect, on tokio (the shape of television and gitui): [`state::App`] is
//! the state, [`update::update`] the pure decision function, [`effect::Runner`] runs what it
//! asks for off the UI thread, and [`view::draw`] renders the state. One `tokio::select!`
//! loop takes crossterm's `EventStream`, the runner's results (snapshots from the loader,
//! which watches `PRAGMA data_version`; log bytes; outcomes), a one-second clock and the
//! stop flag, and draws at most once per frame, only when something changed.
//!
//! The console always reads its state from SQLite and writes the operator's decisions
//! through the pipeline engine, so it works the same whether the supervisor runs in-process
//! (a thread started here, when no daemon holds the lease) or in a `bosun daemon` (then the
//! console is a client). Quitting never stops agents. Answers, text and attach go to the
//! run's own tmux server.

pub mod effect;
pub mod keymap;
pub mod load;
pub mod msg;
pub mod sanitize;
pub mod spent;
pub mod state;
pub mod tail;
pub mod theme;
pub mod update;
pub mod view;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;

use crate::config::Config;
use crate::store::{Store, lease, now_ms};
use crate::supervisor::{Options, Supervisor};
use crate::tmux::Tmux;
use keymap::Keymap;
use state::App;
use theme::Theme;
use update::{Effect, Msg, update};

/// Shortest time between two frames: ~60 per second at most.
const FRAME: Duration = Duration::from_millis(16);

/// After SIGTERM or SIGHUP, the loop must end within this long or the process exits.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Something to do before the process ends, however it ends (see [`Console::teardown`]).
pub type Teardown = Arc<dyn Fn() + Send + Sync>;

/// Exits the process if the event loop has not ended [`EXIT_GRACE`] after `stop` was set.
/// When the terminal goes away (SIGHUP), crossterm's `poll` spins on the closed tty and never
/// returns, so the loop cannot see the flag; this guard keeps an orphaned console from
/// burning a core forever. Agents are unaffected (they live in tmux); the lease goes stale.
/// `teardown` runs first (the demo's scratch server and agents go with it).
fn exit_guard(
    stop: Arc<AtomicBool>,
    ending: Arc<AtomicU8>,
    supervisor_done: Arc<AtomicBool>,
    teardown: Option<Teardown>,
) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            if ending.load(Ordering::SeqCst) != RUNNING {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(EXIT_GRACE);
        // Exactly one of the loop's own ending and this guard ends the process: two threads
        // in exit() at once is undefined in glibc (seen: SIGABRT, the demo's teardown lost).
        if ending
            .compare_exchange(RUNNING, GUARD_EXITS, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            tracing::warn!("the console did not stop after a signal (terminal gone?); exiting");
            restore_terminal();
            // The in-process supervisor launches nothing once stopped; let it give up its
            // lease before the teardown removes what it worked on.
            let waited = std::time::Instant::now();
            while !supervisor_done.load(Ordering::SeqCst) && waited.elapsed() < EXIT_GRACE {
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Some(t) = &teardown {
                t();
            }
            std::process::exit(1);
        }
    });
}

/// [`exit_guard`]'s states: the loop runs; it ended on its own; the guard ends the process.
const RUNNING: u8 = 0;
const LOOP_ENDED: u8 = 1;
const GUARD_EXITS: u8 = 2;

/// Takes over the terminal (raw mode, alternate screen), with a panic hook that restores it
/// first. Not ratatui's own hook: its `restore` prints a failure with `eprintln!`, which panics
/// when the terminal is gone, and a panic in the panic hook aborts the process (seen: a demo
/// whose terminal went away aborted before removing its agents).
fn take_terminal() -> Result<ratatui::DefaultTerminal> {
    let previous = std::panic::take_hook();
    let terminal = ratatui::try_init().context("cannot take over the terminal")?;
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
    Ok(terminal)
}

/// Gives the terminal back (cooked mode, main screen); a terminal that is gone is no error.
fn restore_terminal() {
    if let Err(e) = ratatui::try_restore() {
        tracing::debug!(error = %e, "cannot restore the terminal (gone?)");
    }
}

/// What the console needs to start.
pub struct Console {
    /// The validated config.
    pub cfg: Config,
    /// The database file.
    pub db: PathBuf,
    /// Where run logs, worktrees and the tmux config live.
    pub data_dir: PathBuf,
    /// Theme name (`--theme`, else `ui.theme`).
    pub theme: String,
    /// Why the in-process supervisor stopped, if it did (shown in the console).
    pub supervisor_error: Arc<std::sync::Mutex<Option<String>>>,
    /// A line shown in the status bar at start (the demo's key hints).
    pub hint: Option<String>,
    /// Run when the console ends, also when the exit guard ends the process after a signal
    /// the loop could not see (the demo removes its scratch tmux server, agents and
    /// directory). Must be safe to call twice.
    pub teardown: Option<Teardown>,
}

impl Console {
    /// Runs the console until the operator quits (or SIGTERM). Starts an in-process
    /// supervisor unless a live daemon holds the lease.
    ///
    /// # Errors
    /// The theme or keymap is invalid, the database cannot be opened, or the terminal fails.
    pub fn run(self) -> Result<()> {
        let theme = Theme::load(&self.theme)?;
        let keymap = Keymap::load()?;
        let store = Store::open_verified(&self.db)?;
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
            signal_hook::flag::register(sig, Arc::clone(&stop))
                .context("cannot install signal handlers")?;
        }
        let ending = Arc::new(AtomicU8::new(RUNNING));
        let supervisor_done = Arc::new(AtomicBool::new(false));
        exit_guard(
            Arc::clone(&stop),
            Arc::clone(&ending),
            Arc::clone(&supervisor_done),
            self.teardown.clone(),
        );
        let (label, supervisor) = self.start_supervisor(&store, &stop, &supervisor_done)?;
        let mut app = App::new(&self.cfg, label);
        if let Some(h) = &self.hint {
            app.message = Some((h.clone(), false));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .context("cannot start the console's runtime")?;
        let mut terminal = take_terminal()?;
        let result = runtime.block_on(self.event_loop(
            &mut terminal,
            &mut app,
            store,
            &theme,
            &keymap,
            &stop,
        ));
        // Answers still waiting for a dialog are dropped with their threads' results.
        runtime.shutdown_timeout(Duration::from_millis(500));
        if ending
            .compare_exchange(RUNNING, LOOP_ENDED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // The exit guard is ending the process (and running the teardown): wait for it.
            loop {
                std::thread::park();
            }
        }
        restore_terminal();
        stop.store(true, Ordering::SeqCst);
        if let Some(h) = supervisor
            && h.join().is_err()
        {
            tracing::error!("the in-process supervisor panicked");
        }
        if let Some(t) = &self.teardown {
            t();
        }
        result
    }

    /// Starts the in-process supervisor thread unless another live supervisor holds the
    /// lease; returns the mode label.
    fn start_supervisor(
        &self,
        store: &Store,
        stop: &Arc<AtomicBool>,
        done: &Arc<AtomicBool>,
    ) -> Result<(String, Option<std::thread::JoinHandle<()>>)> {
        if let Some(l) = lease::get(store.conn())?
            && l.pid != i64::from(std::process::id())
            && now_ms() - l.heartbeat_at < 10_000
        {
            done.store(true, Ordering::SeqCst);
            return Ok((format!("client of {} (pid {})", l.owner, l.pid), None));
        }
        let done = Arc::clone(done);
        let (cfg, db, stop) = (self.cfg.clone(), self.db.clone(), Arc::clone(stop));
        let mut opts = Options::new(self.data_dir.clone(), &self.cfg.supervisor.tmux_socket);
        opts.owner = "console".into();
        let failure = Arc::clone(&self.supervisor_error);
        let handle = std::thread::spawn(move || {
            let run = || -> Result<()> {
                let mut sup = Supervisor::start(cfg, Store::open(&db)?, opts)?;
                sup.run_until(&stop)?;
                Ok(())
            };
            if let Err(e) = run() {
                let text = format!("{e:#}");
                tracing::error!(error = %text, "in-process supervisor stopped");
                if let Ok(mut slot) = failure.lock() {
                    *slot = Some(text);
                }
            }
            done.store(true, Ordering::SeqCst);
        });
        Ok(("in-process supervisor".into(), Some(handle)))
    }

    /// The event loop: until quit, SIGTERM/SIGHUP or a lost terminal.
    async fn event_loop(
        &self,
        terminal: &mut ratatui::DefaultTerminal,
        app: &mut App,
        store: Store,
        theme: &Theme,
        keymap: &Keymap,
        stop: &AtomicBool,
    ) -> Result<()> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut runner = effect::Runner::new(
            self.cfg.clone(),
            self.db.clone(),
            self.data_dir.clone(),
            store,
            app.want(),
            tx,
        );
        let mut events = EventStream::new();
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        let mut watch = tokio::time::interval(effect::POLL);
        let mut dirty = true;
        let mut last_frame = Instant::now() - FRAME;
        loop {
            if dirty {
                let due = last_frame + FRAME;
                if Instant::now() >= due {
                    terminal.draw(|f| view::draw(f, app, theme, keymap))?;
                    last_frame = Instant::now();
                    dirty = false;
                }
            }
            let next_frame = tokio::time::Instant::from_std(last_frame + FRAME);
            let msg = tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => Msg::Key(k),
                    Some(Ok(Event::Resize(..))) => Msg::Resize,
                    Some(Ok(_)) => continue,
                    // The terminal is gone.
                    Some(Err(_)) | None => return Ok(()),
                },
                Some(msg) = rx.recv() => msg,
                _ = clock.tick() => Msg::Tick { now: now_ms() },
                _ = watch.tick() => {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    match self.supervisor_error.lock().ok().and_then(|mut s| s.take()) {
                        Some(e) => Msg::SupervisorStopped(e),
                        None => continue,
                    }
                }
                _ = tokio::time::sleep_until(next_frame), if dirty => continue,
            };
            dirty = true;
            for effect in update(app, keymap, msg) {
                match effect {
                    Effect::Quit => return Ok(()),
                    Effect::Ring { text } => ring(self.cfg.notify.terminal, &text),
                    Effect::Attach { pane, socket } => {
                        // The event stream reads the terminal; tmux must have it alone.
                        drop(events);
                        let outcome = self.attach(terminal, &pane, socket.as_deref()).await;
                        events = EventStream::new();
                        let (text, error) = outcome?;
                        update(app, keymap, Msg::Done { text, error });
                    }
                    other => runner.run(other),
                }
            }
        }
    }

    /// Suspends the console, attaches the real terminal to the agent's pane on the run's own
    /// tmux server, and takes the terminal back when the operator detaches. Returns the
    /// sentence for the status line.
    async fn attach(
        &self,
        terminal: &mut ratatui::DefaultTerminal,
        pane: &str,
        socket: Option<&str>,
    ) -> Result<(String, bool)> {
        let tmux = Tmux::new(
            socket.unwrap_or(&self.cfg.supervisor.tmux_socket),
            &self.data_dir,
            200,
            50,
        )?;
        let argv = tmux.attach_argv(pane);
        restore_terminal();
        let status = tokio::task::spawn_blocking(move || {
            // An operator whose console runs inside tmux gets a nested client: tmux refuses
            // to nest while $TMUX is set.
            std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .env_remove("TMUX")
                .status()
        })
        .await;
        // Raw mode, the alternate screen, cleared, and a fresh terminal whose next frame is
        // drawn whole. (`Terminal::clear` and `ratatui::init` ask the terminal for the cursor
        // position, racing the event reader that just stopped: "the cursor position could
        // not be read".)
        crossterm::terminal::enable_raw_mode().context("cannot take the terminal back")?;
        crossterm::execute!(
            std::io::stdout(),
            crossterm::terminal::EnterAlternateScreen,
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
        )
        .context("cannot take the terminal back")?;
        *terminal =
            ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
                .context("cannot take the terminal back")?;
        Ok(match status {
            Ok(Ok(s)) if s.success() => ("back from the agent's pane".into(), false),
            Ok(Ok(s)) => (format!("tmux attach ended with {s}"), true),
            Ok(Err(e)) => (format!("cannot run tmux attach: {e}"), true),
            Err(e) => (format!("tmux attach did not finish: {e}"), true),
        })
    }
}

/// Writes the terminal notification `how` says (between frames: it draws nothing).
fn ring(how: crate::config::notify::TerminalNotice, text: &str) {
    use crate::config::notify::TerminalNotice;
    use std::io::Write;
    let text = sanitize::plain(text).replace(['\x07', '\x1b', ';'], " ");
    let seq = match how {
        TerminalNotice::Off => return,
        TerminalNotice::Bell => "\x07".to_string(),
        TerminalNotice::Osc9 => format!("\x1b]9;bosun: {text}\x07"),
        TerminalNotice::Osc777 => format!("\x1b]777;notify;bosun;{text}\x07"),
    };
    let mut out = std::io::stdout();
    if let Err(e) = out.write_all(seq.as_bytes()).and_then(|()| out.flush()) {
        tracing::debug!(error = %e, "cannot ring the terminal");
    }
}
