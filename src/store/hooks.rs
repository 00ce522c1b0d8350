//! `hooks`: calls an agent's own hooks made to `bosun hook` (Claude Code's `--settings`
//! hooks, Codex's `-c hooks=…` hooks), the strongest signal of what the agent is doing.
//! Written by the `bosun hook` process, read by the supervisor in id order.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::{Result, text_enum};

text_enum! {
    /// Which hook fired. Names and meanings are Claude Code's
    /// (<https://docs.anthropic.com/en/docs/claude-code/hooks>); Codex uses the same names
    /// and payload fields for the ones it has.
    HookEvent {
        /// The operator's (bosun's) prompt was submitted: the agent took it.
        UserPromptSubmit = "UserPromptSubmit",
        /// A tool is about to run: the agent is working.
        PreToolUse = "PreToolUse",
        /// The agent notifies the user; `permission_prompt` means it waits for an answer.
        Notification = "Notification",
        /// The agent is about to ask the user to approve a tool call (Codex); recorded only:
        /// it comes before the dialog can take an answer.
        PermissionRequest = "PermissionRequest",
        /// The agent finished its turn.
        Stop = "Stop",
        /// The turn ended on an API error (`rate_limit`, `server_error`, …).
        StopFailure = "StopFailure",
    }
}

/// One hook call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hook {
    /// Row id (monotonic).
    pub id: i64,
    /// The run whose agent called.
    pub run_id: i64,
    /// Which hook.
    pub event: HookEvent,
    /// What bosun keeps of its payload: the tool name (PreToolUse), `type: message`
    /// (Notification), `tool: description` (PermissionRequest), the last assistant message
    /// (Stop), `error: message` (StopFailure).
    pub detail: String,
    /// When it was received, ms since the epoch.
    pub at: i64,
}

const COLS: &str = "id, run_id, event, detail, at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Hook> {
    Ok(Hook {
        id: r.get(0)?,
        run_id: r.get(1)?,
        event: r.get(2)?,
        detail: r.get(3)?,
        at: r.get(4)?,
    })
}

/// Records a hook call; returns its id.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure (e.g. no such run).
pub fn append(
    conn: &Connection,
    run_id: i64,
    event: HookEvent,
    detail: &str,
    at: i64,
) -> Result<i64> {
    conn.prepare_cached("INSERT INTO hooks (run_id, event, detail, at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![run_id, event, detail, at])?;
    Ok(conn.last_insert_rowid())
}

/// Hook calls with an id above `after`, oldest first.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn since(conn: &Connection, after: i64) -> Result<Vec<Hook>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM hooks WHERE id > ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([after], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The newest hook call's id (0 when there is none).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn last_id(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM hooks")?
        .query_row([], |r| r.get(0))?)
}

/// A run's hook calls, oldest first.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn for_run(conn: &Connection, run_id: i64) -> Result<Vec<Hook>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM hooks WHERE run_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([run_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Deletes the hook calls of runs that ended before `before` (ms since the epoch); returns
/// how many.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn prune(conn: &Connection, before: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM hooks WHERE run_id IN (SELECT id FROM runs WHERE ended_at < ?1)",
        )?
        .execute([before])?)
}
