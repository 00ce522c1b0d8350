//! Refused hook calls: counted in place ([`crate::store::rejections`]) and reported as one
//! `hook_rejected` event per run (and one for unknown runs) carrying the count, once a burst
//! is over and at most once a minute, so a flood of forged calls cannot grow the append-only
//! events table.

use crate::store::events::{self, About, EventKind};
use crate::store::{Store, StoreError, rejections};

/// How long a burst of refused hook calls must have been quiet before its count is reported,
/// ms.
pub const REJECTED_QUIET_MS: i64 = 2_000;
/// At most one `hook_rejected` event per run (and one for unknown runs) per this many ms.
pub const REJECTED_WINDOW_MS: i64 = 60_000;

/// Appends one `hook_rejected` event for each count of refused hook calls that is due at
/// `now` (a burst quiet for [`REJECTED_QUIET_MS`], or pending for [`REJECTED_WINDOW_MS`]; at
/// most one event per run per [`REJECTED_WINDOW_MS`]), carrying the count. The supervisor
/// calls it with its heartbeat; a refused call itself reports what is due. Returns how many
/// events were appended.
///
/// # Errors
/// Store failures.
pub fn report_rejections(store: &Store, now: i64) -> Result<usize, StoreError> {
    if rejections::pending_total(store.conn())? == 0 {
        return Ok(0);
    }
    store.write(|tx| append_reports(tx, now))
}

pub(super) fn append_reports(tx: &rusqlite::Connection, now: i64) -> Result<usize, StoreError> {
    let due = rejections::due(tx, now, REJECTED_QUIET_MS, REJECTED_WINDOW_MS)?;
    for p in &due {
        let whose = if p.run_id == rejections::UNKNOWN_RUN {
            "naming no known run".to_string()
        } else {
            format!("for run {}", p.run_id)
        };
        let calls = if p.count == 1 { "call" } else { "calls" };
        let secs = (p.last_at - p.first_at).max(0) as f64 / 1000.0;
        events::record_data(
            tx,
            EventKind::HookRejected,
            About::NOTHING.run((p.run_id != rejections::UNKNOWN_RUN).then_some(p.run_id)),
            "hook",
            format!(
                "{} hook {calls} {whose} refused in {secs:.1} s; last: {}",
                p.count, p.reason
            ),
            &serde_json::json!({ "count": p.count }),
            now,
        )?;
        rejections::reported(tx, p.run_id, now)?;
    }
    Ok(due.len())
}
