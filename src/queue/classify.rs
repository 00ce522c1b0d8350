//! Transient or permanent: reads the tail of a failed run's log.
//!
//! Transient failures (rate limits, overload, outages, network trouble) are retried with
//! backoff from a separate budget and feed the provider's circuit breaker; anything else is
//! permanent. A watchdog timeout is always permanent: the agent, not the service, hung.

use std::time::Duration;

use regex::{Regex, RegexSet};

/// Default patterns for transient failures, matched case-insensitively on the log tail.
/// Status codes per RFC 9110 (429, 502, 503, 504) and Anthropic's 529 "overloaded".
pub const TRANSIENT_PATTERNS: &[&str] = &[
    r"\b429\b",
    r"too many requests",
    r"rate[ _-]?limit",
    r"overloaded",
    r"\b(502|503|504|529)\b",
    r"service unavailable|bad gateway|gateway time-?out",
    r"quota (exceeded|exhausted)|insufficient_quota|resource[ _]exhausted",
    r"connection (reset|refused|closed)|econnreset|econnrefused|broken pipe",
    r"timed out|etimedout|deadline exceeded|request timeout",
];

/// How much of a log's end is read, in bytes: enough for the final error screen, little
/// enough that old noise does not count.
pub const TAIL_BYTES: usize = 8 * 1024;

/// Is a failure worth retrying from the transient budget?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Rate limit, overload, outage or network: retry after backoff.
    Transient,
    /// Anything else: counts against `max_attempts`.
    Permanent,
    /// The run's infrastructure failed, not the agent: the tmux server or the pane was lost,
    /// or tmux could not be reached. Counts against `max_infra_attempts`; the provider's
    /// breaker is not touched.
    Infrastructure,
}

/// A classified failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Transient or permanent.
    pub kind: FailureKind,
    /// One line for the operator.
    pub reason: String,
    /// The server's `Retry-After`, when the log gave one.
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A permanent failure with `reason`.
    pub fn permanent(reason: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Permanent,
            reason: reason.into(),
            retry_after: None,
        }
    }
}

/// Classifies failed runs from their log tails.
#[derive(Debug, Clone)]
pub struct Classifier {
    set: RegexSet,
    each: Vec<Regex>,
    retry_after: Regex,
}

impl Default for Classifier {
    fn default() -> Self {
        // The built-in patterns are tested to compile.
        Classifier::new(&[]).unwrap_or_else(|_| unreachable!("built-in patterns compile"))
    }
}

/// Classifiers compiled so far in this process, by their extra patterns: the engine is made
/// for every decision (every claim attempt, every finished run), and compiling the patterns
/// each time was most of an idle supervisor's CPU (issue 13). A clone shares the compiled
/// automata.
static COMPILED: std::sync::Mutex<Vec<(Vec<String>, Classifier)>> =
    std::sync::Mutex::new(Vec::new());

/// How many times this process has compiled a classifier's patterns (for tests: a supervisor
/// at rest compiles none).
static COMPILATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many times this process has compiled a classifier's patterns.
pub fn compilations() -> usize {
    COMPILATIONS.load(std::sync::atomic::Ordering::SeqCst)
}

impl Classifier {
    /// The default patterns plus `extra` (e.g. a provider's own), case-insensitive; compiled
    /// once per process for each set of `extra` patterns, shared after.
    ///
    /// # Errors
    /// [`regex::Error`] if an extra pattern does not compile.
    pub fn new(extra: &[String]) -> Result<Classifier, regex::Error> {
        let mut cache = COMPILED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, c)) = cache.iter().find(|(e, _)| e.as_slice() == extra) {
            return Ok(c.clone());
        }
        let c = Classifier::compile(extra)?;
        cache.push((extra.to_vec(), c.clone()));
        Ok(c)
    }

    fn compile(extra: &[String]) -> Result<Classifier, regex::Error> {
        COMPILATIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let sources: Vec<String> = TRANSIENT_PATTERNS
            .iter()
            .map(|p| p.to_string())
            .chain(extra.iter().cloned())
            .map(|p| format!("(?i){p}"))
            .collect();
        Ok(Classifier {
            set: RegexSet::new(&sources)?,
            each: sources
                .iter()
                .map(|s| Regex::new(s))
                .collect::<Result<_, _>>()?,
            retry_after: Regex::new(
                r"(?i)(?:retry[-_ ]after|retry in|try again in)\W{0,3}(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?)?\b",
            )?,
        })
    }

    /// Classifies a failure from the end of its log (only the last [`TAIL_BYTES`] are read).
    /// `reason` describes the failure itself (exit status, crash); `timed_out` marks a
    /// watchdog kill, which is always permanent.
    pub fn classify(&self, log: &str, reason: &str, timed_out: bool) -> Failure {
        if timed_out {
            return Failure::permanent(reason);
        }
        let mut start = log.len().saturating_sub(TAIL_BYTES);
        while !log.is_char_boundary(start) {
            start += 1;
        }
        let tail = &log[start..];
        let hits = self.set.matches(tail);
        let Some(first) = hits.iter().next() else {
            return Failure::permanent(reason);
        };
        let line = tail
            .lines()
            .rev()
            .find(|l| self.each[first].is_match(l))
            .unwrap_or("")
            .trim();
        let retry_after = self.retry_after(tail);
        Failure {
            kind: FailureKind::Transient,
            // The supervisor's reason for an error left on screen is that very line.
            reason: if line.is_empty() || reason.contains(line) {
                reason.to_string()
            } else {
                format!("{reason}: {}", truncate(line, 200))
            },
            retry_after,
        }
    }

    /// The last `Retry-After` in `text`, as a duration (seconds unless a unit is given).
    pub fn retry_after(&self, text: &str) -> Option<Duration> {
        let cap = self.retry_after.captures_iter(text).last()?;
        let n: f64 = cap.get(1)?.as_str().parse().ok()?;
        let secs = match cap.get(2).map(|m| m.as_str().to_ascii_lowercase()) {
            Some(u) if u.starts_with("ms") || u.starts_with("milli") => n / 1000.0,
            Some(u) if u.starts_with('m') => n * 60.0,
            _ => n,
        };
        Duration::try_from_secs_f64(secs).ok()
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
