//! `runs`: one attempt at a job — an agent launched in a tmux pane.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::{Result, found};

pub use crate::status::RunStatus;
crate::store::sql_text!(RunStatus);

/// A run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Row id.
    pub id: i64,
    /// Job row id; `None` once the job was pruned.
    pub job_id: Option<i64>,
    /// Task row id.
    pub task_id: i64,
    /// Stage it plays.
    pub stage: String,
    /// Role it plays.
    pub role: String,
    /// Provider that runs it.
    pub provider: String,
    /// 1-based attempt number within its job.
    pub attempt: i64,
    /// Latest status.
    pub status: RunStatus,
    /// tmux pane id (`%12`), once launched.
    pub pane_id: Option<String>,
    /// Raw output log path.
    pub log_path: Option<String>,
    /// Exit status of the agent process, when it exited.
    pub exit_code: Option<i64>,
    /// Failure description, when it failed.
    pub error: Option<String>,
    /// The agent's last message, when known (verdict gates may read it).
    pub final_message: Option<String>,
    /// Feedback delivered with its prompt.
    pub feedback: Option<String>,
    /// Started, ms since the epoch.
    pub started_at: i64,
    /// Last status change, ms since the epoch.
    pub status_at: i64,
    /// Ended, ms since the epoch.
    pub ended_at: Option<i64>,
    /// When the prompt was pasted into the pane, ms since the epoch.
    pub prompt_sent_at: Option<i64>,
    /// When the submit keys went after the paste, ms since the epoch.
    pub submitted_at: Option<i64>,
    /// When the agent's turn was complete (before commit, gates and decision), ms since the
    /// epoch: from then on the run is completed, never run again.
    pub turn_done_at: Option<i64>,
    /// The tmux server (`tmux -L NAME`) the run's pane is on.
    pub socket: Option<String>,
    /// The pane's height in rows, as last seen.
    pub rows: Option<i64>,
    /// The pane's width in columns, as last seen.
    pub cols: Option<i64>,
    /// tmux window name.
    pub window: Option<String>,
}

const COLS: &str = "id, job_id, task_id, stage, role, provider, attempt, status, pane_id, \
    log_path, exit_code, error, final_message, feedback, started_at, status_at, ended_at, \
    prompt_sent_at, window, submitted_at, turn_done_at, socket, rows, cols";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Run> {
    Ok(Run {
        id: r.get(0)?,
        job_id: r.get(1)?,
        task_id: r.get(2)?,
        stage: r.get(3)?,
        role: r.get(4)?,
        provider: r.get(5)?,
        attempt: r.get(6)?,
        status: r.get(7)?,
        pane_id: r.get(8)?,
        log_path: r.get(9)?,
        exit_code: r.get(10)?,
        error: r.get(11)?,
        final_message: r.get(12)?,
        feedback: r.get(13)?,
        started_at: r.get(14)?,
        status_at: r.get(15)?,
        ended_at: r.get(16)?,
        prompt_sent_at: r.get(17)?,
        window: r.get(18)?,
        submitted_at: r.get(19)?,
        turn_done_at: r.get(20)?,
        socket: r.get(21)?,
        rows: r.get(22)?,
        cols: r.get(23)?,
    })
}

/// Inserts a `starting` run for a claimed job, copying its task, stage, role, provider and
/// feedback; the attempt number is one more than the job's runs so far.
///
/// # Errors
/// [`super::StoreError::NotFound`] if the job does not exist.
pub fn start(conn: &Connection, job_id: i64, now: i64) -> Result<Run> {
    found(
        conn.prepare_cached(&format!(
            "INSERT INTO runs (job_id, task_id, stage, role, provider, attempt, status,
                   feedback, started_at, status_at)
                 SELECT id, task_id, stage, role, provider,
                        (SELECT count(*) FROM runs WHERE job_id = ?1) + 1, 'starting',
                        feedback, ?2, ?2
                 FROM jobs WHERE id = ?1
                 RETURNING {COLS}"
        ))?
        .query_row(params![job_id, now], from_row),
        "job",
        job_id,
    )
}

/// The run with row id `id`.
///
/// # Errors
/// [`super::StoreError::NotFound`] if there is none.
pub fn get(conn: &Connection, id: i64) -> Result<Run> {
    found(
        conn.prepare_cached(&format!("SELECT {COLS} FROM runs WHERE id = ?1"))?
            .query_row([id], from_row),
        "run",
        id,
    )
}

/// The task's runs, oldest first.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn for_task(conn: &Connection, task_id: i64) -> Result<Vec<Run>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM runs WHERE task_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([task_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The job's latest run that has not ended, if any.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn open_for_job(conn: &Connection, job_id: i64) -> Result<Option<Run>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLS} FROM runs WHERE job_id = ?1 AND ended_at IS NULL
                 ORDER BY id DESC LIMIT 1"
            ),
            [job_id],
            from_row,
        )
        .optional()?)
}

/// Sets a run's status (and its time).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_status(conn: &Connection, id: i64, status: RunStatus, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE runs SET status = ?2, status_at = ?3 WHERE id = ?1")?
        .execute(params![id, status, now])?;
    Ok(())
}

/// Ends a run with its final status, exit code, error and final message.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn end(
    conn: &Connection,
    id: i64,
    status: RunStatus,
    exit_code: Option<i64>,
    error: Option<&str>,
    final_message: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE runs SET status = ?2, exit_code = ?3, error = ?4,
                final_message = coalesce(?5, final_message), status_at = ?6, ended_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![id, status, exit_code, error, final_message, now])?;
    Ok(())
}

/// Records where a run lives: its tmux pane and window and its output log.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_pane(conn: &Connection, id: i64, pane: &PaneRecord<'_>) -> Result<()> {
    conn.prepare_cached(
        "UPDATE runs SET pane_id = ?2, window = ?3, log_path = ?4, socket = ?5, rows = ?6,
                cols = ?7 WHERE id = ?1",
    )?
    .execute(params![
        id,
        pane.pane_id,
        pane.window,
        pane.log_path,
        pane.socket,
        pane.rows,
        pane.cols
    ])?;
    Ok(())
}

/// Where a run's agent lives: what [`set_pane`] records.
#[derive(Debug, Clone, Copy)]
pub struct PaneRecord<'a> {
    /// tmux pane id, e.g. `%3`.
    pub pane_id: &'a str,
    /// tmux window name.
    pub window: &'a str,
    /// The run's output log.
    pub log_path: &'a str,
    /// The tmux server (`-L NAME`).
    pub socket: &'a str,
    /// Height, rows.
    pub rows: u16,
    /// Width, columns.
    pub cols: u16,
}

/// Records the pane's new size (it was resized).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_size(conn: &Connection, id: i64, rows: u16, cols: u16) -> Result<()> {
    conn.prepare_cached("UPDATE runs SET rows = ?2, cols = ?3 WHERE id = ?1")?
        .execute(params![id, rows, cols])?;
    Ok(())
}

/// Sets the hash of the secret the run's hook calls must present ([`crate::secret::token_hash`]
/// of the token in the agent's `BOSUN_HOOK_TOKEN`); the token itself is never stored. Kept
/// out of [`Run`] so that no listing or JSON output shows it.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_hook_token_hash(conn: &Connection, id: i64, hash: &str) -> Result<()> {
    conn.prepare_cached("UPDATE runs SET hook_token_sha256 = ?2 WHERE id = ?1")?
        .execute(params![id, hash])?;
    Ok(())
}

/// The hash of the run's hook token and whether the run has ended; `None` if there is no
/// such run.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn hook_token_hash(conn: &Connection, id: i64) -> Result<Option<(Option<String>, bool)>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached("SELECT hook_token_sha256, ended_at IS NOT NULL FROM runs WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Schema v14's migration hook: the clear tokens of earlier runs become their hashes and the
/// clear column goes, with `secure_delete` on so the pages that held them are zeroed.
///
/// # Errors
/// The SQLite error.
pub(super) fn hash_clear_tokens(tx: &rusqlite::Transaction) -> rusqlite_migration::HookResult {
    tx.pragma_update(None, "secure_delete", "ON")?;
    let clear: Vec<(i64, String)> = tx
        .prepare("SELECT id, hook_token FROM runs WHERE hook_token IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, token) in clear {
        tx.execute(
            "UPDATE runs SET hook_token_sha256 = ?2, hook_token = NULL WHERE id = ?1",
            params![id, crate::secret::token_hash(&token)],
        )?;
    }
    tx.execute_batch("ALTER TABLE runs DROP COLUMN hook_token")?;
    Ok(())
}

/// Records the path of the CLI's own session record for the run (`transcript_path` of its
/// hooks), when it changed. The path comes from the agent: read it as untrusted.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_transcript(conn: &Connection, id: i64, path: &str) -> Result<()> {
    conn.prepare_cached("UPDATE runs SET transcript = ?2 WHERE id = ?1 AND transcript IS NOT ?2")?
        .execute(params![id, path])?;
    Ok(())
}

/// The path of the run's session record, as its hooks named it; `None` when none did (or
/// there is no such run).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn transcript(conn: &Connection, id: i64) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached("SELECT transcript FROM runs WHERE id = ?1")?
        .query_row([id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// Records that the prompt was delivered at `now`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_prompt_sent(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE runs SET prompt_sent_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Records that the submit keys went after the pasted prompt.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_submitted(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE runs SET submitted_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Records that the run's turn is complete, with the agent's final message if known (the
/// first step of its completion; see schema v7).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_turn_done(
    conn: &Connection,
    id: i64,
    final_message: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE runs SET turn_done_at = ?2, final_message = coalesce(?3, final_message)
         WHERE id = ?1 AND turn_done_at IS NULL",
    )?
    .execute(params![id, now, final_message])?;
    Ok(())
}

/// Runs that have not ended, oldest first.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn open(conn: &Connection) -> Result<Vec<Run>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM runs WHERE ended_at IS NULL ORDER BY id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A task's latest run: (run id, status, pane id).
pub type LatestRun = (i64, RunStatus, Option<String>);

/// The latest stage run (not a helper's) of every task that has one: task id →
/// [`LatestRun`].
/// One query, one index probe per task (`runs(task_id, id)` gives each `max(id)`): it grows
/// with tasks, not runs (10k tasks with 100k runs: 22 ms, against 39 ms for a GROUP BY over
/// every run).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn latest_by_task(conn: &Connection) -> Result<std::collections::HashMap<i64, LatestRun>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, r.id, r.status, r.pane_id FROM tasks t
         JOIN runs r ON r.id = (SELECT max(x.id) FROM runs x WHERE x.task_id = t.id
           AND NOT EXISTS (SELECT 1 FROM helpers h WHERE h.job_id = x.job_id))",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Live runs whose agent has waited for an answer since at least `before` (ms since the
/// epoch): (run id, task id, waiting since).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn waiting_since(conn: &Connection, before: i64) -> Result<Vec<(i64, i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, task_id, status_at FROM runs
         WHERE status = 'waiting' AND ended_at IS NULL AND status_at <= ?1",
    )?;
    let rows = stmt.query_map([before], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
