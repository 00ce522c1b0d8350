//! Usage limits: reading a provider's "limit reached" screen ([`LimitPattern`]s of its
//! profile) and session record into when the limit resets.
//!
//! What each pinned CLI shows at a usage limit (captured against the scripted model server,
//! `tests/fixtures/*/limit-*.txt`, README there):
//! - Claude Code 2.1.332, a limit resetting soon: it waits and retries by itself,
//!   `✻ 5-hour limit reached · retrying in 41s (5:30am) · attempt 1/10`. With API billing a
//!   limit resetting later is reported as a plain 429 (`API Error: Request rejected (429)`)
//!   with no reset time: that stays a transient failure. A subscription's limit reads
//!   `You've hit your session limit · resets 10:30pm (Europe/Berlin)` (the form users report
//!   in anthropics/claude-code issues #79136, #77082; not reproducible against a local
//!   server).
//! - Codex 0.171.0: the turn ends with `■ You’ve hit your usage limit. … try again at 7:33
//!   AM.` and a model-switch dialog; its rollout's `token_count` event carries
//!   `rate_limits.primary.resets_at` (Unix seconds) and `used_percent`.
//! - Gemini CLI 0.61.0: a `RetryInfo` delay of up to 300 s is waited out silently; a longer
//!   one opens `Usage limit reached for <model>. Access resets at 7:33 AM UTC.` with
//!   `1. Keep trying` / `2. Stop`.

use std::time::Duration;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use serde_json::Value;

use crate::config::LimitPattern;

/// A usage limit read from a screen.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitSeen {
    /// Index of the profile's pattern that matched.
    pub pattern: usize,
    /// When the limit resets, ms since the Unix epoch.
    pub resets_at: i64,
    /// The CLI waits for the reset and retries by itself.
    pub waits: bool,
    /// The matched text on one line, for the operator (still agent text: sanitise it before
    /// it reaches a terminal).
    pub words: String,
}

/// Slack added to a clock time read from a screen (`5:31 AM`): CLIs print the reset rounded
/// down to the minute, so the limit has surely reset a minute later.
const CLOCK_SLACK_MS: i64 = 60_000;

/// The first of `limits` that matches `screen` and gives a reset time, read at `now` (the
/// local zone's clock). A clock time within the last hour counts as already passed (an old
/// screen); later than that, it is the next such time.
pub fn seen(limits: &[LimitPattern], screen: &str, now: &Zoned) -> Option<LimitSeen> {
    limits.iter().enumerate().find_map(|(i, l)| {
        let caps = l.pattern.captures(screen)?;
        let resets_at = reset_of(&caps, now)?;
        let words = caps
            .get(0)
            .map(|m| m.as_str().split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Some(LimitSeen {
            pattern: i,
            resets_at,
            waits: l.waits,
            words: words.chars().take(200).collect(),
        })
    })
}

/// The reset a match's named groups give, ms since the epoch.
fn reset_of(caps: &regex::Captures<'_>, now: &Zoned) -> Option<i64> {
    let now_ms = now.timestamp().as_millisecond();
    if let Some(e) = caps.name("epoch") {
        return e.as_str().parse::<i64>().ok().map(|s| s * 1000 + 1000);
    }
    if let Some(d) = caps.name("in") {
        let spaced = d.as_str().replace(' ', "");
        let d = humantime::parse_duration(&spaced).ok()?;
        return Some(now_ms + i64::try_from(d.as_millis()).ok()?);
    }
    let at = caps.name("at")?.as_str();
    let zone = match caps.name("tz").map(|m| m.as_str()) {
        Some("UTC" | "GMT") => TimeZone::UTC,
        Some(name) if name.contains('/') => {
            TimeZone::get(name).unwrap_or_else(|_| now.time_zone().clone())
        }
        _ => now.time_zone().clone(),
    };
    let here = now.with_time_zone(zone);
    let time = clock(at)?;
    let mut at = here.with().time(time).build().ok()?;
    if at.timestamp() < here.timestamp() - 1.hour() {
        at = at.checked_add(1.day()).ok()?;
    }
    let ms = at.timestamp().as_millisecond();
    Some(if ms <= now_ms {
        now_ms
    } else {
        ms + CLOCK_SLACK_MS
    })
}

/// `5:31 AM`, `5:31am`, `8pm`, `17:05` → a time of day.
fn clock(s: &str) -> Option<Time> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, pm) = if let Some(d) = s.strip_suffix("am") {
        (d.trim(), Some(false))
    } else if let Some(d) = s.strip_suffix("pm") {
        (d.trim(), Some(true))
    } else {
        (s.as_str(), None)
    };
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?),
        None => (digits.parse::<i8>().ok()?, 0),
    };
    let h = match pm {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) => h % 12 + 12,
        Some(false) => h % 12,
        None => h,
    };
    Time::new(h, m, 0, 0).ok()
}

/// A provider's own report of its limits in its session record: Codex's `token_count`
/// events carry `rate_limits` (`primary`/`secondary` windows with `used_percent` and
/// `resets_at` in Unix seconds; Codex 0.171.0).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reported {
    /// The highest `used_percent` of any window, 0–100.
    pub used_percent: f64,
    /// When the latest exhausted window (used ≥ 100 %) resets, ms since the epoch.
    pub resets_at: Option<i64>,
}

/// The last rate-limit report in `tail` (the end of a Codex rollout), if any.
pub fn reported(tail: &[u8]) -> Option<Reported> {
    let text = String::from_utf8_lossy(tail);
    text.lines().rev().find_map(|line| {
        if !line.contains("\"rate_limits\"") {
            return None;
        }
        let v: Value = serde_json::from_str(line).ok()?;
        let limits = v.pointer("/payload/rate_limits")?;
        let mut out = Reported::default();
        let mut any = false;
        for w in ["primary", "secondary"] {
            let Some(win) = limits.get(w).filter(|w| w.is_object()) else {
                continue;
            };
            let Some(used) = win.get("used_percent").and_then(Value::as_f64) else {
                continue;
            };
            any = true;
            out.used_percent = out.used_percent.max(used);
            // Whole seconds, rounded down: the limit has surely reset a second later.
            if used >= 100.0
                && let Some(at) = win.get("resets_at").and_then(Value::as_i64)
            {
                out.resets_at = Some(out.resets_at.unwrap_or(0).max(at * 1000 + 1000));
            }
        }
        // A provider that reports no window (an API key's `rate_limits: null`) says nothing.
        any.then_some(out)
    })
}

/// How long from `now_ms` until `resets_at` (zero once past).
pub fn until(resets_at: i64, now_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(resets_at - now_ms).unwrap_or(0))
}

/// `ms` as a local clock time with its zone, e.g. `07:34:00 UTC`.
pub fn clock_time(ms: i64) -> String {
    now_local(ms).strftime("%H:%M:%S %Z").to_string()
}

/// The local clock now (UTC when the local zone cannot be read).
pub fn now_local(now_ms: i64) -> Zoned {
    let ts = Timestamp::from_millisecond(now_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned(TimeZone::try_system().unwrap_or(TimeZone::UTC))
}

#[cfg(test)]
mod tests;
