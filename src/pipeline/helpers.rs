//! Helper jobs: an agent's run asks another role for help on its task ([`Engine::request_help`]);
//! the helper runs in the same worktree with the request as its prompt, and its final message
//! is the answer ([`Engine::helper_finished`]): the asker's MCP call returns it (handoff), or it
//! comes to the asker as a message (assign). A helper job counts against `max_concurrency`
//! like any job; it evaluates no gate and never moves the task.

use rusqlite::Connection;

use super::{Engine, EngineError, Outcome, Result, RunResult};
use crate::queue::JobSpec;
use crate::status::{JobStatus, RunStatus};
use crate::store::events::{About, EventKind};
use crate::store::helpers::{self, Helper, Mode};
use crate::store::jobs::{self, Job};
use crate::store::runs::{self, Run};
use crate::store::{events, messages, tasks};

impl Engine<'_> {
    /// Run `parent_run_id` (live) asks `role` for help with `request`: a helper job is queued
    /// for its task, in its worktree, just ahead of the task's own priority.
    ///
    /// # Errors
    /// [`EngineError::State`] when the run has ended, has no job, or `role` is not in the
    /// config (the message lists the roles); [`EngineError::Store`] on database failure.
    pub fn request_help(
        &self,
        parent_run_id: i64,
        role: &str,
        request: &str,
        mode: Mode,
    ) -> Result<Job> {
        let conn = self.store.conn();
        let parent = runs::get(conn, parent_run_id)?;
        if parent.ended_at.is_some() {
            return Err(EngineError::State(format!(
                "run {parent_run_id} has ended; only a working agent can ask for help"
            )));
        }
        let Some(parent_job) = parent.job_id.map(|j| jobs::get(conn, j)).transpose()? else {
            return Err(EngineError::State(format!(
                "run {parent_run_id} has no job"
            )));
        };
        let Some(helper_role) = self.cfg.roles.get(role) else {
            let names: Vec<&str> = self.cfg.roles.keys().map(String::as_str).collect();
            return Err(EngineError::State(format!(
                "no role `{role}` in the config; roles: {}",
                names.join(", ")
            )));
        };
        if request.trim().is_empty() {
            return Err(EngineError::State("the request is empty".into()));
        }
        let task = tasks::get(conn, parent.task_id)?;
        let now = self.now();
        self.store.write(|tx| {
            let job = self.queue.enqueue(
                tx,
                &JobSpec {
                    task_id: task.id,
                    stage: &parent_job.stage,
                    role: &helper_role.name,
                    provider: &helper_role.provider,
                    priority: task.priority - 1,
                    feedback: None,
                    helper: true,
                },
                "engine",
                now,
            )?;
            helpers::insert(tx, job.id, parent_run_id, mode, request)?;
            events::record(
                tx,
                EventKind::HelpRequested,
                About::task(task.id).job(job.id).run(parent_run_id),
                &format!("run:{parent_run_id}"),
                format!(
                    "{}: the {} asked the {role} for help ({}, job #{})",
                    task.key,
                    parent_job.role,
                    mode.as_str(),
                    job.id
                ),
                now,
            )?;
            Ok::<_, EngineError>(job)
        })
    }

    /// A helper job's run finished: the job ends (done, or failed: a helper is not retried),
    /// its answer is recorded, and for an assign sent to the asking role as a message.
    pub(super) fn helper_finished(
        &self,
        job: &Job,
        run: &Run,
        helper: &Helper,
        result: RunResult,
    ) -> Result<Outcome> {
        let (text, failed) = match result {
            RunResult::Completed { final_message } => (
                final_message
                    .unwrap_or_else(|| "(the helper ended without a final message)".into()),
                false,
            ),
            RunResult::Failed { reason, .. } | RunResult::Lost { reason } => (reason, true),
        };
        let task = tasks::get(self.store.conn(), run.task_id)?;
        let parent_role = runs::get(self.store.conn(), helper.parent_run_id)?
            .job_id
            .map(|j| jobs::get(self.store.conn(), j))
            .transpose()?
            .map(|j| j.role);
        let now = self.now();
        self.store.write(|tx| {
            if let Some(late) = self.ended_meanwhile(tx, job.id, run.id)? {
                return Ok(late);
            }
            let status = if failed {
                RunStatus::Error
            } else {
                RunStatus::Done
            };
            let (error, message) = if failed {
                (Some(text.as_str()), None)
            } else {
                (None, Some(text.as_str()))
            };
            runs::end(tx, run.id, status, None, error, message, now)?;
            let job_status = if failed {
                JobStatus::Failed
            } else {
                JobStatus::Done
            };
            jobs::finish(tx, job.id, job_status, error, now)?;
            helpers::finish(tx, job.id, &text, failed, now)?;
            answer(
                tx,
                &task,
                job,
                helper,
                parent_role.as_deref(),
                &text,
                failed,
                now,
            )?;
            Ok(Outcome::Helped {
                job: job.id,
                failed,
            })
        })
    }
}

/// Records the answer: an event, and for an assign a message to the asking role.
#[allow(clippy::too_many_arguments)]
fn answer(
    tx: &Connection,
    task: &tasks::Task,
    job: &Job,
    helper: &Helper,
    parent_role: Option<&str>,
    text: &str,
    failed: bool,
    now: i64,
) -> Result<()> {
    let what = if failed { "failed" } else { "answered" };
    events::record(
        tx,
        EventKind::HelpAnswered,
        About::task(task.id).job(job.id),
        &format!("job:{}", job.id),
        format!(
            "{}: the {} {what} ({} job #{})",
            task.key,
            job.role,
            helper.mode.as_str(),
            job.id
        ),
        now,
    )?;
    if helper.mode == Mode::Assign {
        let body = if failed {
            format!(
                "The {} could not do what you assigned (job #{}): {text}",
                job.role, job.id
            )
        } else {
            format!(
                "The {} answers what you assigned (job #{}):\n{text}",
                job.role, job.id
            )
        };
        messages::insert(
            tx,
            &format!("job:{}", job.id),
            task.id,
            parent_role,
            &body,
            now,
        )?;
    }
    Ok(())
}
