//! The `intake` lane: work from the trackers (`crate::intake`). One pass at a time runs on
//! the lane's thread — after another connection's write (the webhook server recorded a
//! delivery, a task changed state), and when a source's poll or a report's retry is due:
//!
//! 1. the recorded deliveries not processed yet are taken in order ([`deliveries`]), each
//!    marked processed once its effect is written (a supervisor killed between the two takes
//!    it again; the ledger's unique key keeps that to one task);
//! 2. each source whose `poll` is due is read ([`poll`]);
//! 3. each source with `report = true` gets its tasks' new states on their issues
//!    ([`report`]);
//! 4. a decision from a comment that lost to an earlier one is answered on the issue.
//!
//! A source whose token is not set is polled and reported for never, saying so in its
//! status (`bosun intake status`). Crash points ([`crate::crash::INTAKE_POINTS`]):
//! `intake_create` (a delivery read, its task not created), `intake_created` (the task
//! created, the delivery not marked processed).

mod poll;
mod report;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::config::Config;
use crate::config::intake::IntakeSource;
use crate::forge::tracker::{IssueRef, Tracker};
use crate::intake::apply::{Applied, Intake};
use crate::intake::events::{self, Event};
use crate::store::{Store, StoreError, intake, now_ms};

use super::lane;

/// Deliveries one pass takes at most (the next pass takes the rest).
const BATCH: usize = 200;

/// Replies to write on issues: (source, issue number, text).
type Replies = Vec<(String, i64, String)>;

/// The lane and when it runs.
pub(super) struct IntakeLane {
    lane: lane::Lane<Pass>,
    busy: Arc<AtomicBool>,
    /// When the next pass is due without a write, ms since the epoch (set by each pass).
    next: Arc<AtomicI64>,
    pending: bool,
}

impl IntakeLane {
    /// A lane on database `db`.
    pub(super) fn start(db: PathBuf) -> IntakeLane {
        IntakeLane {
            lane: lane::Lane::start(
                lane::Spec {
                    name: "intake",
                    threads: 1,
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
            next: Arc::new(AtomicI64::new(0)),
            pending: true,
        }
    }

    /// Runs a pass when another connection wrote (`written`), one is due or still owed —
    /// unless one is running.
    pub(super) fn tick(&mut self, cfg: &Config, written: bool) {
        if cfg.intake.is_empty() {
            return;
        }
        self.pending |= written || now_ms() >= self.next.load(Ordering::SeqCst);
        if !self.pending || self.busy.swap(true, Ordering::SeqCst) {
            return;
        }
        self.pending = false;
        if !self.lane.submit(Pass {
            cfg: cfg.clone(),
            busy: Arc::clone(&self.busy),
            next: Arc::clone(&self.next),
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
    next: Arc<AtomicI64>,
}

impl Pass {
    /// Runs the pass; false when the database failed.
    fn run(self, store: &Store) -> bool {
        let ok = match self.steps(store) {
            Ok(next) => {
                self.next.store(next, Ordering::SeqCst);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "intake pass failed; tried again on the next write");
                self.next.store(now_ms() + 5_000, Ordering::SeqCst);
                false
            }
        };
        self.busy.store(false, Ordering::SeqCst);
        ok
    }

    /// The pass's steps; when the next is due.
    fn steps(&self, store: &Store) -> Result<i64, StoreError> {
        let cfg = &self.cfg;
        let intake = Intake { cfg, store };
        let mut trackers = Trackers::default();
        let mut replies = deliveries(&intake, &mut trackers)?;
        let now = now_ms();
        let mut next = now + 60_000;
        for source in &cfg.intake {
            let Some(every) = source.poll else { continue };
            let every = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
            let due = intake::next_poll(store.conn(), &source.name, every)?;
            if due > now {
                next = next.min(due);
                continue;
            }
            match trackers.get(source) {
                Ok(t) => poll::poll(&intake, source, t, &mut replies)?,
                Err(why) => {
                    store.write(|tx| intake::poll_failed(tx, &source.name, &why, None, now_ms()))?
                }
            }
            next = next.min(intake::next_poll(store.conn(), &source.name, every)?);
        }
        for source in cfg.intake.iter().filter(|s| s.report) {
            if intake::issues_of(store.conn(), &source.name)?.is_empty() {
                continue;
            }
            if let Ok(t) = trackers.get(source) {
                report::report(cfg, store, source, t)?;
            }
            for e in intake::issues_of(store.conn(), &source.name)? {
                if e.report_after > now_ms() {
                    next = next.min(e.report_after);
                }
            }
        }
        for (name, number, text) in replies {
            let Some(source) = cfg.intake.iter().find(|s| s.name == name) else {
                continue;
            };
            let issue_id =
                intake::issue(store.conn(), &name, &source.repo, number)?.and_then(|e| e.issue_id);
            let at = crate::forge::tracker::IssueRef {
                number,
                id: issue_id.as_deref(),
            };
            if let Ok(t) = trackers.get(source)
                && let Err(e) = t.comment(at, &text)
            {
                tracing::warn!(source = %name, issue = number, error = %e, "reply not written");
            }
        }
        Ok(next)
    }
}

/// The pass's tracker clients, made on first use; a source whose token is not set has none.
#[derive(Default)]
struct Trackers(HashMap<String, Result<Tracker, String>>);

impl Trackers {
    fn get(&mut self, source: &IntakeSource) -> Result<&Tracker, String> {
        self.0
            .entry(source.name.clone())
            .or_insert_with(|| {
                let token = std::env::var(&source.token_env)
                    .ok()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        format!(
                            "${} is not set where the supervisor runs: set it to a token that \
                             may read and comment on {}",
                            source.token_env, source.name
                        )
                    })?;
                Tracker::new(source, token).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Takes the recorded deliveries not processed yet; the replies their lost decisions need.
fn deliveries(intake: &Intake<'_>, trackers: &mut Trackers) -> Result<Replies, StoreError> {
    let (cfg, store) = (intake.cfg, intake.store);
    let mut replies = Replies::new();
    loop {
        let batch = intake::pending(store.conn(), BATCH)?;
        if batch.is_empty() {
            return Ok(replies);
        }
        for d in batch {
            let error = match cfg.intake.iter().find(|s| s.name == d.source) {
                None => Some(format!("no [[intake]] source {} in the config", d.source)),
                Some(source) => match events::parse(source.kind, &d.event, &d.body) {
                    Err(e) => Some(e),
                    Ok(event) => {
                        match take(intake, source, event, d.received_at, trackers, &mut replies) {
                            Ok(applied) => {
                                tracing::info!(source = %d.source, delivery = %d.delivery, ?applied, "delivery taken");
                                if matches!(applied, Applied::Created(_)) {
                                    crate::crash::point("intake_created");
                                }
                                None
                            }
                            Err(e) => Some(e),
                        }
                    }
                },
            };
            store.write(|tx| intake::processed(tx, d.id, error.as_deref(), now_ms()))?;
        }
    }
}

/// What `event` does.
fn take(
    intake: &Intake<'_>,
    source: &IntakeSource,
    event: Event,
    received_at: i64,
    trackers: &mut Trackers,
    replies: &mut Replies,
) -> Result<Applied, String> {
    let r = match event {
        Event::Issue(issue) => intake.issue(source, &issue),
        Event::Comment { issue, mut comment } => {
            // Written no later than it arrived (a tracker's clock may run ahead of ours).
            comment.created_at = Some(comment.created_at.map_or(received_at, |t| {
                crate::intake::apply::written_by(t).min(received_at)
            }));
            let r = intake.comment(source, &issue, &comment);
            if let Ok(Applied::Lost(who)) = &r {
                replies.push((
                    source.name.clone(),
                    issue.number,
                    format!(
                        "`{}` by {} was not applied: {who}",
                        crate::text::plain(comment.body.lines().next().unwrap_or("")),
                        crate::text::plain(&comment.user)
                    ),
                ));
            }
            r
        }
        // Plane's deliveries name the work item; its API says how it stands.
        Event::PlaneIssue { id } => {
            let t = trackers.get(source)?;
            let issue = t
                .issue(IssueRef {
                    number: 0,
                    id: Some(&id),
                })
                .map_err(|e| e.to_string())?;
            intake.issue(source, &issue)
        }
        Event::PlaneComment { issue, mut comment } => {
            let entry = intake::issue_by_id(intake.store.conn(), &source.name, &issue)
                .map_err(|e| e.to_string())?;
            let Some(entry) = entry else {
                return Ok(Applied::Nothing(
                    "a comment on a work item with no task".into(),
                ));
            };
            comment.created_at = Some(received_at);
            let at = crate::intake::events::TrackerIssue::known(
                entry.number,
                entry.issue_id.clone(),
                entry.url.clone(),
            );
            intake.comment(source, &at, &comment)
        }
        Event::PullRequest { number } => {
            let n = intake
                .store
                .write(|tx| crate::store::landings::nudge(tx, &source.project, number))
                .map_err(|e| e.to_string())?;
            return Ok(Applied::Nothing(format!(
                "pull request #{number}: {n} landing(s) read now"
            )));
        }
        Event::Ignored(why) => return Ok(Applied::Nothing(why)),
    };
    r.map_err(|e| e.to_string())
}
