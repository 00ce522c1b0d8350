//! The console's state: the latest database snapshot ([`Snapshot`], loaded off the UI
//! thread by `load`) plus what the operator is doing. [`super::update::update`] is the only
//! writer; rendering (`view`) is a pure function of this state.

use std::collections::HashMap;

pub use super::tail::Tail;

use crate::config::Config;
use crate::queue::QueueStatus;
use crate::store::events::Event;
use crate::store::gates::GateResult;
use crate::store::jobs::Job;
use crate::store::now_ms;
use crate::store::runs::{self, Run};
use crate::store::tasks::Task;

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
    /// What awaits the operator's judgement: the stage's artifacts, the report that failed a
    /// gate, the feedback the next run gets.
    Artifact,
    /// What the task's branch changed against its base.
    Diff,
}

impl View {
    /// Every view in Tab order.
    pub const ALL: [View; 8] = [
        View::Board,
        View::Queue,
        View::Task,
        View::Pane,
        View::Log,
        View::Events,
        View::Artifact,
        View::Diff,
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
            View::Artifact => "artifact",
            View::Diff => "diff",
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
    /// Its open helper jobs (agents it asked for help): (job id, role, run status).
    pub helpers: Vec<crate::store::helpers::OpenHelper>,
    /// What its branch conflicts with, by the conflict radar: the base branch's name or
    /// other tasks' keys (empty: nothing).
    pub conflicts: Vec<String>,
    /// The tokens its runs used and their cost.
    pub spent: super::spent::Spent,
    /// A budget holds its queued job (`[budget]`, `bosun budget`).
    pub over_budget: bool,
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
    /// The task this detail is about (`None`: nothing selected).
    pub task_id: Option<i64>,
    /// Gate results, oldest first.
    pub gates: Vec<GateResult>,
    /// Runs, oldest first.
    pub runs: Vec<Run>,
    /// Jobs, newest first.
    pub jobs: Vec<Job>,
    /// The task's recent events, oldest first.
    pub events: Vec<Event>,
    /// The task's messages (its inbox), oldest first.
    pub messages: Vec<crate::store::messages::Message>,
    /// The files its stage's gates and branches look at, as they stand in its worktree.
    pub artifacts: Vec<crate::supervisor::prompt::ArtifactFile>,
    /// Its latest landing (with its pull request, for a `pr` landing), if it has one.
    pub landing: Option<crate::store::landings::Landing>,
    /// The tracker issue it came from, if any.
    pub issue: Option<crate::store::intake::Issue>,
    /// The tokens its runs used.
    pub usage: crate::store::usage::Usage,
    /// What they cost (`[prices]`; `None`: nothing used).
    pub cost: Option<crate::config::prices::Cost>,
    /// The budget that holds its queued job and how to raise it, if one does.
    pub over_budget: Option<String>,
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
    /// The note of a gate override ("approve anyway").
    Override,
    /// A message for the task's agent, delivered when its turn ends.
    Message,
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
/// One snapshot of the database for the console, loaded off the UI thread.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Board rows: needing the operator first, then by priority and id.
    pub rows: Vec<TaskRow>,
    /// Queue snapshot.
    pub queue: Option<QueueStatus>,
    /// The detail of the task the load was asked about ([`Want::selected`]).
    pub detail: Detail,
    /// Recent events, oldest first (all tasks, or the selected one's).
    pub events: Vec<Event>,
    /// One line per intake source ([`crate::intake::status::line`]).
    pub intake: Vec<String>,
    /// When it was read, ms since the epoch.
    pub now: i64,
}

/// What a load is asked to read besides the board: the selected task and the events filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Want {
    /// The selected task's key.
    pub selected: Option<String>,
    /// Events of the selected task only.
    pub events_for_task: bool,
    /// The files the selected task's stage looks at (the loader says which exist).
    pub artifacts: Vec<crate::supervisor::prompt::ArtifactFile>,
    /// The config's intake sources (their status is read).
    pub intake: Vec<crate::config::intake::IntakeSource>,
}

/// The files a stage produced, read from the task's worktree for the Artifact view.
#[derive(Debug, Clone, PartialEq)]
pub struct Judge {
    /// The task.
    pub task_id: i64,
    /// The task's version when the files were read (reload when it moves).
    pub version: i64,
    /// Each expected artifact (path relative to the worktree) and its text, or why it cannot
    /// be shown (not written yet, unreadable).
    pub files: Vec<(String, Result<String, String>)>,
}

/// The selected task's branch diff, for the Diff view.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffState {
    /// The task.
    pub task_id: i64,
    /// The diff, or why there is none (no worktree yet, git failed).
    pub result: Result<crate::git::diff::BranchDiff, String>,
    /// The unified diff's lines (split once, for scrolling).
    pub lines: Vec<String>,
    /// Whether the branch merges into its base, in words: "merges cleanly into main
    /// (squash)", "conflicts with main in a.txt, b.txt"; `None` when it could not be told.
    pub merge: Option<String>,
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
    /// The config's intake sources.
    pub intake: Vec<crate::config::intake::IntakeSource>,
    /// One line per intake source, as last loaded.
    pub intake_lines: Vec<String>,
    /// The selected task in depth.
    pub detail: Detail,
    /// Recent events (all tasks, or the selected one's with `events_for_task`), oldest first.
    pub events: Vec<Event>,
    /// Filter the Events view to the selected task.
    pub events_for_task: bool,
    /// Scroll offset of the current view (rows from the top; from the end in the log and
    /// pane views).
    pub scroll: usize,
    /// The selected run's log and screen, once its follower opened it.
    pub tail: Option<Tail>,
    /// The run whose log is being followed, with the log path it was followed at (its
    /// [`Tail`] may not have arrived yet).
    pub following: Option<(i64, Option<String>)>,
    /// Log view follows new output.
    pub follow: bool,
    /// Log search text.
    pub search: String,
    /// The Artifact view's files.
    pub judge: Option<Judge>,
    /// The Diff view's diff.
    pub diff: Option<DiffState>,
    /// One line for the status bar: (text, is_error).
    pub message: Option<(String, bool)>,
    /// "in-process supervisor" or "client of daemon pid N".
    pub mode_label: String,
    /// tmux socket of the agents.
    pub socket: String,
    /// Time of the snapshot, ms since the epoch.
    pub now: i64,
    /// A snapshot has arrived (before it, views say "loading…").
    pub loaded: bool,
    /// Rows the help overlay is scrolled by.
    pub help_scroll: usize,
    /// Keys of the tasks that needed the operator in the last snapshot (a new one rings the
    /// terminal).
    pub needing: std::collections::HashSet<String>,
    /// The largest useful [`App::scroll`] of the current view, in rows, as the last frame
    /// found it (content height minus screen height); `update` keeps the scroll within it.
    pub scroll_limit: std::cell::Cell<usize>,
}

/// Events shown in the Events view.
pub const EVENTS: usize = 500;

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
            intake: cfg.intake.clone(),
            intake_lines: Vec::new(),
            rows: Vec::new(),
            selected: 0,
            filter: String::new(),
            queue: None,
            detail: Detail::default(),
            events: Vec::new(),
            events_for_task: false,
            scroll: 0,
            tail: None,
            following: None,
            follow: true,
            search: String::new(),
            judge: None,
            diff: None,
            message: None,
            mode_label,
            socket: cfg.supervisor.tmux_socket.clone(),
            now: now_ms(),
            loaded: false,
            needing: Default::default(),
            help_scroll: 0,
            scroll_limit: std::cell::Cell::new(usize::MAX),
        }
    }

    /// What the next load should read for this state.
    pub fn want(&self) -> Want {
        let task = self.selected_task();
        Want {
            selected: task.map(|t| t.key.clone()),
            events_for_task: self.events_for_task,
            artifacts: task
                .and_then(|t| {
                    let stage = self.pipeline.iter().find(|s| s.name == t.stage)?;
                    Some(crate::supervisor::prompt::artifact_files(stage, &t.key))
                })
                .unwrap_or_default(),
            intake: self.intake.clone(),
        }
    }

    /// Takes in a snapshot: the board, queue and events always; the detail only if it is
    /// about the task selected now (the selection may have moved while it loaded). The
    /// selection stays on the same task when rows move.
    pub fn apply(&mut self, snap: Snapshot) {
        let key = self.selected_task().map(|t| t.key.clone());
        self.rows = snap.rows;
        self.loaded = true;
        if let Some(k) = key
            && let Some(i) = self.visible().iter().position(|r| r.task.key == k)
        {
            self.selected = i;
        }
        self.selected = self.selected.min(self.visible().len().saturating_sub(1));
        self.queue = snap.queue;
        self.intake_lines = snap.intake;
        self.events = snap.events;
        self.now = snap.now;
        let selected_id = self.selected_task().map(|t| t.id);
        if snap.detail.task_id == selected_id {
            self.detail = snap.detail;
        } else if self.detail.task_id != selected_id {
            self.detail = Detail::default();
        }
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

    /// The selected task's run to show and act on, once its detail has loaded: of its live
    /// runs (its stage's agent and helpers) the one waiting for an answer, else the newest;
    /// with none live, the latest.
    pub fn selected_run(&self) -> Option<&Run> {
        let runs = &self.detail.runs;
        let live = || runs.iter().rev().filter(|r| r.ended_at.is_none());
        live()
            .find(|r| r.status == crate::status::RunStatus::Waiting)
            .or_else(|| live().next())
            .or(runs.last())
    }

    /// The pane size the selected run recorded (older runs: the default window, 50×200),
    /// as (rows, cols).
    pub fn pane_size(&self) -> (u16, u16) {
        self.selected_run().map_or((50, 200), |r| {
            (
                r.rows.and_then(|v| u16::try_from(v).ok()).unwrap_or(50),
                r.cols.and_then(|v| u16::try_from(v).ok()).unwrap_or(200),
            )
        })
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

    /// The board column of a row: its stage's index, or one past the last stage for `done`
    /// and stages the pipeline does not have.
    pub fn column_of(&self, row: &TaskRow) -> usize {
        self.stages
            .iter()
            .position(|s| *s == row.task.stage)
            .unwrap_or(self.stages.len())
    }

    /// Moves the selection to the first task of the nearest non-empty stage column left
    /// (`step` −1) or right (+1) of the selected task's; false when there is none.
    pub fn move_column(&mut self, step: isize) -> bool {
        let visible = self.visible();
        let Some(current) = visible.get(self.selected).map(|r| self.column_of(r)) else {
            return false;
        };
        let columns = self.stages.len() as isize + 1;
        let mut col = current as isize + step;
        while (0..columns).contains(&col) {
            if let Some(i) = visible
                .iter()
                .position(|r| self.column_of(r) as isize == col)
            {
                self.selected = i;
                return true;
            }
            col += step;
        }
        false
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
