//! Making text from outside bosun (agents, models, task authors) safe for a terminal. A
//! terminal acts on control characters and escape sequences, so agent text printed raw could
//! retitle it, move the cursor, clear the screen or set the clipboard (OSC 52). Everything
//! bosun prints or draws that came from outside goes through here: [`clean`] for one field
//! (a title, a name, a note, a reason), [`clean_lines`] for several lines of such text;
//! [`plain`] for what a terminal showed (a pane's screen, a log line), where a carriage
//! return starts the line over; the console's log view keeps colours (SGR) and drops every
//! other sequence ([`filter`] with [`Keep::Colours`]).
//!
//! In a field a carriage return is shown as the visible escape `\r` and a line feed as `\n`:
//! a title `"rm -rf / on prod\rFix typo"` must not read "Fix typo".

/// How escape sequences are treated.
#[derive(Clone, Copy, PartialEq)]
pub enum Keep {
    /// Drop every sequence.
    Nothing,
    /// Keep SGR (`ESC [ … m`, colours and attributes); drop the rest.
    Colours,
}

/// One field of outside text (title, name, note, reason) safe to draw on one line: escape
/// sequences and control characters dropped, tabs as spaces, a carriage return or line feed
/// inside it shown as the visible escape `\r` / `\n` (one at the very end is dropped), so
/// nothing can hide what came before it.
pub fn clean(s: &str) -> String {
    let s = s.trim_end_matches(['\r', '\n']);
    if !s.contains(['\r', '\n']) {
        return filter(s, Keep::Nothing);
    }
    s.split_inclusive(['\r', '\n'])
        .map(|part| {
            let (body, sep) = match part.strip_suffix('\r') {
                Some(b) => (b, "\\r"),
                None => match part.strip_suffix('\n') {
                    Some(b) => (b, "\\n"),
                    None => (part, ""),
                },
            };
            format!("{}{sep}", filter(body, Keep::Nothing))
        })
        .collect()
}

/// What a terminal shows of `s` (a pane's screen, a log line): escape sequences and control
/// characters dropped, text after a bare carriage return replacing the line. Log search
/// matches what the operator sees.
pub fn plain(s: &str) -> String {
    filter(s, Keep::Nothing)
}

/// `s` line by line (split at `\n`, `\r\n` too) through [`clean`], the line breaks kept.
pub fn clean_lines(s: &str) -> String {
    s.lines().map(clean).collect::<Vec<_>>().join("\n")
}

/// `s` line by line through [`plain`], the line breaks kept.
pub fn plain_lines(s: &str) -> String {
    s.lines().map(plain).collect::<Vec<_>>().join("\n")
}

/// `s` without control characters and escape sequences, except SGR ones when `keep` is
/// [`Keep::Colours`]; a cursor-forward sequence becomes the spaces it skips; tabs become four
/// spaces; text after a bare carriage return replaces the line.
pub fn filter(s: &str, keep: Keep) -> String {
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
                    // Cursor forward (`ESC [ n C`) is how TUIs such as Claude Code write the
                    // space between words: kept as the spaces it shows (at most a line).
                    if fin == Some('C') {
                        let n: usize = seq[2..seq.len() - 1].parse().unwrap_or(1);
                        out.extend(std::iter::repeat_n(' ', n.clamp(1, 500)));
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
    fn a_carriage_return_in_a_field_hides_nothing() {
        assert_eq!(
            clean("rm -rf / on prod\rFix typo"),
            "rm -rf / on prod\\rFix typo"
        );
        assert_eq!(clean("two\nlines\r\n"), "two\\nlines");
        assert_eq!(clean("a\x1b]0;t\x07b\tc"), "ab    c");
        assert_eq!(clean_lines("x\r\ny\rz"), "x\ny\\rz");
        assert_eq!(plain("✳ (1s)\r✻ (2s)"), "✻ (2s)");
    }
}
