//! Reading a verdict out of prose. Real models write `**Verdict:** APPROVED` under a heading
//! as often as a bare `APPROVED` first line, so a verdict gate with keywords
//! ([`VerdictRule::Words`]) looks for them where people put verdicts:
//! - the first non-empty line, as its first word (`APPROVED`, `# APPROVED`, `**APPROVED** —
//!   looks good`);
//! - the first word after a `Verdict:`, `Result:`, `Status:` or `Decision:` label on any line
//!   (`**Verdict:** APPROVED`, `- **Result**: PASS`);
//! - the first word of the first non-empty line under a heading named Verdict, Result, Status
//!   or Decision (`## Verdict` then `REQUEST_CHANGES`);
//! - the first word of the first line after a title heading the text opens with
//!   (`# Review of ET-001`, a blank line, then `REQUEST_CHANGES`);
//! - a line that is the keyword alone, anywhere (`**APPROVED**`, `REQUEST CHANGES.`).
//!
//! Markdown emphasis, code marks, quote and list markers around a word are ignored. Keywords
//! match regardless of case, and `_`, `-` and spaces inside them are the same
//! (`Request changes` is `REQUEST_CHANGES`). A text with both a pass and a fail keyword in
//! those positions is [`Found::Ambiguous`].

use crate::config::VerdictRule;

/// What a text says, by a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A pass keyword (and no fail keyword).
    Pass(String),
    /// A fail keyword (and no pass keyword).
    Fail(String),
    /// Both: (a pass keyword, its line; a fail keyword, its line), lines from 1.
    Ambiguous {
        /// The pass keyword as written, and its line number.
        pass: (String, usize),
        /// The fail keyword as written, and its line number.
        fail: (String, usize),
    },
    /// Neither.
    Nothing,
}

/// Labels whose value is a verdict, and headings whose next line is one.
const LABELS: [&str; 4] = ["verdict", "result", "status", "decision"];

/// Applies `rule` to `text`.
pub fn find(rule: &VerdictRule, text: &str) -> Found {
    match rule {
        VerdictRule::Patterns { pass, fail } => {
            if fail.is_match(text) {
                Found::Fail(
                    fail.find(text)
                        .map_or("", |m| m.as_str())
                        .trim()
                        .to_string(),
                )
            } else if let Some(m) = pass.find(text) {
                Found::Pass(m.as_str().trim().to_string())
            } else {
                Found::Nothing
            }
        }
        VerdictRule::Words { pass, fail } => {
            let mut passes = vec![];
            let mut fails = vec![];
            for (word, line) in candidates(text) {
                let key = normalise(&word);
                if pass.iter().any(|p| normalise(p) == key) {
                    passes.push((word, line));
                } else if fail.iter().any(|f| normalise(f) == key) {
                    fails.push((word, line));
                }
            }
            match (passes.into_iter().next(), fails.into_iter().next()) {
                (Some(p), Some(f)) => Found::Ambiguous { pass: p, fail: f },
                (Some((p, _)), None) => Found::Pass(p),
                (None, Some((f, _))) => Found::Fail(f),
                (None, None) => Found::Nothing,
            }
        }
    }
}

/// What the operator and the agent are told a rule wants, in words, for `source` (a file or
/// "the final message").
pub fn expected(rule: &VerdictRule, source: &str) -> String {
    match rule {
        VerdictRule::Words { pass, fail } => format!(
            "write {} or {} as the first line of {source} (or after a `Verdict:` label)",
            alternatives(pass),
            alternatives(fail)
        ),
        VerdictRule::Patterns { .. } => format!(
            "write a verdict in {source} in the form this gate's `pass` or `fail` pattern in the \
             config describes"
        ),
    }
}

/// `A` or `A (or B, C)`.
fn alternatives(words: &[String]) -> String {
    match words {
        [] => "a verdict".into(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (or {})", rest.join(", ")),
    }
}

/// Upper case, with runs of `_`, `-` and spaces as one `_`.
fn normalise(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.trim().chars() {
        if matches!(c, '_' | '-' | ' ') {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out.trim_matches('_').to_string()
}

/// `line` without markdown decoration at its start: heading, quote and list markers,
/// emphasis and code marks, leading spaces.
fn strip_marks(line: &str) -> &str {
    line.trim_start_matches(|c: char| c.is_whitespace() || "#>*_`~-+".contains(c))
}

/// The leading keyword of `s`: letters, digits, `_`, `-`, and spaces that join two words of
/// capitals or a known two-word verdict (`REQUEST CHANGES`); emphasis and punctuation after it
/// end it.
fn leading_word(s: &str) -> Option<String> {
    let s = strip_marks(s);
    let word: String = s
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if word.is_empty() {
        return None;
    }
    // Two words as one keyword (`Request changes`, `CHANGES REQUESTED`).
    let rest = &s[word.len()..];
    if let Some(second) = rest.strip_prefix(' ') {
        let next: String = second
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !next.is_empty() {
            return Some(format!("{word} {next}"));
        }
    }
    Some(word)
}

/// Every (candidate word, line number) in the positions a verdict may take. A two-word
/// candidate also yields its first word alone.
fn candidates(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![];
    let mut push = |w: Option<String>, n: usize| {
        if let Some(w) = w {
            if let Some((first, _)) = w.split_once(' ') {
                out.push((first.to_string(), n));
            }
            out.push((w, n));
        }
    };
    let mut text_lines = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    if let Some((i, first)) = text_lines.next() {
        push(leading_word(first), i + 1);
        // A title first: the verdict may open the text under it.
        if first.trim_start().starts_with('#')
            && let Some((j, next)) = text_lines.next()
            && !next.trim_start().starts_with('#')
        {
            push(leading_word(next), j + 1);
        }
    }
    // A line that is nothing but a keyword (decoration and end punctuation aside).
    for (i, line) in lines.iter().enumerate() {
        let plain = strip_marks(line).trim_end_matches(|c: char| ".!*_`~ ".contains(c));
        if let Some(w) = leading_word(plain)
            && w.len() == plain.len()
        {
            push(Some(w), i + 1);
        }
    }
    for (i, line) in lines.iter().enumerate() {
        let plain = strip_marks(line);
        let lower = plain.to_ascii_lowercase();
        let Some(label) = LABELS.iter().find(|l| lower.starts_with(*l)) else {
            continue;
        };
        let after = plain[label.len()..].trim_start_matches(|c: char| "*_` ".contains(c));
        if let Some(value) = after.strip_prefix(':') {
            push(
                leading_word(value.trim_start_matches(|c: char| "*_` ".contains(c))),
                i + 1,
            );
        } else if line.trim_start().starts_with('#') && after.trim().is_empty() {
            // A heading named like a label: the verdict is the next non-empty line.
            if let Some((j, next)) = lines
                .iter()
                .enumerate()
                .skip(i + 1)
                .find(|(_, l)| !l.trim().is_empty())
            {
                push(leading_word(next), j + 1);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review() -> VerdictRule {
        VerdictRule::Words {
            pass: vec!["APPROVED".into()],
            fail: vec!["REQUEST_CHANGES".into()],
        }
    }

    fn pass(t: &str) {
        assert!(
            matches!(find(&review(), t), Found::Pass(_)),
            "{t:?}: {:?}",
            find(&review(), t)
        );
    }

    fn fail(t: &str) {
        assert!(
            matches!(find(&review(), t), Found::Fail(_)),
            "{t:?}: {:?}",
            find(&review(), t)
        );
    }

    #[test]
    fn a_bare_keyword_on_the_first_non_empty_line() {
        pass("APPROVED\n\nLooks good.");
        pass("\n\n  APPROVED — no findings.");
        pass("**APPROVED**\n");
        pass("# APPROVED\n");
        fail("REQUEST_CHANGES\n- the parser panics on empty input");
        fail("Request changes: the parser panics");
        fail("`REQUEST-CHANGES`");
    }

    #[test]
    fn a_keyword_after_a_label_with_markdown_emphasis() {
        pass("# Review of ET-001\n\n**Verdict:** APPROVED\n\nThe change is small.");
        pass("# Review\n\n- **Result**: approved\n");
        pass("## Summary\nFine.\n\nStatus: `APPROVED`");
        fail("# Review of ET-001\n\n**Verdict:** REQUEST_CHANGES\n\n1. Missing tests.");
        fail("Decision: **Request changes**");
    }

    #[test]
    fn a_keyword_alone_under_a_verdict_heading() {
        pass("# Review of ET-001\n\nThe change adds a flag.\n\n## Verdict\n\nAPPROVED\n");
        fail("# Review\n\n### Result\n**REQUEST_CHANGES** — see below\n");
    }

    #[test]
    fn a_keyword_opening_the_text_under_its_title() {
        fail("# Review\n\nREQUEST_CHANGES\n\n- rename `x` to `count`\n");
        pass("# Review of ET-001\n\nApproved — the change is small.\n");
    }

    #[test]
    fn a_line_that_is_the_keyword_alone_anywhere() {
        pass("# Review of ET-001\n\nThe change adds a flag and tests.\n\n**APPROVED**\n");
        fail("Findings:\n1. no tests\n\nRequest changes.\n");
    }

    #[test]
    fn both_keywords_in_verdict_positions_are_ambiguous() {
        let t = "APPROVED\n\n## Verdict\nREQUEST_CHANGES\n";
        assert_eq!(
            find(&review(), t),
            Found::Ambiguous {
                pass: ("APPROVED".into(), 1),
                fail: ("REQUEST_CHANGES".into(), 4),
            }
        );
    }

    #[test]
    fn keywords_elsewhere_in_prose_do_not_count() {
        assert_eq!(
            find(
                &review(),
                "# Review\n\nI would have APPROVED this, but REQUEST_CHANGES applies."
            ),
            Found::Nothing
        );
        assert_eq!(find(&review(), "# Review\n\nNOT APPROVED"), Found::Nothing);
        assert_eq!(find(&review(), ""), Found::Nothing);
    }

    #[test]
    fn what_is_expected_is_said_in_words() {
        let words = expected(&review(), "docs/work-items/ET-001/12-review.md");
        assert_eq!(
            words,
            "write APPROVED or REQUEST_CHANGES as the first line of docs/work-items/ET-001/12-review.md (or after a `Verdict:` label)"
        );
        let rule = VerdictRule::Words {
            pass: vec!["PASS".into(), "PASSED".into()],
            fail: vec!["FAIL".into()],
        };
        assert!(expected(&rule, "x").starts_with("write PASS (or PASSED) or FAIL as"));
    }
}
