//! Usage limits, the loop's side: reading a run's screen (and its CLI's session record) for
//! its provider's usage limit when the screen changed, parking the provider in SQLite, and
//! recording resumes. The rules of waiting and resuming are the run machine's
//! (`machine/limit.rs`); what each CLI shows is `provider::limit`'s.

use super::machine::{Event, Limit};
use super::*;
use crate::provider::limit;
use crate::store::events::{self, About, EventKind};
use crate::store::limits::{self as limit_rows, Report};

/// Bytes read from the end of a run's session record for its CLI's rate-limit report.
const REPORT_TAIL: usize = 64 * 1024;

/// The least a run parks: a provider that says its limit has reset and still refuses
/// (an old reset on the screen or in the record) is asked again this much later, not at
/// once.
const MIN_PARK_MS: i64 = 30_000;

impl Supervisor {
    /// Reads run `id`'s screen for a usage limit when it changed since the last look, and
    /// steps its machine with what it found: the reset (Codex's rollout gives it to the
    /// second, the screen to the minute), staggered behind the runs of the same provider
    /// parked already.
    ///
    /// # Errors
    /// Store failures.
    pub(super) fn limit_look(&mut self, id: i64, now: Instant) -> Result<()> {
        let Some(run) = self.runs.get_mut(&id) else {
            return Ok(());
        };
        let Some(screen) = run.machine.take_limit_screen() else {
            return Ok(());
        };
        let now_ms = now_ms();
        let provider = run.machine.provider().name.clone();
        let Some(seen) = limit::seen(
            &run.machine.provider().limits,
            &screen,
            &limit::now_local(now_ms),
        ) else {
            return Ok(());
        };
        let mut resets_at = seen.resets_at;
        let reported = self.reported_limit(id);
        if !seen.waits {
            if let Some(at) = reported.and_then(|r| r.resets_at) {
                resets_at = at;
            }
            resets_at = resets_at.max(now_ms + if resets_at <= now_ms { MIN_PARK_MS } else { 0 });
        }
        let ahead = self
            .runs
            .values()
            .filter(|r| {
                r.run_id != id && r.machine.is_parked() && r.machine.provider().name == provider
            })
            .count();
        let stagger = self.cfg.supervisor.resume_stagger * u32::try_from(ahead).unwrap_or(0);
        let resume_at = resets_at + i64::try_from(stagger.as_millis()).unwrap_or(0);
        let limit = Limit {
            pattern: seen.pattern,
            waits: seen.waits,
            resets_at,
            resume_in: limit::until(resume_at, now_ms),
            prompt: self.cfg.supervisor.resume_prompt.clone(),
            words: crate::text::plain(&seen.words),
            used_percent: reported.map(|r| r.used_percent),
        };
        self.step(id, Event::Limit(limit), now)
    }

    /// The CLI's own last rate-limit report in run `id`'s session record, if it keeps one.
    fn reported_limit(&self, id: i64) -> Option<limit::Reported> {
        let path = runs::transcript(self.store.conn(), id).ok()??;
        let tail = crate::untrusted::read_tail(std::path::Path::new(&path), REPORT_TAIL).ok()?;
        limit::reported(&tail)
    }

    /// Records the share of its provider's limit run `id`'s CLI reported last (where it
    /// reports one), when its turn completed: the console's header shows it.
    ///
    /// # Errors
    /// Store failures.
    pub(super) fn note_utilisation(&mut self, id: i64) -> Result<()> {
        let Some(run) = self.runs.get(&id) else {
            return Ok(());
        };
        if run.machine.provider().limits.is_empty() {
            return Ok(());
        }
        let provider = run.machine.provider().name.clone();
        if let Some(r) = self.reported_limit(id) {
            let now = now_ms();
            self.store
                .write(|tx| limit_rows::utilisation(tx, &provider, r.used_percent, now))?;
        }
        Ok(())
    }

    /// Parks run `id`'s provider until `resets_at` (its queued jobs wait, or go to their
    /// role's fallback), with the share `used_percent` where its CLI reports one.
    ///
    /// # Errors
    /// Store failures.
    pub(super) fn park(
        &mut self,
        id: i64,
        resets_at: i64,
        resume_in: Option<Duration>,
        words: &str,
        used_percent: Option<f64>,
    ) -> Result<()> {
        let Some(run) = self.runs.get(&id) else {
            return Ok(());
        };
        let provider = run.machine.provider().name.clone();
        let now = now_ms();
        let resumes_at = match resume_in {
            Some(d) => now + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2),
            None => resets_at,
        };
        let job_id = run.job_id;
        self.store.write(|tx| {
            let task = crate::store::jobs::get(tx, job_id).ok().map(|j| j.task_id);
            let report = Report {
                provider: &provider,
                run_id: Some(id),
                about: About {
                    task,
                    job: Some(job_id),
                    run: Some(id),
                },
                resets_at,
                resumes_at: resumes_at.max(resets_at),
                words,
                used_percent,
            };
            limit_rows::park(tx, &report, now)
        })?;
        tracing::info!(
            run = id,
            provider,
            resets_at,
            "usage limit: provider parked"
        );
        Ok(())
    }

    /// Records that run `id` resumed after waiting `parked_for` for its provider's limit.
    ///
    /// # Errors
    /// Store failures.
    pub(super) fn resumed(&mut self, id: i64, parked_for: Duration) -> Result<()> {
        let Some(run) = self.runs.get(&id) else {
            return Ok(());
        };
        let job_id = run.job_id;
        let provider = run.machine.provider().name.clone();
        let now = now_ms();
        self.store.write(|tx| {
            let task = crate::store::jobs::get(tx, job_id).ok().map(|j| j.task_id);
            events::record(
                tx,
                EventKind::RunResumed,
                About {
                    task,
                    job: Some(job_id),
                    run: Some(id),
                },
                "supervisor",
                format!(
                    "run {id} resumed in its pane after waiting {} for {provider}'s usage \
                     limit",
                    humantime::format_duration(Duration::from_secs(parked_for.as_secs()))
                ),
                now,
            )
            .map(|_| ())
        })?;
        Ok(())
    }
}
