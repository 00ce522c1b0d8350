//! The operator's word on a job rather than a task: cancel it ([`Engine::cancel_job`]), or
//! queue a failed one again ([`Engine::retry_job`]).

use super::{Engine, EngineError, Outcome, Result, transition};
use crate::status::TaskState;
use crate::store::events::{self, About, EventKind};
use crate::store::{jobs, tasks};

impl Engine<'_> {
    /// Cancels a queued or running job on the operator's word; its task, left without a
    /// job, is blocked so the operator decides what comes next.
    ///
    /// # Errors
    /// [`crate::store::StoreError::Conflict`] if the job already finished.
    pub fn cancel_job(&self, job_id: i64) -> Result<Outcome> {
        let now = self.now();
        self.store.write(|tx| {
            let job = self.queue.cancel(tx, job_id, "operator", now)?;
            let task = tasks::get(tx, job.task_id)?;
            if task.state == TaskState::Active {
                let why = format!("job {job_id} ({}) was cancelled by the operator", job.stage);
                let blocked = transition::block(&task.key, &task.stage, &why, "operator");
                return self.apply(tx, &task, &blocked, now);
            }
            Ok(Outcome::Cancelled)
        })
    }

    /// Queues a failed or cancelled job again with fresh attempts and `note` as feedback,
    /// and makes its blocked task active again.
    ///
    /// # Errors
    /// [`EngineError::State`] if the task has moved on from the job's stage or is not
    /// blocked; [`crate::store::StoreError::Conflict`] if the job is not failed or cancelled.
    pub fn retry_job(&self, job_id: i64, note: Option<&str>) -> Result<Outcome> {
        let now = self.now();
        self.store.write(|tx| {
            let job = jobs::get(tx, job_id)?;
            let task = tasks::get(tx, job.task_id)?;
            if task.stage != job.stage || task.state != TaskState::Blocked {
                return Err(EngineError::State(format!(
                    "{} is {} at {}; job {job_id} is for {}: resume the task instead",
                    task.key, task.state, task.stage, job.stage
                )));
            }
            let feedback = note.map(|n| format!("The operator says:\n{n}"));
            let job = self
                .queue
                .retry(tx, job_id, feedback.as_deref(), "operator", now)?;
            tasks::set_stage(tx, task.id, &task.stage, TaskState::Active, None, now)?;
            events::record(
                tx,
                EventKind::Resumed,
                About::task(task.id),
                "operator",
                format!("{} resumed: job {job_id} retried", task.key),
                now,
            )?;
            Ok(Outcome::Retried { job: job.id })
        })
    }
}
