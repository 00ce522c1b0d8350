//! What wakes the supervisor (issue 13: idle means asleep).
//!
//! The loop does not poll its runs' logs: a file-change watch (`notify`, inotify on Linux) on
//! the run-log directory says which logs grew, and one on the database's directory says when
//! another process wrote to the database (a hook call, an operator's answer or decision, a
//! new task). [`Wake::wait`] sleeps until one of those happens or the caller's next timer is
//! due, then says what happened. Where no watch can be set up (no inotify, too many watches),
//! every wake reports everything changed, which is the old polling, never a missed output.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};

/// One change seen by the watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// `runs/<id>.log` was written.
    Log(i64),
    /// The database or its WAL was written.
    Database,
    /// Events were lost (the kernel's queue overflowed): anything may have changed.
    All,
    /// Work the loop handed to another thread finished ([`Waker::wake`]).
    Handed,
}

/// Wakes the loop from another thread: work it handed off (a `list-panes` snapshot) is ready.
#[derive(Debug, Clone)]
pub struct Waker(Sender<Change>);

impl Waker {
    /// Ends the loop's sleep (a no-op once the loop is gone).
    pub fn wake(&self) {
        let _ = self.0.send(Change::Handed);
    }
}

/// What happened while the loop slept.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Woken {
    /// Runs whose log grew.
    pub logs: HashSet<i64>,
    /// Another process (or this one) wrote to the database.
    pub database: bool,
    /// Anything may have changed: read every log and the database.
    pub all: bool,
    /// Work handed to another thread finished.
    pub handed: bool,
}

impl Woken {
    /// Everything changed (the first tick, a lost event, no watch).
    pub fn everything() -> Woken {
        Woken {
            all: true,
            database: true,
            ..Woken::default()
        }
    }

    /// Adds what `other` saw.
    pub fn merge(&mut self, other: Woken) {
        self.logs.extend(other.logs);
        self.database |= other.database;
        self.all |= other.all;
        self.handed |= other.handed;
    }

    /// True when run `id`'s log may have grown.
    pub fn log(&self, id: i64) -> bool {
        self.all || self.logs.contains(&id)
    }

    fn add(&mut self, change: Change) {
        match change {
            Change::Log(id) => {
                self.logs.insert(id);
            }
            Change::Database => self.database = true,
            Change::All => {
                self.all = true;
                self.database = true;
            }
            Change::Handed => self.handed = true,
        }
    }
}

/// The watches and the channel their changes arrive on.
pub struct Wake {
    /// Kept alive: dropping it ends the watches. `None` when they could not be set up.
    watcher: Option<notify::RecommendedWatcher>,
    rx: Receiver<Change>,
    tx: Sender<Change>,
}

impl Wake {
    /// Watches `runs_dir` (created if missing) for log writes and the directory of `db` for
    /// writes to the database file and its `-wal`. A watch that cannot be set up is logged and
    /// replaced by polling (every [`Wake::wait`] then reports everything).
    pub fn new(runs_dir: &Path, db: &Path) -> Wake {
        let (tx, rx) = channel();
        let watcher = match watch(runs_dir, db, tx.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "cannot watch the run logs for changes; polling them instead"
                );
                None
            }
        };
        Wake { watcher, rx, tx }
    }

    /// A handle that ends [`Wake::wait`] from another thread.
    pub fn waker(&self) -> Waker {
        Waker(self.tx.clone())
    }

    /// True when the watches work (false: polling).
    pub fn watching(&self) -> bool {
        self.watcher.is_some()
    }

    /// Sleeps until a change arrives or `until`, then collects every change waiting (so a
    /// burst of writes makes one wake). Returns at once when changes are already waiting.
    pub fn wait(&self, until: Instant) -> Woken {
        if self.watcher.is_none() {
            // Polling: sleep until `until`, or until handed-off work finishes; then anything
            // may have changed.
            let got = self
                .rx
                .recv_timeout(until.saturating_duration_since(Instant::now()));
            return Woken {
                handed: matches!(got, Ok(Change::Handed)),
                ..Woken::everything()
            };
        }
        let mut woken = Woken::default();
        match self
            .rx
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            Ok(change) => woken.add(change),
            Err(RecvTimeoutError::Timeout) => return woken,
            // The loop holds a sender itself: the channel never closes.
            Err(RecvTimeoutError::Disconnected) => return Woken::everything(),
        }
        while let Ok(change) = self.rx.try_recv() {
            woken.add(change);
        }
        woken
    }

    /// Collects the changes waiting now, without sleeping.
    pub fn poll(&self) -> Woken {
        self.wait(Instant::now())
    }
}

/// Sets up both watches; each event is mapped to a [`Change`] on the watcher's own thread.
fn watch(
    runs_dir: &Path,
    db: &Path,
    tx: Sender<Change>,
) -> Result<notify::RecommendedWatcher, notify::Error> {
    crate::private::private_dir(runs_dir).map_err(notify::Error::io)?;
    let runs_dir = runs_dir.canonicalize().map_err(notify::Error::io)?;
    let db = db.canonicalize().unwrap_or_else(|_| db.to_path_buf());
    let db_dir = db
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let db_names: Vec<OsString> = db
        .file_name()
        .map(|n| {
            let mut wal = n.to_os_string();
            wal.push("-wal");
            vec![n.to_os_string(), wal]
        })
        .unwrap_or_default();
    let logs = runs_dir.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let event = match res {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "file watch error; reading everything");
                let _ = tx.send(Change::All);
                return;
            }
        };
        if event.need_rescan() {
            let _ = tx.send(Change::All);
            return;
        }
        // Opening or reading a file (the console's tail, `bosun log`) changes nothing.
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        for path in &event.paths {
            if let Some(change) = change_of(path, &logs, &db_names) {
                let _ = tx.send(change);
            }
        }
    })?;
    watcher.watch(&runs_dir, RecursiveMode::NonRecursive)?;
    if db_dir != runs_dir {
        watcher.watch(&db_dir, RecursiveMode::NonRecursive)?;
    }
    Ok(watcher)
}

/// The change a write to `path` means: a run log (`<logs>/<id>.log`), the database (one of
/// `db_names` in any watched directory), or nothing.
fn change_of(path: &Path, logs: &Path, db_names: &[OsString]) -> Option<Change> {
    let name = path.file_name()?;
    if db_names.iter().any(|n| n == name) {
        return Some(Change::Database);
    }
    if path.parent() != Some(logs) {
        return None;
    }
    let id = name.to_str()?.strip_suffix(".log")?.parse().ok()?;
    Some(Change::Log(id))
}

/// How long the loop may sleep at most, whatever its timers say: bounds how late it sees a
/// stop request (SIGTERM) or a change a lost watch missed.
pub const MAX_SLEEP: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_changes() {
        let logs = Path::new("/d/runs");
        let names = vec![OsString::from("bosun.db"), OsString::from("bosun.db-wal")];
        assert_eq!(
            change_of(Path::new("/d/runs/17.log"), logs, &names),
            Some(Change::Log(17))
        );
        assert_eq!(
            change_of(Path::new("/d/runs/17.settings.json"), logs, &names),
            None
        );
        assert_eq!(
            change_of(Path::new("/d/bosun.db-wal"), logs, &names),
            Some(Change::Database)
        );
        assert_eq!(change_of(Path::new("/d/bosun.db-shm"), logs, &names), None);
        assert_eq!(change_of(Path::new("/e/runs/3.log"), logs, &names), None);
    }

    #[test]
    fn a_log_write_and_a_database_write_wake_the_loop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runs = dir.path().join("runs");
        let db = dir.path().join("bosun.db");
        std::fs::write(&db, b"").expect("db");
        let wake = Wake::new(&runs, &db);
        assert!(wake.watching(), "inotify is available on Linux");
        let quiet = wake.wait(Instant::now() + Duration::from_millis(50));
        assert_eq!(quiet, Woken::default(), "nothing happened yet");
        std::fs::write(runs.join("5.log"), b"output").expect("log");
        std::fs::write(dir.path().join("bosun.db-wal"), b"x").expect("wal");
        let mut seen = Woken::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(seen.logs.contains(&5) && seen.database) && Instant::now() < deadline {
            let w = wake.wait(deadline);
            seen.logs.extend(w.logs);
            seen.database |= w.database;
        }
        assert!(seen.log(5) && !seen.log(6), "{seen:?}");
        assert!(seen.database, "{seen:?}");
        // Reading a log wakes nothing (what the writes above still had queued is drained).
        std::thread::sleep(Duration::from_millis(200));
        let _ = wake.poll();
        let _ = std::fs::read(runs.join("5.log")).expect("read");
        let after = wake.wait(Instant::now() + Duration::from_millis(100));
        assert!(after.logs.is_empty(), "{after:?}");
    }

    #[test]
    fn a_waker_on_another_thread_ends_the_wait_and_says_work_came_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("bosun.db");
        std::fs::write(&db, b"").expect("db");
        let wake = Wake::new(&dir.path().join("runs"), &db);
        let waker = wake.waker();
        let thread = std::thread::spawn(move || waker.wake());
        let woken = wake.wait(Instant::now() + Duration::from_secs(60));
        thread.join().expect("waker thread");
        assert!(woken.handed, "{woken:?}");
        assert!(woken.logs.is_empty() && !woken.database, "{woken:?}");
    }
}
