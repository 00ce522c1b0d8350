//! `bosun approve` and `bosun reject`: the operator's decisions on approval gates.

use super::out::outln;
use anyhow::Result;

use super::Ctx;
use crate::decide::Decider;
use crate::pipeline::Outcome;

/// Takes one decision on task `key` through [`Decider`] (as `cli`) and prints what the
/// engine did.
pub(super) fn decide(
    ctx: &Ctx,
    key: &str,
    f: impl FnOnce(&Decider<'_>) -> crate::decide::Result<Outcome>,
) -> Result<()> {
    let outcome = with_decider(ctx, f)?;
    outln!("{key}: {}", outcome.describe());
    Ok(())
}

/// Runs `f` with a [`Decider`] acting as `cli` on the command line's config and database.
pub(super) fn with_decider<T>(
    ctx: &Ctx,
    f: impl FnOnce(&Decider<'_>) -> crate::decide::Result<T>,
) -> Result<T> {
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    let data_dir = ctx.data_dir();
    Ok(f(&Decider {
        cfg: &cfg,
        store: &store,
        data_dir: &data_dir,
        by: "cli",
    })?)
}
