//! The console's decisions: [`update`] takes the state and one [`Msg`] (a key, a snapshot,
//! an effect's result, a timer) and returns the [`Effect`]s to run. It is pure: no I/O, no
//! clock, no terminal, so every key in every mode is unit-tested (`tests/it/console_update.rs`).
//! The effect runner (`effect`) and the event loop (`super::Console`) do the rest.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use super::msg::{Effect, FollowLog, Msg};

use super::keymap::{Action, Keymap};
use super::state::{App, Confirm, Mode, Prompt, View};
use crate::pipeline::Decision;
use crate::status::JobStatus;

/// Rows moved by page up/down.
const PAGE: isize = 10;

/// Applies `msg` to `app`; returns what to do about it.
pub fn update(app: &mut App, keymap: &Keymap, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(k) => key(app, keymap, k),
        Msg::Resize => Vec::new(),
        Msg::Tick { now } => {
            app.now = now;
            Vec::new()
        }
        Msg::Loaded(snap) => {
            let first = !app.loaded;
            app.apply(*snap);
            let mut effects = ring(app, first);
            effects.extend(after_load(app));
            effects
        }
        Msg::Done { text, error } => {
            app.message = Some((text, error));
            Vec::new()
        }
        Msg::TailOpened(t) => {
            if app.following.as_ref().map(|f| f.0) == Some(t.run_id) {
                app.tail = Some(*t);
            }
            Vec::new()
        }
        Msg::LogBytes { run_id, bytes } => {
            if let Some(t) = app.tail.as_mut().filter(|t| t.run_id == run_id) {
                t.ingest(&bytes);
            }
            Vec::new()
        }
        Msg::Older { run_id, end, older } => {
            if let Some(t) = app.tail.as_mut().filter(|t| t.run_id == run_id) {
                t.prepend(*older, end);
            }
            Vec::new()
        }
        Msg::Judged(j) => {
            if app.selected_task().map(|t| t.id) == Some(j.task_id) {
                app.judge = Some(*j);
            }
            Vec::new()
        }
        Msg::Diffed(d) => {
            if app.selected_task().map(|t| t.id) == Some(d.task_id) {
                app.diff = Some(*d);
            }
            Vec::new()
        }
        Msg::SupervisorStopped(e) => {
            app.mode_label = "no supervisor running".into();
            app.message = Some((format!("the supervisor stopped: {e}"), true));
            Vec::new()
        }
    }
}

/// Rings the terminal when a task newly needs the operator (not for those already waiting
/// when the console opened).
fn ring(app: &mut App, first: bool) -> Vec<Effect> {
    let now: std::collections::HashSet<String> = app
        .rows
        .iter()
        .filter(|r| r.needs_operator())
        .map(|r| r.task.key.clone())
        .collect();
    let mut new: Vec<&String> = now.difference(&app.needing).collect();
    new.sort();
    let effect = (!first && !new.is_empty()).then(|| Effect::Ring {
        text: format!(
            "{} need{} you",
            new.iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if new.len() == 1 { "s" } else { "" }
        ),
    });
    app.needing = now;
    effect.into_iter().collect()
}

/// After a snapshot: follow the selected run's log, refresh the judged files when the task
/// moved on.
fn after_load(app: &mut App) -> Vec<Effect> {
    // The snapshot was read for another selection (the first one, for none at all): read
    // the selected task's detail now.
    if app.detail.task_id != app.selected_task().map(|t| t.id) {
        return vec![Effect::Reload(app.want())];
    }
    let mut out = follow_selected(app);
    if app.view == View::Artifact {
        out.extend(load_judge(app, false));
    }
    out
}

/// Follows the selected task's latest run if not already (or again once its log path is
/// known); keeps the tail at the pane's recorded size.
fn follow_selected(app: &mut App) -> Vec<Effect> {
    let (rows, cols) = app.pane_size();
    if let Some(t) = app.tail.as_mut() {
        t.resize(rows, cols);
    }
    let want = app.selected_run().map(|r| (r.id, r.log_path.clone()));
    if want == app.following {
        return Vec::new();
    }
    match want {
        Some((id, path)) => {
            if app.following.as_ref().map(|f| f.0) != Some(id) {
                app.tail = None;
                if matches!(app.view, View::Log | View::Pane) {
                    app.scroll = 0;
                }
            }
            app.following = Some((id, path.clone()));
            vec![Effect::Follow(Some(FollowLog {
                run_id: id,
                path,
                rows,
                cols,
            }))]
        }
        // Only once the selected task's detail is here: no run means none yet.
        None if app.detail.task_id == app.selected_task().map(|t| t.id) => {
            app.following = None;
            app.tail = None;
            vec![Effect::Follow(None)]
        }
        None => Vec::new(),
    }
}

/// Reads the selected task's artifacts (again when `force`, or when the task changed).
fn load_judge(app: &App, force: bool) -> Vec<Effect> {
    let Some(t) = app.selected_task() else {
        return Vec::new();
    };
    if !force
        && app
            .judge
            .as_ref()
            .is_some_and(|j| j.task_id == t.id && j.version == t.version)
    {
        return Vec::new();
    }
    let paths = app
        .pipeline
        .iter()
        .find(|s| s.name == t.stage)
        .map(|s| crate::supervisor::prompt::artifacts(s, &t.key))
        .unwrap_or_default();
    vec![Effect::LoadJudge {
        task_id: t.id,
        version: t.version,
        worktree: t.worktree.clone(),
        paths,
    }]
}

fn key(app: &mut App, keymap: &Keymap, k: KeyEvent) -> Vec<Effect> {
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        return vec![Effect::Quit];
    }
    match app.mode.clone() {
        Mode::Help => {
            match keymap.action(&k, "help") {
                Some(Action::Back | Action::Help | Action::Quit) => {
                    app.mode = Mode::Normal;
                    app.scroll_limit.set(usize::MAX);
                }
                Some(Action::Down) => {
                    app.help_scroll = (app.help_scroll + 1).min(app.scroll_limit.get());
                }
                Some(Action::Up) => app.help_scroll = app.help_scroll.saturating_sub(1),
                _ => {}
            }
            Vec::new()
        }
        Mode::Confirm(c) => {
            app.mode = Mode::Normal;
            if keymap.action(&k, "confirm") == Some(Action::ConfirmYes) {
                confirmed(app, &c)
            } else {
                app.message = Some(("not done".into(), false));
                Vec::new()
            }
        }
        Mode::Input { prompt, mut text } => {
            match keymap.action(&k, "input") {
                Some(Action::Back) => app.mode = Mode::Normal,
                Some(Action::Submit) => {
                    app.mode = Mode::Normal;
                    return submit(app, &prompt, text);
                }
                Some(Action::DeleteChar) => {
                    text.pop();
                    if prompt == Prompt::Filter {
                        app.filter = text.clone();
                    }
                    app.mode = Mode::Input { prompt, text };
                }
                _ => {
                    if let KeyCode::Char(c) = k.code
                        && !k
                            .modifiers
                            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                    {
                        text.push(c);
                        if prompt == Prompt::Filter {
                            app.filter = text.clone();
                            app.selected = 0;
                        }
                        app.mode = Mode::Input { prompt, text };
                    }
                }
            }
            Vec::new()
        }
        Mode::Normal => match keymap.action(&k, app.view.name()) {
            Some(action) => act(app, action),
            None => Vec::new(),
        },
    }
}

/// One action in normal mode.
pub fn act(app: &mut App, action: Action) -> Vec<Effect> {
    // The board and pane views move the selection; the others scroll.
    let list_view = matches!(app.view, View::Board | View::Pane);
    match action {
        Action::Quit => return vec![Effect::Quit],
        Action::Help => {
            app.mode = Mode::Help;
            app.help_scroll = 0;
        }
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => {
            let delta: isize = match action {
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -PAGE,
                Action::PageDown => PAGE,
                Action::Top => -isize::MAX / 2,
                _ => isize::MAX / 2,
            };
            let paging = matches!(action, Action::PageUp | Action::PageDown);
            if list_view && !(paging && app.view == View::Pane) {
                return select(app, |a| a.move_selection(delta));
            }
            // Log and Pane scroll from the end: "up" goes back in time.
            let from_end = matches!(app.view, View::Log | View::Pane);
            let delta = if from_end { -delta } else { delta };
            let limit = app.scroll_limit.get();
            app.scroll = app.scroll.saturating_add_signed(delta).min(limit);
            if app.view == View::Log {
                app.follow = app.scroll == 0;
                // At the top of what is loaded: read the lines before it.
                if delta > 0 && app.scroll == limit {
                    return older_lines(app);
                }
            }
        }
        Action::Left | Action::Right => {
            if app.view == View::Board {
                let step = if action == Action::Left { -1 } else { 1 };
                let mut moved = false;
                let effects = select(app, |a| moved = a.move_column(step));
                if !moved {
                    app.message = Some(("no tasks further that way".into(), false));
                }
                return effects;
            }
        }
        Action::Open => match app.view {
            View::Board => return show(app, View::Task),
            View::Events => {
                app.events_for_task = !app.events_for_task;
                app.scroll = 0;
                return vec![Effect::Reload(app.want())];
            }
            _ => {}
        },
        Action::Back => {
            if !app.filter.is_empty() && app.view == View::Board {
                app.filter.clear();
                return vec![Effect::Reload(app.want())];
            }
            return show(app, View::Board);
        }
        Action::NextView | Action::PrevView => {
            let v = app.view.cycle(action == Action::PrevView);
            return show(app, v);
        }
        Action::ViewBoard => return show(app, View::Board),
        Action::ViewQueue => return show(app, View::Queue),
        Action::ViewTask => return show(app, View::Task),
        Action::ViewPane => return show(app, View::Pane),
        Action::ViewLog => return show(app, View::Log),
        Action::ViewEvents => return show(app, View::Events),
        Action::ViewArtifact => return show(app, View::Artifact),
        Action::ViewDiff => return show(app, View::Diff),
        Action::Approve => return decide(app, Decision::Approve { note: None }, "approving"),
        Action::Reject => input(app, Prompt::Reject),
        Action::Land => match app.selected_task() {
            Some(t)
                if t.state == crate::status::TaskState::Done
                    || (t.state == crate::status::TaskState::Blocked && t.stage == "done") =>
            {
                return decide(app, Decision::Land { mode: None }, "landing");
            }
            Some(t) => {
                app.message = Some((
                    format!(
                        "{} is {} at {}: only a task that passed every stage lands",
                        t.key, t.state, t.stage
                    ),
                    true,
                ))
            }
            None => app.message = Some(("no task selected".into(), true)),
        },
        Action::Override => match app.selected_task() {
            Some(t) if t.state == crate::status::TaskState::Blocked => input(app, Prompt::Override),
            Some(t) => {
                app.message = Some((
                    format!(
                        "{} is {}: only a blocked task's failed gate can be overridden",
                        t.key, t.state
                    ),
                    true,
                ))
            }
            None => app.message = Some(("no task selected".into(), true)),
        },
        Action::AnswerYes | Action::AnswerNo => {
            let Some(key) = app.selected_task().map(|t| t.key.clone()) else {
                app.message = Some(("no task selected".into(), true));
                return Vec::new();
            };
            let yes = action == Action::AnswerYes;
            app.message = Some((
                format!("answering {key} {}…", if yes { "yes" } else { "no" }),
                false,
            ));
            return vec![Effect::Answer { key, yes }];
        }
        Action::SendText => input(app, Prompt::Send),
        Action::Message => input(app, Prompt::Message),
        Action::Attach => {
            let live = app
                .selected_run()
                .filter(|r| r.ended_at.is_none())
                .and_then(|r| Some((r.pane_id.clone()?, r.socket.clone())));
            match live {
                Some((pane, socket)) => return vec![Effect::Attach { pane, socket }],
                None => app.message = Some(("the selected task has no running agent".into(), true)),
            }
        }
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
                app.message = Some(("the selected task has no failed job to retry".into(), true))
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
        Action::SearchNext | Action::SearchPrev => search_step(app, action == Action::SearchNext),
        Action::Follow => {
            app.follow = !app.follow;
            if app.follow {
                app.scroll = 0;
            }
        }
        // Layer actions: nothing to do in normal mode.
        Action::Submit | Action::DeleteChar | Action::ConfirmYes | Action::ConfirmNo => {}
    }
    Vec::new()
}

/// Changes the selection with `change`; when the task changed, its detail, log and views
/// are reloaded.
fn select(app: &mut App, change: impl FnOnce(&mut App)) -> Vec<Effect> {
    let before = app.selected_task().map(|t| t.id);
    change(app);
    let after = app.selected_task().map(|t| t.id);
    if before == after {
        return Vec::new();
    }
    app.scroll = 0;
    app.judge = None;
    app.diff = None;
    vec![Effect::Reload(app.want())]
}

/// Switches to `view`, scrolled to its start (each view's scroll means something else), and
/// loads what it shows.
fn show(app: &mut App, view: View) -> Vec<Effect> {
    if app.view != view {
        app.view = view;
        app.scroll = 0;
        app.follow = true;
        app.scroll_limit.set(usize::MAX);
    }
    let Some(t) = app.selected_task() else {
        return Vec::new();
    };
    match view {
        View::Artifact => load_judge(app, true),
        View::Diff => vec![Effect::LoadDiff { task_id: t.id }],
        View::Pane | View::Log => follow_selected(app),
        _ => Vec::new(),
    }
}

fn input(app: &mut App, prompt: Prompt) {
    if app.selected_task().is_none() {
        app.message = Some(("no task selected".into(), true));
        return;
    }
    app.mode = Mode::Input {
        prompt,
        text: String::new(),
    };
}

fn decide(app: &mut App, decision: Decision, doing: &str) -> Vec<Effect> {
    let Some(key) = app.selected_task().map(|t| t.key.clone()) else {
        app.message = Some(("no task selected".into(), true));
        return Vec::new();
    };
    app.message = Some((format!("{doing} {key}…"), false));
    vec![Effect::Decide { key, decision }]
}

fn submit(app: &mut App, prompt: &Prompt, text: String) -> Vec<Effect> {
    match prompt {
        Prompt::Reject if text.trim().is_empty() => {
            app.message = Some(("a rejection needs a note".into(), true));
        }
        Prompt::Reject => return decide(app, Decision::Reject { note: text }, "rejecting"),
        Prompt::Override if text.trim().is_empty() => {
            app.message = Some((
                "an override needs a note saying why the failure does not count".into(),
                true,
            ));
        }
        Prompt::Override => {
            return decide(
                app,
                Decision::Override { note: text },
                "overriding the gate of",
            );
        }
        Prompt::Send => {
            if let Some(key) = app.selected_task().map(|t| t.key.clone()) {
                app.message = Some((format!("sending to {key}…"), false));
                return vec![Effect::Send { key, text }];
            }
        }
        Prompt::Message if text.trim().is_empty() => {
            app.message = Some(("the message is empty".into(), true));
        }
        Prompt::Message => {
            if let Some(key) = app.selected_task().map(|t| t.key.clone()) {
                app.message = Some((format!("queueing a message for {key}…"), false));
                return vec![Effect::QueueMessage { key, text }];
            }
        }
        Prompt::Filter => {
            app.filter = text;
            return vec![Effect::Reload(app.want())];
        }
        Prompt::Search => {
            app.search = text;
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
        Prompt::NewTask if text.trim().is_empty() => {
            app.message = Some(("a task needs a title".into(), true));
        }
        Prompt::NewTask => {
            app.message = Some(("creating the task…".into(), false));
            return vec![Effect::CreateTask {
                title: text.trim().to_string(),
            }];
        }
    }
    Vec::new()
}

fn confirmed(app: &mut App, c: &Confirm) -> Vec<Effect> {
    match c {
        Confirm::CancelJob(j) => {
            app.message = Some((format!("cancelling job #{j}…"), false));
            vec![Effect::CancelJob(*j)]
        }
        Confirm::RetryJob(j) => {
            app.message = Some((format!("queueing job #{j} again…"), false));
            vec![Effect::RetryJob(*j)]
        }
    }
}

/// The lines before the tail's first, if the log has any.
fn older_lines(app: &App) -> Vec<Effect> {
    match (&app.tail, &app.following) {
        (Some(t), Some((id, Some(path)))) if t.run_id == *id && t.first_line_at > 0 => {
            vec![Effect::LoadOlder {
                run_id: *id,
                path: path.clone(),
                end: t.first_line_at,
            }]
        }
        _ => Vec::new(),
    }
}

fn search_step(app: &mut App, forward: bool) {
    let hits = app.search_hits();
    let Some(t) = &app.tail else {
        return;
    };
    if hits.is_empty() {
        return;
    }
    let total = t.lines.len();
    let current = total.saturating_sub(app.scroll + 1);
    let next = if forward {
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
