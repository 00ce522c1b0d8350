//! `landings`: a task's branch on its way into the project (schema v16). A landing is opened
//! in the transaction that moves its task to `landing`; each step after is recorded before the
//! next (the base branch moved → `landed` with its commit; a pull request opened → its number;
//! the worktree and branch cleaned up → `cleaned_at`). At most one landing of a task is open
//! (`landing` or `in_review`): the schema's unique index decides between two operators.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{Result, StoreError, found};

pub use crate::status::LandingState;
crate::store::sql_text!(LandingState);

/// A landing row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Landing {
    /// Row id.
    pub id: i64,
    /// The task landed.
    pub task_id: i64,
    /// `merge` or `pr`.
    pub mode: String,
    /// `squash`, `merge` or `rebase`.
    pub strategy: String,
    /// The base branch.
    pub base: String,
    /// The task's branch.
    pub branch: String,
    /// Where it stands.
    pub state: LandingState,
    /// The commit the base moved to (merge), or the pull request's merge commit.
    pub commit_sha: Option<String>,
    /// The pull request's number on the forge.
    pub pr_number: Option<i64>,
    /// The pull request's web address.
    pub pr_url: Option<String>,
    /// Why it failed, or what the last attempt ran into.
    pub error: Option<String>,
    /// Attempts so far (a base that moved under a merge is tried again).
    pub attempts: i64,
    /// Who opened it: `engine` (the pipeline), `cli`, `console`.
    pub decided_by: String,
    /// When the worktree and branch were cleaned up, ms since the epoch.
    pub cleaned_at: Option<i64>,
    /// Opened, ms since the epoch.
    pub created_at: i64,
    /// Last changed, ms since the epoch.
    pub updated_at: i64,
}

impl Landing {
    /// One line for a person: `in_review: pull request #17 URL (squash pr into main)`,
    /// "landed (squash merge into main) at 1a2b3c4d5e", with what it ran into. Forge and git
    /// text is sanitised.
    pub fn describe(&self) -> String {
        let base = if self.base.is_empty() {
            "the default branch"
        } else {
            &self.base
        };
        let pr = self.pr_number.map(|n| {
            format!(
                ": pull request #{n}{}",
                self.pr_url
                    .as_deref()
                    .map(|u| format!(" {}", crate::text::plain(u)))
                    .unwrap_or_default()
            )
        });
        let commit = self
            .commit_sha
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| format!(" at {}", &c[..c.len().min(10)]));
        let error = self
            .error
            .as_deref()
            .map(|e| format!(": {}", crate::text::plain(e)))
            .unwrap_or_default();
        format!(
            "{}{} ({} {} into {base}){}{error}",
            self.state,
            pr.unwrap_or_default(),
            self.strategy,
            self.mode,
            commit.unwrap_or_default()
        )
    }
}

/// What [`open`] needs.
#[derive(Debug, Clone)]
pub struct NewLanding<'a> {
    /// See [`Landing::task_id`].
    pub task_id: i64,
    /// See [`Landing::mode`].
    pub mode: &'a str,
    /// See [`Landing::strategy`].
    pub strategy: &'a str,
    /// See [`Landing::base`].
    pub base: &'a str,
    /// See [`Landing::branch`].
    pub branch: &'a str,
    /// See [`Landing::decided_by`].
    pub decided_by: &'a str,
}

const COLS: &str = "id, task_id, mode, strategy, base, branch, state, commit_sha, pr_number, \
                    pr_url, error, attempts, decided_by, cleaned_at, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Landing> {
    Ok(Landing {
        id: r.get(0)?,
        task_id: r.get(1)?,
        mode: r.get(2)?,
        strategy: r.get(3)?,
        base: r.get(4)?,
        branch: r.get(5)?,
        state: r.get(6)?,
        commit_sha: r.get(7)?,
        pr_number: r.get(8)?,
        pr_url: r.get(9)?,
        error: r.get(10)?,
        attempts: r.get(11)?,
        decided_by: r.get(12)?,
        cleaned_at: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

/// Opens a landing (state `landing`).
///
/// # Errors
/// [`StoreError::Conflict`] when the task already has an open landing (another decision won).
pub fn open(conn: &Connection, l: &NewLanding<'_>, now: i64) -> Result<Landing> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO landings (task_id, mode, strategy, base, branch, state, decided_by,
                                   created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'landing', ?6, ?7, ?7)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            l.task_id,
            l.mode,
            l.strategy,
            l.base,
            l.branch,
            l.decided_by,
            now
        ])?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "task {} is already landing",
            l.task_id
        )));
    }
    get(conn, conn.last_insert_rowid())
}

/// The landing with row id `id`.
///
/// # Errors
/// [`StoreError::NotFound`] if there is none.
pub fn get(conn: &Connection, id: i64) -> Result<Landing> {
    found(
        conn.prepare_cached(&format!("SELECT {COLS} FROM landings WHERE id = ?1"))?
            .query_row([id], from_row),
        "landing",
        id,
    )
}

/// The task's latest landing, open or not.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn latest_for(conn: &Connection, task_id: i64) -> Result<Option<Landing>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLS} FROM landings WHERE task_id = ?1 ORDER BY id DESC LIMIT 1"
        ))?
        .query_row([task_id], from_row)
        .optional()?)
}

/// Landings in `state`, oldest first.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn in_state(conn: &Connection, state: LandingState) -> Result<Vec<Landing>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM landings WHERE state = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([state], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Landed landings not cleaned up yet, oldest first.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn uncleaned(conn: &Connection) -> Result<Vec<Landing>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM landings WHERE state = 'landed' AND cleaned_at IS NULL ORDER BY id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Moves open landing `id` to `state` (compare-and-set: only from an open state), with its
/// commit and error; true when it moved.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure (a landed merge without a commit is refused
/// by the schema).
pub fn finish(
    conn: &Connection,
    id: i64,
    state: LandingState,
    commit: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE landings SET state = ?2, commit_sha = COALESCE(?3, commit_sha), error = ?4,
                                 updated_at = ?5
             WHERE id = ?1 AND state IN ('landing', 'in_review')",
        )?
        .execute(params![id, state, commit, error, now])?;
    Ok(n == 1)
}

/// Landing `id` waits for its pull request `number` (at `url`) on the forge: `landing` →
/// `in_review` (compare-and-set); true when it moved.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn in_review(conn: &Connection, id: i64, number: i64, url: &str, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE landings SET state = 'in_review', pr_number = ?2, pr_url = ?3, error = NULL,
                                 attempts = 0, updated_at = ?4
             WHERE id = ?1 AND state = 'landing'",
        )?
        .execute(params![id, number, url, now])?;
    Ok(n == 1)
}

/// Records a read of landing `id`'s pull request that found it still open: its `etag` (for
/// the next conditional read, kept when `None`) and what the operator should know of it
/// (`note`, such as the reviewers who asked for changes; `None` clears it); the attempts
/// start again from 0.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn polled(
    conn: &Connection,
    id: i64,
    etag: Option<&str>,
    note: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE landings SET etag = COALESCE(?2, etag), error = ?3, attempts = 0, updated_at = ?4
         WHERE id = ?1 AND state = 'in_review'",
    )?
    .execute(params![id, etag, note, now])?;
    Ok(())
}

/// Makes the landings of project `project` (name or key prefix) that follow pull request
/// `number` due now (a webhook said it changed); how many.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn nudge(conn: &Connection, project: &str, number: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE landings SET updated_at = 0
             WHERE state = 'in_review' AND pr_number = ?2 AND attempts = 0
               AND task_id IN (SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id
                               WHERE p.name = ?1 OR p.key_prefix = ?1)",
        )?
        .execute(params![project, number])?)
}

/// The ETag of landing `id`'s pull request as last read.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn etag(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT etag FROM landings WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Records an attempt of landing `id` that will be tried again, and what it ran into.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn attempted(conn: &Connection, id: i64, error: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE landings SET attempts = attempts + 1, error = ?2, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id, error, now])?;
    Ok(())
}

/// Records that landing `id`'s worktree and branch were cleaned up (or that nothing was
/// left), with what could not be (`note`).
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn cleaned(conn: &Connection, id: i64, note: Option<&str>, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE landings SET cleaned_at = ?2, error = COALESCE(?3, error), updated_at = ?2
         WHERE id = ?1",
    )?
    .execute(params![id, now, note])?;
    Ok(())
}
