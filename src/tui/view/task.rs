//! The Task view: stage, reason, worktree, artifacts, history, gates, runs, feedback.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, clean, ms, state_style};
use crate::tui::state::App;
use crate::tui::theme::Theme;

/// The Task view: the selected task in depth.
pub(super) fn draw(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
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
    if d.usage.total() > 0 {
        let u = &d.usage;
        let cost = d
            .cost
            .as_ref()
            .map(|c| format!(" · cost {}", clean(&c.describe())))
            .unwrap_or_default();
        lines.push(Line::styled(
            format!(
                "tokens {} in · {} cache read · {} cache write · {} out ({} reasoning){cost}",
                u.input, u.cache_read, u.cache_write, u.output, u.reasoning
            ),
            theme.dim(),
        ));
    }
    if let Some(why) = &d.over_budget {
        lines.push(Line::styled(clean(why), theme.warning()));
    }
    if let Some(i) = &d.issue {
        lines.push(Line::styled(
            format!("issue {} {}", i.short(), clean(&i.url)),
            theme.dim(),
        ));
    }
    if let Some(l) = &d.landing {
        let style = match l.state {
            crate::status::LandingState::Failed => theme.warning(),
            _ => theme.dim(),
        };
        lines.push(Line::styled(
            format!("landing {}", clean(&l.describe())),
            style,
        ));
    }
    // Only what exists, and what a gate needs but is not there (an optional file that was
    // never written, such as an analyst's questions, is not mentioned).
    let (present, missing) = crate::supervisor::prompt::present_and_missing(&d.artifacts);
    if !present.is_empty() {
        lines.push(Line::styled(
            format!("artifacts {}", clean(&present.join(", "))),
            theme.dim(),
        ));
    }
    if !missing.is_empty() {
        lines.push(Line::styled(
            format!("missing   {}", clean(&missing.join(", "))),
            theme.warning(),
        ));
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
    for g in &crate::store::gates::current(&d.gates) {
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
    if !d.messages.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::styled(
            "inbox (m queues a message for the agent)",
            theme.header(),
        ));
        for m in &d.messages {
            let first = m.body.lines().next().unwrap_or("");
            lines.push(Line::from(vec![
                Span::raw(format!("  #{:<5} {:<10} ", m.id, clean(&m.sender))),
                Span::styled(
                    format!("{:<10}", m.state()),
                    if m.state() == "pending" {
                        theme.warning()
                    } else {
                        theme.dim()
                    },
                ),
                Span::raw(clean(first)),
            ]));
        }
    }
    if let Some(fb) = d.jobs.first().and_then(|j| j.feedback.as_deref()) {
        lines.push(Line::from(""));
        lines.push(Line::styled("feedback in the latest run", theme.header()));
        for l in fb.lines().take(12) {
            lines.push(Line::from(format!("  {}", clean(l))));
        }
    }
    app.scroll_limit.set(
        lines
            .len()
            .saturating_sub(usize::from(area.height.saturating_sub(2))),
    );
    let p = Paragraph::new(lines)
        .block(block("task", theme))
        .scroll((app.scroll as u16, 0));
    f.render_widget(p, area);
}
