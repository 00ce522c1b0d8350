//! Logging a failure that repeats every tick (a full disk, a locked database) without
//! flooding the log: the first occurrence is logged at once, the same message again only
//! after a backoff that doubles from 1 s to 5 min, with how many times it happened since; a
//! different message, or a success after failures, is logged at once.

use std::time::{Duration, Instant};

/// First wait before the same message is logged again.
const FIRST: Duration = Duration::from_secs(1);
/// Longest wait between two lines of the same message.
const LONGEST: Duration = Duration::from_secs(300);

/// An error's message and its sources, each said once: a source whose text the message
/// already holds (rusqlite's `SqliteFailure` repeats its code's text) is left out.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !more.is_empty() && !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// The state of one repeating failure.
#[derive(Debug, Default)]
pub struct Repeats {
    last: Option<String>,
    next_at: Option<Instant>,
    wait: Duration,
    unlogged: u64,
}

/// What to log for an occurrence.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Nothing: the same message was logged recently.
    Quiet,
    /// The message, with how many times it came since it was last logged (0: new).
    Log {
        /// The message.
        message: String,
        /// Occurrences not logged since the last line.
        repeated: u64,
    },
}

impl Repeats {
    /// One failure with `message` at `now`: what to log.
    pub fn failed(&mut self, message: String, now: Instant) -> Line {
        if self.last.as_deref() == Some(message.as_str()) {
            if self.next_at.is_some_and(|t| now < t) {
                self.unlogged += 1;
                return Line::Quiet;
            }
            self.wait = (self.wait * 2).clamp(FIRST, LONGEST);
        } else {
            self.wait = FIRST;
        }
        let repeated = std::mem::take(&mut self.unlogged);
        self.next_at = Some(now + self.wait);
        self.last = Some(message.clone());
        Line::Log { message, repeated }
    }

    /// A success: the failures have stopped. Returns the message that had been failing and
    /// its unlogged count, if any (worth one line saying it recovered).
    pub fn succeeded(&mut self) -> Option<(String, u64)> {
        let last = self.last.take()?;
        self.next_at = None;
        self.wait = Duration::ZERO;
        Some((last, std::mem::take(&mut self.unlogged)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_failure_every_25_ms_is_logged_with_a_growing_backoff() {
        let mut r = Repeats::default();
        let t0 = Instant::now();
        let mut lines = 0;
        for i in 0..(60_000 / 25) {
            let now = t0 + Duration::from_millis(25 * i);
            if let Line::Log { .. } = r.failed("disk full".into(), now) {
                lines += 1;
            }
        }
        // A minute of failures: logged at 0, 1, 3, 7, 15, 31 s (and not again before 63 s).
        assert_eq!(lines, 6);
        match r.failed("locked".into(), t0 + Duration::from_secs(61)) {
            Line::Log { message, repeated } => {
                assert_eq!((message.as_str(), repeated), ("locked", 1159))
            }
            Line::Quiet => panic!("a new message is logged at once"),
        }
        assert_eq!(r.succeeded().map(|(m, _)| m), Some("locked".to_string()));
        assert_eq!(r.succeeded(), None);
    }

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "database error: database or disk is full")
        }
    }
    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "database or disk is full")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    impl std::error::Error for Inner {}

    #[test]
    fn a_chain_says_each_thing_once() {
        assert_eq!(
            chain(&Outer(Inner)),
            "database error: database or disk is full"
        );
    }
}
