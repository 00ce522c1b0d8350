//! `bosun usage [--by task|project|provider|day] [--since D] [--json]`: the tokens runs used,
//! read from their CLIs' session records (issue 22), rolled up.

use std::time::Duration;

use anyhow::{Result, bail};

use serde::Serialize;

use super::out::outln;
use super::{Ctx, print_json};
use crate::config::prices::{Cost, PriceConfig};
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
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    let parts = store.read(|tx| usage::rollup(tx, by, from))?;
    let rows = totals(&cfg.prices, &parts);
    if json {
        return print_json(&serde_json::json!({
            "prices_as_of": cfg.prices.as_of,
            "rows": rows,
        }));
    }
    if rows.is_empty() {
        outln!(
            "no usage recorded (runs of CLIs that keep a session record: claude, codex, gemini)"
        );
        return Ok(());
    }
    outln!(
        "{:<24} {:>5} {:>12} {:>12} {:>12} {:>12} {:>12}  cost (prices as of {})",
        "",
        "runs",
        "input",
        "cache read",
        "cache write",
        "output",
        "reasoning",
        cfg.prices.as_of
    );
    for r in &rows {
        let u = &r.usage;
        outln!(
            "{:<24} {:>5} {:>12} {:>12} {:>12} {:>12} {:>12}  {}",
            crate::text::plain(&r.key),
            r.runs,
            u.input,
            u.cache_read,
            u.cache_write,
            u.output,
            u.reasoning,
            crate::text::plain(&r.cost.describe())
        );
    }
    Ok(())
}

/// One key's total.
#[derive(Debug, Serialize)]
struct Total {
    key: String,
    runs: i64,
    usage: usage::Usage,
    cost: Cost,
}

/// The rows of each key summed, each provider and model priced; the most tokens first.
fn totals(prices: &PriceConfig, parts: &[usage::Row]) -> Vec<Total> {
    let mut out: Vec<Total> = Vec::new();
    for p in parts {
        let cost = prices.cost(&p.provider, p.model.as_deref(), &p.usage);
        match out.iter_mut().find(|t| t.key == p.key) {
            Some(t) => {
                t.runs += p.runs;
                t.usage = t.usage.plus(p.usage);
                t.cost = t.cost.clone().plus(cost);
            }
            None => out.push(Total {
                key: p.key.clone(),
                runs: p.runs,
                usage: p.usage,
                cost,
            }),
        }
    }
    out.sort_by(|a, b| {
        b.usage
            .total()
            .cmp(&a.usage.total())
            .then(a.key.cmp(&b.key))
    });
    out
}
