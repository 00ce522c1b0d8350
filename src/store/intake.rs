//! Intake from the trackers (schema v18): webhook deliveries recorded once per delivery id,
//! the ledger of issues that became tasks (one task per source, repository and issue number:
//! the schema's unique key decides between a webhook and a poll, or two supervisors), and
//! each source's status.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::Result;

/// A recorded webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// The source's name.
    pub source: String,
    /// The tracker's delivery id.
    pub delivery: String,
    /// The tracker's event name.
    pub event: String,
    /// The raw body, as signed.
    pub body: Vec<u8>,
    /// When the server recorded it, ms since the epoch.
    pub received_at: i64,
}

/// Records a delivery; false when one with that source and id was recorded before (a replay
/// or a retry: nothing changes).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn record_delivery(
    conn: &Connection,
    source: &str,
    delivery: &str,
    event: &str,
    body: &[u8],
    now: i64,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO intake_deliveries (source, delivery, event, body, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?
        .execute(params![source, delivery, event, body, now])?;
    conn.prepare_cached(
        "INSERT INTO intake_sources (source, last_delivery_at) VALUES (?1, ?2)
         ON CONFLICT (source) DO UPDATE SET last_delivery_at = ?2",
    )?
    .execute(params![source, now])?;
    Ok(n == 1)
}

/// Deliveries not processed yet, oldest first, at most `limit`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn pending(conn: &Connection, limit: usize) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, source, delivery, event, body, received_at FROM intake_deliveries
         WHERE processed_at IS NULL ORDER BY id LIMIT ?1",
    )?;
    let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        Ok(Delivery {
            id: r.get(0)?,
            source: r.get(1)?,
            delivery: r.get(2)?,
            event: r.get(3)?,
            body: r.get(4)?,
            received_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks delivery `id` processed, with what it ran into.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn processed(conn: &Connection, id: i64, error: Option<&str>, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE intake_deliveries SET processed_at = ?2, error = ?3 WHERE id = ?1",
    )?
    .execute(params![id, now, error])?;
    Ok(())
}

/// Counts a delivery to `source` refused for its signature (a counter, not a row per
/// request: a flood of forged requests does not grow the database).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn bad_signature(conn: &Connection, source: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO intake_sources (source, bad_signatures) VALUES (?1, 1)
         ON CONFLICT (source) DO UPDATE SET bad_signatures = bad_signatures + 1",
    )?
    .execute([source])?;
    Ok(())
}

/// Counts a comment ignored: a command by someone not on the source's allow-list.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn ignored_comment(conn: &Connection, source: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO intake_sources (source, ignored_comments) VALUES (?1, 1)
         ON CONFLICT (source) DO UPDATE SET ignored_comments = ignored_comments + 1",
    )?
    .execute([source])?;
    Ok(())
}

/// An issue that became a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Row id.
    pub id: i64,
    /// The source's name.
    pub source: String,
    /// `owner/name`.
    pub repo: String,
    /// The issue's number.
    pub number: i64,
    /// The tracker's own id, where it is not the number.
    pub issue_id: Option<String>,
    /// The task.
    pub task_id: i64,
    /// The issue's web page (tracker text).
    pub url: String,
    /// bosun's status comment, once written.
    pub comment_id: Option<String>,
    /// The state the comment and labels show.
    pub reported: Option<String>,
    /// Failed reports since the last success.
    pub report_attempts: i64,
    /// No report before this, ms since the epoch.
    pub report_after: i64,
    /// What the last failed report ran into.
    pub report_error: Option<String>,
    /// The newest comment read for decisions.
    pub seen_comment: Option<String>,
    /// Entered, ms since the epoch (comments written before it are not commands to it).
    pub created_at: i64,
}

const ISSUE_COLS: &str = "id, source, repo, number, issue_id, task_id, url, comment_id, reported, \
                          report_attempts, report_after, report_error, seen_comment, \
                          created_at";

fn issue_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Issue> {
    Ok(Issue {
        id: r.get(0)?,
        source: r.get(1)?,
        repo: r.get(2)?,
        number: r.get(3)?,
        issue_id: r.get(4)?,
        task_id: r.get(5)?,
        url: r.get(6)?,
        comment_id: r.get(7)?,
        reported: r.get(8)?,
        report_attempts: r.get(9)?,
        report_after: r.get(10)?,
        report_error: r.get(11)?,
        seen_comment: r.get(12)?,
        created_at: r.get(13)?,
    })
}

/// The ledger entry of issue `number` of `repo` from `source`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn issue(conn: &Connection, source: &str, repo: &str, number: i64) -> Result<Option<Issue>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ISSUE_COLS} FROM intake_issues WHERE source = ?1 AND repo = ?2 AND number = ?3"
        ))?
        .query_row(params![source, repo, number], issue_row)
        .optional()?)
}

impl Issue {
    /// The issue as a tracker call names it.
    pub fn issue_ref(&self) -> crate::forge::tracker::IssueRef<'_> {
        crate::forge::tracker::IssueRef {
            number: self.number,
            id: self.issue_id.as_deref(),
        }
    }

    /// How people name the issue: `GH#12` (GitHub), `GT#12` (Gitea), `FJ#12` (Forgejo),
    /// `PL#12` (Plane), from the source's name (`kind:repo`).
    pub fn short(&self) -> String {
        let prefix = match self.source.split(':').next().unwrap_or("") {
            "github" => "GH",
            "gitea" => "GT",
            "forgejo" => "FJ",
            "plane" => "PL",
            _ => "#",
        };
        format!("{prefix}#{}", self.number)
    }
}

/// The ledger entry of task `task_id`, if it came from a tracker.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn for_task(conn: &Connection, task_id: i64) -> Result<Option<Issue>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ISSUE_COLS} FROM intake_issues WHERE task_id = ?1"
        ))?
        .query_row([task_id], issue_row)
        .optional()?)
}

/// The next poll of `source` may be made then (ms since the epoch): after its last poll by
/// `every_ms`, after its rate limit resets, and after a failed poll's backoff (5 s doubling,
/// at most 5 min).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn next_poll(conn: &Connection, source: &str, every_ms: i64) -> Result<i64> {
    let s = status(conn, source)?;
    let last = s.last_poll_at.unwrap_or(0).max(s.error_at.unwrap_or(0));
    let mut at = if s.last_poll_at.is_none() && s.error_at.is_none() {
        0
    } else {
        last + every_ms
    };
    if s.poll_attempts > 0 {
        let shift = u32::try_from(s.poll_attempts.clamp(1, 7) - 1).unwrap_or(0);
        at = s.error_at.unwrap_or(0) + (5_000_i64 << shift).min(300_000);
    }
    Ok(at.max(s.limited_until.unwrap_or(0)))
}

/// The ledger entry of `source`'s issue with the tracker's own id `issue_id` (Plane's UUID).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn issue_by_id(conn: &Connection, source: &str, issue_id: &str) -> Result<Option<Issue>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ISSUE_COLS} FROM intake_issues WHERE source = ?1 AND issue_id = ?2"
        ))?
        .query_row(params![source, issue_id], issue_row)
        .optional()?)
}

/// Every ledger entry of `source`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn issues_of(conn: &Connection, source: &str) -> Result<Vec<Issue>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ISSUE_COLS} FROM intake_issues WHERE source = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([source], issue_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What [`insert_issue`] needs.
#[derive(Debug, Clone)]
pub struct NewIssue<'a> {
    /// See [`Issue::source`].
    pub source: &'a str,
    /// See [`Issue::repo`].
    pub repo: &'a str,
    /// See [`Issue::number`].
    pub number: i64,
    /// See [`Issue::issue_id`].
    pub issue_id: Option<&'a str>,
    /// See [`Issue::url`].
    pub url: &'a str,
}

/// Enters issue `i` in the ledger as task `task_id` — in the transaction that created the
/// task: the unique key refuses a second task for the same issue, and the caller's
/// transaction (and so its task) is rolled back.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure, a constraint violation when the issue
/// is in the ledger already.
pub fn insert_issue(conn: &Connection, i: &NewIssue<'_>, task_id: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO intake_issues (source, repo, number, issue_id, task_id, url, created_at,
                                    updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![
        i.source, i.repo, i.number, i.issue_id, task_id, i.url, now
    ])?;
    conn.prepare_cached(
        "INSERT INTO intake_sources (source, tasks_created) VALUES (?1, 1)
         ON CONFLICT (source) DO UPDATE SET tasks_created = tasks_created + 1",
    )?
    .execute([i.source])?;
    Ok(())
}

/// Records a successful report of issue entry `id`: what it now shows, its comment.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn reported(
    conn: &Connection,
    id: i64,
    reported: &str,
    comment_id: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE intake_issues SET reported = ?2, comment_id = COALESCE(?3, comment_id),
                                  report_attempts = 0, report_after = 0, report_error = NULL,
                                  updated_at = ?4
         WHERE id = ?1",
    )?
    .execute(params![id, reported, comment_id, now])?;
    Ok(())
}

/// Records a failed report of issue entry `id`, to be tried again after `after`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn report_failed(conn: &Connection, id: i64, error: &str, after: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE intake_issues SET report_attempts = report_attempts + 1, report_after = ?3,
                                  report_error = ?2, updated_at = ?4
         WHERE id = ?1",
    )?
    .execute(params![id, error, after, now])?;
    Ok(())
}

/// Records comment `comment` of issue entry `id` as read for decisions: the newest so far
/// (ids compare as numbers, as GitHub's and Gitea's are) is kept.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn seen_comment(conn: &Connection, id: i64, comment: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE intake_issues SET seen_comment = CASE
             WHEN seen_comment IS NULL OR CAST(?2 AS INTEGER) > CAST(seen_comment AS INTEGER)
             THEN ?2 ELSE seen_comment END, updated_at = ?3
         WHERE id = ?1",
    )?
    .execute(params![id, comment, now])?;
    Ok(())
}

/// A source's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    /// The source's name.
    pub source: String,
    /// The last poll that reached the tracker, ms since the epoch.
    pub last_poll_at: Option<i64>,
    /// The last delivery recorded, ms since the epoch.
    pub last_delivery_at: Option<i64>,
    /// The list request's validator.
    pub etag: Option<String>,
    /// The rate limit is spent until then, ms since the epoch.
    pub limited_until: Option<i64>,
    /// What the last poll ran into (tracker text, sanitised on display).
    pub error: Option<String>,
    /// When.
    pub error_at: Option<i64>,
    /// Failed polls since the last success.
    pub poll_attempts: i64,
    /// Deliveries refused for their signature.
    pub bad_signatures: i64,
    /// Commands ignored (not on the allow-list).
    pub ignored_comments: i64,
    /// Tasks created.
    pub tasks_created: i64,
}

/// `source`'s status (all zero when it never did anything).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn status(conn: &Connection, source: &str) -> Result<SourceStatus> {
    Ok(conn
        .prepare_cached(
            "SELECT last_poll_at, last_delivery_at, etag, limited_until, error, error_at,
                    poll_attempts, bad_signatures, ignored_comments, tasks_created
             FROM intake_sources WHERE source = ?1",
        )?
        .query_row([source], |r| {
            Ok(SourceStatus {
                source: source.to_string(),
                last_poll_at: r.get(0)?,
                last_delivery_at: r.get(1)?,
                etag: r.get(2)?,
                limited_until: r.get(3)?,
                error: r.get(4)?,
                error_at: r.get(5)?,
                poll_attempts: r.get(6)?,
                bad_signatures: r.get(7)?,
                ignored_comments: r.get(8)?,
                tasks_created: r.get(9)?,
            })
        })
        .optional()?
        .unwrap_or_else(|| SourceStatus {
            source: source.to_string(),
            ..SourceStatus::default()
        }))
}

/// Records a poll of `source` that reached the tracker: its validator for the next one, and
/// how long its rate limit is spent.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn polled(
    conn: &Connection,
    source: &str,
    etag: Option<&str>,
    limited_until: Option<i64>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO intake_sources (source, last_poll_at, etag, limited_until)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (source) DO UPDATE SET last_poll_at = ?2, etag = COALESCE(?3, etag),
             limited_until = ?4, error = NULL, poll_attempts = 0",
    )?
    .execute(params![source, now, etag, limited_until])?;
    Ok(())
}

/// Records a poll of `source` that failed.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn poll_failed(
    conn: &Connection,
    source: &str,
    error: &str,
    limited_until: Option<i64>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO intake_sources (source, error, error_at, poll_attempts, limited_until)
         VALUES (?1, ?2, ?3, 1, ?4)
         ON CONFLICT (source) DO UPDATE SET error = ?2, error_at = ?3,
             poll_attempts = poll_attempts + 1, limited_until = ?4",
    )?
    .execute(params![source, error, now, limited_until])?;
    Ok(())
}
