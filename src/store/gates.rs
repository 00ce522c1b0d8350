//! `gate_results`: the outcome of each gate evaluation, with its reason and output.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::Result;

pub use crate::status::GateOutcome;
crate::store::sql_text!(GateOutcome);

/// A recorded gate evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// Row id.
    pub id: i64,
    /// Task row id.
    pub task_id: i64,
    /// The run judged, if any.
    pub run_id: Option<i64>,
    /// Stage name.
    pub stage: String,
    /// Index of the gate in the stage; branches are recorded as -1 - their index.
    pub gate_index: i64,
    /// `artifact`, `command`, `verdict`, `approval` or `branch`.
    pub kind: String,
    /// The outcome.
    pub outcome: GateOutcome,
    /// One line: why.
    pub reason: String,
    /// Command output or file text kept as evidence (bounded by the caller).
    pub output: Option<String>,
    /// When, ms since the epoch.
    pub created_at: i64,
}

/// What `insert` needs.
#[derive(Debug, Clone)]
pub struct NewGateResult<'a> {
    /// Task row id.
    pub task_id: i64,
    /// The run judged.
    pub run_id: Option<i64>,
    /// Stage name.
    pub stage: &'a str,
    /// See [`GateResult::gate_index`].
    pub gate_index: i64,
    /// See [`GateResult::kind`].
    pub kind: &'a str,
    /// The outcome.
    pub outcome: GateOutcome,
    /// Why.
    pub reason: &'a str,
    /// Evidence.
    pub output: Option<&'a str>,
}

/// Records a gate result.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn insert(conn: &Connection, g: &NewGateResult<'_>, now: i64) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO gate_results (task_id, run_id, stage, gate_index, kind, outcome, reason,
           output, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        g.task_id,
        g.run_id,
        g.stage,
        g.gate_index,
        g.kind,
        g.outcome,
        g.reason,
        g.output,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<GateResult> {
    Ok(GateResult {
        id: r.get(0)?,
        task_id: r.get(1)?,
        run_id: r.get(2)?,
        stage: r.get(3)?,
        gate_index: r.get(4)?,
        kind: r.get(5)?,
        outcome: r.get(6)?,
        reason: r.get(7)?,
        output: r.get(8)?,
        created_at: r.get(9)?,
    })
}

/// The task's gate results, oldest first.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn for_task(conn: &Connection, task_id: i64) -> Result<Vec<GateResult>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, task_id, run_id, stage, gate_index, kind, outcome, reason, output, created_at
         FROM gate_results WHERE task_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([task_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Each gate's current outcome: of `results` (any order), the newest per stage and gate
/// index, oldest first. An `approval pending` row replaced by the `approval pass` that
/// answered it, or a failed review replaced by the pass of a later run, is not current.
pub fn current(results: &[GateResult]) -> Vec<GateResult> {
    let mut newest: std::collections::HashMap<(&str, i64), &GateResult> =
        std::collections::HashMap::new();
    for g in results {
        let slot = newest.entry((g.stage.as_str(), g.gate_index)).or_insert(g);
        if g.id > slot.id {
            *slot = g;
        }
    }
    let mut out: Vec<GateResult> = newest.into_values().cloned().collect();
    out.sort_by_key(|g| g.id);
    out
}
