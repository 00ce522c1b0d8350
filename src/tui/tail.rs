//! A run's log tailed from its file for the Log and Pane views, in time linear in the bytes
//! read: opening a run reads only the end of its log (the last screenful of the emulated
//! screen, the last lines of the text), and each poll splits what arrived in one pass.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// A tailed run log.
pub struct Tail {
    /// The run.
    pub run_id: i64,
    file: Option<File>,
    /// Complete lines read so far (raw, escapes and all), at most [`Tail::MAX_LINES`].
    pub lines: Vec<String>,
    /// Bytes of a line not complete yet.
    partial: Vec<u8>,
    /// The run's screen, emulated from the same bytes at the pane's size.
    pub screen: vt100::Parser,
}

impl Tail {
    /// Lines kept for the Log view.
    pub const MAX_LINES: usize = 20_000;
    /// Bytes of an existing log read for its lines on open: about [`Tail::MAX_LINES`] short
    /// lines, whatever the log's size.
    const LINE_BYTES: u64 = 2 * 1024 * 1024;
    /// Bytes of an existing log fed to the emulator on open: agents redraw their whole screen
    /// often, so the end of the stream rebuilds it (4 MB through the emulator took ~1 s).
    const SCREEN_BYTES: u64 = 256 * 1024;

    /// Opens `path` for run `run_id`, starting near its end; `rows`×`cols` is the pane size.
    /// A missing file gives an empty tail ([`Tail::is_open`] false) to be opened again later.
    pub fn open(run_id: i64, path: Option<&str>, rows: u16, cols: u16) -> Tail {
        let mut t = Tail {
            run_id,
            file: None,
            lines: Vec::new(),
            partial: Vec::new(),
            screen: vt100::Parser::new(rows.max(2), cols.max(10), 0),
        };
        let Some(mut f) = path.and_then(|p| File::open(p).ok()) else {
            return t;
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let start = len.saturating_sub(Tail::LINE_BYTES);
        let mut buf = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
        if f.seek(SeekFrom::Start(start)).is_ok() && f.read_to_end(&mut buf).is_ok() {
            // A cut in the middle of a line: drop the fragment.
            let body = if start > 0 {
                buf.iter()
                    .position(|b| *b == b'\n')
                    .map_or(&buf[buf.len()..], |i| &buf[i + 1..])
            } else {
                &buf[..]
            };
            let screen_from = buf
                .len()
                .saturating_sub(usize::try_from(Tail::SCREEN_BYTES).unwrap_or(usize::MAX));
            t.screen.process(&buf[screen_from..]);
            t.take_lines(body);
        }
        t.file = Some(f);
        t
    }

    /// True once the log file is open.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Follows the pane's new size.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        let (r, c) = self.screen.screen().size();
        if (r, c) != (rows.max(2), cols.max(10)) {
            self.screen.screen_mut().set_size(rows.max(2), cols.max(10));
        }
    }

    /// Reads what the log gained; true if anything arrived.
    pub fn poll(&mut self) -> bool {
        let Some(f) = self.file.as_mut() else {
            return false;
        };
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() || buf.is_empty() {
            return false;
        }
        self.screen.process(&buf);
        self.take_lines(&buf);
        true
    }

    /// Splits `bytes` (after what is pending) into lines in one pass; keeps the last
    /// [`Tail::MAX_LINES`].
    fn take_lines(&mut self, bytes: &[u8]) {
        let Some(last_nl) = bytes.iter().rposition(|b| *b == b'\n') else {
            self.partial.extend_from_slice(bytes);
            return;
        };
        let mut head = std::mem::take(&mut self.partial);
        head.extend_from_slice(&bytes[..=last_nl]);
        self.partial.extend_from_slice(&bytes[last_nl + 1..]);
        // Only the lines that can be kept are turned into strings.
        let mut complete: Vec<&[u8]> = head[..head.len() - 1].split(|b| *b == b'\n').collect();
        if complete.len() > Tail::MAX_LINES {
            complete.drain(..complete.len() - Tail::MAX_LINES);
        }
        self.lines.extend(complete.into_iter().map(|l| {
            String::from_utf8_lossy(l)
                .trim_end_matches('\r')
                .to_string()
        }));
        if self.lines.len() > Tail::MAX_LINES {
            let cut = self.lines.len() - Tail::MAX_LINES;
            self.lines.drain(..cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_polls_and_a_missing_log_opens_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        let p = path.to_string_lossy().into_owned();
        let mut t = Tail::open(1, Some(&p), 24, 80);
        assert!(!t.is_open(), "no file yet");
        std::fs::write(&path, b"one\r\ntw").expect("write");
        let mut t2 = Tail::open(1, Some(&p), 24, 80);
        assert!(t2.is_open());
        assert_eq!(t2.lines, ["one"]);
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("append");
        f.write_all(b"o\nthree\n").expect("append");
        assert!(t2.poll());
        assert_eq!(t2.lines, ["one", "two", "three"]);
        assert!(!t.poll(), "never opened: nothing to read");
    }

    #[test]
    fn a_long_log_keeps_its_last_lines_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        let text: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).expect("write");
        let t = Tail::open(1, Some(&path.to_string_lossy()), 24, 80);
        assert_eq!(t.lines.len(), Tail::MAX_LINES);
        assert_eq!(t.lines.last().map(String::as_str), Some("line 49999"));
    }
}
