//! `answer_claims`: who is answering which dialog of a run (schema v9), so that of answers
//! given at the same moment by several consoles and CLIs exactly one presses its keys.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// How long a claim holds, ms: the same dialog text a minute later is a new question.
pub const CLAIM_HOLDS_MS: i64 = 60_000;

/// Claims `dialog` (a hash of the dialog's text) of run `run_id` for `by` at `now`, inside
/// the caller's write transaction: `None` when the claim is this caller's, `Some((by, at))`
/// naming who claimed it first (less than [`CLAIM_HOLDS_MS`] ago).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn claim(
    conn: &Connection,
    run_id: i64,
    dialog: &str,
    by: &str,
    now: i64,
) -> Result<Option<(String, i64)>> {
    let held: Option<(String, i64)> = conn
        .prepare_cached("SELECT by, at FROM answer_claims WHERE run_id = ?1 AND dialog = ?2")?
        .query_row(params![run_id, dialog], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((who, at)) = held
        && now - at < CLAIM_HOLDS_MS
    {
        return Ok(Some((who, at)));
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO answer_claims (run_id, dialog, by, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![run_id, dialog, by, now])?;
    Ok(None)
}

/// Deletes the claims of runs that ended before `before` (ms since the epoch).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn prune(conn: &Connection, before: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM answer_claims WHERE run_id IN (SELECT id FROM runs WHERE ended_at < ?1)",
        )?
        .execute([before])?)
}
