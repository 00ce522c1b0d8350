//! Retry delays: capped exponential backoff with jitter and a `Retry-After` floor.
//!
//! `delay = min(base * 2^n, cap)`, then up to `jitter` of it taken off at random ("equal
//! jitter" from Marc Brooker, *Exponential Backoff And Jitter*, AWS Architecture Blog, 2015),
//! then raised to the server's `Retry-After` if that is longer (RFC 9110 §10.2.3).

use std::time::Duration;

use crate::config::QueueConfig;

/// The delay before retry number `failures + 1`, where `failures` is how many failures of
/// this kind the job has had before this one (0 for the first). `unit` is a random number in
/// `[0, 1)` that picks the jitter; `retry_after` is the server's floor, if it gave one.
pub fn delay(
    cfg: &QueueConfig,
    failures: u32,
    retry_after: Option<Duration>,
    unit: f64,
) -> Duration {
    let factor = 2u32.saturating_pow(failures.min(30));
    let exp = cfg.backoff_base.saturating_mul(factor).min(cfg.backoff_cap);
    let cut = cfg.backoff_jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
    let jittered = exp.mul_f64(1.0 - cut);
    match retry_after {
        Some(floor) if floor > jittered => floor,
        _ => jittered,
    }
}
