//! `radar`: the conflict radar's results (schema v17) — for each pair of a project's branches
//! in flight, the files a merge of the two would conflict in, for the tips they had.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::Result;

/// One pair's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pair {
    /// The project.
    pub project_id: i64,
    /// The "ours" side: the base branch, or the task branch first by name.
    pub a: String,
    /// The "theirs" side: a task branch.
    pub b: String,
    /// `a`'s tip the result was computed for (full sha).
    pub a_tip: String,
    /// `b`'s tip the result was computed for.
    pub b_tip: String,
    /// The conflicting paths; empty: the two merge cleanly.
    pub files: Vec<String>,
    /// When it was computed, ms since the epoch.
    pub computed_at: i64,
}

const COLS: &str = "project_id, a, b, a_tip, b_tip, files, computed_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Pair> {
    let files: String = r.get(5)?;
    Ok(Pair {
        project_id: r.get(0)?,
        a: r.get(1)?,
        b: r.get(2)?,
        a_tip: r.get(3)?,
        b_tip: r.get(4)?,
        files: serde_json::from_str(&files).unwrap_or_default(),
        computed_at: r.get(6)?,
    })
}

/// Every stored pair of project `project_id`, by (`a`, `b`).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn for_project(conn: &Connection, project_id: i64) -> Result<Vec<Pair>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM radar WHERE project_id = ?1 ORDER BY a, b"
    ))?;
    let rows = stmt.query_map([project_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The pairs in which `branch` of project `project_id` conflicts, by (`a`, `b`).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn conflicts_of(conn: &Connection, project_id: i64, branch: &str) -> Result<Vec<Pair>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM radar WHERE project_id = ?1 AND (a = ?2 OR b = ?2)
           AND files <> '[]' ORDER BY a, b"
    ))?;
    let rows = stmt.query_map(params![project_id, branch], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every pair that conflicts, all projects.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn conflicting(conn: &Connection) -> Result<Vec<Pair>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM radar WHERE files <> '[]' ORDER BY project_id, a, b"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Stores `pair`'s result, replacing the one computed for older tips.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn put(conn: &Connection, pair: &Pair) -> Result<()> {
    let files = serde_json::to_string(&pair.files).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "INSERT INTO radar (project_id, a, b, a_tip, b_tip, files, computed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (project_id, a, b) DO UPDATE SET a_tip = excluded.a_tip,
             b_tip = excluded.b_tip, files = excluded.files, computed_at = excluded.computed_at",
    )?
    .execute(params![
        pair.project_id,
        pair.a,
        pair.b,
        pair.a_tip,
        pair.b_tip,
        files,
        pair.computed_at
    ])?;
    Ok(())
}

/// Drops the pair (`a`, `b`) of project `project_id` (a branch went).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn remove(conn: &Connection, project_id: i64, a: &str, b: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM radar WHERE project_id = ?1 AND a = ?2 AND b = ?3")?
        .execute(params![project_id, a, b])?;
    Ok(())
}
