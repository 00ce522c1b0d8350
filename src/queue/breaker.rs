//! Circuit breaker transitions, pure over a [`Breaker`] value (persisted by the store).
//!
//! closed --N consecutive transient failures--> open --pause elapsed--> half_open
//! half_open --probe claimed--> (no more claims) --probe succeeds--> closed
//!                                              --probe fails transiently--> open
//! Any success closes the breaker; a permanent failure resets the count (the provider
//! answered). Pattern from Michael Nygard, *Release It!* (2nd ed., 2018), ch. 5.

use std::time::Duration;

use crate::status::BreakerState;
use crate::store::breakers::Breaker;

/// May a job of this provider be claimed now? Moves an open breaker whose pause has passed
/// to half-open (the caller persists the change). A half-open breaker admits one probe.
pub fn admits(b: &mut Breaker, now: i64, pause: Duration) -> bool {
    match b.state {
        BreakerState::Closed => true,
        BreakerState::Open => {
            let reopen = b.opened_at.unwrap_or(0).saturating_add(ms(pause));
            if now >= reopen {
                b.state = BreakerState::HalfOpen;
                b.probe_job_id = None;
                b.updated_at = now;
                true
            } else {
                false
            }
        }
        BreakerState::HalfOpen => b.probe_job_id.is_none(),
    }
}

/// A job of this provider was claimed: a half-open breaker records it as its probe.
pub fn on_claim(b: &mut Breaker, job_id: i64, now: i64) {
    if b.state == BreakerState::HalfOpen && b.probe_job_id.is_none() {
        b.probe_job_id = Some(job_id);
        b.updated_at = now;
    }
}

/// A job of this provider succeeded (or failed permanently, which shows the provider
/// answered): the breaker closes and the count resets.
pub fn on_success(b: &mut Breaker, now: i64) {
    b.state = BreakerState::Closed;
    b.consecutive_failures = 0;
    b.probe_job_id = None;
    b.updated_at = now;
}

/// A job of this provider failed transiently. A failed probe re-opens at once; otherwise
/// the breaker opens when `threshold` failures come in a row.
pub fn on_transient(b: &mut Breaker, job_id: i64, threshold: u32, now: i64) {
    b.consecutive_failures += 1;
    b.updated_at = now;
    let probe_failed = b.state == BreakerState::HalfOpen && b.probe_job_id == Some(job_id);
    if probe_failed
        || (b.state == BreakerState::Closed && b.consecutive_failures >= i64::from(threshold))
    {
        b.state = BreakerState::Open;
        b.opened_at = Some(now);
        b.probe_job_id = None;
    }
}

/// A job stopped without an outcome (cancelled, lost): if it was the probe, another may go.
pub fn on_abandoned(b: &mut Breaker, job_id: i64, now: i64) {
    if b.probe_job_id == Some(job_id) {
        b.probe_job_id = None;
        b.updated_at = now;
    }
}

/// A duration in whole milliseconds, saturating.
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
