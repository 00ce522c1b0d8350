//! Rendering: a pure function of [`App`] and the [`Theme`]. Every string that came from
//! outside bosun (titles, reasons, agent output) is drawn through [`sanitize`].

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::keymap::Keymap;
use super::sanitize::{self, clean};
use super::state::{App, Confirm, Mode, Prompt, TaskRow, View};
use super::theme::Theme;
use crate::store::tasks::TaskState;

/// Smallest terminal the console draws in, columns × rows.
pub const MIN_SIZE: (u16, u16) = (60, 16);

/// Columns from which the board shows one column per stage.
const WIDE: u16 = 120;

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
        View::Board => draw_board(f, body, app, theme),
        View::Queue => draw_queue(f, body, app, theme),
        View::Task => draw_task(f, body, app, theme),
        View::Pane => draw_pane(f, body, app, theme),
        View::Log => draw_log(f, body, app, theme),
        View::Events => draw_events(f, body, app, theme),
    }
    draw_footer(f, footer, app, theme);
    match &app.mode {
        Mode::Help => draw_help(f, area, app, theme, keymap),
        Mode::Input { prompt, text } => draw_input(f, area, prompt, text, theme),
        Mode::Confirm(c) => draw_confirm(f, area, c, theme),
        Mode::Normal => {}
    }
}

fn draw_header(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::styled(" bosun ", theme.title())];
    for (i, v) in View::ALL.iter().enumerate() {
        let style = if *v == app.view {
            theme.selected()
        } else {
            theme.header()
        };
        spans.push(Span::styled(format!(" {} {} ", i + 1, v.name()), style));
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
    spans.push(Span::styled(format!("  {}", app.mode_label), theme.dim()));
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.header()),
        area,
    );
}

fn draw_footer(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let line = match &app.message {
        Some((m, true)) => Line::styled(format!(" {}", clean(m)), theme.error()),
        Some((m, false)) => Line::styled(format!(" {}", clean(m)), theme.success()),
        None => Line::styled(
            " ? help  a approve  r reject  y/n answer  s send  A attach  c cancel  R retry  N new  / filter  q quit",
            theme.dim(),
        ),
    };
    f.render_widget(Paragraph::new(line), area);
}

fn block<'a>(title: &'a str, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(true))
        .title(Span::styled(format!(" {title} "), theme.title()))
}

fn status_span(row: &TaskRow, theme: &Theme) -> Span<'static> {
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
        TaskState::Done => theme.success(),
        TaskState::Blocked => theme.error(),
        TaskState::NeedsInput | TaskState::AwaitingApproval => theme.attention(),
        TaskState::Cancelled => theme.dim(),
        TaskState::Active => theme.base(),
    }
}

fn draw_board(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
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
            let flag = if r.needs_operator() { "⚑" } else { " " };
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
                Cell::from(clean(&r.task.title)),
            ])
            .style(style)
        })
        .collect();
    let widths = [
        Constraint::Length(1),
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
        for r in &in_col {
            let style = if Some(&r.task.key) == selected_key.as_ref() {
                theme.selected()
            } else if r.needs_operator() {
                theme.attention()
            } else {
                theme.base()
            };
            let flag = if r.needs_operator() { "⚑ " } else { "" };
            lines.push(Line::from(vec![Span::styled(
                format!("{flag}{}", r.task.key),
                style,
            )]));
            let width = cols[i].width.saturating_sub(4) as usize;
            let title: String = clean(&r.task.title).chars().take(width).collect();
            lines.push(Line::from(Span::styled(format!("  {title}"), theme.dim())));
            lines.push(Line::from(vec![Span::raw("  "), status_span(r, theme)]));
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

fn ms(ms: i64) -> String {
    let s = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
    if s == 0 {
        return "0s".into();
    }
    humantime::format_duration(std::time::Duration::from_secs(s)).to_string()
}

fn draw_queue(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(q) = &app.queue else {
        f.render_widget(
            Paragraph::new("loading…").block(block("queue", theme)),
            area,
        );
        return;
    };
    let counts: Vec<String> = q.counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let breakers: Vec<Span> = if q.breakers.is_empty() {
        vec![Span::styled("breakers: all closed", theme.success())]
    } else {
        q.breakers
            .iter()
            .map(|b| {
                let style = if b.state.as_str() == "closed" {
                    theme.success()
                } else {
                    theme.error()
                };
                Span::styled(
                    format!(
                        "{} {} ({} in a row)  ",
                        b.provider, b.state, b.consecutive_failures
                    ),
                    style,
                )
            })
            .collect()
    };
    let mut lines = vec![
        Line::from(format!(
            "jobs: {}   max_concurrency {}",
            counts.join(" · "),
            q.max_concurrency
        )),
        Line::from(breakers),
        Line::from(""),
        Line::styled("running", theme.header()),
    ];
    for l in &q.running {
        let elapsed = l.elapsed_ms.unwrap_or(0);
        let timeout = app
            .timeouts
            .get(&l.job.role)
            .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        let share = timeout.map_or(0, |t| elapsed.saturating_mul(100) / t.max(1));
        let style = if share >= 80 {
            theme.warning()
        } else {
            theme.base()
        };
        lines.push(Line::styled(
            format!(
                "  #{:<6} {:<9} {:<13} {:<8} for {} of {} ({share}%)  attempt {}/{}",
                l.job.id,
                l.task,
                clean(&l.job.stage),
                clean(&l.job.provider),
                ms(elapsed),
                timeout.map_or("-".into(), ms),
                l.job.attempts + 1,
                l.job.max_attempts
            ),
            style,
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("queued", theme.header()));
    for l in &q.queued {
        let when = match l.available_in_ms {
            Some(0) | None => "now".to_string(),
            Some(v) => format!("in {}", ms(v)),
        };
        lines.push(Line::from(format!(
            "  #{:<6} {:<9} {:<13} {:<8} available {:<10} failures {}p {}t",
            l.job.id,
            l.task,
            clean(&l.job.stage),
            clean(&l.job.provider),
            when,
            l.job.attempts,
            l.job.transient_attempts
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("failed", theme.header()));
    for l in &q.failed {
        lines.push(Line::styled(
            format!(
                "  #{:<6} {:<9} {:<13} {}",
                l.job.id,
                l.task,
                clean(&l.job.stage),
                clean(l.job.last_error.as_deref().unwrap_or(""))
            ),
            theme.error(),
        ));
    }
    let p = Paragraph::new(lines)
        .block(block("queue", theme))
        .scroll((app.scroll as u16, 0));
    f.render_widget(p, area);
}

fn draw_task(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(t) = app.selected_task() else {
        f.render_widget(
            Paragraph::new("no task selected").block(block("task", theme)),
            area,
        );
        return;
    };
    let d = &app.detail;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(t.key.clone(), theme.title()),
            Span::raw("  "),
            Span::raw(clean(&t.title)),
        ]),
        Line::from(vec![
            Span::raw(format!("stage {}  ", clean(&t.stage))),
            Span::styled(t.state.as_str(), state_style(t.state, theme)),
        ]),
    ];
    if let Some(r) = &t.state_reason {
        for l in r.lines().take(8) {
            lines.push(Line::styled(format!("  {}", clean(l)), theme.warning()));
        }
    }
    if let Some(w) = &t.worktree {
        lines.push(Line::styled(
            format!(
                "worktree {} ({})",
                clean(w),
                clean(t.branch.as_deref().unwrap_or(""))
            ),
            theme.dim(),
        ));
    }
    if let Some(stage) = app.pipeline.iter().find(|s| s.name == t.stage) {
        let paths = crate::supervisor::prompt::artifacts(stage, &t.key);
        if !paths.is_empty() {
            lines.push(Line::styled(
                format!("artifacts {}", clean(&paths.join(", "))),
                theme.dim(),
            ));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("stage history", theme.header()));
    for e in d.events.iter().filter(|e| {
        matches!(
            e.kind.as_str(),
            "stage_entered"
                | "rolled_back"
                | "approved"
                | "rejected"
                | "blocked"
                | "task_done"
                | "needs_input"
        )
    }) {
        lines.push(Line::from(format!(
            "  {:>8} ago  {}",
            ms(app.now - e.ts),
            clean(&e.message)
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("gates", theme.header()));
    for g in &d.gates {
        let style = match g.outcome.as_str() {
            "pass" => theme.success(),
            "fail" => theme.error(),
            _ => theme.warning(),
        };
        lines.push(Line::from(vec![
            Span::raw(format!("  {:<13} {:<9} ", clean(&g.stage), g.kind)),
            Span::styled(format!("{:<7} ", g.outcome), style),
            Span::raw(clean(&g.reason)),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("runs", theme.header()));
    for r in &d.runs {
        lines.push(Line::from(vec![
            Span::raw(format!(
                "  #{:<6} {:<13} {:<8} attempt {} ",
                r.id,
                clean(&r.stage),
                clean(&r.provider),
                r.attempt
            )),
            Span::styled(
                format!("{:<8}", r.status.as_str()),
                theme.status(r.status.as_str()),
            ),
            Span::raw(match r.exit_code {
                Some(c) => format!(" exit {c}"),
                None => String::new(),
            }),
            Span::styled(
                format!(" {}", clean(r.error.as_deref().unwrap_or(""))),
                theme.error(),
            ),
        ]));
    }
    if let Some(fb) = d.jobs.first().and_then(|j| j.feedback.as_deref()) {
        lines.push(Line::from(""));
        lines.push(Line::styled("feedback in the latest run", theme.header()));
        for l in fb.lines().take(12) {
            lines.push(Line::from(format!("  {}", clean(l))));
        }
    }
    let p = Paragraph::new(lines)
        .block(block("task", theme))
        .scroll((app.scroll as u16, 0));
    f.render_widget(p, area);
}

fn draw_pane(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(run) = app.selected_run() else {
        f.render_widget(
            Paragraph::new("the selected task has no run yet").block(block("pane", theme)),
            area,
        );
        return;
    };
    let [status, screen] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let line = Line::from(vec![
        Span::styled(format!(" run #{} ", run.id), theme.title()),
        Span::raw(format!(
            "{} · {} · ",
            clean(&run.stage),
            clean(&run.provider)
        )),
        Span::styled(run.status.as_str(), theme.status(run.status.as_str())),
        Span::styled(
            format!(
                "  pane {}  attach: A",
                clean(run.pane_id.as_deref().unwrap_or("-"))
            ),
            theme.dim(),
        ),
    ]);
    f.render_widget(Paragraph::new(line), status);
    match &app.tail {
        Some(t) if t.run_id == run.id => {
            let height = screen.height.saturating_sub(2) as usize;
            let lines = screen_bottom(t.screen.screen(), height, app.scroll);
            f.render_widget(Paragraph::new(lines).block(block("pane", theme)), screen);
        }
        _ => f.render_widget(
            Paragraph::new("no output yet").block(block("pane", theme)),
            screen,
        ),
    }
}

/// The last `height` rows of an agent's emulated screen that hold something (where its
/// prompt, questions and status line are), `scroll` rows further up, colours kept: a console
/// smaller than the agent's pane shows its bottom, not its top.
fn screen_bottom(screen: &vt100::Screen, height: usize, scroll: usize) -> Vec<Line<'static>> {
    let (_, cols) = screen.size();
    let plain: Vec<String> = screen.rows(0, cols).collect();
    let used = plain
        .iter()
        .rposition(|r| !r.trim().is_empty())
        .map_or(0, |i| i + 1);
    let end = used.saturating_sub(scroll).max(height.min(used));
    let start = end.saturating_sub(height);
    screen
        .rows_formatted(0, cols)
        .skip(start)
        .take(end - start)
        .map(|row| sanitize::line(&String::from_utf8_lossy(&row)))
        .collect()
}

fn draw_log(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(t) = &app.tail else {
        f.render_widget(
            Paragraph::new("the selected task has no run yet").block(block("log", theme)),
            area,
        );
        return;
    };
    let height = area.height.saturating_sub(2) as usize;
    let total = t.lines.len();
    let end = if app.follow {
        total
    } else {
        total.saturating_sub(app.scroll)
    };
    let start = end.saturating_sub(height);
    let hits = app.search_hits();
    let lines: Vec<Line> = t.lines[start..end]
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let line = sanitize::line(l);
            if hits.contains(&(start + i)) {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    let title = format!(
        "log · run #{} · {} lines{}{}",
        t.run_id,
        total,
        if app.follow { " · following" } else { "" },
        if app.search.is_empty() {
            String::new()
        } else {
            format!(" · /{} ({} hits)", clean(&app.search), hits.len())
        }
    );
    f.render_widget(Paragraph::new(lines).block(block(&title, theme)), area);
}

fn draw_events(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let height = area.height.saturating_sub(2) as usize;
    let total = app.events.len();
    let end = total.saturating_sub(app.scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = app.events[start..end]
        .iter()
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{:>8} ago ", ms(app.now - e.ts)), theme.dim()),
                Span::styled(format!("{:<18} ", e.kind.as_str()), theme.info()),
                Span::styled(format!("{:<10} ", clean(&e.actor)), theme.dim()),
                Span::raw(clean(&e.message)),
            ])
        })
        .collect();
    let title = match (app.events_for_task, app.selected_task()) {
        (true, Some(t)) => format!("events · {} (Enter: all tasks)", t.key),
        _ => "events · all tasks (Enter: selected task only)".to_string(),
    };
    f.render_widget(Paragraph::new(lines).block(block(&title, theme)), area);
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

fn draw_help(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme, keymap: &Keymap) {
    let rows: Vec<Row> = keymap
        .help_rows()
        .into_iter()
        .map(|h| {
            Row::new(vec![
                Cell::from(Span::styled(h.key.clone(), theme.key_hint())),
                Cell::from(h.view.clone().unwrap_or_else(|| "all".into())),
                Cell::from(h.desc.clone()),
            ])
        })
        .collect();
    let height = (rows.len() as u16 + 3).min(area.height.saturating_sub(2));
    let r = centered(area, 70, height);
    f.render_widget(Clear, r);
    let title = format!("keys · {} view · ? or Esc closes", app.view.name());
    let table = Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Min(20),
        ],
    )
    .header(Row::new(vec!["key", "view", "action"]).style(theme.header()))
    .block(block(&title, theme))
    .style(theme.base());
    f.render_widget(table, r);
}

fn draw_input(f: &mut Frame<'_>, area: Rect, prompt: &Prompt, text: &str, theme: &Theme) {
    let title = match prompt {
        Prompt::Reject => "reject: what must change? (Enter sends, Esc cancels)",
        Prompt::Send => "send a line to the agent (Enter sends, Esc cancels)",
        Prompt::Filter => "filter tasks by key or title",
        Prompt::Search => "search the log",
        Prompt::NewTask => "new task: title (Enter creates, Esc cancels)",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .map(|s| s.trim_end().to_string())
            .collect()
    }

    #[test]
    fn a_console_smaller_than_the_pane_shows_the_bottom_of_the_agents_screen() {
        let mut p = vt100::Parser::new(50, 120, 0);
        for i in 0..45 {
            p.process(format!("\x1b[32mrow {i}\x1b[0m\r\n").as_bytes());
        }
        p.process(b"> the prompt, last");
        let shown = texts(&screen_bottom(p.screen(), 10, 0));
        assert_eq!(shown.len(), 10);
        assert_eq!(shown.last().map(String::as_str), Some("> the prompt, last"));
        assert_eq!(shown.first().map(String::as_str), Some("row 36"));
        // Scrolled up by 5 rows.
        let up = texts(&screen_bottom(p.screen(), 10, 5));
        assert_eq!(up.last().map(String::as_str), Some("row 40"));
        // A screen shorter than the view is shown whole, from its top.
        let mut short = vt100::Parser::new(50, 120, 0);
        short.process(b"only line");
        assert_eq!(texts(&screen_bottom(short.screen(), 10, 3)), ["only line"]);
    }
}
