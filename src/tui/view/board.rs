//! The Board view: tasks by stage.
//!
//! The layout is chosen from the board's width so that no card is narrower than
//! [`CARD_MIN`] cells, a column [`COLUMN_MIN`] with its borders:
//! - **every column** (each stage, then `done`) when all fit at [`COLUMN_MIN`]: with the
//!   default pipeline's seven columns, a terminal 156 columns wide or more;
//! - **a window** of as many columns as fit, at least [`WINDOW_MIN`], around the selected
//!   task's column (h/l move it), the stages left out named with their counts in the board's
//!   bottom border: 112 to 155 columns for the default pipeline (120 shows five);
//! - **the list** below that (111 columns or fewer), one task a row with its stage, a progress
//!   bar over every stage, its state and title.
//!
//! A pipeline of [`WINDOW_MIN`] columns or fewer keeps them all down to 22 cells each (three
//! stages and `done`: 90 columns) and then goes straight to the list.
//!
//! A column's header always keeps the stage's count: `name · 3`, then `name 3`, then the
//! name cut with `…` (`arch… 3`), then the count alone. A card uses its column's whole width
//! (the selected one is highlighted across it):
//!
//! ```text
//! ▶⚑ ET-001         ⚡    marks (▶ selected, ⚑ needs you), key, the mark slot
//!    Add a --verbose…     title, cut with … when it does not fit
//!    awaiting_approval    state, the run's status, or `over budget` when a budget holds it
//!    12.3k tok $0.42      what its runs used and cost, once they used anything
//!    ↳ securi… #7 busy    one line per helper it asked, the role cut first
//! ```
//!
//! The slot at the right of the key line ([`SLOT`] cells, enough for one wide character) is
//! kept free for one more mark, the conflict radar's `⚡` or a pull request's state (issue
//! 20's landing); [`slot`] says what goes there, and the list keeps the same slot after each
//! key ([`LIST_KEY`]). Only the cards and rows on screen are built. Text cut to fit ends in
//! `…`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::{block, clean, status_span};
use crate::status::TaskState;
use crate::tui::state::{App, TaskRow};
use crate::tui::theme::Theme;

/// The narrowest card, in cells inside its column's borders: the 3-cell mark gutter and 17
/// cells of text, which hold the longest state word (`awaiting_approval`) whole and a title's
/// first 16 characters and `…`.
pub const CARD_MIN: u16 = 20;

/// The narrowest column: a card and the column's two borders.
pub const COLUMN_MIN: u16 = CARD_MIN + 2;

/// The fewest columns a window shows: the selected task's stage with two on either side.
/// When fewer fit, the list (which shows every stage on each row) says more.
pub const WINDOW_MIN: usize = 5;

/// Cells before a card's text: the selection mark, the attention mark and a space, as the
/// list's first column (`▶⚑`).
const GUTTER: usize = 3;

/// Cells kept free at the right of a card's key line for one more mark (one wide character
/// such as `⚡`).
pub const SLOT: usize = 2;

/// How the board is laid out at a width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every column.
    Columns,
    /// `shown` consecutive columns from `first`.
    Window {
        /// The first column shown.
        first: usize,
        /// How many are shown.
        shown: usize,
    },
    /// One task a row.
    List,
}

/// The layout of a board `width` cells wide inside its border, with `columns` columns and the
/// selected task in column `selected` (none selected: the first).
pub fn shape(width: u16, columns: usize, selected: Option<usize>) -> Shape {
    let fit = usize::from(width / COLUMN_MIN);
    if fit >= columns {
        Shape::Columns
    } else if fit >= WINDOW_MIN {
        // The selected column in the middle, the window kept inside the board.
        let first = selected
            .unwrap_or(0)
            .saturating_sub(fit / 2)
            .min(columns - fit);
        Shape::Window { first, shown: fit }
    } else {
        Shape::List
    }
}

/// The board: columns, a window of them, or the list, by width (see the module's doc).
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
    let columns = app.stages.len() + 1;
    // `rows` is `app.visible()`: the selection indexes it (filtering again costs O(tasks)).
    let selected = rows.get(app.selected).map(|r| app.column_of(r));
    match shape(area.width.saturating_sub(2), columns, selected) {
        Shape::Columns => draw_columns(f, area, app, &rows, theme, &title, (0, columns)),
        Shape::Window { first, shown } => {
            draw_columns(f, area, app, &rows, theme, &title, (first, shown))
        }
        Shape::List => draw_board_list(f, area, app, &rows, theme, &title),
    }
}

/// Cells of the list's key column: a key of up to eight characters, a space and the
/// [`SLOT`].
const LIST_KEY: usize = 9 + SLOT;

/// The list: one task a row (key and mark slot, progress over the stages, stage, state,
/// title with what its runs used at the right), for boards too narrow for [`WINDOW_MIN`]
/// columns.
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
    let widths = [2, LIST_KEY, n + 1, 13, 17];
    // The title takes the rest, less a cell between columns.
    let title_width = usize::from(area.width.saturating_sub(2))
        .saturating_sub(widths.iter().sum::<usize>() + widths.len())
        .max(10);
    let table_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, r)| {
            let idx = app.column_of(r);
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
            let key = fit(&clean(&r.task.key), LIST_KEY - SLOT - 1);
            let mut key_cell = vec![Span::raw(key.clone())];
            if let Some(m) = slot(r, theme) {
                let gap = LIST_KEY.saturating_sub(Span::raw(key.as_str()).width() + m.width());
                key_cell.push(Span::raw(" ".repeat(gap)));
                key_cell.push(m);
            }
            let text = if r.helpers.is_empty() {
                clean(&r.task.title)
            } else {
                let helpers: Vec<String> = r
                    .helpers
                    .iter()
                    .map(|(job, role, status)| format!("↳ {role} #{job} {status}"))
                    .collect();
                clean(&format!("{}  ({})", r.task.title, helpers.join(", ")))
            };
            Row::new(vec![
                Cell::from(flag),
                Cell::from(Line::from(key_cell)),
                Cell::from(Span::styled(bar, theme.stage(idx))),
                Cell::from(fit(&clean(&r.task.stage), 13)),
                Cell::from(status_span(r, theme)),
                Cell::from(with_spent(&text, &r.spent.label(), title_width)),
            ])
            .style(style)
        })
        .collect();
    let mut constraints: Vec<Constraint> = widths
        .iter()
        .map(|w| Constraint::Length(u16::try_from(*w).unwrap_or(u16::MAX)))
        .collect();
    constraints.push(Constraint::Min(10));
    let table = Table::new(table_rows, constraints)
        .header(
            Row::new(vec!["", "task", "stages", "stage", "state", "title"]).style(theme.header()),
        )
        .block(block(title, theme));
    f.render_widget(table, area);
}

/// Columns `first..first + shown` of the board; the others are named in the bottom border.
fn draw_columns(
    f: &mut Frame<'_>,
    area: Rect,
    app: &App,
    rows: &[&TaskRow],
    theme: &Theme,
    title: &str,
    (first, shown): (usize, usize),
) {
    let mut names: Vec<&str> = app.stages.iter().map(String::as_str).collect();
    names.push("done");
    // One pass puts every row in its column (a stage the pipeline lacks: `done`'s).
    let mut buckets: Vec<Vec<&TaskRow>> = vec![Vec::new(); names.len()];
    for r in rows {
        if let Some(b) = buckets.get_mut(app.column_of(r)) {
            b.push(*r);
        }
    }
    let mut outer = block(title, theme);
    let hidden = |range: std::ops::Range<usize>| -> Vec<(&str, &[&TaskRow])> {
        range
            .filter_map(|i| Some((*names.get(i)?, buckets.get(i)?.as_slice())))
            .collect()
    };
    let half = usize::from(area.width / 2).saturating_sub(3);
    if let Some(text) = left_out(&hidden(0..first), half, true) {
        outer = outer.title_bottom(Line::styled(text, theme.dim()).left_aligned());
    }
    if let Some(text) = left_out(&hidden(first + shown..names.len()), half, false) {
        outer = outer.title_bottom(Line::styled(text, theme.dim()).right_aligned());
    }
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints((0..shown).map(|_| Constraint::Ratio(1, shown.max(1) as u32)))
        .split(inner);
    let selected_key = rows.get(app.selected).map(|r| r.task.key.as_str());
    for (slot_i, area) in cols.iter().enumerate() {
        let i = first + slot_i;
        let (Some(name), Some(in_col)) = (names.get(i), buckets.get(i)) else {
            continue;
        };
        let width = usize::from(area.width.saturating_sub(2));
        let room = usize::from(area.height.saturating_sub(2));
        // Keep the selected card in sight in a long column: it and as many cards above it as
        // fit (cards differ in height).
        let at = in_col
            .iter()
            .position(|r| Some(r.task.key.as_str()) == selected_key)
            .unwrap_or(0);
        let mut top = at.min(in_col.len().saturating_sub(1));
        let mut used = in_col.get(top).map_or(0, |r| card_height(r));
        while top > 0 && used + card_height(in_col[top - 1]) <= room {
            top -= 1;
            used += card_height(in_col[top]);
        }
        let mut lines = Vec::new();
        // Only the cards on screen are built: a column can hold thousands of tasks.
        for r in in_col.iter().skip(top) {
            if lines.len() >= room {
                break;
            }
            let selected = Some(r.task.key.as_str()) == selected_key;
            lines.extend(card(r, selected, width, slot(r, theme), theme));
        }
        let col = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border(false))
            .title(Span::styled(
                header(name, in_col.len(), usize::from(area.width)),
                theme.stage(i),
            ));
        f.render_widget(Paragraph::new(lines).block(col), *area);
    }
}

/// The mark in a card's slot: `⚡` when the conflict radar finds the task's branch conflicts
/// with the base or another task's (the task view names them).
fn slot(row: &TaskRow, theme: &Theme) -> Option<Span<'static>> {
    (!row.conflicts.is_empty()).then(|| Span::styled("⚡", theme.error()))
}

/// Lines a card takes: key, title, state, what its runs used (when they used anything), one
/// per helper.
fn card_height(r: &TaskRow) -> usize {
    3 + usize::from(r.spent.tokens > 0) + r.helpers.len()
}

/// A card `width` cells wide: key line (mark gutter, key, [`SLOT`]), title, state (or
/// `over budget` when a budget holds it), what its runs used (`12.3k tok $0.42`), helpers.
/// The selected card is highlighted across the whole width.
fn card(
    r: &TaskRow,
    selected: bool,
    width: usize,
    slot: Option<Span<'static>>,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let style = if selected {
        theme.selected()
    } else if r.needs_operator() {
        theme.attention()
    } else {
        theme.base()
    };
    // The marker keeps the selection visible without colour too.
    let mark = match (selected, r.needs_operator()) {
        (true, true) => "▶⚑ ",
        (true, false) => "▶  ",
        (false, true) => " ⚑ ",
        (false, false) => "   ",
    };
    let text = width.saturating_sub(GUTTER);
    // The key, then the slot at the right edge, a space between them at least.
    let key = fit(&clean(&r.task.key), text.saturating_sub(SLOT + 1));
    let mut first = vec![Span::styled(format!("{mark}{key}"), style)];
    if let Some(m) = slot {
        let used = GUTTER + Span::raw(key.as_str()).width() + m.width();
        first.push(Span::styled(" ".repeat(width.saturating_sub(used)), style));
        first.push(m);
    }
    let title_style = if selected { style } else { theme.dim() };
    let mut lines = vec![
        Line::from(first),
        Line::from(Span::styled(
            format!("   {}", fit(&clean(&r.task.title), text)),
            title_style,
        )),
        Line::from(vec![Span::styled("   ", style), status_span(r, theme)]),
    ];
    let spent = r.spent.label();
    if !spent.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("   {}", fit(&spent, text)),
            title_style,
        )));
    }
    // Helpers the task's agent asked, under it; the role is cut before the status.
    for (job, role, status) in &r.helpers {
        let status = clean(status);
        let tail = format!(" #{job} ");
        let room = text
            .saturating_sub(2 + Span::raw(tail.as_str()).width())
            .saturating_sub(Span::raw(status.as_str()).width());
        let head = format!("↳ {}{tail}", fit(&clean(role), room.max(2)));
        let left = text.saturating_sub(Span::raw(head.as_str()).width());
        lines.push(Line::from(vec![
            Span::styled(format!("   {head}"), theme.dim()),
            Span::styled(fit(&status, left), theme.status(&status)),
        ]));
    }
    if selected {
        for line in &mut lines {
            pad(line, width, style);
        }
    }
    lines
}

/// A list row's title in `width` cells with what its runs used at the right edge, when both
/// fit (the title is cut first, down to 4 cells); the title alone otherwise.
fn with_spent(title: &str, spent: &str, width: usize) -> String {
    let need = Span::raw(spent).width();
    if spent.is_empty() || need + 5 > width {
        return fit(title, width);
    }
    let title = fit(title, width - need - 1);
    let gap = width - need - Span::raw(title.as_str()).width();
    format!("{title}{}{spent}", " ".repeat(gap))
}

/// Fills `line` with spaces in `style` to `width` cells.
fn pad(line: &mut Line<'static>, width: usize, style: Style) {
    let w = line.width();
    if w < width {
        line.spans.push(Span::styled(" ".repeat(width - w), style));
    }
}

/// `s` in at most `width` cells: whole, or cut with `…` at the end.
fn fit(s: &str, width: usize) -> String {
    if Span::raw(s).width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let w = Span::raw(&*c.encode_utf8(&mut buf)).width();
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        // "board …" reads as a gap: the ellipsis goes after the last word's letter.
        out.truncate(out.trim_end().len());
        out.push('…');
    }
    out
}

/// A column's title for a column `width` cells wide (its corners take two): the stage's name
/// and count, the name shortened or left out before the count is cut.
fn header(name: &str, count: usize, width: usize) -> String {
    let name = clean(name);
    let room = width.saturating_sub(2);
    let count = count.to_string();
    let cells = |s: &str| Span::raw(s).width();
    let full = format!(" {name} · {count} ");
    if cells(&full) <= room {
        return full;
    }
    let short = format!(" {name} {count} ");
    if cells(&short) <= room {
        return short;
    }
    // Two spaces around, one between: what is left is the name's, at least a letter and `…`.
    let left = room.saturating_sub(count.len() + 3);
    if left >= 2 {
        return format!(" {} {count} ", fit(&name, left));
    }
    if count.len() + 2 <= room {
        format!(" {count} ")
    } else {
        count
    }
}

/// What a window leaves out on one side, in at most `room` cells: `‹ analysis 6 ⚑2` on the
/// left, `deploy 0 · done 9 ›` on the right, or only how many stages and tasks when the
/// names do not fit. None when nothing is left out.
fn left_out(hidden: &[(&str, &[&TaskRow])], room: usize, left: bool) -> Option<String> {
    if hidden.is_empty() {
        return None;
    }
    let tasks: usize = hidden.iter().map(|(_, rows)| rows.len()).sum();
    let need: usize = hidden
        .iter()
        .map(|(_, rows)| rows.iter().filter(|r| r.needs_operator()).count())
        .sum();
    let flag = if need > 0 {
        format!(" ⚑{need}")
    } else {
        String::new()
    };
    let named = hidden
        .iter()
        .map(|(name, rows)| format!("{} {}", clean(name), rows.len()))
        .collect::<Vec<_>>()
        .join(" · ");
    let counted = format!(
        "{} stage{} · {tasks} task{}",
        hidden.len(),
        if hidden.len() == 1 { "" } else { "s" },
        if tasks == 1 { "" } else { "s" }
    );
    let wrap = |body: &str| {
        if left {
            format!(" ‹ {body}{flag} ")
        } else {
            format!(" {body}{flag} › ")
        }
    };
    let text = wrap(&named);
    Some(if Span::raw(text.as_str()).width() <= room {
        text
    } else {
        wrap(&counted)
    })
}

#[cfg(test)]
mod tests;
