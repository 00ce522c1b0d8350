//! The completion workers: a fixed set of threads that finish completed runs (commit, gates,
//! decision, exit command) in the order the loop hands them over.
//!
//! Why a few workers and not a thread per completion: a hundred agents finishing at once made
//! a hundred threads that took SQLite's write lock, its process-wide mutexes and the allocator's
//! arenas from under the supervisor loop, and at nice 0 took its CPU too; the loop then noticed
//! other agents' states up to 1.4 s late (`BENCH_VERBOSE=1 cargo bench --bench supervisor --
//! 100`). Completions wait their turn instead; the loop never does.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::finish::Completion;
use crate::store::Store;

/// Completion workers per supervisor: two can keep both cores of a small machine busy with
/// `git commit` while two more wait on command gates (a test suite) without holding up the
/// rest. A gate that runs for minutes holds one worker for that long.
pub const COMPLETION_WORKERS: usize = 4;

/// The workers and the queue that feeds them.
pub(super) struct Pool {
    queue: Option<Sender<Completion>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts [`COMPLETION_WORKERS`] threads, each with its own connection to `db` (opened
    /// when its first completion arrives, opened again after a failure).
    pub(super) fn start(db: PathBuf) -> Pool {
        let (queue, rx) = channel::<Completion>();
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..COMPLETION_WORKERS)
            .filter_map(|i| {
                let (rx, db) = (Arc::clone(&rx), db.clone());
                std::thread::Builder::new()
                    .name(format!("completion-{i}"))
                    .spawn(move || work(&rx, &db))
                    .map_err(|e| tracing::error!(error = %e, "cannot start a completion worker"))
                    .ok()
            })
            .collect();
        Pool {
            queue: Some(queue),
            workers,
        }
    }

    /// Queues a completion; it runs as soon as a worker is free.
    pub(super) fn submit(&self, work: Completion) {
        let sent = self.queue.as_ref().is_some_and(|q| q.send(work).is_ok());
        if !sent {
            tracing::error!("no completion worker is running; the completion waits for a restart");
        }
    }

    /// Finishes every queued completion, then stops the workers.
    pub(super) fn drain(&mut self) {
        self.queue = None;
        for h in self.workers.drain(..) {
            if h.join().is_err() {
                tracing::error!("a completion worker panicked");
            }
        }
    }
}

/// One worker: takes completions until the queue is closed and empty.
fn work(rx: &Mutex<Receiver<Completion>>, db: &std::path::Path) {
    // git and gate commands at low priority; this thread stays at the loop's (it takes
    // SQLite's locks: see `crate::priority`).
    crate::priority::enter_background();
    let mut store: Option<Store> = None;
    loop {
        // The lock is held only while waiting for the next item, never while working.
        let next = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(completion) = next else {
            return;
        };
        if store.is_none() {
            store = Store::open(db)
                .map_err(
                    |e| tracing::error!(error = %e, "a completion worker cannot open the database"),
                )
                .ok();
        }
        match &store {
            Some(s) => {
                if !completion.run(s) {
                    // A failed completion may have left the connection mid-way: a fresh one.
                    store = None;
                }
            }
            None => tracing::error!(
                run = completion.run_id,
                "completion skipped: no database; a restart finishes it"
            ),
        }
    }
}
