//! `bosun budget [KEY | --project NAME | --day] [--tokens N] [--usd N] [--note WHY] [--json]`:
//! the budgets in force (issue 22) — `[budget]`'s tokens and US dollars and the operator's
//! raises — where a task stands against them, and the tasks past one; with `--tokens` or
//! `--usd`, sets the budget of a task, a project or every day, as a decision recorded with
//! its note (a `budget_set` event).

use anyhow::{Result, bail};

use super::out::outln;
use super::{Ctx, print_json};
use crate::config::budget::{BudgetConfig, BudgetRules};
use crate::store::budgets::{self, Amount, Measure, Scope};
use crate::store::events::{self, About, EventKind};
use crate::store::{StoreError, now_ms, projects, tasks};

/// Which budget a command names.
pub(super) enum Target {
    /// None: the command shows them all.
    All,
    /// One scope's: a task's key, a project's name, or `""` for every day.
    One(Scope, String),
}

impl Target {
    /// The target of `bosun budget [KEY | --project NAME | --day]`.
    ///
    /// # Errors
    /// More than one named.
    pub(super) fn new(key: Option<String>, project: Option<String>, day: bool) -> Result<Target> {
        Ok(match (key, project, day) {
            (Some(k), None, false) => Target::One(Scope::Task, k),
            (None, Some(p), false) => Target::One(Scope::Project, p),
            (None, None, true) => Target::One(Scope::Day, String::new()),
            (None, None, false) => Target::All,
            _ => bail!("name one budget: a task's KEY, --project NAME or --day"),
        })
    }
}

/// The budget a command sets: tokens, US dollars or both, and why.
pub(super) struct Raise {
    /// `--tokens N`.
    pub(super) tokens: Option<i64>,
    /// `--usd N`.
    pub(super) usd: Option<f64>,
    /// `--note WHY`.
    pub(super) note: Option<String>,
}

/// `bosun budget`: sets a budget when `raise` gives one, else shows them.
///
/// # Errors
/// A raise without a target or a note, a negative or non-finite amount, an unknown task or
/// project; store and config failures.
pub(super) fn run(ctx: &Ctx, target: Target, raise: Raise, json: bool) -> Result<()> {
    if raise.tokens.is_some() || raise.usd.is_some() {
        return set(ctx, target, raise);
    }
    if raise.note.is_some() {
        bail!("--note says why a budget is set: give it with --tokens N or --usd N");
    }
    show(ctx, &target, json)
}

fn set(ctx: &Ctx, target: Target, raise: Raise) -> Result<()> {
    let Target::One(scope, key) = target else {
        bail!("--tokens and --usd set one budget: name a task's KEY, --project NAME or --day");
    };
    let Some(note) = raise.note.filter(|n| !n.trim().is_empty()) else {
        bail!("setting a budget is a decision: say why with --note");
    };
    let mut amounts = Vec::new();
    if let Some(t) = raise.tokens {
        if t < 0 {
            bail!("--tokens {t}: a budget is 0 or more tokens");
        }
        amounts.push(Amount::Tokens(t));
    }
    if let Some(d) = raise.usd {
        if !d.is_finite() || d < 0.0 {
            bail!("--usd {d}: a budget is 0 or more US dollars");
        }
        amounts.push(Amount::Usd(d));
    }
    let store = ctx.store()?;
    let (task, key) = match scope {
        Scope::Task => {
            let t = tasks::by_key(store.conn(), &key)?;
            let k = t.key.clone();
            (Some(t), k)
        }
        // A project named by its key prefix is stored by its name (what budgets look up).
        Scope::Project => (None, projects::find(store.conn(), &key)?.name),
        Scope::Day => (None, key),
    };
    let what = match scope {
        Scope::Task => format!("task {key}"),
        Scope::Project => format!("project {key}"),
        Scope::Day => "every day".into(),
    };
    let to: Vec<String> = amounts.iter().map(|a| a.describe()).collect();
    let message = format!(
        "budget of {what} set to {}: {}",
        to.join(" and "),
        crate::text::plain(&note)
    );
    store.write(|tx| {
        let now = now_ms();
        for a in &amounts {
            budgets::set(tx, scope, &key, *a, &note, "cli", now)?;
        }
        let about = task.as_ref().map_or(About::NOTHING, |t| About::task(t.id));
        events::record(
            tx,
            EventKind::BudgetSet,
            about,
            "cli",
            message.as_str(),
            now,
        )
    })?;
    outln!("{message}");
    Ok(())
}

/// One scope's budgets in force.
#[derive(serde::Serialize)]
struct Row {
    scope: Scope,
    key: String,
    tokens: Option<i64>,
    usd: Option<f64>,
}

fn show(ctx: &Ctx, target: &Target, json: bool) -> Result<()> {
    let cfg = ctx.config()?;
    let rules = BudgetRules::of(&cfg);
    let store = ctx.store()?;
    let today = budgets::day_start(now_ms());
    // One read transaction: the budgets, the standing and the tasks past one, of one moment.
    let (rows, standing, over) = store.read(|tx| {
        let mut named = vec![(Scope::Day, String::new())];
        let mut task = None;
        match target {
            Target::One(Scope::Task, k) => {
                let t = tasks::by_key(tx, k)?;
                named.insert(0, (Scope::Task, t.key.clone()));
                task = Some(t.id);
            }
            Target::One(Scope::Project, p) => {
                named.insert(0, (Scope::Project, projects::find(tx, p)?.name));
            }
            Target::One(Scope::Day, _) | Target::All => {}
        }
        let mut rows = Vec::new();
        for (scope, key) in named {
            let tokens = budgets::allowed(tx, &rules, scope, &key, Measure::Tokens)?;
            let usd = budgets::allowed(tx, &rules, scope, &key, Measure::Usd)?;
            rows.push(Row {
                scope,
                key,
                tokens: match tokens {
                    Some(Amount::Tokens(t)) => Some(t),
                    _ => None,
                },
                usd: usd.map(Amount::value),
            });
        }
        let standing = match task {
            Some(id) => budgets::standing(tx, &rules, id, today)?,
            None => Vec::new(),
        };
        let mut over = Vec::new();
        for o in budgets::over(tx, &rules, today)? {
            let t = tasks::get(tx, o.task_id)?;
            let p = projects::get(tx, t.project_id)?;
            over.push((t.key.clone(), o.describe(&t.key, &p.name), o));
        }
        Ok::<_, StoreError>((rows, standing, over))
    })?;
    if json {
        return print_json(&serde_json::json!({
            "config": cfg.budget,
            "budgets": rows,
            "standing": standing,
            "over": over.iter().map(|(_, _, o)| o).collect::<Vec<_>>(),
        }));
    }
    outln!("budgets (config): {}", config_line(&cfg.budget));
    outln!("  `bosun budget KEY|--project NAME|--day --tokens N|--usd N --note WHY` sets one");
    for r in &rows {
        let name = match r.scope {
            Scope::Day => "every day".to_string(),
            s => format!("{} {}", s.as_str(), crate::text::plain(&r.key)),
        };
        outln!("  {name}: {}", limits(r.tokens, r.usd));
    }
    for s in &standing {
        outln!("  used of {}", crate::text::plain(&s.describe()));
    }
    if over.is_empty() {
        outln!("no task is over a budget");
    }
    for (key, why, _) in &over {
        outln!("{key} {}", crate::text::plain(why));
    }
    Ok(())
}

/// `2000000 tokens, $5.00` or `no limit`.
fn limits(tokens: Option<i64>, usd: Option<f64>) -> String {
    let parts: Vec<String> = [tokens.map(Amount::Tokens), usd.map(Amount::Usd)]
        .into_iter()
        .flatten()
        .map(Amount::describe)
        .collect();
    if parts.is_empty() {
        "no limit".into()
    } else {
        parts.join(", ")
    }
}

/// `[budget]` on one line: each scope's limits, whether running runs are stopped, the
/// warning level.
pub(super) fn config_line(b: &BudgetConfig) -> String {
    format!(
        "task {}; project {}; day {}; {}; warn at {:.0} %",
        limits(b.task_tokens, b.task_usd),
        limits(b.project_tokens, b.project_usd),
        limits(b.day_tokens, b.day_usd),
        if b.hard {
            "hard (a running run that crosses one is stopped, its job waits)"
        } else {
            "a running run finishes its turn"
        },
        b.warn_at * 100.0
    )
}
