//! Keyboard input: a byte-stream parser that turns raw terminal input into keys (bracketed
//! pastes whole, UTF-8 and escape sequences reassembled across reads), and the prompt's line
//! editor. Pure code; the reader thread lives in the agent.

/// Start of a bracketed paste.
const PASTE_START: &[u8] = b"\x1b[200~";
/// End of a bracketed paste.
const PASTE_END: &[u8] = b"\x1b[201~";
const ESC: u8 = 0x1b;

/// One decoded key press (or paste).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A typed character (tab included).
    Char(char),
    /// A bracketed paste: its bytes exactly, newlines included.
    Paste(Vec<u8>),
    /// CR or LF outside a paste.
    Enter,
    /// DEL or BS.
    Backspace,
    /// A lone ESC (after the escape timeout) or ESC followed by a non-sequence byte.
    Esc,
    /// Ctrl-C (0x03).
    CtrlC,
}

/// Incremental decoder of terminal input bytes. Feed it whatever each `read` returned; bytes
/// that cannot be decided yet (a split UTF-8 character, a split escape sequence, a paste whose
/// end marker has not arrived) are kept for the next feed.
#[derive(Debug, Default)]
pub struct Parser {
    pending: Vec<u8>,
    /// `Some` while inside a bracketed paste: the content so far.
    paste: Option<Vec<u8>>,
}

/// The length of a UTF-8 sequence from its first byte; `None` for a byte that cannot start
/// one.
fn utf8_len(first: u8) -> Option<usize> {
    match first {
        0x00..=0x7f => Some(1),
        0xc2..=0xdf => Some(2),
        0xe0..=0xef => Some(3),
        0xf0..=0xf4 => Some(4),
        _ => None,
    }
}

/// Where in `buf` the needle starts, if anywhere.
fn find(buf: &[u8], needle: &[u8]) -> Option<usize> {
    buf.windows(needle.len()).position(|w| w == needle)
}

impl Parser {
    /// A parser in its initial state (outside any paste).
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Decodes `bytes` (following everything fed before), appending complete keys to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Key>) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            if let Some(paste) = &mut self.paste {
                let rest = &self.pending[at..];
                if let Some(end) = find(rest, PASTE_END) {
                    paste.extend_from_slice(&rest[..end]);
                    out.push(Key::Paste(std::mem::take(paste)));
                    self.paste = None;
                    at += end + PASTE_END.len();
                    continue;
                }
                // Keep only a tail that could be the start of the end marker.
                let keep = (1..PASTE_END.len())
                    .rev()
                    .find(|&k| rest.len() >= k && rest.ends_with(&PASTE_END[..k]))
                    .unwrap_or(0);
                paste.extend_from_slice(&rest[..rest.len() - keep]);
                at = self.pending.len() - keep;
                break;
            }
            match self.step(at, out) {
                Some(used) => at += used,
                None => break,
            }
        }
        self.pending.drain(..at);
    }

    /// Decodes one key outside a paste starting at `at`; returns the bytes used, or `None`
    /// when nothing is left or more bytes are needed.
    fn step(&mut self, at: usize, out: &mut Vec<Key>) -> Option<usize> {
        let rest = &self.pending[at..];
        let &first = rest.first()?;
        match first {
            ESC => {
                let &second = rest.get(1)?;
                match second {
                    b'[' => {
                        // CSI: parameters and intermediates, then a final byte 0x40..=0x7e.
                        let end = rest[2..].iter().position(|b| (0x40..=0x7e).contains(b))?;
                        let len = 2 + end + 1;
                        if &rest[..len] == PASTE_START {
                            self.paste = Some(Vec::new());
                        }
                        Some(len)
                    }
                    b'O' => rest.get(2).map(|_| 3),
                    _ => {
                        out.push(Key::Esc);
                        Some(1)
                    }
                }
            }
            0x03 => {
                out.push(Key::CtrlC);
                Some(1)
            }
            b'\r' | b'\n' => {
                out.push(Key::Enter);
                Some(1)
            }
            0x7f | 0x08 => {
                out.push(Key::Backspace);
                Some(1)
            }
            b'\t' => {
                out.push(Key::Char('\t'));
                Some(1)
            }
            0x00..=0x1f => Some(1),
            _ => {
                let Some(len) = utf8_len(first) else {
                    out.push(Key::Char(char::REPLACEMENT_CHARACTER));
                    return Some(1);
                };
                let bytes = rest.get(..len)?;
                match std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|s| s.chars().next())
                {
                    Some(c) => {
                        out.push(Key::Char(c));
                        Some(len)
                    }
                    None => {
                        out.push(Key::Char(char::REPLACEMENT_CHARACTER));
                        Some(1)
                    }
                }
            }
        }
    }

    /// Whether a lone ESC is waiting: if no more bytes come soon, the caller should call
    /// [`Parser::timeout`] to take it as the Esc key. (An unfinished sequence such as
    /// `ESC [ 2 0` is not timed out: dropping part of a paste marker under load would turn the
    /// paste into typed text, its newlines into Enter.)
    pub fn esc_pending(&self) -> bool {
        self.paste.is_none() && self.pending == [ESC]
    }

    /// No more bytes came within the escape timeout: a lone pending ESC is the Esc key.
    pub fn timeout(&mut self, out: &mut Vec<Key>) {
        if self.esc_pending() {
            out.push(Key::Esc);
            self.pending.clear();
        }
    }
}

/// One piece of the prompt being edited.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Typed(String),
    Pasted(Vec<u8>),
}

/// The label a paste shows instead of its content: `[Pasted text: N lines, M bytes]`, N being
/// the number of lines (a final newline does not start another one).
pub fn paste_label(bytes: &[u8]) -> String {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
    let lines = newlines + usize::from(bytes.last().is_some_and(|&b| b != b'\n'));
    format!("[Pasted text: {lines} lines, {} bytes]", bytes.len())
}

/// The input line: typed text and pastes, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Editor {
    segments: Vec<Segment>,
}

impl Editor {
    /// An empty input line.
    pub fn new() -> Editor {
        Editor::default()
    }

    /// Adds a typed character; returns what to echo.
    pub fn push_char(&mut self, c: char) -> String {
        match self.segments.last_mut() {
            Some(Segment::Typed(s)) => s.push(c),
            _ => self.segments.push(Segment::Typed(c.to_string())),
        }
        display_char(c).to_string()
    }

    /// Adds a paste (ignored when empty); returns what to echo: its label.
    pub fn push_paste(&mut self, bytes: Vec<u8>) -> String {
        if bytes.is_empty() {
            return String::new();
        }
        let label = paste_label(&bytes);
        self.segments.push(Segment::Pasted(bytes));
        label
    }

    /// Deletes the last typed character, or the last paste whole when it comes last.
    pub fn backspace(&mut self) {
        match self.segments.last_mut() {
            Some(Segment::Typed(s)) => {
                s.pop();
                if s.is_empty() {
                    self.segments.pop();
                }
            }
            Some(Segment::Pasted(_)) => {
                self.segments.pop();
            }
            None => {}
        }
    }

    /// Whether nothing has been typed or pasted.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// What the line shows after `> `: typed text, and a label per paste.
    pub fn display(&self) -> String {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Typed(t) => t.chars().map(display_char).collect(),
                Segment::Pasted(p) => paste_label(p),
            })
            .collect()
    }

    /// Empties the editor and returns the submitted bytes: pastes exactly, typed text as
    /// UTF-8, in order.
    pub fn take(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for s in self.segments.drain(..) {
            match s {
                Segment::Typed(t) => out.extend_from_slice(t.as_bytes()),
                Segment::Pasted(p) => out.extend(p),
            }
        }
        out
    }
}

/// How a typed character is shown: control characters (tab) as a space, so the echo stays on
/// one line whose width is known.
fn display_char(c: char) -> char {
    if c.is_control() { ' ' } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&[u8]]) -> (Vec<Key>, Parser) {
        let mut p = Parser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out);
        }
        (out, p)
    }

    /// Feeds `input` split at every possible pair of points; the keys never change.
    fn same_keys_for_every_split(input: &[u8], want: &[Key]) {
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let (got, p) = feed_all(&[&input[..i], &input[i..j], &input[j..]]);
                assert_eq!(got, want, "split at {i},{j}");
                assert!(!p.esc_pending(), "split at {i},{j}");
            }
        }
    }

    #[test]
    fn typed_keys() {
        let (keys, _) = feed_all(&[b"ab\x7f\x08\tc\r\x03\n\x01"]);
        assert_eq!(
            keys,
            vec![
                Key::Char('a'),
                Key::Char('b'),
                Key::Backspace,
                Key::Backspace,
                Key::Char('\t'),
                Key::Char('c'),
                Key::Enter,
                Key::CtrlC,
                Key::Enter,
            ]
        );
    }

    #[test]
    fn utf8_split_across_reads() {
        same_keys_for_every_split(
            "é✓🚀".as_bytes(),
            &[Key::Char('é'), Key::Char('✓'), Key::Char('🚀')],
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_chars() {
        let (keys, _) = feed_all(&[b"\xff\xe2\x28a"]);
        assert_eq!(
            keys,
            vec![
                Key::Char(char::REPLACEMENT_CHARACTER),
                Key::Char(char::REPLACEMENT_CHARACTER),
                Key::Char('('),
                Key::Char('a'),
            ]
        );
    }

    #[test]
    fn bracketed_paste_is_taken_whole_with_markers_split_anywhere() {
        let content = "line 1\r\nsecond; -x \"q\" 'q'\n\t✓ 日本\n".as_bytes();
        let mut input = b"a".to_vec();
        input.extend_from_slice(PASTE_START);
        input.extend_from_slice(content);
        input.extend_from_slice(PASTE_END);
        input.extend_from_slice("é\r".as_bytes());
        same_keys_for_every_split(
            &input,
            &[
                Key::Char('a'),
                Key::Paste(content.to_vec()),
                Key::Char('é'),
                Key::Enter,
            ],
        );
    }

    #[test]
    fn paste_keeps_escape_bytes_and_partial_end_markers_as_content() {
        let content = b"\x1b[20 not the end \x1b[201 nor this \x1b\x1b[A";
        let mut input = PASTE_START.to_vec();
        input.extend_from_slice(content);
        input.extend_from_slice(PASTE_END);
        same_keys_for_every_split(&input, &[Key::Paste(content.to_vec())]);
    }

    #[test]
    fn big_paste_in_many_small_reads() {
        let content: Vec<u8> = (0..100 * 1024).map(|i| b"ab\ncd;\t-"[i % 8]).collect();
        let mut input = PASTE_START.to_vec();
        input.extend_from_slice(&content);
        input.extend_from_slice(PASTE_END);
        let mut p = Parser::new();
        let mut out = Vec::new();
        for chunk in input.chunks(4093) {
            p.feed(chunk, &mut out);
        }
        assert_eq!(out, vec![Key::Paste(content)]);
    }

    #[test]
    fn lone_esc_waits_for_the_timeout() {
        let (keys, mut p) = feed_all(&[b"x\x1b"]);
        assert_eq!(keys, vec![Key::Char('x')]);
        assert!(p.esc_pending());
        let mut out = Vec::new();
        p.timeout(&mut out);
        assert_eq!(out, vec![Key::Esc]);
        assert!(!p.esc_pending());
    }

    #[test]
    fn escape_sequences_are_not_esc() {
        same_keys_for_every_split(b"\x1b[A\x1bOB\x1b[3~z", &[Key::Char('z')]);
        let (keys, _) = feed_all(&[b"\x1b\x1b", b"1"]);
        assert_eq!(keys, vec![Key::Esc, Key::Esc, Key::Char('1')]);
    }

    #[test]
    fn unfinished_sequence_waits_for_its_end() {
        let (keys, mut p) = feed_all(&[b"\x1b[20"]);
        assert!(keys.is_empty());
        assert!(!p.esc_pending());
        let mut out = Vec::new();
        p.timeout(&mut out);
        assert!(out.is_empty());
        p.feed(b"0~pasted\r\x1b[201~\r", &mut out);
        assert_eq!(out, vec![Key::Paste(b"pasted\r".to_vec()), Key::Enter]);
    }

    #[test]
    fn labels_count_lines_and_bytes() {
        assert_eq!(paste_label(b"a"), "[Pasted text: 1 lines, 1 bytes]");
        assert_eq!(paste_label(b"a\nb"), "[Pasted text: 2 lines, 3 bytes]");
        assert_eq!(paste_label(b"a\nb\n"), "[Pasted text: 2 lines, 4 bytes]");
        assert_eq!(paste_label(b"\n\n"), "[Pasted text: 2 lines, 2 bytes]");
    }

    #[test]
    fn editor_keeps_order_and_bytes() {
        let mut e = Editor::new();
        assert_eq!(e.push_char('h'), "h");
        e.push_char('i');
        assert_eq!(
            e.push_paste(b"x\ny".to_vec()),
            "[Pasted text: 2 lines, 3 bytes]"
        );
        assert_eq!(e.push_paste(Vec::new()), "");
        e.push_char('\t');
        e.push_char('!');
        assert_eq!(e.display(), "hi[Pasted text: 2 lines, 3 bytes] !");
        e.backspace();
        e.backspace();
        e.push_char('.');
        assert_eq!(e.take(), b"hix\ny.");
        assert!(e.is_empty());

        e.push_paste(b"p".to_vec());
        e.backspace();
        assert!(e.is_empty());
        e.backspace();
        assert!(e.is_empty());
    }
}
