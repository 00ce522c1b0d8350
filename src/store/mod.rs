//! The SQLite store: the single source of truth, and the IPC between the console and a
//! headless daemon. Only this module writes SQL; one submodule per table.
//!
//! Settings (ARCHITECTURE.md, `store/`): WAL journal, `synchronous = NORMAL`, foreign keys on, rusqlite's
//! default 5 s busy timeout, schema by `rusqlite_migration` (the version is SQLite's
//! `user_version`). All times are milliseconds since the Unix epoch, UTC.

pub mod answers;
pub mod breakers;
pub mod budgets;
pub mod counters;
pub mod events;
pub mod gates;
pub mod helpers;
pub mod hooks;
pub mod intake;
pub mod jobs;
pub mod landings;
pub mod lease;
pub mod limits;
pub mod messages;
pub mod notifications;
pub mod projects;
pub mod radar;
pub mod rejections;
pub mod runs;
pub mod tasks;
pub mod usage;

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use rusqlite_migration::{M, Migrations};

pub use rusqlite::Connection as Conn;

/// Schema migrations, oldest first (the first makes version 1). Append only: never edit a
/// released one. Public so that tests can build a database as an older bosun left it.
pub const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("schema_2.sql"),
    include_str!("schema_3.sql"),
    include_str!("schema_4.sql"),
    include_str!("schema_5.sql"),
    include_str!("schema_6.sql"),
    include_str!("schema_7.sql"),
    include_str!("schema_8.sql"),
    include_str!("schema_9.sql"),
    include_str!("schema_10.sql"),
    include_str!("schema_11.sql"),
    include_str!("schema_12.sql"),
    include_str!("schema_13.sql"),
    include_str!("schema_14.sql"),
    include_str!("schema_15.sql"),
    include_str!("schema_16.sql"),
    include_str!("schema_17.sql"),
    include_str!("schema_18.sql"),
    include_str!("schema_19.sql"),
    include_str!("schema_20.sql"),
    include_str!("schema_21.sql"),
    include_str!("schema_22.sql"),
];

/// The migration (0-based index in [`MIGRATIONS`]) whose hook hashes clear hook tokens.
const HASH_TOKENS_AT: usize = 13;

/// SQLite `application_id` of a bosun database: "bosu" in ASCII (schema v5).
pub const APPLICATION_ID: i64 = 0x626F_7375;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Applying the schema failed.
    #[error("database migration failed on {}: {source}", path.display())]
    Migration {
        /// The database file.
        path: PathBuf,
        /// What rusqlite_migration reported.
        source: rusqlite_migration::Error,
    },
    /// The file was written by a newer bosun whose schema this one does not know.
    #[error(
        "{} has schema version {found}, but this bosun knows only up to {supported}: \
         it was written by a newer bosun; upgrade bosun or point --db at another file",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The file's `user_version`.
        found: usize,
        /// The newest version this build knows.
        supported: usize,
    },
    /// The file is an SQLite database of some other program: bosun refuses it untouched.
    #[error(
        "{} is not a bosun database ({what}); bosun leaves it untouched: point --db (or \
         $BOSUN_DB) at a bosun database or a new file",
        path.display()
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        what: String,
    },
    /// The file is damaged: bosun will not write to it.
    #[error(
        "{} is malformed ({detail}); bosun will not write to it. Restore a backup (`bosun \
         backup` makes one), or move the file aside and start a new database; `sqlite3 {} \
         .recover` may save its rows",
        path.display(),
        path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// The database directory could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A named row does not exist.
    #[error("no {what} {key}")]
    NotFound {
        /// The kind of row, e.g. `task`.
        what: &'static str,
        /// The key that was looked up.
        key: String,
    },
    /// The request does not fit the row's current state.
    #[error("{0}")]
    Conflict(String),
}

impl StoreError {
    /// True when the failure may pass by itself: the database is locked or busy (another
    /// connection holds the write lock past the busy timeout) or the disk is full.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
            ),
            _ => false,
        }
    }
}

/// Result alias for store calls.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Reads (never writes) what the file at `path` is: its schema version when it is a bosun
/// database (0 for a new, empty file), or the reason to refuse it.
fn probe(conn: &Connection, path: &Path) -> Result<usize> {
    let damaged = |e: rusqlite::Error| match e {
        rusqlite::Error::SqliteFailure(f, msg)
            if matches!(
                f.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
        {
            StoreError::Malformed {
                path: path.to_path_buf(),
                detail: msg.unwrap_or_else(|| f.to_string()),
            }
        }
        other => StoreError::Sqlite(other),
    };
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(damaged)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(damaged)?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(damaged)?;
    let found = usize::try_from(version).unwrap_or(0);
    let ours = app == APPLICATION_ID
        || (app == 0 && tables.is_empty() && version == 0)
        // Written before schema v5 set the application id.
        || (app == 0
            && version > 0
            && ["tasks", "jobs", "events"].iter().all(|t| tables.iter().any(|n| n == t)));
    if !ours {
        let what = if app != 0 {
            format!("its application_id is {app:#x}")
        } else {
            let shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
            format!("tables {}", shown.join(", "))
        };
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            what,
        });
    }
    if found > MIGRATIONS.len() {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: MIGRATIONS.len(),
        });
    }
    Ok(found)
}

/// `PRAGMA quick_check`: [`StoreError::Malformed`] with SQLite's first findings unless `ok`.
fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    let findings: std::result::Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    let detail = match findings {
        Ok(f) if f.len() == 1 && f[0] == "ok" => return Ok(()),
        Ok(f) => f.join("; "),
        Err(e) => e.to_string(),
    };
    Err(StoreError::Malformed {
        path: path.to_path_buf(),
        detail: format!("quick_check: {detail}"),
    })
}

/// What `bosun doctor` reports of a database file, read without writing anything.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The file's schema version (0: new and empty).
    pub schema: usize,
    /// The newest schema version this build knows (the file is migrated to it on open).
    pub latest: usize,
    /// Size of the database file, bytes.
    pub bytes: u64,
    /// Size of its write-ahead log (`-wal`), bytes (0 when there is none).
    pub wal_bytes: u64,
    /// The supervisor lease, if one is held (`None` also for a file without the table yet).
    pub lease: Option<lease::Lease>,
}

/// Reads the database at `path` read-only: identity (bosun's, not too new), `PRAGMA
/// quick_check`, schema version and sizes. Nothing is written, not even a WAL.
///
/// # Errors
/// [`StoreError::Foreign`], [`StoreError::TooNew`], [`StoreError::Malformed`] (with SQLite's
/// findings), [`StoreError::Sqlite`] when it cannot be opened.
pub fn inspect(path: &Path) -> Result<Inspection> {
    let conn = open_read_only(path)?;
    let schema = probe(&conn, path)?;
    quick_check(&conn, path)?;
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    Ok(Inspection {
        lease: lease::get(&conn).ok().flatten(),
        schema,
        latest: MIGRATIONS.len(),
        bytes: size(path),
        wal_bytes: size(Path::new(&wal)),
    })
}

/// The supervisor lease of the database at `path`, read-only, at this moment (for a
/// heartbeat age measured when it is shown).
///
/// # Errors
/// [`StoreError::Sqlite`] when there is no readable bosun database there.
pub fn read_lease(path: &Path) -> Result<Option<lease::Lease>> {
    let conn = open_read_only(path)?;
    probe(&conn, path)?;
    lease::get(&conn)
}

/// Every task's key and title from the database at `path`, read-only (nothing is created or
/// written: a shell completing a key must not make a database).
///
/// # Errors
/// [`StoreError::Sqlite`] when there is no readable bosun database there.
pub fn task_keys(path: &Path) -> Result<Vec<(String, String)>> {
    let conn = open_read_only(path)?;
    probe(&conn, path)?;
    tasks::keys(&conn)
}

fn open_read_only(path: &Path) -> Result<Connection> {
    Ok(Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?)
}

/// An open database. One connection; open one `Store` per thread.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, creating its directory, setting
    /// the pragmas and applying pending migrations.
    ///
    /// # Errors
    /// [`StoreError::TooNew`] if the file's schema is newer than this build;
    /// [`StoreError::Io`] if the directory cannot be created; [`StoreError::Sqlite`] /
    /// [`StoreError::Migration`] for database failures.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with(path, false)
    }

    /// [`Store::open`] for a long-lived writer (the daemon, the console's supervisor): also
    /// runs `PRAGMA quick_check` before anything is written, and refuses a damaged file.
    ///
    /// # Errors
    /// As [`Store::open`], and [`StoreError::Malformed`].
    pub fn open_verified(path: &Path) -> Result<Store> {
        Store::open_with(path, true)
    }

    fn open_with(path: &Path, verify: bool) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let io = |source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            };
            // Missing directories are made 0700; an existing one is tightened only when it is
            // bosun's own data directory (a `--db` elsewhere may sit in a shared directory).
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(crate::private::DIR_MODE)
                .create(dir)
                .map_err(io)?;
            if dir == crate::config::paths::data_dir() {
                crate::private::tighten(dir, crate::private::DIR_MODE).map_err(io)?;
            }
        }
        configure_sqlite();
        let mut conn = Connection::open(path)?;
        // The database holds every task and secret hash: the operator's alone, also a file an
        // older bosun made 0644 (SQLite gives the WAL and shared-memory files the database's
        // mode when it creates them; existing ones are tightened too).
        for file in [
            path.to_path_buf(),
            sidecar(path, "-wal"),
            sidecar(path, "-shm"),
        ] {
            crate::private::tighten(&file, crate::private::FILE_MODE).map_err(|source| {
                StoreError::Io {
                    path: file.clone(),
                    source,
                }
            })?;
        }
        // Nothing is written before the file is known to be bosun's, of a version this build
        // knows, and (when asked) sound.
        let found = probe(&conn, path)?;
        if verify {
            quick_check(&conn, path)?;
        }
        // Every store statement stays prepared: parsing SQL is a large share of a small
        // transaction's cost (measured by `cargo bench --bench queue`).
        conn.set_prepared_statement_cache_capacity(128);
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        if found < MIGRATIONS.len() {
            let migrations = Migrations::new(
                MIGRATIONS
                    .iter()
                    .enumerate()
                    .map(|(i, sql)| {
                        if i == HASH_TOKENS_AT {
                            M::up_with_hook(sql, runs::hash_clear_tokens)
                        } else {
                            M::up(sql)
                        }
                    })
                    .collect(),
            );
            migrations
                .to_latest(&mut conn)
                .map_err(|source| StoreError::Migration {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Copies the database, consistently while others write, to `to` (SQLite's online
    /// backup API), which must not exist yet.
    ///
    /// # Errors
    /// [`StoreError::Io`] if `to` exists; [`StoreError::Sqlite`] on failure.
    pub fn backup(&self, to: &Path) -> Result<()> {
        if to.exists() {
            return Err(StoreError::Io {
                path: to.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "the backup file exists; choose a new name",
                ),
            });
        }
        let mut dest = Connection::open(to)?;
        let backup = rusqlite::backup::Backup::new(&self.conn, &mut dest)?;
        backup.run_to_completion(256, std::time::Duration::from_millis(5), None)?;
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for reads.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so
    /// no other writer can interleave), committing if it returns `Ok`, rolling back if not.
    ///
    /// # Errors
    /// Whatever `f` returns, or [`StoreError::Sqlite`] if begin/commit fails (e.g. the busy
    /// timeout of 5 s expires).
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Runs `f` in one read transaction (`BEGIN DEFERRED`, reads only): every statement in it
    /// sees the same snapshot of the database (WAL), so a view assembled from several reads
    /// (a task, its runs and jobs) never mixes two moments. Rolled back at the end.
    ///
    /// # Errors
    /// Whatever `f` returns, or [`StoreError::Sqlite`] if the transaction cannot begin.
    pub fn read<T, E>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(StoreError::from)?;
        f(&tx)
    }

    /// Makes this connection wait for the write lock by trying again every millisecond (for
    /// up to [`BUSY_POLL_LIMIT`]) instead of SQLite's default busy handler, which sleeps 1, 2,
    /// 5, 10, … up to 100 ms between tries (`sqliteDefaultBusyCallback` in SQLite's `main.c`):
    /// a writer that lost a few tries then sleeps through the moments the lock is free, and
    /// among many writers (a hundred completions at once) the loop that records every agent's
    /// status waited up to 270 ms for one transaction. For the supervisor loop's connection,
    /// whose writes are few and short; other connections keep the default.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] if SQLite refuses the handler.
    pub fn poll_for_lock(&self) -> Result<()> {
        fn retry(tries: i32) -> bool {
            let limit = i32::try_from(BUSY_POLL_LIMIT.as_millis()).unwrap_or(i32::MAX);
            if tries >= limit {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
            true
        }
        self.conn.busy_handler(Some(retry))?;
        Ok(())
    }

    /// SQLite's `PRAGMA data_version`: changes whenever another connection commits. Cheap
    /// change detection for clients polling the database.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] on database failure.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?)
    }
}

/// How long a connection set to [`Store::poll_for_lock`] tries for the write lock before
/// [`StoreError::Sqlite`] (`SQLITE_BUSY`): 5 s, the same as the default busy timeout.
pub const BUSY_POLL_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// `path` with `suffix` appended to its file name (`bosun.db` → `bosun.db-wal`).
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// SQLite's process-wide settings, set once before the first connection opens: memory
/// statistics off (`SQLITE_CONFIG_MEMSTATUS`, 0). With them on, every allocation of every
/// connection takes one process-wide mutex (`sqlite3Malloc` in SQLite's `malloc.c`), so the
/// supervisor loop's reads and writes queued behind a hundred completion threads' (seen with
/// `strace -k -e futex` on the loop: waits of 40–190 ms in `sqlite3Malloc`/`sqlite3_free`).
/// bosun reads no memory statistics. Called again, or after SQLite started (a connection was
/// opened some other way), it changes nothing: SQLite then refuses with `SQLITE_MISUSE`, which
/// is only logged.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config takes the option and, for SQLITE_CONFIG_MEMSTATUS, one int
        // (the C variadic call gets a c_int as documented); it only sets a global flag and is
        // called before any connection of this process through `Once`, which also keeps two
        // threads from calling it at once.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite memory statistics stay on (SQLite already started)"
            );
        }
    });
}

/// Maps "no row" to [`StoreError::NotFound`].
pub(crate) fn found<T>(
    r: rusqlite::Result<T>,
    what: &'static str,
    key: impl ToString,
) -> Result<T> {
    match r {
        Err(rusqlite::Error::QueryReturnedNoRows) => Err(StoreError::NotFound {
            what,
            key: key.to_string(),
        }),
        other => Ok(other?),
    }
}

/// Declares a string-backed enum stored as TEXT, with `as_str`, `FromStr`, `Display`, serde
/// and rusqlite conversions (the store's own words: event kinds, hook events).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($body:tt)* }) => {
        crate::status::vocabulary! { $(#[$meta])* $name { $($body)* } }
        crate::store::sql_text!($name);
    };
}
pub(crate) use text_enum;

/// Stores a vocabulary word (`crate::status`) as TEXT: rusqlite conversions by `as_str` and
/// `FromStr`.
macro_rules! sql_text {
    ($name:ty) => {
        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }
        impl rusqlite::types::FromSql for $name {
            fn column_result(
                v: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                v.as_str()?
                    .parse()
                    .map_err(|e: String| rusqlite::types::FromSqlError::Other(e.into()))
            }
        }
    };
}
pub(crate) use sql_text;
