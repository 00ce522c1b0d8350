//! Work the loop hands to threads of its own, so that it never waits for it: launches (git
//! worktree, tmux window) on the launch thread, and on the tmux thread the liveness snapshot
//! (`list-panes -a`) and an answer's key presses. Each tmux command
//! forks a client that the server answers in turn; on a machine busy with a hundred agents
//! that took 15–110 ms per command, and the loop noticed every other agent's state that much
//! later (`cargo bench --bench supervisor -- 100`).
//!
//! One thread runs the commands in the order they were handed over, so presses to a pane
//! arrive in order. A snapshot comes back with the time it was asked for: a run launched after
//! that is not judged by it (its pane may not be in it yet).

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

use super::launch::Launcher;
use super::wake::Waker;
use crate::store::Store;
use crate::store::jobs;
use crate::store::runs::Run;
use crate::tmux::{PaneState, Tmux, TmuxError};

/// A `list-panes -a` taken on the tmux thread.
pub(super) struct Snapshot {
    /// When the loop asked for it (the command ran after this).
    pub(super) asked: Instant,
    /// Every pane, or why tmux could not list them.
    pub(super) panes: Result<Vec<PaneState>, TmuxError>,
}

enum Job {
    Keys {
        run_id: i64,
        pane: String,
        keys: Vec<String>,
    },
    ListPanes {
        asked: Instant,
    },
}

/// The tmux thread's queue and the snapshots it sends back.
pub(super) struct Offload {
    jobs: Sender<Job>,
    snapshots: Receiver<Snapshot>,
    /// A snapshot was asked for and has not been taken yet.
    asked: Option<Instant>,
}

impl Offload {
    /// Starts the thread; it wakes the loop with `waker` when a snapshot is ready, and ends
    /// when the [`Offload`] is dropped.
    pub(super) fn start(tmux: Tmux, waker: Waker) -> Offload {
        let (jobs, rx) = channel::<Job>();
        let (tx, snapshots) = channel::<Snapshot>();
        let spawned = std::thread::Builder::new()
            .name("tmux".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Keys { run_id, pane, keys } => {
                            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                            if let Err(e) = tmux.send_keys(&pane, &keys) {
                                tracing::warn!(run = run_id, error = %e, "keys not pressed");
                            }
                        }
                        Job::ListPanes { asked } => {
                            let panes = tmux.list_panes();
                            if tx.send(Snapshot { asked, panes }).is_err() {
                                return;
                            }
                            waker.wake();
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            // The jobs' receiver is gone with the closure: every hand-off fails and says so.
            tracing::error!(error = %e, "cannot start the tmux thread");
        }
        Offload {
            jobs,
            snapshots,
            asked: None,
        }
    }

    /// Presses `keys` in run `run_id`'s `pane` (`send-keys`); a failure is logged (the pane's
    /// fate is the liveness check's to judge).
    pub(super) fn press(&self, run_id: i64, pane: &str, keys: &[String]) {
        let job = Job::Keys {
            run_id,
            pane: pane.to_string(),
            keys: keys.to_vec(),
        };
        if self.jobs.send(job).is_err() {
            tracing::error!(run = run_id, "the tmux thread is gone; keys not pressed");
        }
    }

    /// Asks for a `list-panes -a` snapshot unless one is on its way.
    pub(super) fn ask_panes(&mut self, now: Instant) {
        if self.asked.is_some() {
            return;
        }
        if self.jobs.send(Job::ListPanes { asked: now }).is_ok() {
            self.asked = Some(now);
        } else {
            tracing::error!("the tmux thread is gone; no liveness check");
        }
    }

    /// The snapshot asked for, once it is ready.
    pub(super) fn take_panes(&mut self) -> Option<Snapshot> {
        let snapshot = self.snapshots.try_recv().ok()?;
        self.asked = None;
        Some(snapshot)
    }
}

/// A launch finished on the launch thread: the run to watch, or why it could not start.
pub(super) type Launched = (i64, super::Result<Box<super::Active>>);

/// The launch thread: claimed jobs go in, launched runs come out, in order. It has its own
/// connection to the database (opened once) and waits for no one but git and tmux.
pub(super) struct Launches {
    jobs: Option<Sender<(jobs::Job, Run)>>,
    done: Receiver<Launched>,
    in_flight: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Launches {
    /// Starts the thread; it wakes the loop with `waker` after each launch.
    pub(super) fn start(launcher: LauncherParts, waker: Waker) -> Launches {
        let (jobs, rx) = channel::<(jobs::Job, Run)>();
        let (tx, done) = channel::<Launched>();
        let thread = std::thread::Builder::new()
            .name("launch".into())
            .spawn(move || {
                let store = Store::open(&launcher.db).and_then(|s| {
                    s.poll_for_lock()?;
                    Ok(s)
                });
                let launcher = store.map(|store| Launcher {
                    cfg: launcher.cfg,
                    opts: launcher.opts,
                    tmux: launcher.tmux,
                    store,
                });
                for (job, run) in rx {
                    let result = match &launcher {
                        Ok(l) => l.launch(&job, &run).map(Box::new),
                        Err(e) => Err(super::SupervisorError::Engine(
                            crate::pipeline::EngineError::State(format!(
                                "the launch thread cannot open the database: {e}"
                            )),
                        )),
                    };
                    if tx.send((run.id, result)).is_err() {
                        return;
                    }
                    waker.wake();
                }
            })
            .map_err(|e| tracing::error!(error = %e, "cannot start the launch thread"))
            .ok();
        Launches {
            jobs: Some(jobs),
            done,
            in_flight: 0,
            thread,
        }
    }

    /// Hands a claimed job and its started run to the launch thread.
    pub(super) fn submit(&mut self, job: jobs::Job, run: Run) {
        let run_id = run.id;
        match self.jobs.as_ref().map(|q| q.send((job, run)).is_ok()) {
            Some(true) => self.in_flight += 1,
            _ => tracing::error!(
                run = run_id,
                "the launch thread is gone; the run waits for a restart"
            ),
        }
    }

    /// Launches handed over and not yet taken.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The launches finished since the last call.
    pub(super) fn take(&mut self) -> Vec<Launched> {
        let done: Vec<Launched> = self.done.try_iter().collect();
        self.in_flight = self.in_flight.saturating_sub(done.len());
        done
    }

    /// Lets the launches handed over finish (their runs are recorded with their panes, so
    /// the next supervisor re-adopts them), then stops the thread.
    pub(super) fn drain(&mut self) {
        self.jobs = None;
        if let Some(h) = self.thread.take()
            && h.join().is_err()
        {
            tracing::error!("the launch thread panicked");
        }
    }
}

/// What the launch thread is started with.
pub(super) struct LauncherParts {
    pub(super) cfg: crate::config::Config,
    pub(super) opts: super::Options,
    pub(super) tmux: Tmux,
    pub(super) db: std::path::PathBuf,
}
