//! `bosun log`: the append-only event log.

use super::out::outln;
use anyhow::Result;

use super::{Ctx, ago, print_json};
use crate::store::{events, now_ms, tasks};

pub(super) fn run(ctx: &Ctx, task: Option<&str>, limit: usize, json: bool) -> Result<()> {
    let store = ctx.store()?;
    let task_id = task
        .map(|k| tasks::by_key(store.conn(), k))
        .transpose()?
        .map(|t| t.id);
    let list = events::recent(store.conn(), task_id, limit)?;
    if json {
        return print_json(&list);
    }
    let now = now_ms();
    for e in list {
        outln!(
            "{:>10}  {:<18} {:<10} {}",
            ago(e.ts, now),
            e.kind.as_str(),
            e.actor,
            e.message
        );
    }
    Ok(())
}
