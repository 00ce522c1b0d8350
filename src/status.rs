//! The status vocabulary of the domain: where a task stands ([`TaskState`]), what a job is
//! ([`JobStatus`]), what the agent of a run is doing ([`RunStatus`], ARCHITECTURE.md `provider/`), how a gate
//! came out ([`GateOutcome`]) and a provider's circuit breaker ([`BreakerState`]). The
//! pipeline, the queue, the supervisor, the console and the CLI speak these words; the store
//! only keeps them (as TEXT, `store::sql_text!`). Each has `as_str` (the stored and printed
//! word), `ALL`, `FromStr`, `Display` and serde by that word.

/// Declares a word-backed enum: `as_str`, `ALL`, `FromStr`, `Display`, serde by the word.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }
        impl $name {
            /// The word, as stored and printed.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} `{other}`", stringify!($name))),
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary! {
    /// Where a task stands with the operator.
    TaskState {
        /// Moving: a job is queued or running for its stage.
        Active = "active",
        /// The agent asked questions the operator must answer.
        NeedsInput = "needs_input",
        /// An approval gate waits for the operator.
        AwaitingApproval = "awaiting_approval",
        /// A cap or a permanent failure stopped it; the operator decides.
        Blocked = "blocked",
        /// Passed every stage (its project does not land tasks, or not yet: `bosun task
        /// land`).
        Done = "done",
        /// Cancelled by the operator.
        Cancelled = "cancelled",
        /// Passed every stage; its branch is being merged or pushed and its pull request
        /// opened.
        Landing = "landing",
        /// Its pull request is open on the forge: waiting for review and merge there.
        InReview = "in_review",
        /// Its change reached the project's base branch.
        Landed = "landed",
    }
}

impl TaskState {
    /// True once the task will do nothing more: done, cancelled, landed.
    pub fn finished(self) -> bool {
        matches!(
            self,
            TaskState::Done | TaskState::Cancelled | TaskState::Landed
        )
    }

    /// True for states that wait for the operator.
    pub fn needs_operator(self) -> bool {
        matches!(
            self,
            TaskState::NeedsInput | TaskState::AwaitingApproval | TaskState::Blocked
        )
    }
}

vocabulary! {
    /// Lifecycle of a job.
    JobStatus {
        /// Waiting for `available_at` and a free slot.
        Queued = "queued",
        /// Claimed by a supervisor; a run is working on it.
        Running = "running",
        /// Its run completed (the gates decide what comes next).
        Done = "done",
        /// Attempts spent or failed permanently.
        Failed = "failed",
        /// Cancelled by the operator or superseded.
        Cancelled = "cancelled",
    }
}

vocabulary! {
    /// What the agent in a run's pane is doing (ARCHITECTURE.md, `provider/`).
    RunStatus {
        /// Launched, not yet ready for input.
        Starting = "starting",
        /// Ready, waiting for a prompt.
        Idle = "idle",
        /// Working.
        Busy = "busy",
        /// Needs the operator (a question or permission prompt).
        Waiting = "waiting",
        /// Finished its turn.
        Done = "done",
        /// Its process exited (`exit_code` holds the status).
        Exited = "exited",
        /// Failed (`error` says how: timeout, transient, crash, …).
        Error = "error",
        /// Not known (e.g. after a restart, before the first screen).
        Unknown = "unknown",
        /// Waiting in its pane for its provider's usage limit to reset (no attempt spent);
        /// resumed in the same session at the reset.
        Parked = "parked",
    }
}

vocabulary! {
    /// Outcome of one gate evaluation.
    GateOutcome {
        /// The gate passed.
        Pass = "pass",
        /// The gate failed (or a branch fired).
        Fail = "fail",
        /// Waiting for the operator (approval gates).
        Pending = "pending",
    }
}

vocabulary! {
    /// Circuit breaker state (Nygard, *Release It!*, "Circuit Breaker").
    BreakerState {
        /// Claims flow.
        Closed = "closed",
        /// No claims for the provider until the pause has passed.
        Open = "open",
        /// One probe job may run; its outcome closes or re-opens the breaker.
        HalfOpen = "half_open",
    }
}

vocabulary! {
    /// Where a task's landing stands (`store::landings`).
    LandingState {
        /// Being merged, or pushed and its pull request opened.
        Landing = "landing",
        /// Its pull request is open on the forge.
        InReview = "in_review",
        /// In the base branch.
        Landed = "landed",
        /// Given up (a conflict, a failed verification, the pull request closed): its
        /// `error` says why; the task went back to a stage or blocked.
        Failed = "failed",
    }
}

vocabulary! {
    /// How a task branch's commits reach the base branch when it lands (`[projects.land]
    /// strategy`, `git::land`).
    Strategy {
        /// One new commit on the base with the branch's changes.
        Squash = "squash",
        /// A merge commit with the base and the branch as parents.
        Merge = "merge",
        /// The branch's commits replayed one by one on the base (linear history), each
        /// keeping its author and message; merge commits on the branch are left out, as
        /// `git rebase` does without `--rebase-merges`.
        Rebase = "rebase",
    }
}
