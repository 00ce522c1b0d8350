//! `lease`: the one row that says which supervisor drives this database.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Result, StoreError};

/// The lease holder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lease {
    /// Who holds it, e.g. `daemon` or `console`.
    pub owner: String,
    /// Holder's process id.
    pub pid: i64,
    /// Holder's host name.
    pub host: String,
    /// Taken, ms since the epoch.
    pub acquired_at: i64,
    /// Last heartbeat, ms since the epoch.
    pub heartbeat_at: i64,
}

/// The current lease, if any.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn get(conn: &Connection) -> Result<Option<Lease>> {
    Ok(conn
        .prepare_cached(
            "SELECT owner, pid, host, acquired_at, heartbeat_at FROM lease WHERE id = 1",
        )?
        .query_row([], |r| {
            Ok(Lease {
                owner: r.get(0)?,
                pid: r.get(1)?,
                host: r.get(2)?,
                acquired_at: r.get(3)?,
                heartbeat_at: r.get(4)?,
            })
        })
        .optional()?)
}

/// Takes the lease for (`owner`, `pid`, `host`) if it is free, already ours, or `stale`
/// (the caller decides: heartbeat too old, or the holder's process is gone). Call inside a
/// write transaction.
///
/// # Errors
/// [`StoreError::Conflict`] naming the holder when another live supervisor has it.
pub fn acquire(
    conn: &Connection,
    owner: &str,
    pid: i64,
    host: &str,
    now: i64,
    stale: impl FnOnce(&Lease) -> bool,
) -> Result<Lease> {
    if let Some(held) = get(conn)?
        && !(held.pid == pid && held.host == host)
        && !stale(&held)
    {
        return Err(StoreError::Conflict(format!(
            "another supervisor drives this database: {} (pid {} on {}, heartbeat {} ms ago); \
             stop it first, or use it as a client",
            held.owner,
            held.pid,
            held.host,
            now - held.heartbeat_at
        )));
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO lease (id, owner, pid, host, acquired_at, heartbeat_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![owner, pid, host, now])?;
    get(conn)?.ok_or_else(|| StoreError::Conflict("lease vanished".into()))
}

/// Renews `held`, the lease this process acquired; returns false when the row is no longer
/// that lease (another supervisor took it over, even one with the same pid on another host
/// or in another pid namespace: pid, host and acquisition time must all still match).
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn heartbeat(conn: &Connection, held: &Lease, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE lease SET heartbeat_at = ?4
             WHERE id = 1 AND pid = ?1 AND host = ?2 AND acquired_at = ?3",
        )?
        .execute(params![held.pid, held.host, held.acquired_at, now])?
        == 1)
}

/// Gives the lease up if `pid` holds it.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn release(conn: &Connection, pid: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM lease WHERE id = 1 AND pid = ?1")?
        .execute([pid])?;
    Ok(())
}
