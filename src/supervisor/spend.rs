//! `[budget] hard` (issue 22): a working run's usage read while it works, so that the run that
//! crosses a budget is stopped then, not only when its turn ends.
//!
//! Without `hard`, usage is read when a turn completes and when a window closes
//! ([`super::usage::record`], on the `completion` and `close` lanes), which is all a budget
//! that only holds the next run needs. With `hard`, the loop also looks at each working run's
//! session record every [`LOOK_EVERY`]: one indexed read of the record's path (the hooks may
//! name a new one) and one `lstat`. Only when the record grew since the last look is a reading
//! handed to the `usage` lane (one thread, its own connection, background priority), which
//! reads what is new from the saved offset and, when the task is past a budget, stops the run
//! (`usage::record`: the job goes back to the queue, the run ends). The loop then stops the
//! run's processes as it does a cancelled job's, when its liveness check finds the job no
//! longer running.
//!
//! Why not every tick, or a file watch on the record: a record grows with each response the
//! model streams (many times a second while it writes), and each reading is a parse and a
//! write transaction; a budget crossed is acted on within a few seconds either way, which
//! matters little against the minutes a turn lasts. A run with a reading on the lane gets no
//! second one until it is done, so a slow disk cannot pile readings up.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::*;

/// How often a working run's session record is looked at under `[budget] hard`.
pub(super) const LOOK_EVERY: Duration = Duration::from_secs(3);

/// The `usage` lane and what the loop remembers of each run's record.
pub(super) struct Spend {
    /// The lane (`None` without `[budget] hard`: then the loop looks at nothing).
    lane: Option<lane::Lane<i64>>,
    /// Runs with a reading on the lane.
    busy: Arc<Mutex<HashSet<i64>>>,
    /// Per watched run: when its record is looked at next, and its length at the last look.
    seen: HashMap<i64, (Instant, u64)>,
}

impl Spend {
    /// The `usage` lane on database `db` when `cfg` has `[budget] hard`.
    pub(super) fn start(cfg: &Config, db: PathBuf) -> Spend {
        let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
        let lane = cfg.budget.hard.then(|| {
            let cfg = Arc::new(cfg.clone());
            let done = Arc::clone(&busy);
            lane::Lane::start(
                lane::Spec {
                    name: "usage",
                    threads: 1,
                    background: true,
                    db: Some(db),
                    poll_for_lock: false,
                },
                move |worker, run_id: i64| {
                    if let Some(store) = worker.store()
                        && let Err(e) = super::usage::record(&cfg, store, run_id)
                    {
                        tracing::warn!(run = run_id, error = %e, "cannot read the run's usage");
                        // A failed write may have left the connection unusable.
                        worker.reset();
                    }
                    if let Ok(mut b) = done.lock() {
                        b.remove(&run_id);
                    }
                },
            )
        });
        Spend {
            lane,
            busy,
            seen: HashMap::new(),
        }
    }

    /// Waits for the readings handed over (see [`lane::Lane::drain`]).
    pub(super) fn drain(&mut self) {
        if let Some(lane) = self.lane.as_mut() {
            lane.drain();
        }
    }
}

impl Supervisor {
    /// Under `[budget] hard`: hands a reading of each working run whose session record grew
    /// since its last look (at most every [`LOOK_EVERY`]) to the `usage` lane.
    pub(super) fn watch_spend(&mut self, now: Instant) {
        let Some(lane) = self.spend.lane.as_ref() else {
            return;
        };
        let seen = &mut self.spend.seen;
        seen.retain(|id, _| self.runs.contains_key(id));
        for (id, run) in &self.runs {
            if run.machine.exiting() {
                continue;
            }
            let (next, len) = seen.entry(*id).or_insert((now, 0));
            if now < *next {
                continue;
            }
            *next = now + LOOK_EVERY;
            let path = match runs::transcript(self.store.conn(), *id) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(run = id, error = %e, "cannot look up the session record");
                    continue;
                }
            };
            // A length is all the loop reads; the lane reads the file as a regular file only.
            let grown = std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
            if grown == *len {
                continue;
            }
            let handed = self.spend.busy.lock().is_ok_and(|mut b| b.insert(*id));
            if handed {
                *len = grown;
                if !lane.submit(*id)
                    && let Ok(mut b) = self.spend.busy.lock()
                {
                    b.remove(id);
                }
            }
        }
    }
}
