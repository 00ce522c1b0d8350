//! `jobs`: the persistent queue. Each job asks for one stage of one task to be run by its
//! role's provider; attempts of it are `runs`.

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter, types::Value};
use serde::Serialize;

use super::{Result, found};

pub use crate::status::JobStatus;
crate::store::sql_text!(JobStatus);

/// A job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// Task row id.
    pub task_id: i64,
    /// Stage to run.
    pub stage: String,
    /// Role that plays the stage (always the stage's own role).
    pub role: String,
    /// Provider of that role when the job was enqueued.
    pub provider: String,
    /// Lower is claimed first.
    pub priority: i64,
    /// Lifecycle status.
    pub status: JobStatus,
    /// Permanent failures so far.
    pub attempts: i64,
    /// Permanent failures allowed.
    pub max_attempts: i64,
    /// Transient failures so far.
    pub transient_attempts: i64,
    /// Transient failures allowed.
    pub max_transient_attempts: i64,
    /// Infrastructure failures so far (tmux lost; not the agent's fault).
    pub infra_attempts: i64,
    /// Infrastructure failures allowed.
    pub max_infra_attempts: i64,
    /// Not claimable before this time, ms since the epoch.
    pub available_at: i64,
    /// Feedback for the run's prompt (rejection note, failed gate, review, …).
    pub feedback: Option<String>,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// Supervisor that claimed it (`pid@host`).
    pub owner: Option<String>,
    /// Created, ms since the epoch.
    pub created_at: i64,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
    /// Last claim, ms since the epoch.
    pub claimed_at: Option<i64>,
    /// Reached done/failed/cancelled, ms since the epoch.
    pub finished_at: Option<i64>,
}

const COLS: &str = "id, task_id, stage, role, provider, priority, status, attempts, max_attempts, \
    transient_attempts, max_transient_attempts, available_at, feedback, last_error, owner, \
    created_at, updated_at, claimed_at, finished_at, infra_attempts, max_infra_attempts";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        task_id: r.get(1)?,
        stage: r.get(2)?,
        role: r.get(3)?,
        provider: r.get(4)?,
        priority: r.get(5)?,
        status: r.get(6)?,
        attempts: r.get(7)?,
        max_attempts: r.get(8)?,
        transient_attempts: r.get(9)?,
        max_transient_attempts: r.get(10)?,
        available_at: r.get(11)?,
        feedback: r.get(12)?,
        last_error: r.get(13)?,
        owner: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
        claimed_at: r.get(17)?,
        finished_at: r.get(18)?,
        infra_attempts: r.get(19)?,
        max_infra_attempts: r.get(20)?,
    })
}

/// What `insert` needs.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// Task row id.
    pub task_id: i64,
    /// Stage to run.
    pub stage: &'a str,
    /// The stage's role.
    pub role: &'a str,
    /// The role's provider.
    pub provider: &'a str,
    /// Lower is claimed first.
    pub priority: i64,
    /// Permanent failures allowed.
    pub max_attempts: u32,
    /// Transient failures allowed.
    pub max_transient_attempts: u32,
    /// Infrastructure failures allowed.
    pub max_infra_attempts: u32,
    /// Feedback for the run's prompt.
    pub feedback: Option<&'a str>,
    /// Not claimable before, ms since the epoch.
    pub available_at: i64,
}

/// Inserts a queued job.
///
/// # Errors
/// [`super::StoreError::Sqlite`] if the task does not exist.
pub fn insert(conn: &Connection, j: &NewJob<'_>, now: i64) -> Result<Job> {
    insert_as(conn, j, false, now)
}

/// [`insert`] for a helper job (schema v13): it may be open next to the task's stage job.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn insert_helper(conn: &Connection, j: &NewJob<'_>, now: i64) -> Result<Job> {
    insert_as(conn, j, true, now)
}

fn insert_as(conn: &Connection, j: &NewJob<'_>, helper: bool, now: i64) -> Result<Job> {
    Ok(conn
        .prepare_cached(&format!(
            "INSERT INTO jobs (task_id, stage, role, provider, priority, status, max_attempts,
               max_transient_attempts, available_at, feedback, created_at, updated_at,
               max_infra_attempts, helper)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12)
             RETURNING {COLS}"
        ))?
        .query_row(
            params![
                j.task_id,
                j.stage,
                j.role,
                j.provider,
                j.priority,
                j.max_attempts,
                j.max_transient_attempts,
                j.available_at,
                j.feedback,
                now,
                j.max_infra_attempts,
                i64::from(helper)
            ],
            from_row,
        )?)
}

/// The job with row id `id`.
///
/// # Errors
/// [`super::StoreError::NotFound`] if there is none.
pub fn get(conn: &Connection, id: i64) -> Result<Job> {
    found(
        conn.prepare_cached(&format!("SELECT {COLS} FROM jobs WHERE id = ?1"))?
            .query_row([id], from_row),
        "job",
        id,
    )
}

/// Claims the first queued job (by priority, then id) that is available at `now` and whose
/// provider is not in `excluded`, unless `max_running` jobs already run. One statement, so
/// inside a `BEGIN IMMEDIATE` transaction no two claimers can take the same job.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn claim(
    conn: &Connection,
    now: i64,
    max_running: u32,
    excluded: &[String],
    owner: &str,
) -> Result<Option<Job>> {
    Ok(claim_up_to(conn, now, max_running, excluded, &[], owner, 1)?.pop())
}

/// Moves the queued jobs of `role` on provider `from` to provider `to`; returns them as
/// they are now.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn move_queued(
    conn: &Connection,
    role: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Result<Vec<Job>> {
    let mut jobs = conn
        .prepare_cached(&format!(
            "UPDATE jobs SET provider = ?3, updated_at = ?4
             WHERE status = 'queued' AND role = ?1 AND provider = ?2
             RETURNING {COLS}"
        ))?
        .query_map(params![role, from, to, now], from_row)?
        .collect::<rusqlite::Result<Vec<Job>>>()?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// [`claim`] for up to `limit` jobs in one statement (never more than `max_running` running
/// afterwards), in claim order (priority, then id); jobs of providers in `excluded` and of
/// tasks in `held` (past a budget) stay queued.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn claim_up_to(
    conn: &Connection,
    now: i64,
    max_running: u32,
    excluded: &[String],
    held: &[i64],
    owner: &str,
    limit: usize,
) -> Result<Vec<Job>> {
    let mut args: Vec<Value> = vec![
        now.into(),
        owner.to_string().into(),
        i64::from(max_running).into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
    ];
    let mut exclude = String::new();
    if !excluded.is_empty() {
        let marks: Vec<String> = (0..excluded.len()).map(|i| format!("?{}", i + 5)).collect();
        exclude = format!("AND provider NOT IN ({})", marks.join(","));
        args.extend(excluded.iter().map(|p| Value::from(p.clone())));
    }
    if !held.is_empty() {
        let first = args.len() + 1;
        let marks: Vec<String> = (0..held.len()).map(|i| format!("?{}", first + i)).collect();
        exclude.push_str(&format!(" AND task_id NOT IN ({})", marks.join(",")));
        args.extend(held.iter().map(|t| Value::from(*t)));
    }
    let sql = format!(
        "UPDATE jobs SET status = 'running', owner = ?2, claimed_at = ?1, updated_at = ?1
         WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND available_at <= ?1 {exclude}
                      ORDER BY priority, id
                      LIMIT max(0, min(?4, ?3 - (SELECT count(*) FROM jobs
                                                 WHERE status = 'running'))))
         RETURNING {COLS}"
    );
    let mut jobs = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args), from_row)?
        .collect::<rusqlite::Result<Vec<Job>>>()?;
    // RETURNING gives rows in no promised order.
    jobs.sort_by_key(|j| (j.priority, j.id));
    Ok(jobs)
}

/// The ids of every running job: one query (the status index) for the supervisor's
/// liveness check, however many runs it watches.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn running_ids(conn: &Connection) -> Result<std::collections::HashSet<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM jobs WHERE status = 'running'")?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Jobs with `status`, oldest first.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn with_status(conn: &Connection, status: JobStatus, limit: usize) -> Result<Vec<Job>> {
    let order = match status {
        JobStatus::Queued => "priority, id",
        JobStatus::Failed | JobStatus::Done | JobStatus::Cancelled => "finished_at DESC, id DESC",
        JobStatus::Running => "claimed_at, id",
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM jobs WHERE status = ?1 ORDER BY {order} LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![status, limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Number of jobs in each status (every status present, zero included).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn counts(conn: &Connection) -> Result<Vec<(JobStatus, i64)>> {
    let mut out: Vec<(JobStatus, i64)> = JobStatus::ALL.iter().map(|s| (*s, 0)).collect();
    let mut stmt = conn.prepare_cached("SELECT status, count(*) FROM jobs GROUP BY status")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, JobStatus>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (status, n) = row?;
        if let Some(slot) = out.iter_mut().find(|(s, _)| *s == status) {
            slot.1 = n;
        }
    }
    Ok(out)
}

/// Number of running jobs.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn running_count(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM jobs WHERE status = 'running'")?
        .query_row([], |r| r.get(0))?)
}

/// The task's queued or running stage job, if any (helper jobs are not the task's job).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn open_for_task(conn: &Connection, task_id: i64) -> Result<Option<Job>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLS} FROM jobs WHERE task_id = ?1 AND status IN ('queued','running')
                 AND helper = 0 ORDER BY id DESC LIMIT 1"
            ),
            [task_id],
            from_row,
        )
        .optional()?)
}

/// The task's jobs, newest first.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn for_task(conn: &Connection, task_id: i64) -> Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM jobs WHERE task_id = ?1 ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map([task_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sets a job's terminal status (done, failed or cancelled) with an optional error.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn finish(
    conn: &Connection,
    id: i64,
    status: JobStatus,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET status = ?2, last_error = coalesce(?3, last_error), finished_at = ?4,
                updated_at = ?4, owner = NULL WHERE id = ?1",
    )?
    .execute(params![id, status, error, now])?;
    Ok(())
}

/// [`finish`] for a job that is running, in one statement: the job as it is afterwards, or
/// `None` (nothing changed) when it is not running or does not exist.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn finish_running(
    conn: &Connection,
    id: i64,
    status: JobStatus,
    error: Option<&str>,
    now: i64,
) -> Result<Option<Job>> {
    Ok(conn
        .prepare_cached(&format!(
            "UPDATE jobs SET status = ?2, last_error = coalesce(?3, last_error), finished_at = ?4,
                    updated_at = ?4, owner = NULL WHERE id = ?1 AND status = 'running'
             RETURNING {COLS}"
        ))?
        .query_row(params![id, status, error, now], from_row)
        .optional()?)
}

/// Puts a job back in the queue, available at `available_at`, with its new attempt counts.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn requeue(
    conn: &Connection,
    id: i64,
    counts: Attempts,
    available_at: i64,
    error: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET status = 'queued', attempts = ?2, transient_attempts = ?3,
                infra_attempts = ?4, available_at = ?5, last_error = ?6, owner = NULL,
                updated_at = ?7, finished_at = NULL WHERE id = ?1",
    )?
    .execute(params![
        id,
        counts.permanent,
        counts.transient,
        counts.infra,
        available_at,
        error,
        now
    ])?;
    Ok(())
}

/// A job's failure counts, by budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// Permanent failures (the agent's).
    pub permanent: i64,
    /// Transient failures (rate limits, outages).
    pub transient: i64,
    /// Infrastructure failures (tmux lost).
    pub infra: i64,
}

/// Records a failure's attempt counts without changing the status.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn set_attempts(conn: &Connection, id: i64, counts: Attempts) -> Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET attempts = ?2, transient_attempts = ?3, infra_attempts = ?4
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        counts.permanent,
        counts.transient,
        counts.infra
    ])?;
    Ok(())
}

/// Resets a job's attempts and queues it again now, with `feedback` if given.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn reset(conn: &Connection, id: i64, feedback: Option<&str>, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET status = 'queued', attempts = 0, transient_attempts = 0, infra_attempts = 0,
                available_at = ?2, owner = NULL, finished_at = NULL, updated_at = ?2,
                feedback = coalesce(?3, feedback) WHERE id = ?1",
    )?
    .execute(params![id, now, feedback])?;
    Ok(())
}

/// Deletes finished (done, failed, cancelled) jobs that finished before `before`; returns
/// how many. Their runs stay, with `job_id` cleared.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn prune(conn: &Connection, before: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM jobs WHERE status IN ('done','failed','cancelled') AND finished_at < ?1",
        )?
        .execute([before])?)
}

/// True when some queued job is available at `now` (ms since the epoch): a read, so an idle
/// supervisor can skip its claim transaction when nothing is claimable.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn any_available(conn: &Connection, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND available_at <= ?1)",
        )?
        .query_row([now], |r| r.get(0))?)
}
