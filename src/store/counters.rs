//! `counters`: per-task tallies of retries and rollbacks, checked against the pipeline's caps.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// Adds one to counter `name` of the task and returns the new value.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn bump(conn: &Connection, task_id: i64, name: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO counters (task_id, name, count) VALUES (?1, ?2, 1)
         ON CONFLICT (task_id, name) DO UPDATE SET count = count + 1 RETURNING count",
        )?
        .query_row(params![task_id, name], |r| r.get(0))?)
}

/// Counter `name` of the task (0 when never bumped).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn get(conn: &Connection, task_id: i64, name: &str) -> Result<i64> {
    Ok(conn
        .query_row(
            "SELECT count FROM counters WHERE task_id = ?1 AND name = ?2",
            params![task_id, name],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Removes the task's counters whose name starts with `prefix` (all with `""`).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn clear(conn: &Connection, task_id: i64, prefix: &str) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM counters WHERE task_id = ?1 AND substr(name, 1, length(?2)) = ?2",
    )?
    .execute(params![task_id, prefix])?;
    Ok(())
}
