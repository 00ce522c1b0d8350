//! `notifications` and `notify_cursor` (schema v12): what the notifier has told the operator,
//! one row per cause, and how far it has read the event log.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// How far the notifier has read the event log; `None` before its first look.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn cursor(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT event_id FROM notify_cursor WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?)
}

/// Moves the cursor to `event_id`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_cursor(conn: &Connection, event_id: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO notify_cursor (id, event_id) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET event_id = excluded.event_id",
    )?
    .execute([event_id])?;
    Ok(())
}

/// Records a notification for `cause` (e.g. `event:42`, `waiting:run:7:1700000000000`); false
/// when that cause was recorded already (the notification must not go out again).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn record(
    conn: &Connection,
    cause: &str,
    task_id: Option<i64>,
    kind: &str,
    sent: bool,
    at: i64,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT OR IGNORE INTO notifications (cause, task_id, kind, sent, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![cause, task_id, kind, i64::from(sent), at])?
        == 1)
}

/// When a notification of `kind` about task `task_id` last went out, if one did.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn last_sent(conn: &Connection, task_id: Option<i64>, kind: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT max(at) FROM notifications WHERE task_id IS ?1 AND kind = ?2 AND sent = 1",
        )?
        .query_row(params![task_id, kind], |r| r.get(0))?)
}
