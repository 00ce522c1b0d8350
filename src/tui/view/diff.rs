//! The Diff view: what the selected task's branch changed against its base — the files with
//! their +/− counts, then the unified diff, coloured, scrollable.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, clean};
use crate::tui::state::App;
use crate::tui::theme::Theme;

/// Draws the Diff view of the selected task.
pub(super) fn draw(f: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(t) = app.selected_task() else {
        f.render_widget(
            Paragraph::new("no task selected").block(block("diff", theme)),
            area,
        );
        return;
    };
    let state = app.diff.as_ref().filter(|d| d.task_id == t.id);
    let (title, lines) = match state.map(|d| (&d.result, &d.lines)) {
        None => (
            format!("diff · {}", t.key),
            vec![Line::styled("computing the diff…", theme.dim())],
        ),
        Some((Err(why), _)) => (
            format!("diff · {}", t.key),
            vec![Line::styled(clean(why), theme.warning())],
        ),
        Some((Ok(d), text)) => {
            let added: u32 = d.files.iter().filter_map(|f| f.added).sum();
            let deleted: u32 = d.files.iter().filter_map(|f| f.deleted).sum();
            let title = format!(
                "diff · {} · {} file{} +{added} −{deleted} since {}{}",
                t.key,
                d.files.len(),
                if d.files.len() == 1 { "" } else { "s" },
                clean(&d.from),
                if d.truncated { " · cut at 4 MB" } else { "" }
            );
            let mut all: Vec<Line> = Vec::with_capacity(d.files.len() + 3);
            if let Some(words) = state.and_then(|s| s.merge.as_deref()) {
                let style = if words.starts_with("merges cleanly") {
                    theme.success()
                } else {
                    theme.warning()
                };
                all.push(Line::styled(clean(words), style));
            }
            if d.files.is_empty() {
                all.push(Line::styled("the branch changed nothing yet", theme.dim()));
            }
            for file in &d.files {
                let counts = match (file.added, file.deleted) {
                    (Some(a), Some(r)) => vec![
                        Span::styled(format!("{:>6}", format!("+{a}")), theme.success()),
                        Span::styled(format!(" {:>6}  ", format!("−{r}")), theme.error()),
                    ],
                    _ => vec![Span::styled(format!("{:>15}", "binary  "), theme.dim())],
                };
                let mut spans = counts;
                spans.push(Span::raw(clean(&file.path)));
                if file.untracked {
                    spans.push(Span::styled("  (new, not added to git)", theme.dim()));
                }
                all.push(Line::from(spans));
            }
            all.push(Line::from(""));
            // Only the rows on screen are styled: a diff can have a hundred thousand lines.
            let height = area.height.saturating_sub(2) as usize;
            app.scroll_limit
                .set((all.len() + text.len()).saturating_sub(height));
            let skip = app.scroll.saturating_sub(all.len());
            let head: Vec<Line> = all.into_iter().skip(app.scroll).collect();
            let rest = height.saturating_sub(head.len());
            let mut lines = head;
            lines.extend(
                text.iter()
                    .skip(skip)
                    .take(rest)
                    .map(|l| diff_line(l, theme)),
            );
            (title, lines)
        }
    };
    f.render_widget(Paragraph::new(lines).block(block(&title, theme)), area);
}

/// One line of a unified diff, coloured by its kind.
fn diff_line(line: &str, theme: &Theme) -> Line<'static> {
    let text = clean(line);
    let style = if line.starts_with("diff --git") {
        theme.title()
    } else if line.starts_with("+++") || line.starts_with("---") {
        theme.base().add_modifier(Modifier::BOLD)
    } else if line.starts_with('+') {
        theme.success()
    } else if line.starts_with('-') {
        theme.error()
    } else if line.starts_with("@@") {
        theme.info()
    } else if line.starts_with("new file")
        || line.starts_with("deleted file")
        || line.starts_with("index ")
        || line.starts_with("Binary")
    {
        theme.dim()
    } else {
        theme.base()
    };
    Line::styled(text, style)
}
