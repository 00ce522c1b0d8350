//! The `intake` lane: work from the trackers (`crate::intake`). After another connection's
//! write (the webhook server records a delivery), and every `poll` of each source, one pass
//! runs on the lane's thread: the recorded deliveries not processed yet are taken in order
//! (each marked processed once its effect is written; a supervisor killed between the two
//! takes it again, and the ledger's unique key keeps that to one task), then the sources
//! whose poll is due are read.
//!
//! Crash points ([`crate::crash::INTAKE_POINTS`]): `intake_create` (a delivery read, its task
//! not created), `intake_created` (the task created, the delivery not marked processed).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Config;
use crate::intake::apply::{Applied, Intake};
use crate::intake::events::{self, Event};
use crate::store::{Store, intake, now_ms};

use super::lane;

/// Deliveries one pass takes at most (the next pass takes the rest).
const BATCH: usize = 200;

/// The lane and when it runs.
pub(super) struct IntakeLane {
    lane: lane::Lane<Pass>,
    busy: Arc<AtomicBool>,
    pending: bool,
}

impl IntakeLane {
    /// A lane on database `db` (no thread when the config has no `[[intake]]` source).
    pub(super) fn start(cfg: &Config, db: PathBuf) -> IntakeLane {
        let threads = usize::from(!cfg.intake.is_empty());
        IntakeLane {
            lane: lane::Lane::start(
                lane::Spec {
                    name: "intake",
                    threads: threads.max(1),
                    background: true,
                    db: Some(db),
                    poll_for_lock: false,
                },
                |worker, pass: Pass| match worker.store() {
                    Some(store) => {
                        if !pass.run(store) {
                            worker.reset();
                        }
                    }
                    None => {
                        pass.busy.store(false, Ordering::SeqCst);
                        tracing::error!("intake pass skipped: no database");
                    }
                },
            ),
            busy: Arc::new(AtomicBool::new(false)),
            pending: true,
        }
    }

    /// Runs a pass when another connection wrote (`written`) or one is still owed, unless one
    /// is running.
    pub(super) fn tick(&mut self, cfg: &Config, written: bool) {
        if cfg.intake.is_empty() {
            return;
        }
        self.pending |= written;
        if !self.pending || self.busy.swap(true, Ordering::SeqCst) {
            return;
        }
        self.pending = false;
        if !self.lane.submit(Pass {
            cfg: cfg.clone(),
            busy: Arc::clone(&self.busy),
        }) {
            self.busy.store(false, Ordering::SeqCst);
        }
    }

    /// Waits for the pass in progress.
    pub(super) fn drain(&mut self) {
        self.lane.drain();
    }
}

/// One pass (see the module docs).
pub(super) struct Pass {
    cfg: Config,
    busy: Arc<AtomicBool>,
}

impl Pass {
    /// Runs the pass; false when the database failed.
    fn run(self, store: &Store) -> bool {
        let ok = match deliveries(&self.cfg, store) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "intake pass failed; tried again on the next write");
                false
            }
        };
        self.busy.store(false, Ordering::SeqCst);
        ok
    }
}

/// Takes the recorded deliveries not processed yet.
fn deliveries(cfg: &Config, store: &Store) -> Result<(), crate::store::StoreError> {
    let intake = Intake { cfg, store };
    loop {
        let batch = intake::pending(store.conn(), BATCH)?;
        if batch.is_empty() {
            return Ok(());
        }
        for d in batch {
            let error = match cfg.intake.iter().find(|s| s.name == d.source) {
                None => Some(format!("no [[intake]] source {} in the config", d.source)),
                Some(source) => match events::parse(source.kind, &d.event, &d.body) {
                    Err(e) => Some(e),
                    Ok(event) => match take(&intake, source, event) {
                        Ok(applied) => {
                            tracing::info!(source = %d.source, delivery = %d.delivery, ?applied, "delivery taken");
                            None
                        }
                        Err(e) => Some(e),
                    },
                },
            };
            crate::crash::point("intake_created");
            store.write(|tx| intake::processed(tx, d.id, error.as_deref(), now_ms()))?;
        }
    }
}

/// What `event` does.
fn take(
    intake: &Intake<'_>,
    source: &crate::config::intake::IntakeSource,
    event: Event,
) -> Result<Applied, String> {
    let r = match event {
        Event::Issue(issue) => intake.issue(source, &issue),
        Event::Comment { issue, comment } => intake.comment(source, &issue, &comment),
        Event::PlaneIssue { .. } | Event::PlaneComment { .. } => {
            return Ok(Applied::Nothing(
                "Plane deliveries are read by polling".into(),
            ));
        }
        Event::Ignored(why) => return Ok(Applied::Nothing(why)),
    };
    r.map_err(|e| e.to_string())
}
