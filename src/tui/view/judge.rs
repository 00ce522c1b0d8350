//! The Artifact view: what the operator judges before deciding — the stage's artifacts
//! (markdown shown readably), the report that failed a gate, the feedback the next run gets.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, clean, state_style};
use crate::status::{GateOutcome, JobStatus, TaskState};
use crate::tui::state::App;
use crate::tui::theme::Theme;

/// Lines of a failed gate's evidence shown.
const EVIDENCE_LINES: usize = 200;

/// Draws the Artifact view of the selected task.
pub(super) fn draw(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(t) = app.selected_task() else {
        f.render_widget(
            Paragraph::new("no task selected").block(block("artifact", theme)),
            area,
        );
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(t.key.clone(), theme.title()),
        Span::raw(format!("  {} · ", clean(&t.stage))),
        Span::styled(t.state.as_str(), state_style(t.state, theme)),
        Span::raw(format!("  {}", clean(&t.title))),
    ])];
    let ask = match t.state {
        TaskState::AwaitingApproval => "awaits your approval: a approves, r rejects with a note",
        TaskState::Blocked => "is blocked: o overrides the failed gate with a note; or resume it",
        TaskState::NeedsInput => "needs your answers: resume it with a note",
        _ => "",
    };
    if !ask.is_empty() {
        lines.push(Line::styled(format!("{} {ask}", t.key), theme.attention()));
    }
    if let Some(r) = &t.state_reason {
        for l in r.lines().take(6) {
            lines.push(Line::styled(format!("  {}", clean(l)), theme.warning()));
        }
    }
    match &app.judge {
        Some(j) if j.task_id == t.id => {
            if j.files.is_empty() {
                lines.push(Line::from(""));
                lines.push(Line::styled(
                    format!("the {} stage writes no artifact", clean(&t.stage)),
                    theme.dim(),
                ));
            }
            for (path, text) in &j.files {
                match text {
                    Ok(body) => {
                        lines.push(Line::from(""));
                        lines.push(Line::styled(
                            format!("── {} ──", clean(path)),
                            theme.header(),
                        ));
                        lines.extend(markdown(body, theme));
                    }
                    Err(why) => {
                        lines.push(Line::styled(format!("{}: {why}", clean(path)), theme.dim()))
                    }
                }
            }
        }
        _ => lines.push(Line::styled("reading the artifacts…", theme.dim())),
    }
    let d = &app.detail;
    if d.task_id == Some(t.id) {
        let failed = d
            .gates
            .iter()
            .rev()
            .find(|g| g.stage == t.stage && g.outcome == GateOutcome::Fail);
        if let Some(g) = failed {
            lines.push(Line::from(""));
            lines.push(Line::styled(
                format!("── the {} gate failed ──", clean(&g.kind)),
                theme.header(),
            ));
            lines.push(Line::styled(
                format!("  {}", clean(&g.reason)),
                theme.error(),
            ));
            if let Some(out) = &g.output {
                lines.extend(markdown(out, theme).into_iter().take(EVIDENCE_LINES));
            }
        }
        let next = d
            .jobs
            .iter()
            .find(|j| matches!(j.status, JobStatus::Queued | JobStatus::Running))
            .or(d.jobs.first());
        if let Some(fb) = next.and_then(|j| j.feedback.as_deref()) {
            let open =
                next.is_some_and(|j| matches!(j.status, JobStatus::Queued | JobStatus::Running));
            lines.push(Line::from(""));
            lines.push(Line::styled(
                if open {
                    "── feedback the next run gets ──"
                } else {
                    "── feedback the latest run got ──"
                },
                theme.header(),
            ));
            lines.extend(markdown(fb, theme));
        }
    }
    let title = format!("artifact · {}", t.key);
    // Rows once wrapped, for the scroll limit.
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
    app.scroll_limit
        .set(rows.saturating_sub(usize::from(area.height.saturating_sub(2))));
    let p = Paragraph::new(lines)
        .block(block(&title, theme))
        .wrap(Wrap { trim: false })
        .scroll((u16::try_from(app.scroll).unwrap_or(u16::MAX), 0));
    f.render_widget(p, area);
}

/// Markdown as a reader sees it: headings bold without their `#`, bullets as `•`, quotes
/// and code set off, `**bold**` bold. Every line is sanitised.
pub(super) fn markdown(text: &str, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut code = false;
    for raw in text.lines() {
        let line = clean(raw);
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            code = !code;
            continue;
        }
        if code {
            out.push(Line::styled(format!("  │ {line}"), theme.info()));
            continue;
        }
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            let style = match hashes {
                1 => theme.title(),
                2 => theme
                    .base()
                    .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                _ => theme.base().add_modifier(Modifier::BOLD),
            };
            out.push(Line::styled(
                format!("  {}", trimmed[hashes..].trim()),
                style,
            ));
            continue;
        }
        let indent = &line[..line.len() - trimmed.len()];
        let (prefix, rest) = if let Some(r) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
            .or_else(|| trimmed.strip_prefix("+ "))
        {
            (format!("  {indent}• "), r)
        } else if let Some(r) = trimmed.strip_prefix("> ") {
            (format!("  {indent}┃ "), r)
        } else {
            (format!("  {indent}"), trimmed)
        };
        let mut spans = vec![Span::raw(prefix)];
        spans.extend(inline(rest, theme.base()));
        out.push(Line::from(spans));
    }
    out
}

/// `**bold**` and `` `code` `` within a line.
fn inline(text: &str, base: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (i, part) in text.split("**").enumerate() {
        let style = if i % 2 == 1 {
            base.add_modifier(Modifier::BOLD)
        } else {
            base
        };
        for (k, piece) in part.split('`').enumerate() {
            if piece.is_empty() {
                continue;
            }
            let s = if k % 2 == 1 {
                style.add_modifier(Modifier::ITALIC)
            } else {
                style
            };
            spans.push(Span::styled(piece.to_string(), s));
        }
    }
    spans
}
