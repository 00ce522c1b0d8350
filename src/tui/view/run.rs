//! The Pane and Log views of the selected task's latest run.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, clean};
use crate::tui::sanitize;
use crate::tui::state::App;
use crate::tui::theme::Theme;

/// The Pane view: the agent's screen, bottom rows first.
pub(super) fn draw_pane(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
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
            let used = used_rows(t.screen.screen());
            app.scroll_limit.set(used.saturating_sub(height));
            let lines = screen_bottom(t.screen.screen(), height, app.scroll);
            f.render_widget(Paragraph::new(lines).block(block("pane", theme)), screen);
        }
        _ => f.render_widget(
            Paragraph::new("no output yet").block(block("pane", theme)),
            screen,
        ),
    }
}

/// Rows of the screen down to the last one that holds something.
fn used_rows(screen: &vt100::Screen) -> usize {
    let (_, cols) = screen.size();
    screen
        .rows(0, cols)
        .collect::<Vec<_>>()
        .iter()
        .rposition(|r| !r.trim().is_empty())
        .map_or(0, |i| i + 1)
}

/// The last `height` rows of an agent's emulated screen that hold something (where its
/// prompt, questions and status line are), `scroll` rows further up, colours kept: a console
/// smaller than the agent's pane shows its bottom, not its top.
pub(super) fn screen_bottom(
    screen: &vt100::Screen,
    height: usize,
    scroll: usize,
) -> Vec<Line<'static>> {
    let (_, cols) = screen.size();
    let used = used_rows(screen);
    let end = used.saturating_sub(scroll).max(height.min(used));
    let start = end.saturating_sub(height);
    screen
        .rows_formatted(0, cols)
        .skip(start)
        .take(end - start)
        .map(|row| sanitize::line(&String::from_utf8_lossy(&row)))
        .collect()
}

/// The Log view: the run's output as lines, with search.
pub(super) fn draw_log(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(t) = &app.tail else {
        f.render_widget(
            Paragraph::new("the selected task has no run yet").block(block("log", theme)),
            area,
        );
        return;
    };
    let height = area.height.saturating_sub(2) as usize;
    let total = t.lines.len();
    app.scroll_limit.set(total.saturating_sub(height));
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
