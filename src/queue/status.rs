//! What the queue holds, for `bosun queue` and the console's Queue view.

use rusqlite::Connection;
use serde::Serialize;
use std::collections::BTreeMap;

use super::Queue;
use crate::status::JobStatus;
use crate::store::breakers::{self, Breaker};
use crate::store::jobs::{self, Job};
use crate::store::{Result, tasks};

impl Queue {
    /// A snapshot for `bosun queue` and the console's queue view.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] on database failure.
    pub fn status(&self, conn: &Connection, now: i64, limit: usize) -> Result<QueueStatus> {
        let line = |job: Job| -> Result<JobLine> {
            let task = tasks::get(conn, job.task_id)?;
            Ok(JobLine {
                elapsed_ms: job.claimed_at.map(|c| now - c),
                available_in_ms: (job.status == JobStatus::Queued)
                    .then(|| (job.available_at - now).max(0)),
                task: task.key,
                job,
            })
        };
        let collect = |status| -> Result<Vec<JobLine>> {
            jobs::with_status(conn, status, limit)?
                .into_iter()
                .map(line)
                .collect()
        };
        Ok(QueueStatus {
            counts: jobs::counts(conn)?
                .into_iter()
                .map(|(s, n)| (s.as_str().to_string(), n))
                .collect(),
            max_concurrency: self.max_concurrency,
            running: collect(JobStatus::Running)?,
            queued: collect(JobStatus::Queued)?,
            failed: collect(JobStatus::Failed)?,
            breakers: breakers::list(conn)?,
            limits: crate::store::limits::list(conn)?,
            now,
        })
    }
}

/// A job with its task key and timing, for display.
#[derive(Debug, Clone, Serialize)]
pub struct JobLine {
    /// The task's key.
    pub task: String,
    /// The job.
    pub job: Job,
    /// Since the claim, ms (running jobs).
    pub elapsed_ms: Option<i64>,
    /// Until it may be claimed, ms (queued jobs; 0 when available now).
    pub available_in_ms: Option<i64>,
}

/// A queue snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct QueueStatus {
    /// Jobs per status.
    pub counts: BTreeMap<String, i64>,
    /// The concurrency limit.
    pub max_concurrency: u32,
    /// Running jobs, longest-running first.
    pub running: Vec<JobLine>,
    /// Queued jobs in claim order.
    pub queued: Vec<JobLine>,
    /// Failed jobs, most recent first.
    pub failed: Vec<JobLine>,
    /// Breakers of every provider that has had one.
    pub breakers: Vec<Breaker>,
    /// Every provider's last reported usage limit (parked while `until_at` is ahead).
    pub limits: Vec<crate::store::limits::Limit>,
    /// When this was read, ms since the epoch.
    pub now: i64,
}
