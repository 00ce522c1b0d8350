//! What runs used (schema v19): per run, the tokens read from its CLI's session record and
//! where that reading stopped; rolled up per task, project, provider and day.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::Result;
pub use crate::provider::usage::Usage;

/// Where a run's usage reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The session record read.
    pub record: Option<String>,
    /// Bytes of it read.
    pub offset: u64,
    /// The reader's state (JSON).
    pub reader: Option<String>,
}

/// Run `run_id`'s reading so far.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn reading(conn: &Connection, run_id: i64) -> Result<Option<Reading>> {
    Ok(conn
        .prepare_cached("SELECT record, record_offset, reader FROM run_usage WHERE run_id = ?1")?
        .query_row([run_id], |r| {
            Ok(Reading {
                record: r.get(0)?,
                offset: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                reader: r.get(2)?,
            })
        })
        .optional()?)
}

/// Records run `run_id`'s usage (of `provider`, `model`) and where its reading stopped.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure (negative counts are refused by the
/// schema).
pub fn record(
    conn: &Connection,
    run_id: i64,
    provider: &str,
    model: Option<&str>,
    u: &Usage,
    at: &Reading,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO run_usage (run_id, provider, model, input, output, cache_read, cache_write,
                                reasoning, record, record_offset, reader, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (run_id) DO UPDATE SET model = COALESCE(?3, model), input = ?4,
             output = ?5, cache_read = ?6, cache_write = ?7, reasoning = ?8, record = ?9,
             record_offset = ?10, reader = ?11, updated_at = ?12",
    )?
    .execute(params![
        run_id,
        provider,
        model,
        u.input.max(0),
        u.output.max(0),
        u.cache_read.max(0),
        u.cache_write.max(0),
        u.reasoning.clamp(0, u.output.max(0)),
        at.record,
        i64::try_from(at.offset).unwrap_or(i64::MAX),
        at.reader,
        now
    ])?;
    Ok(())
}

/// How usage is rolled up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// Per task (its key).
    Task,
    /// Per project (its name).
    Project,
    /// Per provider.
    Provider,
    /// Per UTC day of the run's start (`YYYY-MM-DD`).
    Day,
}

/// One row of a roll-up: one key's runs of one provider and model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The task key, project name, provider or day.
    pub key: String,
    /// The provider.
    pub provider: String,
    /// The model, as the CLI recorded it.
    pub model: Option<String>,
    /// Runs counted.
    pub runs: i64,
    /// Their usage.
    pub usage: Usage,
}

/// Usage rolled up `by` and by provider and model (what prices it), of runs started at or
/// after `since` (ms since the epoch).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn rollup(conn: &Connection, by: By, since: i64) -> Result<Vec<Row>> {
    let key = match by {
        By::Task => "t.key",
        By::Project => "p.name",
        By::Provider => "u.provider",
        By::Day => "strftime('%Y-%m-%d', r.started_at / 1000, 'unixepoch')",
    };
    let sql = format!(
        "SELECT {key}, u.provider, u.model, COUNT(*), SUM(u.input), SUM(u.output),
                SUM(u.cache_read), SUM(u.cache_write), SUM(u.reasoning)
         FROM run_usage u JOIN runs r ON r.id = u.run_id JOIN tasks t ON t.id = r.task_id
              JOIN projects p ON p.id = t.project_id
         WHERE r.started_at >= ?1
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([since], |r| {
        Ok(Row {
            key: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            provider: r.get(1)?,
            model: r.get(2)?,
            runs: r.get(3)?,
            usage: Usage {
                input: r.get(4)?,
                output: r.get(5)?,
                cache_read: r.get(6)?,
                cache_write: r.get(7)?,
                reasoning: r.get(8)?,
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Task `task_id`'s usage, all runs.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn for_task(conn: &Connection, task_id: i64) -> Result<Usage> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(u.input), 0), COALESCE(SUM(u.output), 0),
                    COALESCE(SUM(u.cache_read), 0), COALESCE(SUM(u.cache_write), 0),
                    COALESCE(SUM(u.reasoning), 0)
             FROM run_usage u JOIN runs r ON r.id = u.run_id WHERE r.task_id = ?1",
        )?
        .query_row([task_id], |r| usage_at(r, 0))?)
}

/// Usage of one provider and model: (provider, model, usage).
pub type Part = (String, Option<String>, Usage);

/// The five usage columns (input, output, cache read, cache write, reasoning) of row `r`
/// from column `i` on.
fn usage_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Usage> {
    Ok(Usage {
        input: r.get(i)?,
        output: r.get(i + 1)?,
        cache_read: r.get(i + 2)?,
        cache_write: r.get(i + 3)?,
        reasoning: r.get(i + 4)?,
    })
}

/// The usage of the runs `filter` selects (a condition on `r`, the runs, and `t`, their
/// tasks, with one parameter), by provider and model (what prices it).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub(crate) fn parts(
    conn: &Connection,
    filter: &str,
    arg: &dyn rusqlite::ToSql,
) -> Result<Vec<Part>> {
    let sql = format!(
        "SELECT u.provider, u.model, SUM(u.input), SUM(u.output), SUM(u.cache_read),
                SUM(u.cache_write), SUM(u.reasoning)
         FROM run_usage u JOIN runs r ON r.id = u.run_id JOIN tasks t ON t.id = r.task_id
         WHERE {filter} GROUP BY 1, 2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([arg], |r| Ok((r.get(0)?, r.get(1)?, usage_at(r, 2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Task `task_id`'s usage by provider and model (what prices it).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn parts_of_task(conn: &Connection, task_id: i64) -> Result<Vec<Part>> {
    parts(conn, "r.task_id = ?1", &task_id)
}

/// One task's usage of one provider and model: (task id, provider, model, usage).
pub type TaskPart = (i64, String, Option<String>, Usage);

/// Every task's usage, by provider and model (what prices it), in one statement for the
/// console's board.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn by_task(conn: &Connection) -> Result<Vec<TaskPart>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.task_id, u.provider, u.model, SUM(u.input), SUM(u.output),
                SUM(u.cache_read), SUM(u.cache_write), SUM(u.reasoning)
         FROM run_usage u JOIN runs r ON r.id = u.run_id
         GROUP BY 1, 2, 3",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, usage_at(r, 3)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
