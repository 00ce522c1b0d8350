//! Start-up reconciliation ([`Engine::recover`]): the jobs a stopped supervisor left
//! `running` are re-adopted, finished, failed as lost or released, and the runs of jobs that
//! ended meanwhile are ended ([`super::orphans`]).

use serde::Serialize;

use super::{Engine, Outcome, Result, RunResult};
use crate::status::JobStatus;
use crate::store::events::{self, About, EventKind};
use crate::store::jobs;
use crate::store::runs::{self, Run};

/// What start-up recovery did with the jobs left running.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Recovery {
    /// Runs whose pane is alive: adopted, not re-run.
    pub readopted: Vec<i64>,
    /// Runs whose turn was complete when the supervisor stopped, whatever their pane: their
    /// completion (commit, gates, decision) is to be finished, never the stage run again.
    pub completing: Vec<i64>,
    /// Jobs whose run was lost, queued again with backoff.
    pub requeued: Vec<i64>,
    /// Jobs whose run was lost with attempts spent: failed, task blocked.
    pub failed: Vec<i64>,
    /// Jobs claimed but never started: queued again without counting an attempt.
    pub released: Vec<i64>,
    /// Runs lost (their pane gone), whose jobs are in `requeued` or `failed`: their
    /// processes that outlived the pane are for the supervisor to stop.
    pub lost: Vec<i64>,
    /// Runs left open whose job was cancelled, failed or finished while no supervisor ran:
    /// ended now (their processes are for the supervisor to stop).
    pub ended: Vec<i64>,
}

impl Engine<'_> {
    /// Start-up reconciliation of jobs left `running`: a job whose run is alive (per
    /// `alive`) is re-adopted; one whose run is gone is failed as a lost run (requeued with
    /// backoff, or failed and its task blocked when attempts are spent); one that never
    /// started a run is queued again without counting an attempt.
    ///
    /// # Errors
    /// [`super::EngineError::Store`] on database failure.
    pub fn recover(&self, alive: impl Fn(&Run) -> bool) -> Result<Recovery> {
        let mut report = Recovery::default();
        let running = jobs::with_status(self.store.conn(), JobStatus::Running, usize::MAX >> 1)?;
        for job in running {
            let Some(run) = runs::open_for_job(self.store.conn(), job.id)? else {
                let now = self.now();
                self.store.write(|tx| {
                    self.queue
                        .release(tx, job.id, "claimed but never started", now)
                })?;
                report.released.push(job.id);
                continue;
            };
            if run.turn_done_at.is_some() {
                report.completing.push(run.id);
                continue;
            }
            if alive(&run) {
                let now = self.now();
                self.store.write(|tx| {
                    events::record(
                        tx,
                        EventKind::JobReadopted,
                        About::job_of(&job).run(run.id),
                        "supervisor",
                        format!("run {} re-adopted after restart", run.id),
                        now,
                    )
                })?;
                report.readopted.push(run.id);
                continue;
            }
            // Its pane is gone (the tmux server died, or the pane was killed): not the agent's
            // fault, so the infrastructure budget pays.
            let outcome = self.run_finished(
                run.id,
                RunResult::Lost {
                    reason: "run lost: its pane is gone".into(),
                },
            )?;
            report.lost.push(run.id);
            match outcome {
                Outcome::Requeued { .. } => report.requeued.push(job.id),
                _ => report.failed.push(job.id),
            }
        }
        report.ended = self.end_runs_of_ended_jobs()?;
        Ok(report)
    }
}
