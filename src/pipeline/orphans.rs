//! Runs whose job ended while no supervisor ran (issue 18: no run outlives its task).

use super::{EngineError, Result};
use crate::status::{JobStatus, RunStatus};
use crate::store::events::{self, About, EventKind};
use crate::store::jobs;
use crate::store::runs;
use crate::store::tasks;

impl super::Engine<'_> {
    /// Ends every open run whose job is no longer running (the operator cancelled it, or it
    /// was failed or finished, while no supervisor ran; or the job is gone), each with a
    /// `run_status` event saying why. Returns their ids.
    ///
    /// # Errors
    /// [`EngineError::Store`] on database failure.
    pub(super) fn end_runs_of_ended_jobs(&self) -> Result<Vec<i64>> {
        let mut ended = Vec::new();
        for run in runs::open(self.store.conn())? {
            let job = match run.job_id {
                Some(id) => Some(jobs::get(self.store.conn(), id)?),
                None => None,
            };
            if job.as_ref().is_some_and(|j| j.status == JobStatus::Running) {
                continue;
            }
            let why = job.as_ref().map_or_else(
                || "its job is gone".to_string(),
                |j| format!("its job {} was {} while no supervisor ran", j.id, j.status),
            );
            let task = tasks::get(self.store.conn(), run.task_id)?;
            let now = self.now();
            self.store.write(|tx| {
                runs::end(tx, run.id, RunStatus::Error, None, Some(&why), None, now)?;
                events::record(
                    tx,
                    EventKind::RunStatus,
                    About::task(run.task_id).job(run.job_id).run(run.id),
                    "supervisor",
                    format!(
                        "{} run {} ended on restart: {why}; its agent is stopped",
                        task.key, run.id
                    ),
                    now,
                )?;
                Ok::<_, EngineError>(())
            })?;
            ended.push(run.id);
        }
        Ok(ended)
    }
}
