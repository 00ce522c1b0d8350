//! Runs the console's [`Effect`]s off the UI thread and sends their results back as
//! [`Msg`]s: engine decisions (which may run command gates), answers (which wait for the
//! agent's dialog), tmux paste, file and git reads each run as a `spawn_blocking` task; one
//! loader thread owns a database connection, serves reload requests (coalescing those that
//! queue up) and watches `PRAGMA data_version` for other processes' writes; one follower
//! task per followed run log. Attach and quit need the terminal and stay with the event loop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::load;
use super::state::{Tail, Want};
use super::tail::{Follower, read_end};
use super::update::{Effect, FollowLog, Msg};
use crate::config::Config;
use crate::control::AnswerTiming;
use crate::decide::Decider;
use crate::pipeline::Engine;
use crate::queue::Queue;
use crate::store::{Store, projects};

/// How often the loader checks for other processes' writes, and a follower for new output.
pub const POLL: Duration = Duration::from_millis(100);

/// Starts effects; dropping it stops the loader and the follower.
pub struct Runner {
    cfg: Arc<Config>,
    db: PathBuf,
    data_dir: PathBuf,
    tx: UnboundedSender<Msg>,
    loader: std_mpsc::Sender<Want>,
    follower: Option<Arc<AtomicBool>>,
}

impl Runner {
    /// A runner for the console on `db`; results go to `tx`. Starts the loader thread on
    /// `store` (its own connection), which sends a first snapshot for `want` at once.
    pub fn new(
        cfg: Config,
        db: PathBuf,
        data_dir: PathBuf,
        store: Store,
        want: Want,
        tx: UnboundedSender<Msg>,
    ) -> Runner {
        let (loader, requests) = std_mpsc::channel();
        let queue = Queue::new(&cfg);
        let loader_tx = tx.clone();
        std::thread::spawn(move || loader_thread(store, queue, want, requests, loader_tx));
        Runner {
            cfg: Arc::new(cfg),
            db,
            data_dir,
            tx,
            loader,
            follower: None,
        }
    }

    /// Starts `effect` (not [`Effect::Attach`], [`Effect::Ring`] or [`Effect::Quit`], which
    /// the event loop handles: they need the terminal). Returns at once.
    pub fn run(&mut self, effect: Effect) {
        let (cfg, db, tx) = (Arc::clone(&self.cfg), self.db.clone(), self.tx.clone());
        match effect {
            Effect::Reload(want) => {
                let _ = self.loader.send(want);
            }
            Effect::Decide { key, decision } => {
                let data_dir = self.data_dir.clone();
                blocking(tx, move || {
                    let store = Store::open(&db).map_err(|e| format!("{key}: {e}"))?;
                    let outcome = console(&cfg, &store, &data_dir)
                        .decide(&key, decision)
                        .map_err(|e| format!("{key}: {e}"))?;
                    Ok(format!("{key}: {}", outcome.describe()))
                })
            }
            Effect::CancelJob(j) => blocking(tx, move || {
                let store = Store::open(&db).map_err(|e| e.to_string())?;
                Engine::new(&cfg, &store)
                    .cancel_job(j)
                    .map_err(|e| e.to_string())?;
                Ok(format!("job #{j} cancelled"))
            }),
            Effect::RetryJob(j) => blocking(tx, move || {
                let store = Store::open(&db).map_err(|e| e.to_string())?;
                Engine::new(&cfg, &store)
                    .retry_job(j, None)
                    .map_err(|e| e.to_string())?;
                Ok(format!("job #{j} queued again"))
            }),
            Effect::Answer { key, yes } => {
                let data_dir = self.data_dir.clone();
                blocking(tx, move || {
                    let word = if yes { "yes" } else { "no" };
                    let store = Store::open(&db).map_err(|e| e.to_string())?;
                    console(&cfg, &store, &data_dir)
                        .answer(&key, yes, AnswerTiming::default())
                        // One line: the status bar has one.
                        .map_err(|e| e.to_string().lines().collect::<Vec<_>>().join(" │ "))?;
                    Ok(format!("{key}: answered {word}"))
                })
            }
            Effect::Send { key, text } => {
                let data_dir = self.data_dir.clone();
                blocking(tx, move || {
                    let store = Store::open(&db).map_err(|e| e.to_string())?;
                    console(&cfg, &store, &data_dir)
                        .send(&key, &text)
                        .map_err(|e| format!("cannot send to {key}: {e}"))?;
                    Ok(format!("sent to {key}"))
                })
            }
            Effect::QueueMessage { key, text } => {
                let data_dir = self.data_dir.clone();
                blocking(tx, move || {
                    let store = Store::open(&db).map_err(|e| e.to_string())?;
                    let id = console(&cfg, &store, &data_dir)
                        .message(&key, None, &text)
                        .map_err(|e| format!("cannot queue the message for {key}: {e}"))?;
                    Ok(format!(
                        "{key}: message #{id} queued; its agent gets it when its turn ends"
                    ))
                })
            }
            Effect::CreateTask { title } => blocking(tx, move || {
                let store = Store::open(&db).map_err(|e| e.to_string())?;
                let project = projects::list(store.conn())
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .next()
                    .ok_or("no project: add one with `bosun project add PATH`")?;
                let (t, _) = Engine::new(&cfg, &store)
                    .create_task(&project.name, &title, "", 100)
                    .map_err(|e| e.to_string())?;
                Ok(format!("{} created in {}", t.key, project.name))
            }),
            Effect::Follow(log) => {
                if let Some(stop) = self.follower.take() {
                    stop.store(true, Ordering::SeqCst);
                }
                if let Some(log) = log {
                    let stop = Arc::new(AtomicBool::new(false));
                    self.follower = Some(Arc::clone(&stop));
                    tokio::task::spawn_blocking(move || follow(log, &stop, &tx));
                }
            }
            Effect::LoadJudge {
                task_id,
                version,
                worktree,
                paths,
            } => {
                tokio::task::spawn_blocking(move || {
                    let j =
                        load::judge(task_id, version, worktree.as_deref().map(Path::new), &paths);
                    let _ = tx.send(Msg::Judged(Box::new(j)));
                });
            }
            Effect::LoadOlder { run_id, path, end } => {
                tokio::task::spawn_blocking(move || {
                    match crate::tui::tail::read_before(Path::new(&path), end) {
                        Ok(older) => {
                            let _ = tx.send(Msg::Older {
                                run_id,
                                end,
                                older: Box::new(older),
                            });
                        }
                        Err(e) => {
                            let _ = tx.send(Msg::Done {
                                text: format!("cannot read the log's older lines: {e}"),
                                error: true,
                            });
                        }
                    }
                });
            }
            Effect::LoadDiff { task_id } => {
                tokio::task::spawn_blocking(move || {
                    let d = load::diff(&db, task_id, &cfg.land);
                    let _ = tx.send(Msg::Diffed(Box::new(d)));
                });
            }
            Effect::Attach { .. } | Effect::Quit | Effect::Ring { .. } => {
                tracing::error!("attach and quit are the event loop's");
            }
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(stop) = self.follower.take() {
            stop.store(true, Ordering::SeqCst);
        }
    }
}

/// Runs `work` on the blocking pool; its sentence (or error) comes back as [`Msg::Done`].
fn blocking(
    tx: UnboundedSender<Msg>,
    work: impl FnOnce() -> Result<String, String> + Send + 'static,
) {
    tokio::task::spawn_blocking(move || {
        let msg = match work() {
            Ok(text) => Msg::Done { text, error: false },
            Err(text) => Msg::Done { text, error: true },
        };
        let _ = tx.send(msg);
    });
}

/// The loader: serves reload requests (the newest of those queued) and, between them,
/// reloads when another connection wrote. A busy supervisor commits many times a second; on
/// a large database reloads are throttled to a quarter of the time (at most 25 % of a core).
fn loader_thread(
    store: Store,
    queue: Queue,
    mut want: Want,
    requests: std_mpsc::Receiver<Want>,
    tx: UnboundedSender<Msg>,
) {
    let mut version = store.data_version().ok();
    // Sends a snapshot (or the error); false once the console is gone. Returns when the next
    // automatic reload may start.
    let load = |want: &Want| -> Option<Instant> {
        let started = Instant::now();
        let msg = match load::snapshot(&store, &queue, want) {
            Ok(snap) => Msg::Loaded(Box::new(snap)),
            Err(e) => Msg::Done {
                text: format!("cannot read the database: {e}"),
                error: true,
            },
        };
        tx.send(msg).ok()?;
        Some(Instant::now() + started.elapsed() * 4)
    };
    let Some(mut next_auto) = load(&want) else {
        return;
    };
    loop {
        match requests.recv_timeout(POLL) {
            Ok(w) => {
                want = w;
                // Only the newest of the requests queued meanwhile matters.
                while let Ok(newer) = requests.try_recv() {
                    want = newer;
                }
                version = store.data_version().ok();
                match load(&want) {
                    Some(t) => next_auto = t,
                    None => return,
                }
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                let v = store.data_version().ok();
                if v != version && Instant::now() >= next_auto {
                    version = v;
                    match load(&want) {
                        Some(t) => next_auto = t,
                        None => return,
                    }
                }
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Follows one run's log until `stop`: waits for the file to exist, sends its tail built
/// from the end, then what it gains every [`POLL`].
fn follow(log: FollowLog, stop: &AtomicBool, tx: &UnboundedSender<Msg>) {
    let Some(path) = log.path else {
        return;
    };
    let mut follower = loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match read_end(Path::new(&path)) {
            Ok((file, end, skipped)) => {
                let tail = Tail::from_end(log.run_id, &end, skipped, log.rows, log.cols);
                if tx.send(Msg::TailOpened(Box::new(tail))).is_err() {
                    return;
                }
                break Follower::new(file);
            }
            Err(_) => std::thread::sleep(POLL),
        }
    };
    while !stop.load(Ordering::SeqCst) {
        let bytes = follower.poll();
        if !bytes.is_empty()
            && tx
                .send(Msg::LogBytes {
                    run_id: log.run_id,
                    bytes,
                })
                .is_err()
        {
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// The console's [`Decider`]: every decision, answer and message from the console goes
/// through it, as `console`.
fn console<'a>(cfg: &'a Config, store: &'a Store, data_dir: &'a std::path::Path) -> Decider<'a> {
    Decider {
        cfg,
        store,
        data_dir,
        by: "console",
    }
}
