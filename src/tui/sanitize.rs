//! Making agent output safe to draw. ratatui writes cell text to the terminal verbatim, so
//! any control character or escape sequence from an agent would reach the operator's
//! terminal (retitle it, move the cursor, write the clipboard…). Everything drawn that came
//! from outside bosun goes through here: [`clean`] for plain text, [`line`] for log lines,
//! which keeps colours (SGR) and drops every other sequence.

use ansi_to_tui::IntoText;
use ratatui::text::{Line, Text};

/// How escape sequences are treated.
#[derive(Clone, Copy, PartialEq)]
enum Keep {
    /// Drop every sequence.
    Nothing,
    /// Keep SGR (`ESC [ … m`, colours and attributes); drop the rest.
    Colours,
}

/// `s` without control characters or escape sequences; tabs become spaces; a carriage
/// return starts the line over (what a terminal would show). Safe to draw.
pub fn clean(s: &str) -> String {
    filter(s, Keep::Nothing)
}

/// Same as [`clean`] (log search matches what the operator sees).
pub fn plain(s: &str) -> String {
    filter(s, Keep::Nothing)
}

/// A raw log line as styled text: SGR colours kept, every other sequence and control
/// character dropped.
pub fn line(s: &str) -> Line<'static> {
    let safe = filter(s, Keep::Colours);
    match safe.as_bytes().into_text() {
        Ok(Text { lines, .. }) => lines.into_iter().next().unwrap_or_default(),
        Err(_) => Line::raw(clean(s)),
    }
}

fn filter(s: &str, keep: Keep) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    // CSI: parameters and intermediates, then a final byte 0x40–0x7e.
                    let mut seq = String::from("\x1b[");
                    let mut fin = None;
                    for d in chars.by_ref() {
                        seq.push(d);
                        if ('\u{40}'..='\u{7e}').contains(&d) {
                            fin = Some(d);
                            break;
                        }
                    }
                    let sgr = fin == Some('m')
                        && seq[2..seq.len() - 1]
                            .chars()
                            .all(|d| d.is_ascii_digit() || d == ';' || d == ':');
                    if keep == Keep::Colours && sgr {
                        out.push_str(&seq);
                    }
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    // OSC / DCS / SOS / PM / APC: up to BEL or ST (ESC \).
                    while let Some(d) = chars.next() {
                        if d == '\x07' {
                            break;
                        }
                        if d == '\x1b' {
                            chars.next_if_eq(&'\\');
                            break;
                        }
                    }
                }
                // Two-byte sequences (ESC 7, ESC =, charset selections take one more).
                Some('(' | ')' | '*' | '+' | '#' | '%') => {
                    chars.next();
                }
                _ => {}
            },
            '\r' => {
                // Text after a bare CR overwrites the line; keep what stays visible.
                if chars.peek().is_some() {
                    out.clear();
                }
            }
            '\t' => out.push_str("    "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_sequences_never_survive() {
        let hostile = "ok\x1b]0;pwned title\x07 \x1b]52;c;Y2xpcA==\x1b\\ \x1b[2J\x1b[H\x1bPqdcs\x1b\\ \u{9b}31m \x07\x08\x00end";
        let c = clean(hostile);
        assert_eq!(c, "ok   31m end");
        assert!(!c.chars().any(|ch| ch.is_control()));
        let l = line(hostile);
        let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(!text.chars().any(|ch| ch.is_control()), "{text:?}");
    }

    #[test]
    fn colours_are_kept_as_styles() {
        let l = line("\x1b[31mred\x1b[0m plain\x1b[1K");
        let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "red plain");
        assert_eq!(l.spans[0].style.fg, Some(ratatui::style::Color::Red));
    }

    #[test]
    fn carriage_returns_and_tabs() {
        assert_eq!(clean("✳ Working… (1s)\r✻ Working… (2s)"), "✻ Working… (2s)");
        assert_eq!(clean("a\tb"), "a    b");
        assert_eq!(clean("trailing\r"), "trailing");
    }
}
