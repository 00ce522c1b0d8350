//! `bosun intake status [--json]`: each `[[intake]]` source — how work comes in (webhooks,
//! polls), its last delivery and poll, what it ran into, the tasks it created, the
//! deliveries refused for their signature and the commands ignored from users not on its
//! allow-list.

use anyhow::Result;

use super::out::outln;
use super::{Ctx, print_json};
use crate::intake::status::{line, rows};
use crate::store::now_ms;

pub(super) fn status(ctx: &Ctx, json: bool) -> Result<()> {
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    let rows = rows(&cfg, &store)?;
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("no [[intake]] sources: tasks come from `bosun task add` only");
        return Ok(());
    }
    let now = now_ms();
    match cfg.server.listen {
        Some(a) => outln!("webhooks: http://{a}/webhooks/<kind> (served by `bosun daemon`)"),
        None => outln!("webhooks: off ([server] listen is not set)"),
    }
    for r in &rows {
        outln!("{}", line(r, now));
        if r.source.webhook_secret_env.is_some() && !r.webhook_secret_set {
            outln!(
                "  ${} is not set here: its deliveries are refused",
                r.source.webhook_secret_env.as_deref().unwrap_or_default()
            );
        }
        if !r.token_set {
            outln!(
                "  ${} is not set here: it is neither polled nor told of its tasks",
                r.source.token_env
            );
        }
    }
    Ok(())
}
