//! `helpers` (schema v13): helper jobs an agent asked for — handoff (it waits for the answer)
//! or assign (the answer comes back as a message) — with the request and the answer.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::Result;

/// How the asking agent gets the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The asking agent waits (its MCP call blocks) for the answer.
    Handoff,
    /// The asking agent carries on; the answer comes to it as a message.
    Assign,
}

impl Mode {
    /// `handoff` or `assign`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Handoff => "handoff",
            Mode::Assign => "assign",
        }
    }
}

/// A helper job's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Helper {
    /// The helper job.
    pub job_id: i64,
    /// The run that asked.
    pub parent_run_id: i64,
    /// Handoff or assign.
    pub mode: Mode,
    /// What was asked.
    pub request: String,
    /// The helper's final message (or why it failed), once finished.
    pub result: Option<String>,
    /// It failed.
    pub failed: bool,
    /// When it finished, ms since the epoch.
    pub finished_at: Option<i64>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Helper> {
    let mode: String = r.get(2)?;
    Ok(Helper {
        job_id: r.get(0)?,
        parent_run_id: r.get(1)?,
        mode: if mode == "handoff" {
            Mode::Handoff
        } else {
            Mode::Assign
        },
        request: r.get(3)?,
        result: r.get(4)?,
        failed: r.get::<_, i64>(5)? != 0,
        finished_at: r.get(6)?,
    })
}

const COLS: &str = "job_id, parent_run_id, mode, request, result, failed, finished_at";

/// Records job `job_id` (inserted as a helper job) as a helper of run `parent_run_id`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn insert(
    conn: &Connection,
    job_id: i64,
    parent_run_id: i64,
    mode: Mode,
    request: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO helpers (job_id, parent_run_id, mode, request) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![job_id, parent_run_id, mode.as_str(), request])?;
    Ok(())
}

/// The helper record of job `job_id`, if it is a helper job.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn of_job(conn: &Connection, job_id: i64) -> Result<Option<Helper>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLS} FROM helpers WHERE job_id = ?1"))?
        .query_row([job_id], from_row)
        .optional()?)
}

/// Records the helper's answer; false when it was finished already.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn finish(
    conn: &Connection,
    job_id: i64,
    result: &str,
    failed: bool,
    now: i64,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE helpers SET result = ?2, failed = ?3, finished_at = ?4
             WHERE job_id = ?1 AND finished_at IS NULL",
        )?
        .execute(params![job_id, result, i64::from(failed), now])?
        == 1)
}

/// An open helper job as the board shows it: (job id, role, status of its run: `queued`
/// until one starts).
pub type OpenHelper = (i64, String, String);

/// The open (queued or running) helper jobs of every task, by task id, oldest first.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn open_by_task(conn: &Connection) -> Result<std::collections::HashMap<i64, Vec<OpenHelper>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.task_id, j.id, j.role,
                coalesce((SELECT r.status FROM runs r WHERE r.job_id = j.id
                          ORDER BY r.id DESC LIMIT 1), 'queued')
         FROM jobs j WHERE j.helper = 1 AND j.status IN ('queued', 'running') ORDER BY j.id",
    )?;
    let mut out: std::collections::HashMap<i64, Vec<OpenHelper>> = std::collections::HashMap::new();
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
    })?;
    for row in rows {
        let (task, helper) = row?;
        out.entry(task).or_default().push(helper);
    }
    Ok(out)
}
