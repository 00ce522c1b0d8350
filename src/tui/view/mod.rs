//! Rendering: a pure function of [`App`] and the [`Theme`], one file per screen. Every string
//! that came from outside bosun (titles, reasons, agent output, artifacts, diffs) is drawn
//! through [`sanitize`].

mod board;
mod diff;
mod judge;
mod lists;
mod run;
mod task;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::keymap::{Action, Keymap};
use super::sanitize::clean;
use super::state::{App, Confirm, Mode, Prompt, TaskRow, View};
use super::theme::Theme;
use crate::status::TaskState;

/// Smallest terminal the console draws in, columns × rows.
pub const MIN_SIZE: (u16, u16) = (60, 16);

/// Columns from which the header names every view (the board's own layouts go by
/// `board::COLUMN_MIN`).
pub(super) const WIDE: u16 = 120;

/// Draws the whole console.
pub fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, keymap: &Keymap) {
    let area = f.area();
    f.render_widget(Block::default().style(theme.base()), area);
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!(
            "terminal too small: {}×{}, bosun needs at least {}×{}",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        f.render_widget(
            Paragraph::new(msg)
                .style(theme.warning())
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, header, app, theme);
    match app.view {
        View::Board => board::draw(f, body, app, theme),
        View::Queue => lists::draw_queue(f, body, app, theme),
        View::Task => task::draw(f, body, app, theme),
        View::Pane => run::draw_pane(f, body, app, theme),
        View::Log => run::draw_log(f, body, app, theme),
        View::Events => lists::draw_events(f, body, app, theme),
        View::Artifact => judge::draw(f, body, app, theme),
        View::Diff => diff::draw(f, body, app, theme),
    }
    draw_footer(f, footer, app, theme, keymap);
    match &app.mode {
        Mode::Help => draw_help(f, area, app, theme, keymap),
        Mode::Input { prompt, text } => draw_input(f, area, prompt, text, theme),
        Mode::Confirm(c) => draw_confirm(f, area, c, theme),
        Mode::Normal => {}
    }
}

fn draw_header(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::styled(" bosun ", theme.title())];
    // Narrow: only the current view is named, the others are their number keys.
    let named = area.width >= WIDE;
    for (i, v) in View::ALL.iter().enumerate() {
        let (style, text) = if *v == app.view {
            (theme.selected(), format!(" {} {} ", i + 1, v.name()))
        } else if named {
            (theme.header(), format!(" {} {} ", i + 1, v.name()))
        } else {
            (theme.header(), format!(" {} ", i + 1))
        };
        spans.push(Span::styled(text, style));
    }
    let need = app.attention();
    spans.push(Span::raw("  "));
    spans.push(Span::styled(
        format!(" ⚑ {need} need{} you ", if need == 1 { "s" } else { "" }),
        if need > 0 {
            theme.attention()
        } else {
            theme.dim()
        },
    ));
    // Providers not taking work: parked at a usage limit (until when, how much used), or
    // their breaker open.
    if let Some(q) = &app.queue {
        for l in q.limits.iter().filter(|l| l.parks(q.now)) {
            let used = l
                .used_percent
                .map(|p| format!(" {p:.0}%"))
                .unwrap_or_default();
            spans.push(Span::styled(
                format!(
                    " ⏸ {} until {}{used} ",
                    clean(&l.provider),
                    crate::provider::limit::clock_time(l.until_at)
                ),
                theme.warning(),
            ));
        }
        // The others' share of their limit, where their CLI reports one.
        for l in q.limits.iter().filter(|l| !l.parks(q.now)) {
            if let Some(p) = l.used_percent {
                let style = if p >= 80.0 {
                    theme.warning()
                } else {
                    theme.dim()
                };
                spans.push(Span::styled(
                    format!(" {} {p:.0}% ", clean(&l.provider)),
                    style,
                ));
            }
        }
        for b in q.breakers.iter().filter(|b| b.state.as_str() != "closed") {
            spans.push(Span::styled(
                format!(" {} breaker {} ", clean(&b.provider), b.state),
                theme.error(),
            ));
        }
    }
    spans.push(Span::styled(format!("  {}", app.mode_label), theme.dim()));
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.header()),
        area,
    );
}

/// The actions the footer offers for the current view, layer and selected task: help
/// first, then the decisions the task is open to (approve and reject when it awaits approval,
/// override when blocked, yes and no when its agent waits), then the view's own keys. The
/// keys come from the keymap, so a rebinding shows up here.
fn footer_actions(app: &App) -> (&'static str, Vec<Action>) {
    match &app.mode {
        Mode::Input { .. } => ("input", vec![Action::Submit, Action::Back]),
        Mode::Confirm(_) => ("confirm", vec![Action::ConfirmYes, Action::ConfirmNo]),
        Mode::Help => ("help", vec![Action::Back]),
        Mode::Normal => {
            let mut out = vec![Action::Help];
            if let Some(row) = app.selected_row() {
                match row.task.state {
                    TaskState::AwaitingApproval => out.extend([Action::Approve, Action::Reject]),
                    TaskState::Blocked if row.task.stage == "done" => out.push(Action::Land),
                    TaskState::Blocked => out.push(Action::Override),
                    TaskState::Done => out.push(Action::Land),
                    _ => {}
                }
                if matches!(row.run, Some((_, crate::status::RunStatus::Waiting, _))) {
                    out.extend([Action::AnswerYes, Action::AnswerNo]);
                }
            }
            out.extend(match app.view {
                View::Log => &[
                    Action::Search,
                    Action::SearchNext,
                    Action::Follow,
                    Action::PageUp,
                    Action::ViewPane,
                    Action::Back,
                ][..],
                View::Pane => &[
                    Action::SendText,
                    Action::Message,
                    Action::Attach,
                    Action::PageUp,
                    Action::ViewLog,
                    Action::Back,
                ][..],
                View::Artifact | View::Diff | View::Task => &[
                    Action::ViewArtifact,
                    Action::ViewDiff,
                    Action::PageDown,
                    Action::Back,
                ][..],
                View::Events => &[Action::Open, Action::Back][..],
                _ => &[
                    Action::ViewArtifact,
                    Action::ViewDiff,
                    Action::ViewPane,
                    Action::Attach,
                    Action::Left,
                    Action::Filter,
                    Action::NewTask,
                ][..],
            });
            out.push(Action::Quit);
            (app.view.name(), out)
        }
    }
}

fn draw_footer(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme, keymap: &Keymap) {
    let line = match &app.message {
        Some((m, true)) => Line::styled(format!(" {}", clean(m)), theme.error()),
        Some((m, false)) => Line::styled(format!(" {}", clean(m)), theme.success()),
        None => {
            let (layer, actions) = footer_actions(app);
            let mut spans = vec![Span::raw(" ")];
            for (key, hint) in keymap.hints(layer, &actions) {
                spans.push(Span::styled(key, theme.key_hint()));
                spans.push(Span::styled(format!(" {hint}  "), theme.dim()));
            }
            Line::from(spans)
        }
    };
    f.render_widget(Paragraph::new(line), area);
}

fn block<'a>(title: &'a str, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(true))
        .title(Span::styled(format!(" {title} "), theme.title()))
}

/// The task's state, its run's status while it is active, or `over budget` when a budget
/// holds its queued job.
fn status_span(row: &TaskRow, theme: &Theme) -> Span<'static> {
    if row.over_budget {
        return Span::styled("over budget", theme.warning());
    }
    match &row.run {
        Some((_, s, _)) if row.task.state == TaskState::Active => {
            Span::styled(s.as_str().to_string(), theme.status(s.as_str()))
        }
        _ => Span::styled(
            row.task.state.as_str().to_string(),
            state_style(row.task.state, theme),
        ),
    }
}

fn state_style(s: TaskState, theme: &Theme) -> Style {
    match s {
        TaskState::Done | TaskState::Landed => theme.success(),
        TaskState::Blocked => theme.error(),
        TaskState::NeedsInput | TaskState::AwaitingApproval => theme.attention(),
        TaskState::Cancelled => theme.dim(),
        TaskState::Active | TaskState::Landing | TaskState::InReview => theme.base(),
    }
}

fn ms(ms: i64) -> String {
    let s = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
    if s == 0 {
        return "0s".into();
    }
    humantime::format_duration(std::time::Duration::from_secs(s)).to_string()
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The help overlay: the keymap's bindings for this view (and every view, and the layers),
/// keys of one action on one line (`k, up  Move up`), in two columns when wide; j/k scroll it.
fn draw_help(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme, keymap: &Keymap) {
    let here = app.view.name();
    let mut merged: Vec<(String, String, String)> = Vec::new();
    for h in keymap.help_rows() {
        let scope = h.view.clone().unwrap_or_else(|| "all".into());
        let layer = crate::tui::keymap::LAYERS.contains(&scope.as_str());
        if scope != "all" && scope != here && !layer {
            continue;
        }
        match merged
            .iter_mut()
            .find(|(_, s, d)| *s == scope && *d == h.desc)
        {
            Some(row) => row.0 = format!("{}, {}", row.0, h.key),
            None => merged.push((h.key.clone(), scope, h.desc.clone())),
        }
    }
    let wide = area.width >= 150;
    let r = centered(
        area,
        if wide { 140 } else { 76 },
        area.height.saturating_sub(2),
    );
    f.render_widget(Clear, r);
    let title = format!(
        "keys · {here} view · j/k scroll · ? or Esc closes ({} bindings)",
        merged.len()
    );
    let outer = block(&title, theme).style(theme.base());
    let inner = outer.inner(r);
    f.render_widget(outer, r);
    let per_column = usize::from(inner.height.saturating_sub(1)).max(1);
    let columns = if wide { 2 } else { 1 };
    let visible = per_column * columns;
    let limit = merged.len().saturating_sub(visible);
    app.scroll_limit.set(limit);
    let start = app.help_scroll.min(limit);
    let shown: Vec<&(String, String, String)> = merged.iter().skip(start).take(visible).collect();
    let areas =
        Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    for (c, chunk) in shown.chunks(per_column).enumerate() {
        let rows: Vec<Row> = chunk
            .iter()
            .map(|(key, scope, desc)| {
                Row::new(vec![
                    Cell::from(Span::styled(key.clone(), theme.key_hint())),
                    Cell::from(scope.clone()),
                    Cell::from(desc.clone()),
                ])
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(14),
                Constraint::Length(8),
                Constraint::Min(20),
            ],
        )
        .header(Row::new(vec!["key", "where", "action"]).style(theme.header()));
        if let Some(a) = areas.get(c) {
            f.render_widget(table, *a);
        }
    }
}

fn draw_input(f: &mut Frame<'_>, area: Rect, prompt: &Prompt, text: &str, theme: &Theme) {
    let title = match prompt {
        Prompt::Reject => "reject: what must change? (Enter sends, Esc cancels)",
        Prompt::Send => "send a line to the agent (Enter sends, Esc cancels)",
        Prompt::Filter => "filter tasks by key or title",
        Prompt::Search => "search the log",
        Prompt::NewTask => "new task: title (Enter creates, Esc cancels)",
        Prompt::Override => "override: why does the failure not count? (Enter, Esc cancels)",
        Prompt::Message => "message for the agent, delivered when its turn ends (Enter)",
    };
    let r = centered(area, 72, 3);
    f.render_widget(Clear, r);
    let p = Paragraph::new(Line::from(vec![
        Span::raw(clean(text)),
        Span::styled("▏", theme.key_hint()),
    ]))
    .block(block(title, theme))
    .style(theme.base());
    f.render_widget(p, r);
}

fn draw_confirm(f: &mut Frame<'_>, area: Rect, c: &Confirm, theme: &Theme) {
    let q = match c {
        Confirm::CancelJob(j) => format!("Cancel job #{j}? Its agent is stopped. (y/n)"),
        Confirm::RetryJob(j) => format!("Retry job #{j} with fresh attempts? (y/n)"),
    };
    let r = centered(area, 60, 3);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(q)
            .style(theme.warning().add_modifier(Modifier::BOLD))
            .block(block("confirm", theme)),
        r,
    );
}
