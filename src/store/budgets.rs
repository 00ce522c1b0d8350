//! Budgets (schema v20, v22): the operator's raises over `[budget]`, where a task stands
//! against each budget that applies to it — its own runs', its project's and today's (UTC),
//! in tokens and in US dollars — and which tasks are past one.
//!
//! Dollars are the cost `bosun usage` shows: each provider and model's tokens priced by
//! `[prices]`. A model with no price costs an unknown amount, never $0: it is not counted and
//! the standing names it; a provider in `[prices] subscription` costs $0 here (its plan is
//! paid whatever the runs use) and the standing says so.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::Result;
use super::usage::Part;
use crate::config::budget::BudgetRules;
use crate::config::prices::Cost;

/// A budget's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One task.
    Task,
    /// One project's tasks.
    Project,
    /// Every run started on one UTC day.
    Day,
}

impl Scope {
    /// `task`, `project`, `day`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Task => "task",
            Scope::Project => "project",
            Scope::Day => "day",
        }
    }
}

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Tokens: input, cache reads and writes, output.
    Tokens,
    /// US dollars, priced by `[prices]`.
    Usd,
}

impl Measure {
    /// `tokens`, `usd` (as stored, and the `bosun budget` option: `--tokens`, `--usd`).
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Tokens => "tokens",
            Measure::Usd => "usd",
        }
    }
}

/// An amount of a budget's measure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Amount {
    /// Tokens.
    Tokens(i64),
    /// US dollars.
    Usd(f64),
}

impl Amount {
    /// What it counts.
    pub fn measure(self) -> Measure {
        match self {
            Amount::Tokens(_) => Measure::Tokens,
            Amount::Usd(_) => Measure::Usd,
        }
    }

    /// The amount as a number (tokens, or dollars).
    #[allow(clippy::cast_precision_loss)]
    pub fn value(self) -> f64 {
        match self {
            Amount::Tokens(t) => t as f64,
            Amount::Usd(d) => d,
        }
    }

    /// `1234 tokens`, `$0.42`.
    pub fn describe(self) -> String {
        match self {
            Amount::Tokens(t) => format!("{t} tokens"),
            Amount::Usd(d) => format!("${d:.2}"),
        }
    }
}

/// The budget allowed in `scope` for `key` (a task key, a project name, `""` for days) in
/// `measure`: the operator's raise, else the config's; `None` is no limit.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn allowed(
    conn: &Connection,
    rules: &BudgetRules,
    scope: Scope,
    key: &str,
    measure: Measure,
) -> Result<Option<Amount>> {
    let sql = "SELECT amount FROM budgets WHERE scope = ?1 AND key = ?2 AND measure = ?3";
    let mut stmt = conn.prepare_cached(sql)?;
    let args = params![scope.as_str(), key, measure.as_str()];
    let raised = match measure {
        Measure::Tokens => stmt
            .query_row(args, |r| r.get::<_, i64>(0))
            .optional()?
            .map(Amount::Tokens),
        Measure::Usd => stmt
            .query_row(args, |r| r.get::<_, f64>(0))
            .optional()?
            .map(Amount::Usd),
    };
    let c = &rules.limits;
    Ok(raised.or(match (scope, measure) {
        (Scope::Task, Measure::Tokens) => c.task_tokens.map(Amount::Tokens),
        (Scope::Project, Measure::Tokens) => c.project_tokens.map(Amount::Tokens),
        (Scope::Day, Measure::Tokens) => c.day_tokens.map(Amount::Tokens),
        (Scope::Task, Measure::Usd) => c.task_usd.map(Amount::Usd),
        (Scope::Project, Measure::Usd) => c.project_usd.map(Amount::Usd),
        (Scope::Day, Measure::Usd) => c.day_usd.map(Amount::Usd),
    }))
}

/// Sets the budget of `scope`/`key` to `amount`, decided by `by` with `note`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure (an empty note, a negative amount and
/// one that is not a number are refused by the schema).
pub fn set(
    conn: &Connection,
    scope: Scope,
    key: &str,
    amount: Amount,
    note: &str,
    by: &str,
    now: i64,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO budgets (scope, key, measure, amount, note, decided_by, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (scope, key, measure) DO UPDATE SET amount = ?4, note = ?5,
             decided_by = ?6, at = ?7",
    )?;
    let (scope, measure) = (scope.as_str(), amount.measure().as_str());
    match amount {
        Amount::Tokens(t) => stmt.execute(params![scope, key, measure, t, note, by, now])?,
        Amount::Usd(d) => stmt.execute(params![scope, key, measure, d, note, by, now])?,
    };
    Ok(())
}

/// Where a task stands against one budget that applies to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standing {
    /// The budget's scope.
    pub scope: Scope,
    /// Used in that scope: tokens, or the dollars of the runs with a price.
    pub used: Amount,
    /// Allowed.
    pub allowed: Amount,
    /// Dollar budgets: the models of runs in the scope with no price (their cost is unknown
    /// and not counted in `used`).
    pub unpriced: Vec<String>,
    /// Dollar budgets: the providers of runs in the scope billed by a subscription (counted
    /// as $0).
    pub subscription: Vec<String>,
}

impl Standing {
    /// True when all of the budget is used (it holds the task's next run).
    pub fn is_over(&self) -> bool {
        self.used.value() >= self.allowed.value()
    }

    /// `task: 1234 of 5000 tokens`, `project: $0.40 of $5.00; no price for gpt-x (its runs
    /// are not counted: add it to [prices.models]); claude billed by subscription ($0)`.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{}: {} of {}",
            self.scope.as_str(),
            match self.used {
                Amount::Tokens(t) => t.to_string(),
                Amount::Usd(_) => self.used.describe(),
            },
            self.allowed.describe()
        );
        out.push_str(&self.notes());
        out
    }

    /// What a dollar figure leaves out: `; no price for …; … billed by subscription ($0)`.
    fn notes(&self) -> String {
        let mut out = String::new();
        if !self.unpriced.is_empty() {
            out.push_str(&format!(
                "; no price for {} (its runs' cost is unknown and not counted: add it to \
                 [prices.models])",
                self.unpriced.join(", ")
            ));
        }
        if !self.subscription.is_empty() {
            out.push_str(&format!(
                "; {} billed by subscription ($0 here)",
                self.subscription.join(", ")
            ));
        }
        out
    }
}

/// A task past a budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Over {
    /// The task.
    pub task_id: i64,
    /// The budget it is past.
    #[serde(flatten)]
    pub standing: Standing,
}

impl Over {
    /// "over budget: the task used 1234 of 1000 tokens; `bosun budget ET-001 --tokens N
    /// --note WHY` raises it" (dollars: `used $1.20 of $1.00`, `--usd N`).
    pub fn describe(&self, task_key: &str, project: &str) -> String {
        let s = &self.standing;
        let (whose, target) = match s.scope {
            Scope::Task => ("the task", task_key.to_string()),
            Scope::Project => ("its project", format!("--project {project}")),
            Scope::Day => ("today's runs", "--day".to_string()),
        };
        let used = match s.used {
            Amount::Tokens(t) => t.to_string(),
            Amount::Usd(_) => s.used.describe(),
        };
        format!(
            "over budget: {whose} used {used} of {}{}; `bosun budget {target} --{} N --note \
             WHY` raises it",
            s.allowed.describe(),
            s.notes(),
            s.allowed.measure().as_str(),
        )
    }
}

/// `parts` against the budgets of `scope` that have a limit.
fn stand(
    rules: &BudgetRules,
    scope: Scope,
    parts: &[Part],
    limits: [Option<Amount>; 2],
) -> Vec<Standing> {
    let mut out = Vec::new();
    for allowed in limits.into_iter().flatten() {
        let mut s = Standing {
            scope,
            used: allowed,
            allowed,
            unpriced: Vec::new(),
            subscription: Vec::new(),
        };
        s.used = match allowed {
            Amount::Tokens(_) => Amount::Tokens(parts.iter().map(|(_, _, u)| u.total()).sum()),
            Amount::Usd(_) => {
                let mut usd = 0.0;
                for (provider, model, u) in parts {
                    match rules.prices.cost(provider, model.as_deref(), u) {
                        Cost::Usd { usd: d } => usd += d,
                        Cost::Subscription => {
                            if !s.subscription.contains(provider) {
                                s.subscription.push(provider.clone());
                            }
                        }
                        Cost::Unpriced { models } => {
                            for m in models {
                                if !s.unpriced.contains(&m) {
                                    s.unpriced.push(m);
                                }
                            }
                        }
                    }
                }
                Amount::Usd(usd)
            }
        };
        out.push(s);
    }
    out
}

/// Where task `task_id` stands against each budget that applies to it (the scopes and
/// measures with a limit), task first, tokens before dollars (`today`: the UTC day's start,
/// ms).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn standing(
    conn: &Connection,
    rules: &BudgetRules,
    task_id: i64,
    today: i64,
) -> Result<Vec<Standing>> {
    let (key, project_id, project): (String, i64, String) = conn
        .prepare_cached(
            "SELECT t.key, p.id, p.name FROM tasks t JOIN projects p ON p.id = t.project_id
             WHERE t.id = ?1",
        )?
        .query_row([task_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let mut out = Vec::new();
    let scopes: [(Scope, &str, &str, &dyn rusqlite::ToSql); 3] = [
        (Scope::Task, key.as_str(), "r.task_id = ?1", &task_id),
        (
            Scope::Project,
            project.as_str(),
            "t.project_id = ?1",
            &project_id,
        ),
        (Scope::Day, "", "r.started_at >= ?1", &today),
    ];
    for (scope, k, filter, arg) in scopes {
        let limits = [
            allowed(conn, rules, scope, k, Measure::Tokens)?,
            allowed(conn, rules, scope, k, Measure::Usd)?,
        ];
        if limits.iter().all(Option::is_none) {
            continue;
        }
        out.extend(stand(
            rules,
            scope,
            &super::usage::parts(conn, filter, arg)?,
            limits,
        ));
    }
    Ok(out)
}

/// Every task with a queued job that is past a budget (`today` is the UTC day's start, ms),
/// with the first budget it is past.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn over(conn: &Connection, rules: &BudgetRules, today: i64) -> Result<Vec<Over>> {
    let raised: i64 = conn
        .prepare_cached("SELECT count(*) FROM budgets")?
        .query_row([], |r| r.get(0))?;
    if raised == 0 && !rules.limits.any() {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT task_id FROM jobs WHERE status = 'queued'")?;
    let waiting: Vec<i64> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for task_id in waiting {
        if let Some(standing) = standing(conn, rules, task_id, today)?
            .into_iter()
            .find(Standing::is_over)
        {
            out.push(Over { task_id, standing });
        }
    }
    Ok(out)
}

/// The start of the UTC day `now` (ms since the epoch) falls in.
pub fn day_start(now: i64) -> i64 {
    now - now.rem_euclid(86_400_000)
}
