//! `bosun queue [cancel|retry|prune]`.

use super::out::outln;
use anyhow::Result;

use super::{Ctx, ago, human_ms, print_json};
use crate::cli::{QueueArgs, QueueCommand};
use crate::pipeline::Engine;
use crate::store::now_ms;

pub(super) fn run(ctx: &Ctx, args: QueueArgs) -> Result<()> {
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    let engine = Engine::new(&cfg, &store);
    match args.action {
        Some(QueueCommand::Cancel { job }) => {
            let outcome = engine.cancel_job(job)?;
            outln!("job {job} cancelled; {}", outcome.describe());
            Ok(())
        }
        Some(QueueCommand::Retry { job, note }) => {
            engine.retry_job(job, note.as_deref())?;
            outln!("job {job} queued again with fresh attempts");
            Ok(())
        }
        Some(QueueCommand::Prune) => {
            let n = store.write(|tx| engine.queue.prune(tx, now_ms()))?;
            outln!(
                "pruned {n} finished jobs older than {}",
                humantime::format_duration(cfg.queue.prune_after)
            );
            Ok(())
        }
        None => show(&engine, args.json),
    }
}

fn show(engine: &Engine<'_>, json: bool) -> Result<()> {
    let now = now_ms();
    // Counts, jobs and breakers as of one moment.
    let status = engine.store.read(|c| engine.queue.status(c, now, 50))?;
    if json {
        return print_json(&status);
    }
    let counts: Vec<String> = status
        .counts
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    outln!(
        "jobs: {} (max_concurrency {})",
        counts.join(", "),
        status.max_concurrency
    );
    let breakers: Vec<String> = status
        .breakers
        .iter()
        .map(|b| {
            format!(
                "{} {} ({} transient in a row)",
                b.provider, b.state, b.consecutive_failures
            )
        })
        .collect();
    outln!(
        "breakers: {}",
        if breakers.is_empty() {
            "all closed".to_string()
        } else {
            breakers.join(", ")
        }
    );
    for limit in &status.limits {
        outln!("usage limit: {}", limit.describe(now));
    }
    if !status.running.is_empty() {
        outln!("\nrunning:");
        for l in &status.running {
            outln!(
                "  #{:<5} {:<8} {:<13} {:<10} for {}  attempt {}/{}",
                l.job.id,
                l.task,
                l.job.stage,
                l.job.provider,
                human_ms(l.elapsed_ms.unwrap_or(0)),
                l.job.attempts + 1,
                l.job.max_attempts
            );
        }
    }
    if !status.queued.is_empty() {
        outln!("\nqueued:");
        for l in &status.queued {
            let when = match l.available_in_ms {
                Some(0) | None => "now".to_string(),
                Some(ms) => format!("in {}", human_ms(ms)),
            };
            outln!(
                "  #{:<5} {:<8} {:<13} {:<10} available {when}  failures {} permanent, {} transient{}",
                l.job.id,
                l.task,
                l.job.stage,
                l.job.provider,
                l.job.attempts,
                l.job.transient_attempts,
                l.job
                    .last_error
                    .as_deref()
                    .map(|e| format!(" (last: {e})"))
                    .unwrap_or_default()
            );
        }
    }
    if !status.failed.is_empty() {
        outln!("\nrecent failures:");
        for l in &status.failed {
            outln!(
                "  #{:<5} {:<8} {:<13} {}  {}",
                l.job.id,
                l.task,
                l.job.stage,
                l.job.finished_at.map(|t| ago(t, now)).unwrap_or_default(),
                l.job.last_error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}
