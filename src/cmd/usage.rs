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

/// `bosun budget`: the budgets in force and what is used of them; with `--tokens`, sets the
/// budget of a task (`key`), a project or every day, as a decision recorded with its note.
pub(super) fn budget(
    ctx: &Ctx,
    key: Option<String>,
    project: Option<String>,
    day: bool,
    tokens: Option<i64>,
    note: Option<String>,
    json: bool,
) -> Result<()> {
    use crate::store::budgets::{self, Scope};
    use crate::store::events::{self, About, EventKind};
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    let target = match (key, project, day) {
        (Some(k), None, false) => Some((Scope::Task, k)),
        (None, Some(p), false) => Some((Scope::Project, p)),
        (None, None, true) => Some((Scope::Day, String::new())),
        (None, None, false) => None,
        _ => bail!("name one budget: a task's KEY, --project NAME or --day"),
    };
    if let Some(tokens) = tokens {
        let Some((scope, k)) = target else {
            bail!("--tokens sets one budget: name a task's KEY, --project NAME or --day");
        };
        let Some(note) = note.filter(|n| !n.trim().is_empty()) else {
            bail!("setting a budget is a decision: say why with --note");
        };
        if tokens < 0 {
            bail!("--tokens {tokens}: a budget is 0 or more tokens");
        }
        let task = match scope {
            Scope::Task => Some(crate::store::tasks::by_key(store.conn(), &k)?),
            _ => None,
        };
        let what = match scope {
            Scope::Task => format!("task {k}"),
            Scope::Project => format!("project {k}"),
            Scope::Day => "every day".into(),
        };
        let message = format!(
            "budget of {what} set to {tokens} tokens: {}",
            crate::text::plain(&note)
        );
        store.write(|tx| {
            budgets::set(tx, scope, &k, tokens, &note, "cli", now_ms())?;
            let about = task.as_ref().map_or(About::NOTHING, |t| About::task(t.id));
            events::record(
                tx,
                EventKind::BudgetSet,
                about,
                "cli",
                message.as_str(),
                now_ms(),
            )
        })?;
        outln!("{message}");
        return Ok(());
    }
    let day_start = now_ms() - now_ms().rem_euclid(86_400_000);
    let over = store.read(|tx| budgets::over(tx, &cfg.budget, day_start))?;
    let rows = store.read(|tx| {
        let mut rows = Vec::new();
        for (scope, k) in [
            (
                Scope::Task,
                target
                    .as_ref()
                    .filter(|t| t.0 == Scope::Task)
                    .map(|t| t.1.clone()),
            ),
            (
                Scope::Project,
                target
                    .as_ref()
                    .filter(|t| t.0 == Scope::Project)
                    .map(|t| t.1.clone()),
            ),
            (Scope::Day, Some(String::new())),
        ] {
            if let Some(k) = k {
                let allowed = budgets::allowed(tx, &cfg.budget, scope, &k)?;
                rows.push(serde_json::json!({
                    "scope": scope.as_str(), "key": k, "tokens": allowed,
                }));
            }
        }
        Ok::<_, crate::store::StoreError>(rows)
    })?;
    if json {
        return print_json(&serde_json::json!({
            "config": cfg.budget,
            "budgets": rows,
            "over": over,
        }));
    }
    let show = |v: Option<i64>| v.map_or("no limit".to_string(), |t| format!("{t} tokens"));
    outln!(
        "budgets: task {}, project {}, day {} (config; `bosun budget KEY --tokens N --note WHY` \
         sets one)",
        show(cfg.budget.task_tokens),
        show(cfg.budget.project_tokens),
        show(cfg.budget.day_tokens)
    );
    for r in &rows {
        outln!(
            "  {} {}: {}",
            r["scope"].as_str().unwrap_or(""),
            crate::text::plain(r["key"].as_str().unwrap_or("")),
            show(r["tokens"].as_i64())
        );
    }
    if over.is_empty() {
        outln!("no task is over a budget");
    }
    for o in &over {
        let t = crate::store::tasks::get(store.conn(), o.task_id)?;
        let p = crate::store::projects::get(store.conn(), t.project_id)?;
        outln!("{} {}", t.key, o.describe(&t.key, &p.name));
    }
    Ok(())
}
