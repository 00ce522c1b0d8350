//! Work the loop hands to threads of its own, so that it never waits for it: launches (git
//! worktree, tmux window) on the `launch` lane, and on the `tmux` lane the liveness snapshot
//! (`list-panes -a`), prompt and message pastes, submit keys and an answer's key presses (the
//! commands of [`super::machine::Command`]). Each tmux command
//! forks a client that the server answers in turn; on a machine busy with a hundred agents
//! that took 15–110 ms per command, and the loop noticed every other agent's state that much
//! later (`cargo bench --bench supervisor -- 100`).
//!
//! One thread runs the commands in the order they were handed over, so presses to a pane
//! arrive in order. A snapshot comes back with the time it was asked for: a run launched after
//! that is not judged by it (its pane may not be in it yet).

use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

use super::lane::{Lane, Spec};
use super::launch::Launcher;
use super::wake::Waker;
use crate::store::jobs;
use crate::store::runs::Run;
use crate::tmux::{PaneState, Tmux, TmuxError};

/// A `list-panes -a` taken on the `tmux` lane.
pub(super) struct Snapshot {
    /// When the loop asked for it (the command ran after this).
    pub(super) asked: Instant,
    /// Every pane, or why tmux could not list them.
    pub(super) panes: Result<Vec<PaneState>, TmuxError>,
}

/// Input work the `tmux` lane finished for a run, reported back to the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handed {
    /// The text was pasted.
    Pasted,
    /// The submit keys were pressed.
    Submitted,
}

/// What the `tmux` lane did for a run: what, and whether tmux took it.
pub(super) type Done = (i64, Handed, Result<(), TmuxError>);

enum Job {
    Keys {
        run_id: i64,
        pane: String,
        keys: Vec<String>,
    },
    Paste {
        run_id: i64,
        pane: String,
        text: String,
    },
    /// Keys pressed one by one, `delay` apart; reported back when `report`.
    Submit {
        run_id: i64,
        pane: String,
        keys: Vec<String>,
        delay: std::time::Duration,
        report: bool,
    },
    ListPanes {
        asked: Instant,
    },
}

/// The `tmux` lane's queue and what it sends back.
pub(super) struct Offload {
    lane: Lane<Job>,
    snapshots: Receiver<Snapshot>,
    done: Receiver<Done>,
    /// A snapshot was asked for and has not been taken yet.
    asked: Option<Instant>,
}

impl Offload {
    /// Starts the `tmux` lane (one thread, so presses to a pane arrive in order) on `tmux`;
    /// `waker` ends the loop's sleep when a snapshot is back.
    pub(super) fn start(tmux: Tmux, waker: Waker) -> Offload {
        let (tx, snapshots) = channel::<Snapshot>();
        let tx = std::sync::Mutex::new(tx);
        let (done_tx, done) = channel::<Done>();
        let done_tx = std::sync::Mutex::new(done_tx);
        let snapshot_waker = waker.clone();
        let report = move |d: Done| {
            if done_tx.lock().is_ok_and(|tx| tx.send(d).is_ok()) {
                waker.wake();
            }
        };
        let lane = Lane::start(
            Spec {
                name: "tmux",
                threads: 1,
                background: false,
                db: None,
                poll_for_lock: false,
            },
            move |_, job: Job| match job {
                Job::Keys { run_id, pane, keys } => {
                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                    if let Err(e) = tmux.send_keys(&pane, &keys) {
                        tracing::warn!(run = run_id, error = %e, "keys not pressed");
                    }
                }
                Job::Paste { run_id, pane, text } => {
                    report((run_id, Handed::Pasted, tmux.paste(&pane, &text)));
                }
                Job::Submit {
                    run_id,
                    pane,
                    keys,
                    delay,
                    report: wanted,
                } => {
                    let mut result = Ok(());
                    for (i, key) in keys.iter().enumerate() {
                        if i > 0 {
                            std::thread::sleep(delay);
                        }
                        result = tmux.send_keys(&pane, &[key.as_str()]);
                        if result.is_err() {
                            break;
                        }
                    }
                    if wanted {
                        report((run_id, Handed::Submitted, result));
                    } else if let Err(e) = result {
                        tracing::warn!(run = run_id, error = %e, "submit keys not pressed");
                    }
                }
                Job::ListPanes { asked } => {
                    let panes = tmux.list_panes();
                    let sent = tx
                        .lock()
                        .is_ok_and(|tx| tx.send(Snapshot { asked, panes }).is_ok());
                    if sent {
                        snapshot_waker.wake();
                    }
                }
            },
        );
        Offload {
            lane,
            snapshots,
            done,
            asked: None,
        }
    }

    /// Stops the lane once the jobs handed over are done.
    pub(super) fn drain(&mut self) {
        self.lane.drain();
    }

    pub(super) fn press(&self, run_id: i64, pane: &str, keys: &[String]) {
        let job = Job::Keys {
            run_id,
            pane: pane.to_string(),
            keys: keys.to_vec(),
        };
        if !self.lane.submit(job) {
            tracing::error!(run = run_id, "keys not pressed");
        }
    }

    /// Pastes `text` into run `run_id`'s pane; [`Handed::Pasted`] comes back.
    pub(super) fn paste(&self, run_id: i64, pane: &str, text: String) {
        let job = Job::Paste {
            run_id,
            pane: pane.to_string(),
            text,
        };
        if !self.lane.submit(job) {
            tracing::error!(run = run_id, "not pasted: the tmux lane is stopped");
        }
    }

    /// Presses `keys` one by one, `delay` apart, into run `run_id`'s pane; when `report`,
    /// [`Handed::Submitted`] comes back.
    pub(super) fn submit(
        &self,
        run_id: i64,
        pane: &str,
        keys: Vec<String>,
        delay: std::time::Duration,
        report: bool,
    ) {
        let job = Job::Submit {
            run_id,
            pane: pane.to_string(),
            keys,
            delay,
            report,
        };
        if !self.lane.submit(job) {
            tracing::error!(
                run = run_id,
                "submit keys not pressed: the tmux lane is stopped"
            );
        }
    }

    /// The pastes and submits finished since the last call, in order.
    pub(super) fn take_done(&self) -> Vec<Done> {
        self.done.try_iter().collect()
    }

    /// Asks for a `list-panes -a` snapshot unless one is on its way.
    pub(super) fn ask_panes(&mut self, now: Instant) {
        if self.asked.is_some() {
            return;
        }
        if self.lane.submit(Job::ListPanes { asked: now }) {
            self.asked = Some(now);
        }
    }

    /// The snapshot asked for, once it is ready.
    pub(super) fn take_panes(&mut self) -> Option<Snapshot> {
        let snapshot = self.snapshots.try_recv().ok()?;
        self.asked = None;
        Some(snapshot)
    }
}

/// A launch finished on the `launch` lane: the run to watch, or why it could not start.
pub(super) type Launched = (i64, super::Result<Box<super::Active>>);

/// The `launch` lane: claimed jobs go in, launched runs come out, in order. It has its own
/// connection to the database (opened once) and waits for no one but git and tmux.
pub(super) struct Launches {
    lane: Lane<(jobs::Job, Run)>,
    done: Receiver<Launched>,
    in_flight: usize,
}

impl Launches {
    /// Starts the `launch` lane (one thread with its own connection) with `launcher`;
    /// `waker` ends the loop's sleep when a launch is done.
    pub(super) fn start(launcher: LauncherParts, waker: Waker) -> Launches {
        let (tx, done) = channel::<Launched>();
        let tx = std::sync::Mutex::new(tx);
        let db = launcher.db.clone();
        let launcher = Launcher {
            cfg: launcher.cfg,
            opts: launcher.opts,
            tmux: launcher.tmux,
        };
        let lane = Lane::start(
            Spec {
                name: "launch",
                threads: 1,
                background: false,
                db: Some(db),
                poll_for_lock: true,
            },
            move |worker, (job, run): (jobs::Job, Run)| {
                let result = match worker.store() {
                    Some(store) => launcher.launch(store, &job, &run).map(Box::new),
                    None => Err(super::SupervisorError::Engine(
                        crate::pipeline::EngineError::State(
                            "the launch lane cannot open the database".into(),
                        ),
                    )),
                };
                let sent = tx.lock().is_ok_and(|tx| tx.send((run.id, result)).is_ok());
                if sent {
                    waker.wake();
                }
            },
        );
        Launches {
            lane,
            done,
            in_flight: 0,
        }
    }

    /// Hands a claimed job and its run over for launching.
    pub(super) fn submit(&mut self, job: jobs::Job, run: Run) {
        if self.lane.submit((job, run)) {
            self.in_flight += 1;
        }
    }

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
    /// Stops the lane once the launches handed over are done (a restart re-adopts them).
    pub(super) fn drain(&mut self) {
        self.lane.drain();
    }
}

pub(super) struct LauncherParts {
    pub(super) cfg: crate::config::Config,
    pub(super) opts: super::Options,
    pub(super) tmux: Tmux,
    pub(super) db: std::path::PathBuf,
}
