//! What the engine did ([`Outcome`]), as a value the callers print or match on.

use serde::Serialize;

/// What the engine did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Entered the next stage; a job for its role is queued.
    Advanced {
        /// The stage entered.
        stage: String,
        /// The job queued.
        job: i64,
    },
    /// Passed the last stage.
    Done,
    /// Passed the last stage (or the operator landed it) and is landing.
    Landing {
        /// The landing opened (`store::landings`).
        landing: i64,
    },
    /// Its change reached the base branch.
    Landed,
    /// Its pull request is open on the forge, waiting for review and merge.
    InReview,
    /// An approval gate waits for the operator.
    AwaitingApproval {
        /// Its index in the stage.
        gate: usize,
    },
    /// The same stage runs again with feedback.
    Retried {
        /// The job queued.
        job: i64,
    },
    /// A blocked or needs-input task resumed at a stage (the operator's `resume`).
    Resumed {
        /// The stage that runs.
        stage: String,
        /// The job queued.
        job: i64,
        /// The stage never ran for this task before.
        first_time: bool,
    },
    /// Back to an earlier stage with feedback.
    RolledBack {
        /// The stage entered.
        stage: String,
        /// The job queued.
        job: i64,
    },
    /// The agent asked questions; the operator must answer.
    NeedsInput,
    /// Stopped for the operator.
    Blocked {
        /// Why.
        reason: String,
    },
    /// The failed run's job is queued again after backoff.
    Requeued {
        /// When it may run, ms since the epoch.
        available_at: i64,
        /// `transient` or `permanent`.
        failure: String,
    },
    /// The task was cancelled.
    Cancelled,
    /// Nothing to do (e.g. the run's job was cancelled meanwhile).
    Ignored {
        /// Why.
        reason: String,
    },
    /// A helper job finished (its answer recorded; for an assign, sent as a message).
    Helped {
        /// The helper job.
        job: i64,
        /// It failed.
        failed: bool,
    },
}

impl Outcome {
    /// What the engine did, as a sentence for a person (`entered architecture (job 5
    /// queued)`).
    pub fn describe(&self) -> String {
        match self {
            Outcome::Advanced { stage, job } => format!("entered {stage} (job {job} queued)"),
            Outcome::Done => "done".into(),
            Outcome::Landing { landing } => format!("landing (landing {landing})"),
            Outcome::Landed => "landed".into(),
            Outcome::InReview => "in review".into(),
            Outcome::AwaitingApproval { .. } => "awaiting approval".into(),
            Outcome::Retried { job } => format!("stage runs again (job {job} queued)"),
            Outcome::Resumed {
                stage,
                job,
                first_time: true,
            } => format!("{stage} will run for the first time (job {job} queued)"),
            Outcome::Resumed {
                stage,
                job,
                first_time: false,
            } => format!("{stage} runs again (job {job} queued)"),
            Outcome::RolledBack { stage, job } => {
                format!("rolled back to {stage} (job {job} queued)")
            }
            Outcome::NeedsInput => "needs input".into(),
            Outcome::Blocked { reason } => format!("blocked: {reason}"),
            Outcome::Requeued { failure, .. } => format!("requeued after a {failure} failure"),
            Outcome::Cancelled => "cancelled".into(),
            Outcome::Ignored { reason } => format!("nothing to do: {reason}"),
            Outcome::Helped { job, failed: false } => format!("helper job {job} answered"),
            Outcome::Helped { job, failed: true } => format!("helper job {job} failed"),
        }
    }
}
