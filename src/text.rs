//! Making text from outside bosun (agents, models, task authors) safe for a terminal. A
//! terminal acts on control characters and escape sequences, so agent text printed raw could
//! retitle it, move the cursor, clear the screen or set the clipboard (OSC 52). Everything
//! bosun prints or draws that came from outside goes through here: [`clean`] for one line,
//! [`clean_lines`] for several; the console's log view keeps colours (SGR) and drops every
//! other sequence ([`filter`] with [`Keep::Colours`]).

/// How escape sequences are treated.
#[derive(Clone, Copy, PartialEq)]
pub enum Keep {
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

/// `s` line by line through [`clean`], the line breaks kept.
pub fn clean_lines(s: &str) -> String {
    s.lines().map(clean).collect::<Vec<_>>().join("\n")
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
