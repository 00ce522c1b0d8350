//! Making agent output safe to draw. ratatui writes cell text to the terminal verbatim, so
//! any control character or escape sequence from an agent would reach the operator's
//! terminal (retitle it, move the cursor, write the clipboard…). Everything drawn that came
//! from outside bosun goes through here: [`clean`] for plain text, [`line`] for log lines,
//! which keeps colours (SGR) and drops every other sequence.

use ansi_to_tui::IntoText;
use ratatui::text::{Line, Text};

use crate::text::{Keep, filter};
pub use crate::text::{clean, plain};

/// A raw log line as styled text: SGR colours kept, every other sequence and control
/// character dropped.
pub fn line(s: &str) -> Line<'static> {
    let safe = filter(s, Keep::Colours);
    match safe.as_bytes().into_text() {
        Ok(Text { lines, .. }) => lines.into_iter().next().unwrap_or_default(),
        Err(_) => Line::raw(clean(s)),
    }
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
    fn cursor_moves_between_words_are_the_spaces_a_terminal_shows() {
        // As Claude Code writes its status line: words apart by cursor-forward moves.
        let raw =
            "Opus\x1b[1C4.8\x1b[1C(1M\x1b[1Ccontext) \x1b[32m⏵⏵\x1b[1Caccept\x1b[3Cedits\x1b[0m";
        assert_eq!(clean(raw), "Opus 4.8 (1M context) ⏵⏵ accept   edits");
        let l = line(raw);
        let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "Opus 4.8 (1M context) ⏵⏵ accept   edits");
    }

    #[test]
    fn carriage_returns_and_tabs() {
        assert_eq!(plain("✳ Working… (1s)\r✻ Working… (2s)"), "✻ Working… (2s)");
        assert_eq!(clean("a\tb"), "a    b");
        assert_eq!(clean("trailing\r"), "trailing");
    }
}
