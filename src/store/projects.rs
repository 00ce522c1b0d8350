//! `projects`: git repositories tasks are worked in.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{Result, StoreError, found};

/// A project: a git repository.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    /// Row id.
    pub id: i64,
    /// Unique short name (defaults to the directory name).
    pub name: String,
    /// Absolute path of the repository.
    pub path: String,
    /// Prefix of task keys, e.g. `ET` for `ET-001`: 1–8 uppercase ASCII letters.
    pub key_prefix: String,
    /// Branch worktrees start from; `None` means the repository's HEAD branch.
    pub default_branch: Option<String>,
    /// Shell command a `command` gate without its own command runs.
    pub test_command: Option<String>,
    /// Created, ms since the epoch.
    pub created_at: i64,
    /// Its own landing settings over the config's `[projects.land]`: JSON of the same keys
    /// (`config::land::RawLand`), or `None`.
    pub land: Option<String>,
}

/// What `insert` needs.
#[derive(Debug, Clone)]
pub struct NewProject<'a> {
    /// See [`Project::name`].
    pub name: &'a str,
    /// See [`Project::path`].
    pub path: &'a str,
    /// See [`Project::key_prefix`].
    pub key_prefix: &'a str,
    /// See [`Project::default_branch`].
    pub default_branch: Option<&'a str>,
    /// See [`Project::test_command`].
    pub test_command: Option<&'a str>,
}

const COLS: &str = "id, name, path, key_prefix, default_branch, test_command, created_at, land";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: r.get(0)?,
        name: r.get(1)?,
        path: r.get(2)?,
        key_prefix: r.get(3)?,
        default_branch: r.get(4)?,
        test_command: r.get(5)?,
        created_at: r.get(6)?,
        land: r.get(7)?,
    })
}

/// Inserts a project.
///
/// # Errors
/// [`StoreError::Conflict`] if the name, path or key prefix is taken.
pub fn insert(conn: &Connection, p: &NewProject<'_>, now: i64) -> Result<Project> {
    for (col, value) in [
        ("name", p.name),
        ("path", p.path),
        ("key_prefix", p.key_prefix),
    ] {
        let taken: Option<String> = conn
            .query_row(
                &format!("SELECT name FROM projects WHERE {col} = ?1"),
                [value],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(other) = taken {
            return Err(StoreError::Conflict(format!(
                "project `{other}` already has {col} `{value}`"
            )));
        }
    }
    conn.prepare_cached(
        "INSERT INTO projects (name, path, key_prefix, default_branch, test_command, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        p.name,
        p.path,
        p.key_prefix,
        p.default_branch,
        p.test_command,
        now
    ])?;
    get(conn, conn.last_insert_rowid())
}

/// The project with row id `id`.
///
/// # Errors
/// [`StoreError::NotFound`] if there is none.
pub fn get(conn: &Connection, id: i64) -> Result<Project> {
    found(
        conn.prepare_cached(&format!("SELECT {COLS} FROM projects WHERE id = ?1"))?
            .query_row([id], from_row),
        "project",
        id,
    )
}

/// The project whose name or key prefix is `name`.
///
/// # Errors
/// [`StoreError::NotFound`] if there is none.
pub fn find(conn: &Connection, name: &str) -> Result<Project> {
    found(
        conn.prepare_cached(&format!(
            "SELECT {COLS} FROM projects WHERE name = ?1 OR key_prefix = ?1"
        ))?
        .query_row([name], from_row),
        "project",
        name,
    )
}

/// Every project, by name.
///
/// # Errors
/// [`StoreError::Sqlite`] on database failure.
pub fn list(conn: &Connection) -> Result<Vec<Project>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLS} FROM projects ORDER BY name"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sets project `id`'s own landing settings (JSON, see [`Project::land`]; `None` clears
/// them).
///
/// # Errors
/// [`StoreError::NotFound`] if the project does not exist.
pub fn set_land(conn: &Connection, id: i64, land: Option<&str>) -> Result<()> {
    let n = conn
        .prepare_cached("UPDATE projects SET land = ?2 WHERE id = ?1")?
        .execute(params![id, land])?;
    if n == 0 {
        return Err(StoreError::NotFound {
            what: "project",
            key: id.to_string(),
        });
    }
    Ok(())
}

/// Takes the next task sequence number of project `id` (1, 2, 3, …).
///
/// # Errors
/// [`StoreError::NotFound`] if the project does not exist.
pub fn next_seq(conn: &Connection, id: i64) -> Result<i64> {
    found(
        conn.prepare_cached(
            "UPDATE projects SET next_seq = next_seq + 1 WHERE id = ?1 RETURNING next_seq - 1",
        )?
        .query_row([id], |r| r.get(0)),
        "project",
        id,
    )
}
