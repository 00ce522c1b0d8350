//! One kind of background worker (issue 19): a [`Lane`] is a named queue served by a fixed
//! number of threads, each with its own database connection when the lane needs one, at
//! normal or background priority, owned by the supervisor (no process-global state) and
//! drained cleanly on stop. The supervisor runs its slow work on four lanes: `launch` (git
//! worktree and tmux window for each claimed job), `tmux` (the liveness snapshot, answer key
//! presses), `completion` (commit, gates, decision, exit command; `supervisor.
//! completion_workers` threads) and `close` (stop a run's processes, kill its pane). The loop
//! only hands work over; it never waits for a lane (`ARCHITECTURE.md`, Threads).
//!
//! Jobs are taken in the order they were handed over; with one thread they also finish in
//! that order (presses to a pane arrive in order).

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::store::Store;

/// How a lane's threads run.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    /// The lane's name; its threads are `<name>-<i>` (seen in `top -H`, `ps -L`).
    pub(super) name: &'static str,
    /// How many threads serve the queue (at least 1).
    pub(super) threads: usize,
    /// The commands the lane's jobs start run at background priority (`priority::lower`),
    /// and a lane that touches no SQLite lowers its own threads too.
    pub(super) background: bool,
    /// The database each thread opens for its jobs (lazily, again after a failure); `None`
    /// for a lane that needs none.
    pub(super) db: Option<PathBuf>,
    /// The thread's connection polls for the write lock every ms (`Store::poll_for_lock`).
    pub(super) poll_for_lock: bool,
}

/// What a job gets besides itself: its thread's database connection.
pub(super) struct Worker {
    db: Option<PathBuf>,
    poll_for_lock: bool,
    store: Option<Store>,
}

impl Worker {
    /// The thread's connection, opened on first use (and after [`Worker::reset`]); `None`,
    /// logged, when the lane has no database or it cannot be opened.
    pub(super) fn store(&mut self) -> Option<&Store> {
        if self.store.is_none() {
            let db = self.db.as_ref()?;
            self.store = Store::open(db)
                .and_then(|s| {
                    if self.poll_for_lock {
                        s.poll_for_lock()?;
                    }
                    Ok(s)
                })
                .map_err(
                    |e| tracing::error!(error = %e, "a lane's thread cannot open the database"),
                )
                .ok();
        }
        self.store.as_ref()
    }

    /// Forgets the connection (a failed write may have left it unusable): the next job
    /// opens a fresh one.
    pub(super) fn reset(&mut self) {
        self.store = None;
    }
}

type Handler<J> = Arc<dyn Fn(&mut Worker, J) + Send + Sync>;

/// A queue of `J` jobs and the threads that run them with `handler`.
pub(super) struct Lane<J> {
    name: &'static str,
    queue: Option<Sender<J>>,
    workers: Vec<JoinHandle<()>>,
}

impl<J: Send + 'static> Lane<J> {
    /// Starts `spec.threads` threads taking jobs from the queue and running
    /// `handler(worker, job)`. A thread that cannot be started is logged; the others serve.
    pub(super) fn start(
        spec: Spec,
        handler: impl Fn(&mut Worker, J) + Send + Sync + 'static,
    ) -> Lane<J> {
        let (queue, rx) = channel::<J>();
        let rx = Arc::new(Mutex::new(rx));
        let handler: Handler<J> = Arc::new(handler);
        let workers = (0..spec.threads.max(1))
            .filter_map(|i| {
                let (rx, handler, spec2) = (Arc::clone(&rx), Arc::clone(&handler), spec.clone());
                std::thread::Builder::new()
                    .name(format!("{}-{i}", spec.name))
                    .spawn(move || serve(&spec2, &rx, &handler))
                    .map_err(|e| tracing::error!(lane = spec.name, error = %e, "cannot start a lane thread"))
                    .ok()
            })
            .collect();
        Lane {
            name: spec.name,
            queue: Some(queue),
            workers,
        }
    }

    /// Hands `job` over; false (logged) when the lane is stopped or all its threads are gone.
    pub(super) fn submit(&self, job: J) -> bool {
        let sent = self.queue.as_ref().is_some_and(|q| q.send(job).is_ok());
        if !sent {
            tracing::error!(
                lane = self.name,
                "no thread serves the lane; the job waits for a restart"
            );
        }
        sent
    }

    /// A handle other threads can hand jobs over with (a completion closes its pane).
    pub(super) fn handle(&self) -> Option<Sender<J>> {
        self.queue.clone()
    }

    /// Stops taking jobs and waits for the threads to finish the ones handed over (and for
    /// every [`Lane::handle`] to be dropped).
    pub(super) fn drain(&mut self) {
        self.queue = None;
        for h in self.workers.drain(..) {
            if h.join().is_err() {
                tracing::error!(lane = self.name, "a lane thread panicked");
            }
        }
    }
}

fn serve<J>(spec: &Spec, rx: &Mutex<Receiver<J>>, handler: &Handler<J>) {
    if spec.background {
        if spec.db.is_some() {
            // A thread holding SQLite's or the allocator's locks must not be deprioritised
            // (priority inversion): only the commands it starts are.
            crate::priority::enter_background();
        } else {
            crate::priority::lower_this_thread();
        }
    }
    let mut worker = Worker {
        db: spec.db.clone(),
        poll_for_lock: spec.poll_for_lock,
        store: None,
    };
    loop {
        // The lock is held only while waiting for the next job.
        let next = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => handler(&mut worker, job),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_job_handed_over_is_run_before_drain_returns() {
        let done = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&done);
        let mut lane = Lane::start(
            Spec {
                name: "test",
                threads: 3,
                background: false,
                db: None,
                poll_for_lock: false,
            },
            move |w: &mut Worker, n: usize| {
                assert!(
                    w.store().is_none(),
                    "a lane without a database has no connection"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
                seen.fetch_add(n, Ordering::SeqCst);
            },
        );
        let handle = lane.handle().expect("handle");
        for _ in 0..50 {
            assert!(lane.submit(1));
        }
        handle.send(1).expect("send through a handle");
        drop(handle);
        lane.drain();
        assert_eq!(done.load(Ordering::SeqCst), 51);
        assert!(!lane.submit(1), "a drained lane takes nothing");
    }
}
