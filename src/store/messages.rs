//! `messages`: what the operator, runs and tasks send to a task's agents (schema v11).
//!
//! A message waits (`pending`) until its recipient's agent is idle, then moves through
//! compare-and-set steps, each recorded before the next action: [`claim`] (for one run),
//! [`pasted`] (its text is in the agent's input), [`delivered`] (submitted: the agent took it
//! as a turn) and [`acked`] (that turn ended). A supervisor that dies between steps resumes
//! from the last recorded one ([`unclaim`] a claim that was never pasted; submit a pasted one),
//! so an agent never sees a message twice.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::Result;

/// A message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Row id: the message id agents see (`#12`).
    pub id: i64,
    /// Who sent it: `operator`, `run:<id>` or `task:<KEY>`.
    pub sender: String,
    /// The recipient task's row id.
    pub task_id: i64,
    /// The recipient role within the task; `None` for whichever agent runs it.
    pub role: Option<String>,
    /// The text.
    pub body: String,
    /// When it was sent, ms since the epoch.
    pub created_at: i64,
    /// The run it was claimed for.
    pub run_id: Option<i64>,
    /// When it was claimed.
    pub claimed_at: Option<i64>,
    /// When its text went into the agent's input.
    pub pasted_at: Option<i64>,
    /// When it was submitted.
    pub delivered_at: Option<i64>,
    /// When the turn it started ended.
    pub acked_at: Option<i64>,
}

impl Message {
    /// Where it stands, in a word: `pending`, `claimed`, `pasted`, `delivered`, `acked`.
    pub fn state(&self) -> &'static str {
        match (
            self.claimed_at,
            self.pasted_at,
            self.delivered_at,
            self.acked_at,
        ) {
            (_, _, _, Some(_)) => "acked",
            (_, _, Some(_), None) => "delivered",
            (_, Some(_), None, None) => "pasted",
            (Some(_), None, None, None) => "claimed",
            _ => "pending",
        }
    }

    /// The text pasted into the agent: a header naming the message and its sender, then the
    /// body, framed so that no line of it can pass for bosun's own header: a body line that
    /// starts with `[bosun` (after any indentation) is quoted with `> `.
    pub fn delivery_text(&self) -> String {
        let mut out = format!("[bosun message #{} from {}]", self.id, self.sender);
        for line in self.body.split('\n') {
            out.push('\n');
            if line.trim_start().starts_with("[bosun") {
                out.push_str("> ");
            }
            out.push_str(line);
        }
        out
    }
}

const COLS: &str = "id, sender, task_id, role, body, created_at, run_id, claimed_at, pasted_at, \
                    delivered_at, acked_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        sender: r.get(1)?,
        task_id: r.get(2)?,
        role: r.get(3)?,
        body: r.get(4)?,
        created_at: r.get(5)?,
        run_id: r.get(6)?,
        claimed_at: r.get(7)?,
        pasted_at: r.get(8)?,
        delivered_at: r.get(9)?,
        acked_at: r.get(10)?,
    })
}

/// Queues a message for task `task_id` (its agent in `role`, or any), from `sender`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure, or an empty body or sender (a check
/// constraint).
pub fn insert(
    conn: &Connection,
    sender: &str,
    task_id: i64,
    role: Option<&str>,
    body: &str,
    now: i64,
) -> Result<Message> {
    let id = conn
        .prepare_cached(
            "INSERT INTO messages (sender, task_id, role, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )?
        .query_row(params![sender, task_id, role, body, now], |r| r.get(0))?;
    get(conn, id)
}

/// One message.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure or when there is no such message.
pub fn get(conn: &Connection, id: i64) -> Result<Message> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLS} FROM messages WHERE id = ?1"))?
        .query_row([id], from_row)?)
}

/// Messages of a task (every task with `None`), oldest first, at most `limit`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn list(conn: &Connection, task_id: Option<i64>, limit: usize) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT * FROM (SELECT {COLS} FROM messages WHERE ?1 IS NULL OR task_id = ?1
         ORDER BY id DESC LIMIT ?2) ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![task_id, limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The unclaimed messages a run of task `task_id` in `role` may take, oldest first, at most
/// `limit`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn pending_for(
    conn: &Connection,
    task_id: i64,
    role: &str,
    limit: usize,
) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM messages WHERE task_id = ?1 AND delivered_at IS NULL
         AND claimed_at IS NULL AND (role IS NULL OR role = ?2) ORDER BY id LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![task_id, role, limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The messages claimed for run `run_id` and not acknowledged yet, oldest first.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn open_for_run(conn: &Connection, run_id: i64) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM messages WHERE run_id = ?1 AND acked_at IS NULL ORDER BY id"
    ))?;
    let rows = stmt.query_map([run_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// When run `run_id` last took a message (its latest delivery), if it did.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn last_delivery(conn: &Connection, run_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT max(delivered_at) FROM messages WHERE run_id = ?1")?
        .query_row([run_id], |r| r.get(0))?)
}

/// True when run `run_id`'s turn end has something to write: a delivered message to
/// acknowledge, or an unclaimed one a run of task `task_id` in `role` may take. A read, so the
/// supervisor takes the write lock at a turn's end only when there is work (the common case,
/// no messages, is one indexed lookup each).
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn any_at_turn_end(conn: &Connection, run_id: i64, task_id: i64, role: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE run_id = ?1
                              AND delivered_at IS NOT NULL AND acked_at IS NULL)
                 OR EXISTS (SELECT 1 FROM messages WHERE task_id = ?2 AND delivered_at IS NULL
                              AND claimed_at IS NULL AND (role IS NULL OR role = ?3))",
        )?
        .query_row(params![run_id, task_id, role], |r| r.get(0))?)
}

/// Claims message `id` for run `run_id`; false when it was claimed already.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn claim(conn: &Connection, id: i64, run_id: i64, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE messages SET run_id = ?2, claimed_at = ?3
             WHERE id = ?1 AND claimed_at IS NULL",
        )?
        .execute(params![id, run_id, now])?
        == 1)
}

/// Gives a claimed message that was never pasted back to the queue; false if it was pasted.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn unclaim(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE messages SET run_id = NULL, claimed_at = NULL
             WHERE id = ?1 AND pasted_at IS NULL",
        )?
        .execute([id])?
        == 1)
}

/// Records that message `id`'s text is in the agent's input.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn pasted(conn: &Connection, id: i64, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE messages SET pasted_at = ?2
             WHERE id = ?1 AND claimed_at IS NOT NULL AND pasted_at IS NULL",
        )?
        .execute(params![id, now])?
        == 1)
}

/// Records that message `id` was submitted.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn delivered(conn: &Connection, id: i64, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE messages SET delivered_at = ?2
             WHERE id = ?1 AND pasted_at IS NOT NULL AND delivered_at IS NULL",
        )?
        .execute(params![id, now])?
        == 1)
}

/// Records that the turns run `run_id`'s delivered messages started have ended.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn acked(conn: &Connection, run_id: i64, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE messages SET acked_at = ?2
             WHERE run_id = ?1 AND delivered_at IS NOT NULL AND acked_at IS NULL",
        )?
        .execute(params![run_id, now])?)
}

/// Gives back the unpasted claims of a run that ended (its next run, or another, takes
/// them); returns how many.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn release_run(conn: &Connection, run_id: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE messages SET run_id = NULL, claimed_at = NULL
             WHERE run_id = ?1 AND pasted_at IS NULL",
        )?
        .execute([run_id])?)
}
