//! The console's state: a snapshot of the database plus what the operator is doing. Loading
//! reads SQLite only; rendering (`view`) is a pure function of this state.

use std::collections::HashMap;
use std::path::Path;

pub use super::tail::Tail;

use crate::config::Config;
use crate::queue::{Queue, QueueStatus};
use crate::store::events::{self, Event};
use crate::store::gates::{self, GateResult};
use crate::store::jobs::{self, Job};
use crate::store::runs::{self, Run};
use crate::store::tasks::{self, Task};
use crate::store::{Store, StoreError, now_ms};

/// The views, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Tasks by stage.
    Board,
    /// The job queue.
    Queue,
    /// One task in depth.
    Task,
    /// The selected run's live terminal.
    Pane,
    /// The selected run's log.
    Log,
    /// The activity feed.
    Events,
}

impl View {
    /// Every view in Tab order.
    pub const ALL: [View; 6] = [
        View::Board,
        View::Queue,
        View::Task,
        View::Pane,
        View::Log,
        View::Events,
    ];

    /// Lower-case name, as used by keymap `view = "…"` entries.
    pub fn name(self) -> &'static str {
        match self {
            View::Board => "board",
            View::Queue => "queue",
            View::Task => "task",
            View::Pane => "pane",
            View::Log => "log",
            View::Events => "events",
        }
    }

    /// The next (or, with `back`, previous) view in Tab order.
    pub fn cycle(self, back: bool) -> View {
        let i = View::ALL.iter().position(|v| *v == self).unwrap_or(0);
        let n = View::ALL.len();
        View::ALL[if back { (i + n - 1) % n } else { (i + 1) % n }]
    }
}

/// One board row: a task and the live status of its latest run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    /// The task.
    pub task: Task,
    /// Its latest run: id, status, pane.
    pub run: Option<runs::LatestRun>,
}

impl TaskRow {
    /// True when the task waits for the operator: awaiting approval, needs input, blocked,
    /// or its agent is waiting for an answer.
    pub fn needs_operator(&self) -> bool {
        self.task
            .needs_operator(self.run.as_ref().map(|(_, s, _)| *s))
    }
}

/// The selected task in depth (the Task view).
#[derive(Debug, Clone, Default)]
pub struct Detail {
    /// Gate results, oldest first.
    pub gates: Vec<GateResult>,
    /// Runs, oldest first.
    pub runs: Vec<Run>,
    /// Jobs, newest first.
    pub jobs: Vec<Job>,
    /// The task's recent events, oldest first.
    pub events: Vec<Event>,
}

/// A text field being typed into.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Rejection note for the selected task.
    Reject,
    /// A line for the selected task's agent.
    Send,
    /// Board filter.
    Filter,
    /// Log search.
    Search,
    /// Title of a new task.
    NewTask,
}

/// A destructive action waiting for y/n.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    /// Cancel this job.
    CancelJob(i64),
    /// Retry this job.
    RetryJob(i64),
}

/// What the keyboard is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Keys are actions.
    Normal,
    /// The help overlay.
    Help,
    /// Typing into a field.
    Input {
        /// What for.
        prompt: Prompt,
        /// The text so far.
        text: String,
    },
    /// Waiting for y/n.
    Confirm(Confirm),
}

/// The whole console state.
pub struct App {
    /// Current view.
    pub view: View,
    /// Keyboard mode.
    pub mode: Mode,
    /// Pipeline stage names, in order.
    pub stages: Vec<String>,
    /// Run timeout of each role, for the Queue view.
    pub timeouts: HashMap<String, std::time::Duration>,
    /// The config's stages, for artifact paths in the Task view.
    pub pipeline: Vec<crate::config::Stage>,
    /// Board rows: needing the operator first, then by priority and id.
    pub rows: Vec<TaskRow>,
    /// Index into the visible (filtered) rows.
    pub selected: usize,
    /// Board filter (substring of key or title, case-insensitive).
    pub filter: String,
    /// Queue snapshot.
    pub queue: Option<QueueStatus>,
    /// The selected task in depth.
    pub detail: Detail,
    /// Recent events (all tasks, or the selected one's with `events_for_task`).
    pub events: Vec<Event>,
    /// Filter the Events view to the selected task.
    pub events_for_task: bool,
    /// Scroll offset of the current list view (rows from the top, or from the end in the log).
    pub scroll: usize,
    /// The selected run's log and screen.
    pub tail: Option<Tail>,
    /// Log view follows new output.
    pub follow: bool,
    /// Log search text.
    pub search: String,
    /// One line for the status bar: (text, is_error).
    pub message: Option<(String, bool)>,
    /// "in-process supervisor" or "client of daemon pid N".
    pub mode_label: String,
    /// tmux socket of the agents.
    pub socket: String,
    /// Time of the snapshot, ms since the epoch.
    pub now: i64,
}

/// Events shown in the Events view.
const EVENTS: usize = 500;

impl App {
    /// An empty console for `cfg`'s pipeline.
    pub fn new(cfg: &Config, mode_label: String) -> App {
        App {
            view: View::Board,
            mode: Mode::Normal,
            stages: cfg.stages.iter().map(|s| s.name.clone()).collect(),
            timeouts: cfg
                .roles
                .values()
                .map(|r| (r.name.clone(), cfg.timeout_of(r)))
                .collect(),
            pipeline: cfg.stages.clone(),
            rows: Vec::new(),
            selected: 0,
            filter: String::new(),
            queue: None,
            detail: Detail::default(),
            events: Vec::new(),
            events_for_task: false,
            scroll: 0,
            tail: None,
            follow: true,
            search: String::new(),
            message: None,
            mode_label,
            socket: cfg.supervisor.tmux_socket.clone(),
            now: now_ms(),
        }
    }

    /// Reloads everything from the database.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub fn refresh(&mut self, store: &Store, queue: &Queue) -> Result<(), StoreError> {
        let c = store.conn();
        self.now = now_ms();
        let key = self.selected_task().map(|t| t.key.clone());
        let latest = runs::latest_by_task(c)?;
        let mut rows: Vec<TaskRow> = tasks::list(c)?
            .into_iter()
            .map(|task| TaskRow {
                run: latest.get(&task.id).cloned(),
                task,
            })
            .collect();
        // Those needing the operator first (an agent waiting counts), stable otherwise.
        rows.sort_by_key(|r| !r.needs_operator());
        self.rows = rows;
        if let Some(k) = key
            && let Some(i) = self.visible().iter().position(|r| r.task.key == k)
        {
            self.selected = i;
        }
        self.selected = self.selected.min(self.visible().len().saturating_sub(1));
        self.queue = Some(queue.status(c, self.now, 200)?);
        self.detail = match self.selected_task() {
            Some(t) => Detail {
                gates: gates::for_task(c, t.id)?,
                runs: runs::for_task(c, t.id)?,
                jobs: jobs::for_task(c, t.id)?,
                events: events::recent(c, Some(t.id), 200)?,
            },
            None => Detail::default(),
        };
        let task_filter = if self.events_for_task {
            self.selected_task().map(|t| t.id)
        } else {
            None
        };
        self.events = events::recent(c, task_filter, EVENTS)?;
        self.sync_tail();
        Ok(())
    }

    /// Board rows that pass the filter.
    pub fn visible(&self) -> Vec<&TaskRow> {
        let f = self.filter.to_lowercase();
        self.rows
            .iter()
            .filter(|r| {
                f.is_empty()
                    || r.task.key.to_lowercase().contains(&f)
                    || r.task.title.to_lowercase().contains(&f)
            })
            .collect()
    }

    /// The selected task.
    pub fn selected_task(&self) -> Option<&Task> {
        self.visible().get(self.selected).map(|r| &r.task)
    }

    /// The selected task's row.
    pub fn selected_row(&self) -> Option<&TaskRow> {
        self.visible().get(self.selected).copied()
    }

    /// Tasks needing the operator.
    pub fn attention(&self) -> usize {
        self.rows.iter().filter(|r| r.needs_operator()).count()
    }

    /// The selected task's latest run, if it has one.
    pub fn selected_run(&self) -> Option<&Run> {
        self.detail.runs.last()
    }

    /// Keeps the tailed log on the selected task's latest run.
    pub fn sync_tail(&mut self) {
        let want = self.selected_run().map(|r| (r.id, r.log_path.clone()));
        // The pane's size as the run recorded it (older runs: the default window size).
        let (rows, cols) = self.selected_run().map_or((50, 200), |r| {
            (
                r.rows.and_then(|v| u16::try_from(v).ok()).unwrap_or(50),
                r.cols.and_then(|v| u16::try_from(v).ok()).unwrap_or(200),
            )
        });
        if let Some(t) = self.tail.as_mut() {
            t.resize(rows, cols);
        }
        match (want, &self.tail) {
            // Opened before the run's log existed: open it once it does.
            (Some((id, path)), Some(t)) if t.run_id == id => {
                if !t.is_open() && path.as_deref().is_some_and(|p| Path::new(p).exists()) {
                    self.tail = Some(Tail::open(id, path.as_deref(), rows, cols));
                }
            }
            (Some((id, path)), _) => {
                self.tail = Some(Tail::open(id, path.as_deref(), rows, cols));
                self.scroll = 0;
            }
            (None, _) => self.tail = None,
        }
    }

    /// Moves the selection (board and task-based views) by `delta` rows.
    pub fn move_selection(&mut self, delta: isize) {
        let n = self.visible().len();
        if n == 0 {
            return;
        }
        let i = self.selected as isize + delta;
        self.selected = i.clamp(0, n as isize - 1) as usize;
    }

    /// Log lines matching the search, as indexes into the tail's lines.
    pub fn search_hits(&self) -> Vec<usize> {
        match (&self.tail, self.search.is_empty()) {
            (Some(t), false) => t
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| crate::tui::sanitize::plain(l).contains(&self.search))
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        }
    }
}
