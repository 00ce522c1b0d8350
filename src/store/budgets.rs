//! Budgets (schema v20): the operator's raises over `[budget]`, and which tasks are over
//! theirs — a task's own runs, its project's, or today's (UTC) past the tokens allowed.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::Result;
use crate::config::budget::BudgetConfig;

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

/// The tokens allowed in `scope` for `key` (a task key, a project name, `""` for days):
/// the operator's raise, else the config's; `None` is no limit.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn allowed(
    conn: &Connection,
    cfg: &BudgetConfig,
    scope: Scope,
    key: &str,
) -> Result<Option<i64>> {
    let raised: Option<i64> = conn
        .prepare_cached("SELECT tokens FROM budgets WHERE scope = ?1 AND key = ?2")?
        .query_row(params![scope.as_str(), key], |r| r.get(0))
        .optional()?;
    Ok(raised.or(match scope {
        Scope::Task => cfg.task_tokens,
        Scope::Project => cfg.project_tokens,
        Scope::Day => cfg.day_tokens,
    }))
}

/// Sets the budget of `scope`/`key` to `tokens`, decided by `by` with `note`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure (an empty note is refused by the
/// schema).
pub fn set(
    conn: &Connection,
    scope: Scope,
    key: &str,
    tokens: i64,
    note: &str,
    by: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO budgets (scope, key, tokens, note, decided_by, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (scope, key) DO UPDATE SET tokens = ?3, note = ?4, decided_by = ?5, at = ?6",
    )?
    .execute(params![scope.as_str(), key, tokens, note, by, now])?;
    Ok(())
}

/// A task past a budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Over {
    /// The task.
    pub task_id: i64,
    /// The budget's scope.
    pub scope: Scope,
    /// Tokens used in that scope.
    pub used: i64,
    /// Tokens allowed.
    pub allowed: i64,
}

impl Over {
    /// "over budget: its task used 1234 of 1000 tokens; `bosun budget ET-001 --tokens N
    /// --note …` raises it".
    pub fn describe(&self, task_key: &str, project: &str) -> String {
        let (whose, target) = match self.scope {
            Scope::Task => ("the task", task_key.to_string()),
            Scope::Project => ("its project", format!("--project {project}")),
            Scope::Day => ("today's runs", "--day".to_string()),
        };
        format!(
            "over budget: {whose} used {} of {} tokens; `bosun budget {target} --tokens N --note \
             WHY` raises it",
            self.used, self.allowed
        )
    }
}

/// Where task `task_id` stands against each budget that applies to it: (scope, tokens used
/// in that scope, tokens allowed), for the scopes with a limit (`today`: the UTC day's
/// start, ms).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn standing(
    conn: &Connection,
    cfg: &BudgetConfig,
    task_id: i64,
    today: i64,
) -> Result<Vec<(Scope, i64, i64)>> {
    let (key, project): (String, String) = conn
        .prepare_cached(
            "SELECT t.key, p.name FROM tasks t JOIN projects p ON p.id = t.project_id
             WHERE t.id = ?1",
        )?
        .query_row([task_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let total = "COALESCE(SUM(u.input + u.output + u.cache_read + u.cache_write), 0)";
    let from = "FROM run_usage u JOIN runs r ON r.id = u.run_id";
    let mut out = Vec::new();
    if let Some(allowed) = allowed(conn, cfg, Scope::Task, &key)? {
        let used: i64 = conn
            .prepare_cached(&format!("SELECT {total} {from} WHERE r.task_id = ?1"))?
            .query_row([task_id], |r| r.get(0))?;
        out.push((Scope::Task, used, allowed));
    }
    if let Some(allowed) = allowed(conn, cfg, Scope::Project, &project)? {
        let used: i64 = conn
            .prepare_cached(&format!(
                "SELECT {total} {from} JOIN tasks t ON t.id = r.task_id
                 JOIN projects p ON p.id = t.project_id WHERE p.name = ?1"
            ))?
            .query_row([&project], |r| r.get(0))?;
        out.push((Scope::Project, used, allowed));
    }
    if let Some(allowed) = allowed(conn, cfg, Scope::Day, "")? {
        let used: i64 = conn
            .prepare_cached(&format!("SELECT {total} {from} WHERE r.started_at >= ?1"))?
            .query_row([today], |r| r.get(0))?;
        out.push((Scope::Day, used, allowed));
    }
    Ok(out)
}

/// Every task with a queued job that is past a budget (`today` is the UTC day's start, ms),
/// the first budget it is past.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn over(conn: &Connection, cfg: &BudgetConfig, today: i64) -> Result<Vec<Over>> {
    let raised: i64 = conn
        .prepare_cached("SELECT count(*) FROM budgets")?
        .query_row([], |r| r.get(0))?;
    if raised == 0
        && cfg.task_tokens.is_none()
        && cfg.project_tokens.is_none()
        && cfg.day_tokens.is_none()
    {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT task_id FROM jobs WHERE status = 'queued'")?;
    let waiting: Vec<i64> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for task_id in waiting {
        if let Some((scope, used, allowed)) = standing(conn, cfg, task_id, today)?
            .into_iter()
            .find(|(_, used, allowed)| used >= allowed)
        {
            out.push(Over {
                task_id,
                scope,
                used,
                allowed,
            });
        }
    }
    Ok(out)
}
