//! The Board view: tasks by stage.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::{WIDE, block, clean, status_span};
use crate::status::TaskState;
use crate::tui::state::{App, TaskRow};
use crate::tui::theme::Theme;

/// The board: one column per stage when wide, a table otherwise.
pub(super) fn draw(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let rows = app.visible();
    let title = if app.filter.is_empty() {
        format!("board · {} tasks", rows.len())
    } else {
        format!(
            "board · {} tasks matching “{}”",
            rows.len(),
            clean(&app.filter)
        )
    };
    if area.width >= WIDE {
        draw_board_columns(f, area, app, &rows, theme, &title);
    } else {
        draw_board_list(f, area, app, &rows, theme, &title);
    }
}

fn draw_board_list(
    f: &mut Frame<'_>,
    area: Rect,
    app: &App,
    rows: &[&TaskRow],
    theme: &Theme,
    title: &str,
) {
    let n = app.stages.len();
    let height = area.height.saturating_sub(3) as usize;
    let first = app.selected.saturating_sub(height.saturating_sub(1));
    let table_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, r)| {
            let idx = app
                .stages
                .iter()
                .position(|s| *s == r.task.stage)
                .unwrap_or(n);
            let done = if r.task.state == TaskState::Done {
                n
            } else {
                idx
            };
            let bar: String = (0..n)
                .map(|k| {
                    if k < done {
                        '■'
                    } else if k == done {
                        '▣'
                    } else {
                        '□'
                    }
                })
                .collect();
            let flag = match (i == app.selected, r.needs_operator()) {
                (true, true) => "▶⚑",
                (true, false) => "▶ ",
                (false, true) => " ⚑",
                (false, false) => "  ",
            };
            let style = if i == app.selected {
                theme.selected()
            } else if r.needs_operator() {
                theme.attention()
            } else {
                theme.base()
            };
            Row::new(vec![
                Cell::from(flag),
                Cell::from(r.task.key.clone()),
                Cell::from(Span::styled(bar, theme.stage(idx))),
                Cell::from(clean(&r.task.stage)),
                Cell::from(status_span(r, theme)),
                Cell::from(if r.helpers.is_empty() {
                    clean(&r.task.title)
                } else {
                    let helpers: Vec<String> = r
                        .helpers
                        .iter()
                        .map(|(job, role, status)| format!("↳ {role} #{job} {status}"))
                        .collect();
                    clean(&format!("{}  ({})", r.task.title, helpers.join(", ")))
                }),
            ])
            .style(style)
        })
        .collect();
    let widths = [
        Constraint::Length(2),
        Constraint::Length(9),
        Constraint::Length(n as u16 + 1),
        Constraint::Length(13),
        Constraint::Length(17),
        Constraint::Min(10),
    ];
    let table = Table::new(table_rows, widths)
        .header(
            Row::new(vec!["", "task", "stages", "stage", "state", "title"]).style(theme.header()),
        )
        .block(block(title, theme));
    f.render_widget(table, area);
}

fn draw_board_columns(
    f: &mut Frame<'_>,
    area: Rect,
    app: &App,
    rows: &[&TaskRow],
    theme: &Theme,
    title: &str,
) {
    let outer = block(title, theme);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let mut names: Vec<String> = app.stages.clone();
    names.push("done".into());
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints(
            names
                .iter()
                .map(|_| Constraint::Ratio(1, names.len() as u32)),
        )
        .split(inner);
    let selected_key = app.selected_task().map(|t| t.key.clone());
    for (i, name) in names.iter().enumerate() {
        let in_col: Vec<&&TaskRow> = rows.iter().filter(|r| r.task.stage == *name).collect();
        let mut lines = Vec::new();
        let width = cols[i].width.saturating_sub(4) as usize;
        // Keep the selected card in sight in a long column.
        let height = cols[i].height.saturating_sub(2) as usize / 3;
        let at = in_col
            .iter()
            .position(|r| Some(&r.task.key) == selected_key.as_ref())
            .unwrap_or(0);
        let first = at.saturating_sub(height.saturating_sub(1));
        // Only the cards on screen are built: a column can hold thousands of tasks.
        for r in in_col.iter().skip(first).take(height + 1) {
            let selected = Some(&r.task.key) == selected_key.as_ref();
            let style = if selected {
                theme.selected()
            } else if r.needs_operator() {
                theme.attention()
            } else {
                theme.base()
            };
            // The marker keeps the selection visible without colour too.
            let mark = match (selected, r.needs_operator()) {
                (true, _) => "▶ ",
                (false, true) => "⚑ ",
                _ => "",
            };
            lines.push(Line::styled(format!("{mark}{}", r.task.key), style));
            let title: String = clean(&r.task.title).chars().take(width).collect();
            lines.push(Line::from(Span::styled(
                format!("  {title}"),
                if selected { style } else { theme.dim() },
            )));
            lines.push(Line::from(vec![Span::raw("  "), status_span(r, theme)]));
            // Helpers the task's agent asked, under it.
            for (job, role, status) in &r.helpers {
                lines.push(Line::from(vec![
                    Span::styled(format!("  ↳ {} #{job} ", clean(role)), theme.dim()),
                    Span::styled(clean(status), theme.status(status)),
                ]));
            }
        }
        let col = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border(false))
            .title(Span::styled(
                format!(" {} · {} ", name, in_col.len()),
                theme.stage(i),
            ));
        f.render_widget(Paragraph::new(lines).block(col), cols[i]);
    }
}
