//! The Queue and Events views.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, clean, ms};
use crate::tui::state::App;
use crate::tui::theme::Theme;

/// The Queue view: counts, breakers, running, queued and failed jobs.
pub(super) fn draw_queue(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
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
    ];
    for limit in &q.limits {
        let style = if limit.parks(q.now) {
            theme.warning()
        } else {
            theme.success()
        };
        lines.push(Line::styled(
            format!("usage limit: {}", limit.describe(q.now)),
            style,
        ));
    }
    if !app.intake_lines.is_empty() {
        lines.push(Line::styled("intake", theme.header()));
        for l in &app.intake_lines {
            lines.push(Line::from(format!("  {}", clean(l))));
        }
    }
    lines.extend([Line::from(""), Line::styled("running", theme.header())]);
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
    app.scroll_limit.set(
        lines
            .len()
            .saturating_sub(usize::from(area.height.saturating_sub(2))),
    );
    let p = Paragraph::new(lines)
        .block(block("queue", theme))
        .scroll((app.scroll as u16, 0));
    f.render_widget(p, area);
}

/// The Events view: newest first.
pub(super) fn draw_events(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let height = area.height.saturating_sub(2) as usize;
    app.scroll_limit
        .set(app.events.len().saturating_sub(height));
    let lines: Vec<Line> = app
        .events
        .iter()
        .rev()
        .skip(app.scroll)
        .take(height)
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
        (true, Some(t)) => format!("events · {} · newest first (Enter: all tasks)", t.key),
        _ => "events · all tasks · newest first (Enter: selected task only)".to_string(),
    };
    f.render_widget(Paragraph::new(lines).block(block(&title, theme)), area);
}
