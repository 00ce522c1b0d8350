//! `bosun approve` and `bosun reject`: the operator's decisions on approval gates.

use super::out::outln;
use anyhow::{Result, bail};

use super::Ctx;
use crate::pipeline::{Decision, Engine, Input};

pub(super) fn approve(ctx: &Ctx, key: &str, note: Option<String>) -> Result<()> {
    decide(ctx, key, Decision::Approve { note })
}

pub(super) fn reject(ctx: &Ctx, key: &str, note: String) -> Result<()> {
    if note.trim().is_empty() {
        bail!("a rejection needs a note saying what to change");
    }
    decide(ctx, key, Decision::Reject { note })
}

/// Applies an operator decision and prints what the engine did.
pub(super) fn decide(ctx: &Ctx, key: &str, decision: Decision) -> Result<()> {
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    let engine = Engine::new(&cfg, &store);
    let outcome = engine.handle(Input::Decide {
        task: key.to_string(),
        decision,
        by: "cli".into(),
    })?;
    outln!("{key}: {}", outcome.describe());
    Ok(())
}
