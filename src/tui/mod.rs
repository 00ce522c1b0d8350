//! The operator's console: `bosun` with no subcommand.
//!
//! The console always reads its state from SQLite (change detection with `PRAGMA
//! data_version` every 100 ms) and writes the operator's decisions through the pipeline
//! engine, so it works the same whether the supervisor runs in-process (a thread started
//! here, when no daemon holds the lease) or in a `bosun daemon` (then the console is a
//! client). Quitting never stops agents. Answers and text go straight to the agent's pane
//! on bosun's tmux server. Rendering ([`view::draw`]) is a pure function of [`state::App`].

pub mod keymap;
pub mod sanitize;
pub mod state;
pub mod tail;
pub mod theme;
pub mod view;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::Config;
use crate::pipeline::{Decision, Engine, Input};
use crate::queue::Queue;
use crate::store::jobs::JobStatus;
use crate::store::{Store, lease, now_ms, projects};
use crate::supervisor::{Options, Supervisor, control};
use crate::tmux::Tmux;
use keymap::{Action, Keymap};
use state::{App, Confirm, Mode, Prompt, View};
use theme::Theme;

/// How often the database is checked for changes.
const POLL: Duration = Duration::from_millis(100);

/// After SIGTERM or SIGHUP, the loop must end within this long or the process exits.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Exits the process if the event loop has not ended [`EXIT_GRACE`] after `stop` was set.
/// When the terminal goes away (SIGHUP), crossterm's `poll` spins on the closed tty and never
/// returns, so the loop cannot see the flag; this guard keeps an orphaned console from
/// burning a core forever. Agents are unaffected (they live in tmux); the lease goes stale.
fn exit_guard(stop: Arc<AtomicBool>, finished: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            if finished.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(EXIT_GRACE);
        if !finished.load(Ordering::SeqCst) {
            tracing::warn!("the console did not stop after a signal (terminal gone?); exiting");
            ratatui::restore();
            std::process::exit(1);
        }
    });
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
    /// Outcomes of actions running off the UI thread (answers wait for the agent's dialog),
    /// as (message, is an error), shown when they arrive.
    pub outcomes: Arc<std::sync::Mutex<Vec<(String, bool)>>>,
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
        let finished = Arc::new(AtomicBool::new(false));
        exit_guard(Arc::clone(&stop), Arc::clone(&finished));
        let (label, supervisor) = self.start_supervisor(&store, &stop)?;
        let mut app = App::new(&self.cfg, label);
        if let Some(h) = &self.hint {
            app.message = Some((h.clone(), false));
        }
        let mut terminal = ratatui::try_init().context("cannot take over the terminal")?;
        let result = self.event_loop(&mut terminal, &mut app, &store, &theme, &keymap, &stop);
        finished.store(true, Ordering::SeqCst);
        ratatui::restore();
        stop.store(true, Ordering::SeqCst);
        if let Some(h) = supervisor
            && h.join().is_err()
        {
            tracing::error!("the in-process supervisor panicked");
        }
        result
    }

    /// Starts the in-process supervisor thread unless another live supervisor holds the
    /// lease; returns the mode label.
    fn start_supervisor(
        &self,
        store: &Store,
        stop: &Arc<AtomicBool>,
    ) -> Result<(String, Option<std::thread::JoinHandle<()>>)> {
        if let Some(l) = lease::get(store.conn())?
            && l.pid != i64::from(std::process::id())
            && now_ms() - l.heartbeat_at < 10_000
        {
            return Ok((format!("client of {} (pid {})", l.owner, l.pid), None));
        }
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
        });
        Ok(("in-process supervisor".into(), Some(handle)))
    }

    fn event_loop(
        &self,
        terminal: &mut ratatui::DefaultTerminal,
        app: &mut App,
        store: &Store,
        theme: &Theme,
        keymap: &Keymap,
        stop: &AtomicBool,
    ) -> Result<()> {
        let queue = Queue::new(&self.cfg);
        app.refresh(store, &queue)?;
        let mut version = store.data_version()?;
        let mut dirty = true;
        let mut next_poll = Instant::now() + POLL;
        let mut next_second = Instant::now() + Duration::from_secs(1);
        let mut next_reload = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            if dirty {
                terminal.draw(|f| view::draw(f, app, theme, keymap))?;
                dirty = false;
            }
            let wait = next_poll.saturating_duration_since(Instant::now());
            if event::poll(wait)? {
                match event::read()? {
                    Event::Key(k) if k.kind == KeyEventKind::Press => {
                        let before = store.data_version()?;
                        if self.key(terminal, app, store, keymap, k)? {
                            return Ok(());
                        }
                        // Our own writes do not move data_version for this connection.
                        if store.data_version()? == before {
                            app.refresh(store, &queue)?;
                        }
                        dirty = true;
                    }
                    Event::Resize(..) => dirty = true,
                    _ => {}
                }
            }
            let now = Instant::now();
            if now >= next_poll {
                next_poll = now + POLL;
                let v = store.data_version()?;
                if v != version && now >= next_reload {
                    version = v;
                    let t = Instant::now();
                    app.refresh(store, &queue)?;
                    // A busy supervisor commits many times a second; on a large database
                    // reloads are throttled to a quarter of the time (at most 25 % CPU).
                    next_reload = now + t.elapsed() * 4;
                    dirty = true;
                }
                if let Some(m) = self.outcomes.lock().ok().and_then(|mut o| o.pop()) {
                    app.message = Some(m);
                    dirty = true;
                }
                if let Some(e) = self.supervisor_error.lock().ok().and_then(|mut s| s.take()) {
                    app.mode_label = "no supervisor running".into();
                    app.message = Some((format!("the supervisor stopped: {e}"), true));
                    dirty = true;
                }
                if let Some(t) = app.tail.as_mut()
                    && t.poll()
                    && matches!(app.view, View::Pane | View::Log)
                {
                    dirty = true;
                }
            }
            if now >= next_second {
                // Elapsed times on screen move once a second.
                next_second = now + Duration::from_secs(1);
                if matches!(app.view, View::Queue | View::Task | View::Events) {
                    app.now = now_ms();
                    dirty = true;
                }
            }
        }
        Ok(())
    }

    /// Handles one key; true to quit.
    fn key(
        &self,
        terminal: &mut ratatui::DefaultTerminal,
        app: &mut App,
        store: &Store,
        keymap: &Keymap,
        k: KeyEvent,
    ) -> Result<bool> {
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            return Ok(true);
        }
        match app.mode.clone() {
            Mode::Help => {
                if matches!(
                    k.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
                ) {
                    app.mode = Mode::Normal;
                }
                Ok(false)
            }
            Mode::Confirm(c) => {
                app.mode = Mode::Normal;
                if matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    self.confirmed(app, store, &c);
                } else {
                    app.message = Some(("not done".into(), false));
                }
                Ok(false)
            }
            Mode::Input { prompt, mut text } => {
                match k.code {
                    KeyCode::Esc => app.mode = Mode::Normal,
                    KeyCode::Enter => {
                        app.mode = Mode::Normal;
                        self.submit(app, store, &prompt, text);
                    }
                    KeyCode::Backspace => {
                        text.pop();
                        if prompt == Prompt::Filter {
                            app.filter = text.clone();
                        }
                        app.mode = Mode::Input { prompt, text };
                    }
                    KeyCode::Char(c) => {
                        text.push(c);
                        if prompt == Prompt::Filter {
                            app.filter = text.clone();
                            app.selected = 0;
                        }
                        app.mode = Mode::Input { prompt, text };
                    }
                    _ => {}
                }
                Ok(false)
            }
            Mode::Normal => {
                let Some(action) = keymap.action(&k, app.view.name()) else {
                    return Ok(false);
                };
                self.act(terminal, app, store, action)
            }
        }
    }

    fn act(
        &self,
        terminal: &mut ratatui::DefaultTerminal,
        app: &mut App,
        store: &Store,
        action: Action,
    ) -> Result<bool> {
        let page = 10;
        // The task view scrolls its detail; the board and pane views move the selection.
        let list_view = matches!(app.view, View::Board | View::Pane);
        match action {
            Action::Quit => return Ok(true),
            Action::Help => app.mode = Mode::Help,
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => {
                let delta: isize = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -page,
                    Action::PageDown => page,
                    Action::Top => -isize::MAX / 2,
                    _ => isize::MAX / 2,
                };
                if list_view {
                    app.move_selection(delta);
                    app.scroll = 0;
                    app.detail = Default::default();
                    app.refresh(store, &Queue::new(&self.cfg))?;
                } else {
                    // Log and Events scroll from the end: "up" goes back in time.
                    let s = app.scroll as isize
                        + if matches!(app.view, View::Queue | View::Task) {
                            delta
                        } else {
                            -delta
                        };
                    app.scroll = s.max(0) as usize;
                    if app.view == View::Log {
                        app.follow = app.scroll == 0;
                    }
                }
            }
            Action::Open => match app.view {
                View::Board => show(app, View::Task),
                View::Events => {
                    app.events_for_task = !app.events_for_task;
                    app.refresh(store, &Queue::new(&self.cfg))?;
                }
                _ => {}
            },
            Action::Back => {
                app.view = View::Board;
                app.scroll = 0;
            }
            Action::NextView | Action::PrevView => {
                app.view = app.view.cycle(action == Action::PrevView);
                app.scroll = 0;
            }
            Action::ViewBoard => show(app, View::Board),
            Action::ViewQueue => show(app, View::Queue),
            Action::ViewTask => show(app, View::Task),
            Action::ViewPane => show(app, View::Pane),
            Action::ViewLog => show(app, View::Log),
            Action::ViewEvents => show(app, View::Events),
            Action::Approve => self.decide(app, store, Decision::Approve { note: None }),
            Action::Reject => self.input(app, Prompt::Reject),
            Action::AnswerYes | Action::AnswerNo => self.answer(app, action == Action::AnswerYes),
            Action::SendText => self.input(app, Prompt::Send),
            Action::Attach => self.attach(terminal, app)?,
            Action::Cancel => match app
                .detail
                .jobs
                .iter()
                .find(|j| matches!(j.status, JobStatus::Queued | JobStatus::Running))
            {
                Some(j) => app.mode = Mode::Confirm(Confirm::CancelJob(j.id)),
                None => {
                    app.message = Some((
                        "the selected task has no queued or running job".into(),
                        true,
                    ))
                }
            },
            Action::Retry => match app
                .detail
                .jobs
                .iter()
                .find(|j| matches!(j.status, JobStatus::Failed | JobStatus::Cancelled))
            {
                Some(j) => app.mode = Mode::Confirm(Confirm::RetryJob(j.id)),
                None => {
                    app.message =
                        Some(("the selected task has no failed job to retry".into(), true))
                }
            },
            Action::NewTask => {
                app.mode = Mode::Input {
                    prompt: Prompt::NewTask,
                    text: String::new(),
                }
            }
            Action::Filter => {
                app.mode = Mode::Input {
                    prompt: Prompt::Filter,
                    text: app.filter.clone(),
                };
            }
            Action::Search => {
                app.mode = Mode::Input {
                    prompt: Prompt::Search,
                    text: app.search.clone(),
                };
            }
            Action::SearchNext | Action::SearchPrev => {
                let hits = app.search_hits();
                if let Some(t) = &app.tail
                    && !hits.is_empty()
                {
                    let total = t.lines.len();
                    let current = total.saturating_sub(app.scroll + 1);
                    let next = if action == Action::SearchNext {
                        hits.iter()
                            .copied()
                            .find(|h| *h > current)
                            .unwrap_or(hits[0])
                    } else {
                        hits.iter()
                            .rev()
                            .copied()
                            .find(|h| *h < current)
                            .unwrap_or(hits[hits.len() - 1])
                    };
                    app.scroll = total.saturating_sub(next + 1);
                    app.follow = false;
                }
            }
            Action::Follow => {
                app.follow = !app.follow;
                if app.follow {
                    app.scroll = 0;
                }
            }
        }
        Ok(false)
    }

    fn input(&self, app: &mut App, prompt: Prompt) {
        if app.selected_task().is_none() {
            app.message = Some(("no task selected".into(), true));
            return;
        }
        app.mode = Mode::Input {
            prompt,
            text: String::new(),
        };
    }

    fn decide(&self, app: &mut App, store: &Store, decision: Decision) {
        let Some(key) = app.selected_task().map(|t| t.key.clone()) else {
            app.message = Some(("no task selected".into(), true));
            return;
        };
        let engine = Engine::new(&self.cfg, store);
        app.message = Some(
            match engine.handle(Input::Decide {
                task: key.clone(),
                decision,
                by: "console".into(),
            }) {
                Ok(o) => (format!("{key}: {}", o.describe()), false),
                Err(e) => (format!("{key}: {e}"), true),
            },
        );
    }

    fn submit(&self, app: &mut App, store: &Store, prompt: &Prompt, text: String) {
        match prompt {
            Prompt::Reject if text.trim().is_empty() => {
                app.message = Some(("a rejection needs a note".into(), true));
            }
            Prompt::Reject => self.decide(app, store, Decision::Reject { note: text }),
            Prompt::Send => self.send(app, store, &text),
            Prompt::Filter => app.filter = text,
            Prompt::Search => {
                app.search = text;
                self.act_search(app);
            }
            Prompt::NewTask if text.trim().is_empty() => {
                app.message = Some(("a task needs a title".into(), true));
            }
            Prompt::NewTask => {
                let project = projects::list(store.conn())
                    .ok()
                    .and_then(|p| p.into_iter().next())
                    .map(|p| p.name);
                app.message = Some(match project {
                    None => (
                        "no project: add one with `bosun project add PATH`".into(),
                        true,
                    ),
                    Some(p) => {
                        match Engine::new(&self.cfg, store).create_task(&p, text.trim(), "", 100) {
                            Ok((t, _)) => (format!("{} created in {p}", t.key), false),
                            Err(e) => (e.to_string(), true),
                        }
                    }
                });
            }
        }
    }

    fn act_search(&self, app: &mut App) {
        let hits = app.search_hits();
        app.message = Some((
            format!("{} lines match “{}”", hits.len(), app.search),
            false,
        ));
        if let (Some(t), Some(last)) = (&app.tail, hits.last()) {
            app.scroll = t.lines.len().saturating_sub(last + 1);
            app.follow = false;
        }
    }

    fn confirmed(&self, app: &mut App, store: &Store, c: &Confirm) {
        let engine = Engine::new(&self.cfg, store);
        app.message = Some(match c {
            Confirm::CancelJob(j) => match engine.cancel_job(*j) {
                Ok(_) => (format!("job #{j} cancelled"), false),
                Err(e) => (e.to_string(), true),
            },
            Confirm::RetryJob(j) => match engine.retry_job(*j, None) {
                Ok(_) => (format!("job #{j} queued again"), false),
                Err(e) => (e.to_string(), true),
            },
        });
    }

    /// The tmux server `socket` (a run's own), else the config's.
    fn tmux(&self, socket: Option<&str>) -> Result<Tmux> {
        Ok(Tmux::new(
            socket.unwrap_or(&self.cfg.supervisor.tmux_socket),
            &self.data_dir,
            200,
            50,
        )?)
    }

    /// The selected task's live run: (pane, its tmux socket).
    fn live_pane(&self, app: &App) -> Option<(String, Option<String>)> {
        let run = app.selected_run()?;
        if run.ended_at.is_some() {
            return None;
        }
        Some((run.pane_id.clone()?, run.socket.clone()))
    }

    /// Answers the selected task's agent on a thread of its own: the answer waits for the
    /// agent's dialog and confirms it went away, which takes up to seconds.
    fn answer(&self, app: &mut App, yes: bool) {
        let Some(key) = app.selected_task().map(|t| t.key.clone()) else {
            return;
        };
        let word = if yes { "yes" } else { "no" };
        app.message = Some((format!("answering {key} {word}…"), false));
        let (cfg, data_dir, db) = (self.cfg.clone(), self.data_dir.clone(), self.db.clone());
        let outcomes = Arc::clone(&self.outcomes);
        std::thread::spawn(move || {
            let result = Store::open(&db)
                .map_err(control::ControlError::from)
                .and_then(|store| control::answer(&cfg, &data_dir, &store, &key, yes, "console"));
            let outcome = match result {
                Ok(()) => (format!("{key}: answered {word}"), false),
                // One line: the status bar has one.
                Err(e) => (e.to_string().lines().collect::<Vec<_>>().join(" │ "), true),
            };
            if let Ok(mut o) = outcomes.lock() {
                o.push(outcome);
            }
        });
    }

    fn send(&self, app: &mut App, store: &Store, text: &str) {
        let Some(key) = app.selected_task().map(|t| t.key.clone()) else {
            return;
        };
        app.message = Some(
            match control::send_text(&self.cfg, &self.data_dir, store, &key, text) {
                Ok(()) => ("sent".into(), false),
                Err(e) => (format!("cannot send: {e}"), true),
            },
        );
    }

    /// Suspends the console, attaches the real terminal to the agent's pane, and comes back
    /// when the operator detaches.
    fn attach(&self, terminal: &mut ratatui::DefaultTerminal, app: &mut App) -> Result<()> {
        let Some((pane, socket)) = self.live_pane(app) else {
            app.message = Some(("the selected task has no running agent".into(), true));
            return Ok(());
        };
        let argv = self.tmux(socket.as_deref())?.attach_argv(&pane);
        ratatui::restore();
        let status = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .status();
        *terminal = ratatui::try_init().context("cannot take the terminal back")?;
        terminal.clear()?;
        app.message = Some(match status {
            Ok(s) if s.success() => ("back from the agent's pane".into(), false),
            Ok(s) => (format!("tmux attach ended with {s}"), true),
            Err(e) => (format!("cannot run tmux attach: {e}"), true),
        });
        Ok(())
    }
}

/// Switches to `view`, scrolled to its start (each view's scroll means something else).
fn show(app: &mut App, view: View) {
    if app.view != view {
        app.view = view;
        app.scroll = 0;
        app.follow = true;
    }
}
