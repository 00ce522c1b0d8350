//! A run's log for the Log and Pane views, in time linear in the bytes read. The model
//! ([`Tail`]: lines and the emulated screen) is fed bytes; [`read_end`] opens a log and reads
//! only its end (the last screenful of the emulated screen, the last lines of the text), and
//! [`Follower`] reads what the log gains. Both run off the UI thread (see `effect`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// A tailed run log.
pub struct Tail {
    /// The run.
    pub run_id: i64,
    /// Complete lines read so far (raw, escapes and all), at most [`Tail::MAX_LINES`].
    pub lines: Vec<String>,
    /// Raw length in bytes (with its `\n`) of each kept line, to move
    /// [`Tail::first_line_at`] when the oldest lines are dropped.
    lens: Vec<u32>,
    /// Bytes of a line not complete yet.
    partial: Vec<u8>,
    /// The run's screen, emulated from the same bytes at the pane's size.
    pub screen: vt100::Parser,
    /// Byte offset in the log where the first kept line starts (0: the log is read from its
    /// start); older lines are read from before it on request ([`read_before`]).
    pub first_line_at: u64,
}

impl Tail {
    /// Lines kept for the Log view.
    pub const MAX_LINES: usize = 20_000;
    /// Bytes of an existing log read for its lines on open: about [`Tail::MAX_LINES`] short
    /// lines, whatever the log's size.
    pub const LINE_BYTES: u64 = 2 * 1024 * 1024;
    /// Bytes of an existing log fed to the emulator on open: agents redraw their whole screen
    /// often, so the end of the stream rebuilds it (4 MB through the emulator took ~1 s).
    pub const SCREEN_BYTES: usize = 256 * 1024;

    /// An empty tail of run `run_id` whose pane is `rows`×`cols`.
    pub fn new(run_id: i64, rows: u16, cols: u16) -> Tail {
        Tail {
            run_id,
            lines: Vec::new(),
            lens: Vec::new(),
            partial: Vec::new(),
            screen: vt100::Parser::new(rows.max(2), cols.max(10), 0),
            first_line_at: 0,
        }
    }

    /// A tail built from the end of a log: `end` holds its last bytes, starting `skipped`
    /// bytes into the file (a cut line at the start is dropped when `skipped` > 0).
    pub fn from_end(run_id: i64, end: &[u8], skipped: u64, rows: u16, cols: u16) -> Tail {
        let mut t = Tail::new(run_id, rows, cols);
        let body = if skipped > 0 {
            let cut = end
                .iter()
                .position(|b| *b == b'\n')
                .map_or(end.len(), |i| i + 1);
            t.first_line_at = skipped + cut as u64;
            &end[cut..]
        } else {
            end
        };
        t.screen
            .process(&end[end.len().saturating_sub(Tail::SCREEN_BYTES)..]);
        t.take_lines(body);
        t
    }

    /// Follows the pane's new size.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        let (r, c) = self.screen.screen().size();
        if (r, c) != (rows.max(2), cols.max(10)) {
            self.screen.screen_mut().set_size(rows.max(2), cols.max(10));
        }
    }

    /// Puts `lines` (read with [`read_before`]) before the kept ones; `first_line_at` is
    /// where the first of them starts in the log. Ignored unless they end where the kept
    /// lines begin (`end` is [`Tail::first_line_at`]).
    pub fn prepend(&mut self, older: Older, end: u64) {
        if end != self.first_line_at {
            return;
        }
        self.first_line_at = older.first_line_at;
        let mut lines = older.lines;
        lines.append(&mut self.lines);
        self.lines = lines;
        let mut lens = older.lens;
        lens.append(&mut self.lens);
        self.lens = lens;
    }

    /// Takes in bytes the log gained.
    pub fn ingest(&mut self, bytes: &[u8]) {
        self.screen.process(bytes);
        self.take_lines(bytes);
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
            let gone = complete.len() - Tail::MAX_LINES;
            self.first_line_at += self.lens.iter().map(|l| u64::from(*l)).sum::<u64>();
            self.first_line_at += complete[..gone]
                .iter()
                .map(|l| l.len() as u64 + 1)
                .sum::<u64>();
            self.lines.clear();
            self.lens.clear();
            complete.drain(..gone);
        }
        for l in complete {
            self.lens
                .push(u32::try_from(l.len() + 1).unwrap_or(u32::MAX));
            self.lines.push(
                String::from_utf8_lossy(l)
                    .trim_end_matches('\r')
                    .to_string(),
            );
        }
        if self.lines.len() > Tail::MAX_LINES {
            let cut = self.lines.len() - Tail::MAX_LINES;
            self.lines.drain(..cut);
            self.first_line_at += self.lens.drain(..cut).map(u64::from).sum::<u64>();
        }
    }
}

/// Reads the end of a log for a new [`Tail`]: its last [`Tail::LINE_BYTES`] bytes and how
/// many bytes come before them, with the file left at its end for a [`Follower`].
///
/// # Errors
/// The file cannot be opened (normally: the run's log does not exist yet) or read.
pub fn read_end(path: &Path) -> std::io::Result<(File, Vec<u8>, u64)> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(Tail::LINE_BYTES);
    let mut buf = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
    f.seek(SeekFrom::Start(start))?;
    f.read_to_end(&mut buf)?;
    Ok((f, buf, start))
}

/// Older lines of a log, read with [`read_before`] for [`Tail::prepend`].
pub struct Older {
    /// The lines, without their line ends.
    pub lines: Vec<String>,
    /// Raw length of each, with its `\n`.
    pub lens: Vec<u32>,
    /// Where the first starts in the log.
    pub first_line_at: u64,
}

/// The lines of `path` that end at byte `end` (a [`Tail::first_line_at`]), at most
/// [`Tail::LINE_BYTES`] of them. A line cut by the window's start is left for the next call.
///
/// # Errors
/// The file cannot be opened or read.
pub fn read_before(path: &Path, end: u64) -> std::io::Result<Older> {
    let mut f = File::open(path)?;
    let start = end.saturating_sub(Tail::LINE_BYTES);
    let mut buf = vec![0; usize::try_from(end - start).unwrap_or(0)];
    f.seek(SeekFrom::Start(start))?;
    f.read_exact(&mut buf)?;
    let cut = if start > 0 {
        buf.iter()
            .position(|b| *b == b'\n')
            .map_or(buf.len(), |i| i + 1)
    } else {
        0
    };
    let body = &buf[cut..];
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let mut older = Older {
        lines: Vec::new(),
        lens: Vec::new(),
        first_line_at: start + cut as u64,
    };
    if !body.is_empty() {
        for l in body.split(|b| *b == b'\n') {
            older
                .lens
                .push(u32::try_from(l.len() + 1).unwrap_or(u32::MAX));
            older.lines.push(
                String::from_utf8_lossy(l)
                    .trim_end_matches('\r')
                    .to_string(),
            );
        }
    }
    Ok(older)
}

/// Reads what an open log gains.
pub struct Follower {
    file: File,
}

impl Follower {
    /// Follows `file` from where it stands (after [`read_end`]: its end).
    pub fn new(file: File) -> Follower {
        Follower { file }
    }

    /// The bytes written since the last call (empty when none, or on a read error).
    pub fn poll(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        if self.file.read_to_end(&mut buf).is_err() {
            buf.clear();
        }
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_reads_and_a_missing_log_is_an_error_to_retry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        assert!(read_end(&path).is_err(), "no file yet");
        std::fs::write(&path, b"one\r\ntw").expect("write");
        let (f, end, skipped) = read_end(&path).expect("open");
        let mut t = Tail::from_end(1, &end, skipped, 24, 80);
        assert_eq!(t.lines, ["one"]);
        use std::io::Write;
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("append");
        w.write_all(b"o\nthree\n").expect("append");
        let mut follow = Follower::new(f);
        t.ingest(&follow.poll());
        assert_eq!(t.lines, ["one", "two", "three"]);
        assert!(follow.poll().is_empty(), "nothing new");
    }

    #[test]
    fn a_long_log_keeps_its_last_lines_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        let text: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).expect("write");
        let (_, end, skipped) = read_end(&path).expect("open");
        let t = Tail::from_end(1, &end, skipped, 24, 80);
        assert_eq!(t.lines.len(), Tail::MAX_LINES);
        assert_eq!(t.lines.last().map(String::as_str), Some("line 49999"));
    }

    #[test]
    fn a_log_longer_than_the_window_drops_its_cut_first_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        let line = "x".repeat(999) + "\n";
        let text: String = (0..3000).map(|_| line.as_str()).collect();
        std::fs::write(&path, text).expect("write");
        let (_, end, skipped) = read_end(&path).expect("open");
        assert!(skipped > 0);
        let mut t = Tail::from_end(1, &end, skipped, 24, 80);
        assert!(t.lines.iter().all(|l| l.len() == 999), "no cut line kept");
        // Scrolling back reads the older lines, until the start of the log: every line once.
        while t.first_line_at > 0 {
            let at = t.first_line_at;
            let older = read_before(&path, at).expect("older");
            assert!(!older.lines.is_empty());
            t.prepend(older, at);
        }
        assert_eq!(t.lines.len(), 3000);
        assert!(t.lines.iter().all(|l| l.len() == 999));
    }

    #[test]
    fn dropping_the_oldest_lines_moves_where_the_kept_ones_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        let text: String = (0..30_000).map(|i| format!("line {i}\r\n")).collect();
        std::fs::write(&path, &text).expect("write");
        let mut t = Tail::new(1, 24, 80);
        t.ingest(text.as_bytes());
        assert_eq!(t.lines.len(), Tail::MAX_LINES);
        let first = text.find("line 10000\r\n").expect("line") as u64;
        assert_eq!(t.first_line_at, first);
        // One more line drops one more.
        t.ingest(b"line 30000\r\n");
        assert_eq!(
            t.first_line_at,
            text.find("line 10001\r\n").expect("line") as u64
        );
        let older = read_before(&path, t.first_line_at).expect("older");
        assert_eq!(older.lines.last().map(String::as_str), Some("line 10000"));
    }
}
