//! One place for the operator's decisions: approve, reject, override, resume, cancel,
//! answer, send and message. The CLI, the console's effects, the demo and `providers
//! --check` all call [`Decider`]; none reaches the engine or a pane another way.
//!
//! A decision is compare-and-set (see `ARCHITECTURE.md`, Invariants): it is evaluated against
//! the task as read and applied only if the task did not change since, so of decisions made
//! at once exactly one applies. The others come back as [`DecideError::Lost`], whose message
//! names the decision that won ("ET-001 was already approved at 14:02:11 UTC by console; it
//! is now blocked at analysis"); `bosun` exits with status 3 for it, so scripts can tell a
//! lost race from a failure. The same holds for answers: of two answers to one dialog only
//! one presses keys.
//!
//! What each decision checks before it is tried (a rejection or an override needs a note, a
//! message needs text and an existing role) is checked here, once, for every front-end.

use std::path::Path;

use crate::config::Config;
use crate::control::{self, AnswerTiming, ControlError};
use crate::pipeline::{Decision, Engine, EngineError, Input, Outcome};
use crate::store::Store;

/// Why a decision was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Another operator (console, CLI, script) decided first; nothing was applied. The
    /// message names who decided what and when. `bosun` exits 3.
    #[error("{0}")]
    Lost(String),
    /// The decision is not well-formed (an empty note, an unknown role); the message says
    /// what is missing.
    #[error("{0}")]
    Invalid(String),
    /// The engine refused (the task waits for nothing of the kind) or failed.
    #[error(transparent)]
    Engine(EngineError),
    /// The agent could not be reached or did not take the answer.
    #[error(transparent)]
    Control(ControlError),
}

impl From<EngineError> for DecideError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Conflict(who) => DecideError::Lost(who),
            e => DecideError::Engine(e),
        }
    }
}

impl From<ControlError> for DecideError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::AlreadyAnswered(who) => DecideError::Lost(who),
            e => DecideError::Control(e),
        }
    }
}

impl From<crate::store::StoreError> for DecideError {
    fn from(e: crate::store::StoreError) -> Self {
        DecideError::Engine(EngineError::Store(e))
    }
}

/// Whether `e` (anywhere in its chain) is a decision another operator won: `bosun` exits 3.
pub fn lost(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| matches!(c.downcast_ref::<DecideError>(), Some(DecideError::Lost(_))))
}

/// Result alias.
pub type Result<T> = std::result::Result<T, DecideError>;

/// Takes the operator's decisions on the database `store` with the config `cfg`; `by` is who
/// decides (`cli`, `console`, `demo`, `check`: the events' actor); `data_dir` holds the tmux
/// config for reaching a run's pane.
pub struct Decider<'a> {
    /// The config (the pipeline, the providers' keys).
    pub cfg: &'a Config,
    /// The database.
    pub store: &'a Store,
    /// bosun's data directory.
    pub data_dir: &'a Path,
    /// Who decides.
    pub by: &'a str,
}

impl Decider<'_> {
    /// Approves the approval gate task `key` waits at (`note` is kept with it).
    ///
    /// # Errors
    /// [`DecideError::Lost`] when another decision came first; [`DecideError::Engine`] when
    /// the task awaits no approval or the database fails.
    pub fn approve(&self, key: &str, note: Option<String>) -> Result<Outcome> {
        self.decide(key, Decision::Approve { note })
    }

    /// Rejects it, with `note` saying what to change (the next run's feedback).
    ///
    /// # Errors
    /// [`DecideError::Invalid`] for an empty note; otherwise as [`Decider::approve`].
    pub fn reject(&self, key: &str, note: String) -> Result<Outcome> {
        if note.trim().is_empty() {
            return Err(DecideError::Invalid(
                "a rejection needs a note saying what to change".into(),
            ));
        }
        self.decide(key, Decision::Reject { note })
    }

    /// Counts a blocked task's failed gate as passed ("approve anyway"), with `note` saying
    /// why.
    ///
    /// # Errors
    /// [`DecideError::Invalid`] for an empty note; otherwise as [`Decider::approve`].
    pub fn override_gate(&self, key: &str, note: String) -> Result<Outcome> {
        if note.trim().is_empty() {
            return Err(DecideError::Invalid(
                "an override needs a note saying why the failure does not count".into(),
            ));
        }
        self.decide(key, Decision::Override { note })
    }

    /// Resumes a blocked or waiting task, at `stage` or its own, with `note` as feedback.
    ///
    /// # Errors
    /// As [`Decider::approve`].
    pub fn resume(
        &self,
        key: &str,
        note: Option<String>,
        stage: Option<String>,
    ) -> Result<Outcome> {
        self.decide(key, Decision::Resume { note, stage })
    }

    /// Cancels the task (its run is stopped by the supervisor, now or at its next start).
    ///
    /// # Errors
    /// As [`Decider::approve`].
    pub fn cancel(&self, key: &str) -> Result<Outcome> {
        self.decide(key, Decision::Cancel)
    }

    /// Lands task `key` (done, or blocked after a failed landing) as its project's
    /// `[projects.land]` says, or by `mode`: its landing is opened and the supervisor's
    /// lander merges it (or pushes it and opens its pull request).
    ///
    /// # Errors
    /// As [`Decider::approve`]; the engine's refusal when the task has not passed every stage
    /// or its project does not land tasks and no `mode` was given.
    pub fn land(&self, key: &str, mode: Option<crate::config::land::LandMode>) -> Result<Outcome> {
        self.decide(key, Decision::Land { mode })
    }

    /// Any of the engine's decisions, compare-and-set.
    ///
    /// # Errors
    /// As [`Decider::approve`].
    pub fn decide(&self, key: &str, decision: Decision) -> Result<Outcome> {
        Ok(Engine::new(self.cfg, self.store).handle(Input::Decide {
            task: key.to_string(),
            decision,
            by: self.by.to_string(),
        })?)
    }

    /// Answers the dialog task `key`'s agent shows with its provider's yes (or no) keys,
    /// pressed only once the dialog's options stand on screen, and verified.
    ///
    /// # Errors
    /// [`DecideError::Lost`] when another operator answered first;
    /// [`DecideError::Control`] when the task has no running agent or the answer was not
    /// taken (the message quotes the screen).
    pub fn answer(&self, key: &str, yes: bool, timing: AnswerTiming) -> Result<()> {
        Ok(control::answer_with(
            self.cfg,
            self.data_dir,
            self.store,
            key,
            yes,
            self.by,
            timing,
        )?)
    }

    /// Types `text` into task `key`'s agent now (pasted, then its submit keys).
    ///
    /// # Errors
    /// [`DecideError::Invalid`] for an empty text; [`DecideError::Control`] when the task
    /// has no running agent.
    pub fn send(&self, key: &str, text: &str) -> Result<()> {
        if text.trim().is_empty() {
            return Err(DecideError::Invalid("the text is empty".into()));
        }
        Ok(control::send_text(
            self.cfg,
            self.data_dir,
            self.store,
            key,
            text,
        )?)
    }

    /// Queues `text` for task `key`'s agent (in `role`, or any) for when its turn ends;
    /// returns the message's id.
    ///
    /// # Errors
    /// [`DecideError::Invalid`] for an empty text or a role the config does not have;
    /// [`DecideError::Control`] when the task does not exist or the database fails.
    pub fn message(&self, key: &str, role: Option<&str>, text: &str) -> Result<i64> {
        if text.trim().is_empty() {
            return Err(DecideError::Invalid("the message is empty".into()));
        }
        if let Some(r) = role
            && !self.cfg.roles.contains_key(r)
        {
            let names: Vec<&str> = self.cfg.roles.keys().map(String::as_str).collect();
            return Err(DecideError::Invalid(format!(
                "no role `{r}` in the config; roles: {}",
                names.join(", ")
            )));
        }
        Ok(control::queue_message(
            self.store, key, role, text, self.by,
        )?)
    }
}
