//! The terminal: raw mode and bracketed paste on, and restored on every way out (normal
//! return, explicit exit, panic); the stdin reader thread; screen-size helpers.

use std::io::{Read, Write};
use std::sync::Once;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::input::{Key, Parser};

const BRACKETED_PASTE_ON: &str = "\x1b[?2004h";
const BRACKETED_PASTE_OFF: &str = "\x1b[?2004l";

/// How long a lone ESC waits for the rest of an escape sequence before it counts as the Esc
/// key.
const ESC_TIMEOUT: Duration = Duration::from_millis(80);

/// Raw mode and bracketed paste, switched on for the life of the value.
pub struct Terminal {
    active: bool,
}

/// Switches raw mode and bracketed paste off. Safe to call more than once, also from the
/// panic hook.
fn restore_terminal() {
    let mut out = std::io::stdout();
    let _ = out.write_all(BRACKETED_PASTE_OFF.as_bytes());
    let _ = out.flush();
    let _ = crossterm::terminal::disable_raw_mode();
}

impl Terminal {
    /// Enters raw mode and enables bracketed paste; a panic from now on restores the terminal
    /// before the panic message is printed. Without a terminal (stdin not a tty) raw mode is
    /// skipped and noted in the log.
    ///
    /// # Errors
    /// Writing to stdout failed.
    pub fn enter() -> std::io::Result<Terminal> {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore_terminal();
                previous(info);
            }));
        });
        if let Err(e) = crossterm::terminal::enable_raw_mode() {
            tracing::warn!("agent-sim: no raw mode ({e}); input is read as it comes");
        }
        let mut out = std::io::stdout();
        out.write_all(BRACKETED_PASTE_ON.as_bytes())?;
        out.flush()?;
        Ok(Terminal { active: true })
    }

    /// Leaves raw mode and disables bracketed paste (once).
    pub fn restore(&mut self) {
        if std::mem::take(&mut self.active) {
            restore_terminal();
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.restore();
    }
}

/// The terminal width in columns (80 when unknown).
pub fn columns() -> usize {
    crossterm::terminal::size()
        .ok()
        .map_or(80, |(c, _)| usize::from(c.max(1)))
}

/// How many screen rows a line of `width` characters takes (at least one).
pub fn rows(width: usize, cols: usize) -> usize {
    width.max(1).div_ceil(cols.max(1))
}

/// What [`Keys::next`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A key or a paste.
    Key(Key),
    /// stdin is closed (only reported when waiting without a deadline).
    Eof,
}

/// Keys from stdin: a thread reads raw bytes, the parser decodes them here.
pub struct Keys {
    rx: Receiver<Vec<u8>>,
    parser: Parser,
    queue: std::collections::VecDeque<Key>,
    last_bytes: Instant,
    eof: bool,
}

impl Keys {
    /// Starts the reader thread on stdin.
    pub fn from_stdin() -> Keys {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        tracing::debug!("agent-sim: stdin closed: {e}");
                        break;
                    }
                }
            }
        });
        Keys {
            rx,
            parser: Parser::new(),
            queue: std::collections::VecDeque::new(),
            last_bytes: Instant::now(),
            eof: false,
        }
    }

    /// The next key, waiting until `deadline` (forever when `None`); `None` when the deadline
    /// passed first. After stdin closed, waits out the deadline, or returns [`Event::Eof`]
    /// when there is none.
    pub fn next(&mut self, deadline: Option<Instant>) -> Option<Event> {
        loop {
            if let Some(k) = self.queue.pop_front() {
                return Some(Event::Key(k));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return None;
            }
            if self.eof {
                return match deadline {
                    Some(d) => {
                        std::thread::sleep(d.saturating_duration_since(now));
                        None
                    }
                    None => Some(Event::Eof),
                };
            }
            let esc_deadline = self
                .parser
                .esc_pending()
                .then(|| self.last_bytes + ESC_TIMEOUT);
            let wait_until = match (deadline, esc_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let got = match wait_until {
                Some(t) => self.rx.recv_timeout(t.saturating_duration_since(now)),
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let mut keys = Vec::new();
            match got {
                Ok(bytes) => {
                    self.last_bytes = Instant::now();
                    self.parser.feed(&bytes, &mut keys);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.parser.timeout(&mut keys);
                    self.eof = true;
                    if deadline.is_none() && keys.is_empty() {
                        return Some(Event::Eof);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if esc_deadline.is_some_and(|t| Instant::now() >= t) {
                        self.parser.timeout(&mut keys);
                    }
                }
            }
            self.queue.extend(keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_wrapped_lines() {
        assert_eq!(rows(0, 80), 1);
        assert_eq!(rows(80, 80), 1);
        assert_eq!(rows(81, 80), 2);
        assert_eq!(rows(5, 0), 5);
    }
}
