//! `hook_rejections`: refused hook calls, counted in place (one row per run; row 0 counts the
//! calls naming no known run), so a flood of forged calls cannot grow the append-only
//! `events` table: [`due`] says which counts to report as one event each.

use rusqlite::{Connection, params};

use super::Result;

/// The row of calls naming no known run.
pub const UNKNOWN_RUN: i64 = 0;

/// Refused calls of one row not reported yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The run they named ([`UNKNOWN_RUN`] for none known).
    pub run_id: i64,
    /// How many since the last report.
    pub count: i64,
    /// When the first and the last of them came, ms since the epoch.
    pub first_at: i64,
    /// See `first_at`.
    pub last_at: i64,
    /// Why the last one was refused.
    pub reason: String,
}

/// Counts one refused call for row `run_id` at `now`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn count(conn: &Connection, run_id: i64, reason: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO hook_rejections (run_id, pending, total, first_at, last_at, last_reason)
         VALUES (?1, 1, 1, ?2, ?2, ?3)
         ON CONFLICT (run_id) DO UPDATE SET pending = pending + 1, total = total + 1,
             first_at = coalesce(first_at, ?2), last_at = ?2, last_reason = ?3",
    )?
    .execute(params![run_id, now, reason])?;
    Ok(())
}

/// The rows whose count is due for a report at `now`: some calls pending, none reported in
/// the last `window` ms, and either `quiet` ms without a call (the burst is over) or the
/// first pending call `window` ms old (a flood that does not stop is still reported once a
/// window).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn due(conn: &Connection, now: i64, quiet: i64, window: i64) -> Result<Vec<Pending>> {
    let rows = conn
        .prepare_cached(
            "SELECT run_id, pending, first_at, last_at, last_reason FROM hook_rejections
             WHERE pending > 0 AND (reported_at IS NULL OR ?1 - reported_at >= ?3)
               AND (?1 - last_at >= ?2 OR ?1 - first_at >= ?3)
             ORDER BY run_id",
        )?
        .query_map(params![now, quiet, window], |r| {
            Ok(Pending {
                run_id: r.get(0)?,
                count: r.get(1)?,
                first_at: r.get(2)?,
                last_at: r.get(3)?,
                reason: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Records that row `run_id`'s pending calls were reported at `now`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn reported(conn: &Connection, run_id: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE hook_rejections SET pending = 0, first_at = NULL, reported_at = ?2
         WHERE run_id = ?1",
    )?
    .execute(params![run_id, now])?;
    Ok(())
}

/// Refused calls not reported yet, over all rows.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn pending_total(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT coalesce(sum(pending), 0) FROM hook_rejections",
        [],
        |r| r.get(0),
    )?)
}
