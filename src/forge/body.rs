//! A pull request's title and body, built from the task and the artifacts its stages' gates
//! name (the analysis, the review's verdict, the test report, … as the pipeline configures
//! them). Everything an agent wrote is hostile input to the forge too: each file is read with
//! [`crate::untrusted::read`] (inside the worktree, regular files only, capped), stripped of
//! control characters and escape sequences, and set in a fenced block whose fence is longer
//! than any run of `~` in the text, so the forge renders it as text: no HTML, no @-mentions
//! that notify people, no "fixes #12" that closes an unrelated issue on merge, no markdown that
//! escapes its block.

use std::path::Path;

use crate::config::{GateKind, Stage};

/// Bytes of one artifact put in a body.
pub const SECTION_MAX: usize = 4_000;

/// Bytes of a whole body (GitHub refuses bodies over 65,536 characters).
pub const BODY_MAX: usize = 60_000;

/// Characters of a title (GitHub's limit is 256).
pub const TITLE_MAX: usize = 200;

/// One artifact, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The stage that wrote it.
    pub stage: String,
    /// Its path in the worktree.
    pub path: String,
    /// Its text, at most [`SECTION_MAX`] bytes.
    pub text: String,
    /// It was longer.
    pub cut: bool,
}

/// The artifacts named by the `artifact` and `verdict` gates of `stages` (plain paths, not
/// globs; `{key}` expanded), read from `worktree`; those missing or refused are left out.
pub fn sections(stages: &[Stage], worktree: &Path, key: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for stage in stages {
        for gate in &stage.gates {
            let path = match &gate.kind {
                GateKind::Artifact { path } => path.clone(),
                GateKind::Verdict {
                    path: Some(path), ..
                } => path.clone(),
                _ => continue,
            };
            let path = crate::pipeline::gates::expand(&path, key);
            if path.contains(['*', '?', '[']) || out.iter().any(|s| s.path == path) {
                continue;
            }
            if let Ok(c) = crate::untrusted::read(worktree, &path, SECTION_MAX) {
                out.push(Section {
                    stage: stage.name.clone(),
                    path,
                    text: c.text,
                    cut: c.cut,
                });
            }
        }
    }
    out
}

/// A title for task `key`'s pull request: `KEY: title`, one line, at most [`TITLE_MAX`]
/// characters.
pub fn title(key: &str, task_title: &str) -> String {
    let t = format!("{key}: {}", crate::text::plain(task_title).trim());
    t.chars().take(TITLE_MAX).collect()
}

/// The body of task `key`'s pull request: who made it, each section fenced, and a link to
/// `source` (the issue the task came from) when there is one; at most [`BODY_MAX`] bytes.
pub fn build(key: &str, sections: &[Section], source: Option<&str>) -> String {
    let mut body = format!("Task **{}**, made by bosun's pipeline.\n", inline(key));
    if let Some(url) = source {
        body.push_str(&format!("\nFrom {}\n", inline(url)));
    }
    for s in sections {
        let text = crate::text::plain_lines(&s.text);
        let fence = "~".repeat(longest_run(&text, '~').max(2) + 1);
        let cut = if s.cut { " (cut)" } else { "" };
        let part = format!(
            "\n### {} — `{}`{cut}\n\n{fence}text\n{}\n{fence}\n",
            inline(&s.stage),
            inline(&s.path).replace('`', "'"),
            text.trim_end()
        );
        if body.len() + part.len() > BODY_MAX {
            body.push_str("\n(more artifacts in the branch)\n");
            break;
        }
        body.push_str(&part);
    }
    body
}

/// One line of outside text for markdown outside a fence: plain, with markdown's and
/// HTML's active characters escaped and @-mentions broken.
fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in crate::text::plain(s).chars() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!' => {
                out.push('\\');
                out.push(c);
            }
            // A zero-width space after @ keeps "@name" from notifying anyone.
            '@' => out.push_str("@\u{200b}"),
            c => out.push(c),
        }
    }
    out
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_text_stays_inside_its_fence() {
        let hostile = Section {
            stage: "review".into(),
            path: "docs/12-review.md".into(),
            text: "APPROVED\n~~~~\n<script>x</script> @octocat fixes #1\x1b]0;t\x07\n~~~~~~".into(),
            cut: true,
        };
        let body = build("ET-001", &[hostile], Some("https://x/issues/1"));
        let fence = "~".repeat(7);
        assert!(body.contains(&format!("{fence}text\nAPPROVED")), "{body}");
        assert!(body.trim_end().ends_with(&fence), "{body}");
        assert!(!body.contains('\x1b') && !body.contains('\x07'));
        assert!(body.contains("(cut)"));
        assert_eq!(title("ET-001", "Fix\x1b[2J it\n"), "ET-001: Fix it");
        assert_eq!(inline("@bob <b>"), "@\u{200b}bob \\<b\\>");
    }

    #[test]
    fn a_long_body_stops_before_the_forges_limit() {
        let s = Section {
            stage: "s".into(),
            path: "p".into(),
            text: "x".repeat(SECTION_MAX),
            cut: false,
        };
        let body = build("K", &vec![s; 40], None);
        assert!(body.len() <= BODY_MAX + 64, "{}", body.len());
        assert!(body.ends_with("(more artifacts in the branch)\n"));
    }
}
