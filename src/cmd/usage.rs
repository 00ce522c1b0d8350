//! `bosun usage [--by task|project|provider|day] [--since D] [--json]`: the tokens runs used,
//! read from their CLIs' session records (issue 22), rolled up.

use std::time::Duration;

use anyhow::{Result, bail};

use super::out::outln;
use super::{Ctx, print_json};
use crate::store::now_ms;
use crate::store::usage::{self, By};

pub(super) fn run(ctx: &Ctx, by: &str, since: Option<Duration>, json: bool) -> Result<()> {
    let by = match by {
        "task" => By::Task,
        "project" => By::Project,
        "provider" => By::Provider,
        "day" => By::Day,
        other => bail!("--by {other:?}: use task, project, provider or day"),
    };
    let from = since.map_or(0, |d| {
        now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
    });
    let store = ctx.store()?;
    let rows = store.read(|tx| usage::rollup(tx, by, from))?;
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!(
            "no usage recorded (runs of CLIs that keep a session record: claude, codex, gemini)"
        );
        return Ok(());
    }
    outln!(
        "{:<24} {:>5} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "",
        "runs",
        "input",
        "cache read",
        "cache write",
        "output",
        "reasoning"
    );
    for r in &rows {
        let u = &r.usage;
        outln!(
            "{:<24} {:>5} {:>12} {:>12} {:>12} {:>12} {:>12}",
            crate::text::plain(&r.key),
            r.runs,
            u.input,
            u.cache_read,
            u.cache_write,
            u.output,
            u.reasoning
        );
    }
    Ok(())
}
