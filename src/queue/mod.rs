//! The persistent job queue: enqueue, atomic claim under `max_concurrency` and the
//! per-provider circuit breakers, completion, failure with backoff (separate budgets for
//! permanent and transient failures), cancel, retry, prune, and recovery after a restart.
//!
//! Decision code only: every row is read and written through [`crate::store`]. Methods that
//! take a `&Connection` run inside the caller's transaction (see [`Store::write`]), so the
//! pipeline engine can combine them with its own writes atomically.

pub mod backoff;
pub mod breaker;
pub mod classify;
mod fallback;
mod status;

pub use status::{JobLine, QueueStatus};

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::config::{Config, QueueConfig};
use crate::status::{BreakerState, JobStatus};
use crate::store::breakers::{self, Breaker};
use crate::store::events::{self, About, EventKind};
use crate::store::jobs::{self, Job, NewJob};
use crate::store::{self, Result, Store, StoreError};

pub use classify::{Classifier, Failure, FailureKind};

/// What happened to a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Back in the queue, claimable from `available_at` (ms since the epoch).
    Requeued {
        /// When it may be claimed again.
        available_at: i64,
        /// The budget the failure was counted against.
        kind: FailureKind,
    },
    /// Attempts spent: the job failed for good.
    Failed,
}

/// Queue policy and identity of the claimer.
#[derive(Debug, Clone)]
pub struct Queue {
    /// Attempts, backoff and breaker settings.
    pub cfg: QueueConfig,
    /// Most jobs running at once.
    pub max_concurrency: u32,
    /// Who claims (`pid@host`), stored on claimed jobs.
    pub owner: String,
    /// Transient-failure patterns.
    pub classifier: Classifier,
    /// Tokens and dollars a task, a project and a day may use (and the prices that count
    /// the dollars): a task past one is not claimed.
    pub budget: crate::config::budget::BudgetRules,
    /// Each role's fallback providers (`[roles.NAME] fallback`), for roles that have some:
    /// they take its queued jobs while its provider is parked at a usage limit.
    pub fallbacks: BTreeMap<String, Vec<String>>,
}

/// What to enqueue.
#[derive(Debug, Clone)]
pub struct JobSpec<'a> {
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
    /// Feedback for the run's prompt.
    pub feedback: Option<&'a str>,
    /// A helper job (an agent asked for help): it may be open next to the task's stage job.
    pub helper: bool,
}

impl Queue {
    /// A queue with the config's limits, claiming as this process (`pid@host`).
    pub fn new(cfg: &Config) -> Queue {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        Queue {
            cfg: cfg.queue.clone(),
            max_concurrency: cfg.supervisor.max_concurrency,
            owner: format!("{}@{host}", std::process::id()),
            classifier: Classifier::default(),
            budget: crate::config::budget::BudgetRules::of(cfg),
            fallbacks: cfg
                .roles
                .values()
                .filter(|r| !r.fallback.is_empty())
                .map(|r| (r.name.clone(), r.fallback.clone()))
                .collect(),
        }
    }

    /// Queues a job, available now.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] if the task does not exist.
    pub fn enqueue(
        &self,
        conn: &Connection,
        spec: &JobSpec<'_>,
        actor: &str,
        now: i64,
    ) -> Result<Job> {
        let insert = if spec.helper {
            jobs::insert_helper
        } else {
            jobs::insert
        };
        let job = insert(
            conn,
            &NewJob {
                task_id: spec.task_id,
                stage: spec.stage,
                role: spec.role,
                provider: spec.provider,
                priority: spec.priority,
                max_attempts: self.cfg.max_attempts,
                max_transient_attempts: self.cfg.max_transient_attempts,
                max_infra_attempts: self.cfg.max_infra_attempts,
                feedback: spec.feedback,
                available_at: now,
            },
            now,
        )?;
        events::record(
            conn,
            EventKind::JobEnqueued,
            About::job_of(&job),
            actor,
            format!("job {} queued: {} ({})", job.id, job.stage, job.role),
            now,
        )?;
        Ok(job)
    }

    /// Claims the next job in its own `BEGIN IMMEDIATE` transaction. See [`Queue::claim_in`].
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] on database failure (e.g. the 5 s busy timeout).
    pub fn claim(&self, store: &Store, now: i64) -> Result<Option<Job>> {
        store.write(|tx| self.claim_in(tx, now))
    }

    /// Claims the first available queued job by priority, unless `max_concurrency` jobs run
    /// already; skips providers whose breaker is open, and lets one probe through a
    /// half-open one. Must run inside a write transaction.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] on database failure.
    pub fn claim_in(&self, conn: &Connection, now: i64) -> Result<Option<Job>> {
        Ok(self.claim_many(conn, now, 1)?.pop())
    }

    /// Claims up to `max` jobs, as [`Queue::claim_in`] claims one (priority order, within
    /// `max_concurrency`, breakers respected: a half-open provider lets one probe through in
    /// the whole batch), in the caller's write transaction: the breakers are read once.
    /// Returns them in claim order; fewer (or none) when fewer are claimable.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] on database failure.
    pub fn claim_many(&self, conn: &Connection, now: i64, max: usize) -> Result<Vec<Job>> {
        let mut states = breakers::list(conn)?;
        let mut excluded = Vec::new();
        for b in &mut states {
            let before = b.clone();
            if !breaker::admits(b, now, self.cfg.breaker_pause) {
                excluded.push(b.provider.clone());
            }
            if *b != before {
                self.put_breaker(conn, &before, b, now)?;
            }
        }
        // A provider parked at a usage limit: none of its jobs is claimed; a role with a
        // fallback moves its queued jobs to the first fallback that is neither parked nor
        // open (they are new jobs: no attempt of theirs is spent).
        let parked = crate::store::limits::parked(conn, now)?;
        excluded.extend(parked.iter().map(|l| l.provider.clone()));
        for limit in &parked {
            self.fall_back(conn, limit, &excluded, now)?;
        }
        // A half-open breaker admits one probe: with one about, claim job by job; otherwise
        // the whole batch in one statement.
        let probing = states
            .iter()
            .any(|b| b.state == BreakerState::HalfOpen && !excluded.contains(&b.provider));
        // Tasks past a budget wait: their jobs stay queued until it is raised.
        let day = now - now.rem_euclid(86_400_000);
        let held: Vec<i64> = crate::store::budgets::over(conn, &self.budget, day)?
            .iter()
            .map(|o| o.task_id)
            .collect();
        let mut claimed = Vec::new();
        while claimed.len() < max {
            let want = if probing { 1 } else { max - claimed.len() };
            let batch = jobs::claim_up_to(
                conn,
                now,
                self.max_concurrency,
                &excluded,
                &held,
                &self.owner,
                want,
            )?;
            if batch.is_empty() {
                break;
            }
            for job in batch {
                if let Some(b) = states.iter_mut().find(|b| b.provider == job.provider) {
                    let before = b.clone();
                    breaker::on_claim(b, job.id, now);
                    if *b != before {
                        self.put_breaker(conn, &before, b, now)?;
                    }
                    // A half-open breaker admits one probe: it is out now.
                    if b.state == BreakerState::HalfOpen {
                        excluded.push(b.provider.clone());
                    }
                }
                events::record(
                    conn,
                    EventKind::JobClaimed,
                    About::job_of(&job),
                    "queue",
                    format!("job {} claimed by {}", job.id, self.owner),
                    now,
                )?;
                claimed.push(job);
            }
        }
        Ok(claimed)
    }

    /// Marks a running job done (its run completed; the gates judge the work) and closes
    /// its provider's breaker.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the job is not running.
    pub fn complete(&self, conn: &Connection, job_id: i64, now: i64) -> Result<Job> {
        let Some(job) = jobs::finish_running(conn, job_id, JobStatus::Done, None, now)? else {
            // Not running (or no such job): say which.
            running(conn, job_id)?;
            return Err(StoreError::Conflict(format!("job {job_id} is not running")));
        };
        self.update_breaker(conn, &job.provider, now, breaker::on_success)?;
        events::record(
            conn,
            EventKind::JobDone,
            About::job_of(&job),
            "queue",
            format!("job {} done", job.id),
            now,
        )?;
        Ok(job)
    }

    /// Records a failure of a running job: a transient one counts against the transient
    /// budget and feeds the breaker, a permanent one against `max_attempts`. While budget
    /// is left the job is requeued after [`backoff::delay`]; otherwise it fails for good.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the job is not running.
    pub fn fail(
        &self,
        conn: &Connection,
        job_id: i64,
        failure: &Failure,
        now: i64,
    ) -> Result<Disposition> {
        let job = running(conn, job_id)?;
        let mut counts = jobs::Attempts {
            permanent: job.attempts,
            transient: job.transient_attempts,
            infra: job.infra_attempts,
        };
        // (failures of this kind before this one, its budget, its name)
        let (before, max, budget) = match failure.kind {
            FailureKind::Transient => {
                self.update_breaker(conn, &job.provider, now, |b, now| {
                    breaker::on_transient(b, job.id, self.cfg.breaker_threshold, now);
                })?;
                counts.transient += 1;
                (
                    job.transient_attempts,
                    job.max_transient_attempts,
                    "transient",
                )
            }
            FailureKind::Permanent => {
                self.update_breaker(conn, &job.provider, now, breaker::on_success)?;
                counts.permanent += 1;
                (job.attempts, job.max_attempts, "permanent")
            }
            // Not the provider's fault: its breaker is left alone.
            FailureKind::Infrastructure => {
                counts.infra += 1;
                (job.infra_attempts, job.max_infra_attempts, "infrastructure")
            }
        };
        if before + 1 >= max {
            jobs::set_attempts(conn, job_id, counts)?;
            jobs::finish(conn, job_id, JobStatus::Failed, Some(&failure.reason), now)?;
            let message = format!(
                "job {} failed for good ({budget} attempts spent): {}",
                job.id, failure.reason
            );
            events::record(
                conn,
                EventKind::JobFailed,
                About::job_of(&job),
                "queue",
                message,
                now,
            )?;
            return Ok(Disposition::Failed);
        }
        let n = u32::try_from(before.max(0)).unwrap_or(u32::MAX);
        let delay = backoff::delay(&self.cfg, n, failure.retry_after, fastrand::f64());
        let available_at = now.saturating_add(breaker::ms(delay));
        jobs::requeue(conn, job_id, counts, available_at, &failure.reason, now)?;
        let message = format!(
            "job {} requeued after a {budget} failure, retry in {}: {}",
            job.id,
            humantime::format_duration(std::time::Duration::from_secs(delay.as_secs())),
            failure.reason
        );
        events::record(
            conn,
            EventKind::JobRequeued,
            About::job_of(&job),
            "queue",
            message,
            now,
        )?;
        Ok(Disposition::Requeued {
            available_at,
            kind: failure.kind,
        })
    }

    /// Puts a running job back without counting an attempt (its run never started, e.g.
    /// bosun died between claim and launch).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the job is not running.
    pub fn release(&self, conn: &Connection, job_id: i64, reason: &str, now: i64) -> Result<()> {
        let job = running(conn, job_id)?;
        let counts = jobs::Attempts {
            permanent: job.attempts,
            transient: job.transient_attempts,
            infra: job.infra_attempts,
        };
        jobs::requeue(conn, job_id, counts, now, reason, now)?;
        self.update_breaker(conn, &job.provider, now, |b, now| {
            breaker::on_abandoned(b, job_id, now)
        })?;
        events::record(
            conn,
            EventKind::JobRequeued,
            About::job_of(&job),
            "queue",
            format!("job {} requeued without a run: {reason}", job.id),
            now,
        )?;
        Ok(())
    }

    /// Cancels a queued or running job (a running one's run is stopped by the supervisor).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the job already finished.
    pub fn cancel(&self, conn: &Connection, job_id: i64, actor: &str, now: i64) -> Result<Job> {
        let job = jobs::get(conn, job_id)?;
        if !matches!(job.status, JobStatus::Queued | JobStatus::Running) {
            return Err(StoreError::Conflict(format!(
                "job {job_id} is {} and cannot be cancelled",
                job.status
            )));
        }
        jobs::finish(conn, job_id, JobStatus::Cancelled, Some("cancelled"), now)?;
        self.update_breaker(conn, &job.provider, now, |b, now| {
            breaker::on_abandoned(b, job_id, now)
        })?;
        events::record(
            conn,
            EventKind::JobCancelled,
            About::job_of(&job),
            actor,
            format!("job {job_id} cancelled"),
            now,
        )?;
        jobs::get(conn, job_id)
    }

    /// Queues a failed or cancelled job again now with fresh attempt budgets, adding
    /// `feedback` if given.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the job is queued, running or done.
    pub fn retry(
        &self,
        conn: &Connection,
        job_id: i64,
        feedback: Option<&str>,
        actor: &str,
        now: i64,
    ) -> Result<Job> {
        let job = jobs::get(conn, job_id)?;
        if !matches!(job.status, JobStatus::Failed | JobStatus::Cancelled) {
            return Err(StoreError::Conflict(format!(
                "job {job_id} is {}; only failed or cancelled jobs can be retried",
                job.status
            )));
        }
        jobs::reset(conn, job_id, feedback, now)?;
        events::record(
            conn,
            EventKind::JobRequeued,
            About::job_of(&job),
            actor,
            format!("job {job_id} retried with fresh attempts"),
            now,
        )?;
        jobs::get(conn, job_id)
    }

    /// Deletes jobs that finished more than `prune_after` ago, and the hook calls of runs
    /// that ended as long ago; returns how many jobs.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] on database failure.
    pub fn prune(&self, conn: &Connection, now: i64) -> Result<usize> {
        let before = now.saturating_sub(breaker::ms(self.cfg.prune_after));
        crate::store::hooks::prune(conn, before)?;
        crate::store::answers::prune(conn, before)?;
        jobs::prune(conn, before)
    }

    fn update_breaker(
        &self,
        conn: &Connection,
        provider: &str,
        now: i64,
        f: impl FnOnce(&mut Breaker, i64),
    ) -> Result<()> {
        let before = breakers::get(conn, provider)?;
        let mut after = before.clone();
        f(&mut after, now);
        if after != before {
            self.put_breaker(conn, &before, &after, now)?;
        }
        Ok(())
    }

    fn put_breaker(
        &self,
        conn: &Connection,
        before: &Breaker,
        after: &Breaker,
        now: i64,
    ) -> Result<()> {
        breakers::put(conn, after)?;
        if before.state != after.state {
            events::record(
                conn,
                EventKind::Breaker,
                About::NOTHING,
                "queue",
                format!(
                    "breaker for {} {} -> {} after {} transient failures in a row",
                    after.provider, before.state, after.state, after.consecutive_failures
                ),
                now,
            )?;
        }
        Ok(())
    }
}

fn running(conn: &Connection, job_id: i64) -> Result<Job> {
    let job = jobs::get(conn, job_id)?;
    if job.status != JobStatus::Running {
        return Err(StoreError::Conflict(format!(
            "job {job_id} is {}, not running",
            job.status
        )));
    }
    Ok(job)
}

/// Milliseconds since the epoch, now (re-exported for callers of the queue).
pub fn now_ms() -> i64 {
    store::now_ms()
}
