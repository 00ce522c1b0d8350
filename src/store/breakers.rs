//! `breakers`: one persisted circuit breaker per provider.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::Result;

pub use crate::status::BreakerState;
crate::store::sql_text!(BreakerState);

/// A provider's breaker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breaker {
    /// Provider name.
    pub provider: String,
    /// Current state.
    pub state: BreakerState,
    /// Transient failures in a row.
    pub consecutive_failures: i64,
    /// When it last opened, ms since the epoch.
    pub opened_at: Option<i64>,
    /// The probe job while half-open.
    pub probe_job_id: Option<i64>,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Breaker> {
    Ok(Breaker {
        provider: r.get(0)?,
        state: r.get(1)?,
        consecutive_failures: r.get(2)?,
        opened_at: r.get(3)?,
        probe_job_id: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

const COLS: &str = "provider, state, consecutive_failures, opened_at, probe_job_id, updated_at";

/// Every breaker, by provider.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn list(conn: &Connection) -> Result<Vec<Breaker>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLS} FROM breakers ORDER BY provider"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The provider's breaker; a closed one with no failures if none is stored.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn get(conn: &Connection, provider: &str) -> Result<Breaker> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            &format!("SELECT {COLS} FROM breakers WHERE provider = ?1"),
            [provider],
            from_row,
        )
        .optional()?
        .unwrap_or(Breaker {
            provider: provider.to_string(),
            state: BreakerState::Closed,
            consecutive_failures: 0,
            opened_at: None,
            probe_job_id: None,
            updated_at: 0,
        }))
}

/// Stores a breaker (insert or replace).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn put(conn: &Connection, b: &Breaker) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO breakers ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))?
    .execute(params![
        b.provider,
        b.state,
        b.consecutive_failures,
        b.opened_at,
        b.probe_job_id,
        b.updated_at
    ])?;
    Ok(())
}
