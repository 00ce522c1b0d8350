//! `tasks`: units of work moving through the pipeline.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::{Result, found};

pub use crate::status::TaskState;
crate::store::sql_text!(TaskState);

impl Task {
    /// True when the task waits for the operator: its state says so, or it is active and
    /// its agent (the latest run, whose status is `agent`) waits for an answer. The one rule
    /// for the console's ⚑ and `bosun task list`'s `!`.
    pub fn needs_operator(&self, agent: Option<super::runs::RunStatus>) -> bool {
        self.state.needs_operator()
            || (self.state == TaskState::Active && agent == Some(super::runs::RunStatus::Waiting))
    }
}

/// A task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    /// Row id.
    pub id: i64,
    /// Key, e.g. `ET-001`.
    pub key: String,
    /// Owning project's row id.
    pub project_id: i64,
    /// One-line title.
    pub title: String,
    /// Free-text specification.
    pub spec: String,
    /// Git branch of its worktree, once created.
    pub branch: Option<String>,
    /// Absolute path of its worktree, once created.
    pub worktree: Option<String>,
    /// Current stage name, or `done`.
    pub stage: String,
    /// Operator-facing state.
    pub state: TaskState,
    /// Why it is in that state (questions, block reason, …).
    pub state_reason: Option<String>,
    /// While awaiting approval: index of the approval gate in the stage.
    pub pending_gate: Option<i64>,
    /// While awaiting approval: the run being judged.
    pub pending_run: Option<i64>,
    /// Lower runs first.
    pub priority: i64,
    /// Created, ms since the epoch.
    pub created_at: i64,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
    /// Bumped by the database on every change to the row (schema v4 trigger): a decision
    /// evaluated against one version applies only if it is still the current one.
    pub version: i64,
}

const COLS: &str = "id, key, project_id, title, spec, branch, worktree, stage, state, \
                    state_reason, pending_gate, pending_run, priority, created_at, updated_at, \
                    version";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: r.get(0)?,
        key: r.get(1)?,
        project_id: r.get(2)?,
        title: r.get(3)?,
        spec: r.get(4)?,
        branch: r.get(5)?,
        worktree: r.get(6)?,
        stage: r.get(7)?,
        state: r.get(8)?,
        state_reason: r.get(9)?,
        pending_gate: r.get(10)?,
        pending_run: r.get(11)?,
        priority: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        version: r.get(15)?,
    })
}

/// Inserts an active task at `stage`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] if the key is taken or the project does not exist.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &Connection,
    key: &str,
    project_id: i64,
    title: &str,
    spec: &str,
    stage: &str,
    priority: i64,
    now: i64,
) -> Result<Task> {
    conn.prepare_cached("INSERT INTO tasks (key, project_id, title, spec, stage, state, priority, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7, ?7)")?.execute(params![key, project_id, title, spec, stage, priority, now],
    )?;
    get(conn, conn.last_insert_rowid())
}

/// The task with row id `id`.
///
/// # Errors
/// [`super::StoreError::NotFound`] if there is none.
pub fn get(conn: &Connection, id: i64) -> Result<Task> {
    found(
        conn.prepare_cached(&format!("SELECT {COLS} FROM tasks WHERE id = ?1"))?
            .query_row([id], from_row),
        "task",
        id,
    )
}

/// The task with key `key` (case-insensitive).
///
/// # Errors
/// [`super::StoreError::NotFound`] if there is none.
pub fn by_key(conn: &Connection, key: &str) -> Result<Task> {
    found(
        conn.prepare_cached(&format!(
            "SELECT {COLS} FROM tasks WHERE key = ?1 COLLATE NOCASE"
        ))?
        .query_row([key], from_row),
        "task",
        key,
    )
}

/// Every task, those needing the operator first, then by priority and id.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn list(conn: &Connection) -> Result<Vec<Task>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM tasks ORDER BY
           state NOT IN ('needs_input','awaiting_approval','blocked'), priority, id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Moves a task to `stage` in `state` with `reason`, clearing any pending approval.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_stage(
    conn: &Connection,
    id: i64,
    stage: &str,
    state: TaskState,
    reason: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tasks SET stage = ?2, state = ?3, state_reason = ?4, pending_gate = NULL,
                pending_run = NULL, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![id, stage, state, reason, now])?;
    Ok(())
}

/// Marks a task awaiting approval of gate `gate` for run `run`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_pending_approval(
    conn: &Connection,
    id: i64,
    gate: usize,
    run: Option<i64>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tasks SET state = 'awaiting_approval', state_reason = NULL, pending_gate = ?2,
                pending_run = ?3, updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, gate as i64, run, now])?;
    Ok(())
}

/// Records the task's git branch and worktree path.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_worktree(
    conn: &Connection,
    id: i64,
    branch: &str,
    worktree: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tasks SET branch = ?2, worktree = ?3, updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, branch, worktree, now])?;
    Ok(())
}

/// Sets task `id`'s title and spec (an issue edited before its task's first run).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_title_spec(conn: &Connection, id: i64, title: &str, spec: &str, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE tasks SET title = ?2, spec = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, title, spec, now])?;
    Ok(())
}

/// The task's current version (see [`Task::version`]).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure, or no such task.
pub fn version(conn: &Connection, id: i64) -> Result<i64> {
    Ok(
        conn.query_row("SELECT version FROM tasks WHERE id = ?1", [id], |r| {
            r.get(0)
        })?,
    )
}

/// Every task's key and title, oldest first (for shell completion).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn keys(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT key, title FROM tasks ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
