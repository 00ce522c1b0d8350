//! Talking to a task's running agent from outside the supervisor (the console, `bosun
//! answer`, `bosun send`): the agent's pane is on bosun's tmux server, so any process can
//! press keys there. The supervisor sees the effect on the screen like any other output, and
//! learns of an answer from its `answered` event.
//! An answer is pressed only once the dialog can take it, and confirmed (`answering.rs`).

mod answering;

pub use answering::{
    AnswerFailure, AnswerStep, AnswerTiming, Answering, dialog, failure_words, press_verified,
};

use std::path::Path;
use std::time::Duration;

use crate::config::{Config, ProviderConfig};
use crate::provider::screen_text;
use crate::store::events::{self, About, EventKind};
use crate::store::{Store, answers, now_ms, runs, tasks};
use crate::tmux::Tmux;

/// Why an agent could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The task or its run could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The task has no run that is still going.
    #[error("{0} has no running agent")]
    NoAgent(String),
    /// The run's provider is not in the config.
    #[error("no provider `{0}` in the config")]
    NoProvider(String),
    /// tmux failed.
    #[error(transparent)]
    Tmux(#[from] crate::tmux::TmuxError),
    /// Another console or CLI answered the dialog first; nothing was pressed for this one.
    #[error("{0}")]
    AlreadyAnswered(String),
    /// The answer could not be given: no dialog came, or it did not take the keys.
    #[error("cannot answer {key}: {why}; the agent's screen ends with:\n{screen}")]
    NotAnswered {
        /// The task.
        key: String,
        /// What went wrong, in words.
        why: String,
        /// The last lines of the agent's screen, safe to print.
        screen: String,
    },
}

/// Records that `actor` answered run `run_id` of task `key` (an `answered` event, which the
/// supervisor reads).
///
/// # Errors
/// Store failures.
pub fn record_answer(
    store: &Store,
    key: &str,
    run_id: i64,
    yes: bool,
    presses: u32,
    actor: &str,
) -> Result<(), crate::store::StoreError> {
    let word = if yes { "yes" } else { "no" };
    let plural = if presses == 1 { "" } else { "es" };
    store.write(|tx| {
        let task = tasks::by_key(tx, key)?;
        let job_id = runs::get(tx, run_id)?.job_id;
        events::record_data(
            tx,
            EventKind::Answered,
            About::task(task.id).job(job_id).run(run_id),
            actor,
            format!("{key} run {run_id} answered {word} ({presses} press{plural})"),
            &serde_json::json!({ "yes": yes }),
            now_ms(),
        )
    })?;
    Ok(())
}

/// [`ControlError::AlreadyAnswered`] naming who, when run `run_id` of task `key` was answered
/// after event `since`.
fn answered_since(
    store: &Store,
    key: &str,
    run_id: i64,
    since: i64,
) -> Result<Option<ControlError>, ControlError> {
    Ok(events::after(store.conn(), since)?
        .into_iter()
        .find(|e| e.kind == EventKind::Answered && e.run_id == Some(run_id))
        .map(|e| {
            ControlError::AlreadyAnswered(format!(
                "{key} was already answered by {}: {} (this answer was not pressed)",
                e.actor, e.message
            ))
        }))
}

/// A dialog's identity for [`answers::claim`]: SHA-256 of its text, hex.
fn dialog_hash(dialog: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(dialog.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The task's latest run if it has not ended: (run id, pane, provider, tmux socket — the
/// run's own, or `None` for a run recorded before runs knew their socket).
fn live_run(
    store: &Store,
    key: &str,
) -> Result<(i64, String, String, Option<String>), ControlError> {
    let task = tasks::by_key(store.conn(), key)?;
    // A task can have several live runs (its stage's agent and helpers it asked): the one
    // waiting for an answer, else the newest.
    let live: Vec<runs::Run> = runs::for_task(store.conn(), task.id)?
        .into_iter()
        .filter(|r| r.ended_at.is_none())
        .collect();
    let run = live
        .iter()
        .rev()
        .find(|r| r.status == crate::status::RunStatus::Waiting)
        .or(live.last())
        .cloned()
        .ok_or_else(|| ControlError::NoAgent(task.key.clone()))?;
    let pane = run
        .pane_id
        .ok_or_else(|| ControlError::NoAgent(task.key.clone()))?;
    Ok((run.id, pane, run.provider, run.socket))
}

/// The tmux server of a run: its recorded socket (a daemon may run on another socket than
/// the config's: `bosun daemon --socket NAME`, `bosun demo`), else the config's.
fn tmux(cfg: &Config, data_dir: &Path, socket: Option<&str>) -> Result<Tmux, ControlError> {
    let socket = socket.unwrap_or(&cfg.supervisor.tmux_socket);
    Ok(Tmux::new(socket, data_dir, 200, 50)?)
}

fn provider<'a>(cfg: &'a Config, name: &str) -> Result<&'a ProviderConfig, ControlError> {
    cfg.providers
        .get(name)
        .ok_or_else(|| ControlError::NoProvider(name.to_string()))
}

/// Answers the task's waiting agent with its provider's yes (or no) keys, pressed only when
/// the dialog can take them and confirmed ([`press_verified`]), then records an `answered`
/// event by `actor` (so the supervisor knows a refused turn may end without a `Stop` hook).
///
/// # Errors
/// [`ControlError::NoAgent`] when the task has no running agent;
/// [`ControlError::NotAnswered`] (naming the task and quoting the screen) when no dialog came
/// within the wait or it did not take the keys; store and tmux failures.
pub fn answer_with(
    cfg: &Config,
    data_dir: &Path,
    store: &Store,
    key: &str,
    yes: bool,
    actor: &str,
    timing: AnswerTiming,
) -> Result<(), ControlError> {
    answer_inner(cfg, data_dir, store, key, yes, actor, timing).map_err(|e| gone(e, key))
}

/// A tmux refusal because the run's pane or server went away (the run ended as the operator
/// acted) is "no running agent", not tmux's own words ("can't find pane: %1").
fn gone(e: ControlError, key: &str) -> ControlError {
    match e {
        ControlError::Tmux(t) if t.target_gone() => ControlError::NoAgent(key.to_string()),
        e => e,
    }
}

fn answer_inner(
    cfg: &Config,
    data_dir: &Path,
    store: &Store,
    key: &str,
    yes: bool,
    actor: &str,
    timing: AnswerTiming,
) -> Result<(), ControlError> {
    let (run_id, pane, provider_name, socket) = live_run(store, key)?;
    let since = events::last_id(store.conn())?;
    let p = provider(cfg, &provider_name)?;
    let keys: Vec<&str> = if yes { &p.yes_keys } else { &p.no_keys }
        .iter()
        .map(String::as_str)
        .collect();
    let t = tmux(cfg, data_dir, socket.as_deref())?;
    let result = press_verified(
        p,
        timing,
        || {
            // Another console or CLI answered meanwhile: stop waiting for a dialog that is
            // gone, and say who.
            if let Some(first) = answered_since(store, key, run_id, since)? {
                return Err(first);
            }
            t.capture(&pane, false)
                .map(|s| screen_text(&s))
                .map_err(ControlError::from)
        },
        |n, dialog| {
            // Before the first press, claim this dialog: of answers given at the same moment
            // exactly one presses.
            if n == 1 {
                let hash = dialog_hash(dialog);
                if let Some((who, at)) =
                    store.write(|tx| answers::claim(tx, run_id, &hash, actor, now_ms()))?
                {
                    return Err(ControlError::AlreadyAnswered(format!(
                        "{key}'s question was already being answered by {who} ({} s ago); \
                         this answer was not pressed",
                        (now_ms() - at) / 1000
                    )));
                }
            }
            t.send_keys(&pane, &keys).map_err(ControlError::from)
        },
    );
    let presses = match result {
        Ok(n) => n,
        Err(Err(e)) => return Err(e),
        Err(Ok(failure)) => {
            if let Some(first) = answered_since(store, key, run_id, since)? {
                return Err(first);
            }
            let (why, screen) = failure_words(failure, timing);
            return Err(ControlError::NotAnswered {
                key: key.to_string(),
                why,
                screen,
            });
        }
    };
    record_answer(store, key, run_id, yes, presses, actor)?;
    Ok(())
}

/// Sends a line of text to the task's agent: pasted, then its provider's submit keys.
///
/// # Errors
/// [`ControlError::NoAgent`] when the task has no running agent; store and tmux failures.
pub fn send_text(
    cfg: &Config,
    data_dir: &Path,
    store: &Store,
    key: &str,
    text: &str,
) -> Result<(), ControlError> {
    let (_, pane, provider_name, socket) = live_run(store, key)?;
    let p = provider(cfg, &provider_name)?;
    let t = tmux(cfg, data_dir, socket.as_deref())?;
    t.paste(&pane, text).map_err(|e| gone(e.into(), key))?;
    std::thread::sleep(p.submit_delay.max(Duration::from_millis(50)));
    let keys: Vec<&str> = p.submit_keys.iter().map(String::as_str).collect();
    t.send_keys(&pane, &keys).map_err(|e| gone(e.into(), key))?;
    Ok(())
}

/// Queues a message for task `key`'s agent (in `role`, or any) from the operator, via `by`
/// (`cli`, `console`); returns its id. The supervisor delivers it when the agent's turn ends.
///
/// # Errors
/// [`ControlError`] when the task does not exist or the database fails.
pub fn queue_message(
    store: &Store,
    key: &str,
    role: Option<&str>,
    text: &str,
    by: &str,
) -> Result<i64, ControlError> {
    let task = tasks::by_key(store.conn(), key)?;
    let now = now_ms();
    let id = store.write(|tx| {
        let m = crate::store::messages::insert(tx, "operator", task.id, role, text, now)?;
        events::record(
            tx,
            EventKind::MessageQueued,
            About::task(task.id),
            by,
            format!("{key}: message #{} queued by the operator", m.id),
            now,
        )?;
        Ok::<_, crate::store::StoreError>(m.id)
    })?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::answering::screen_tail;
    use super::*;

    #[test]
    fn the_failure_message_quotes_the_screen_safely() {
        let e = ControlError::NotAnswered {
            key: "ET-001".into(),
            why: "no dialog".into(),
            screen: screen_tail("a\n\n\x1b]52;c;eA==\x07b\x1b[2Jc\n", 12),
        };
        let msg = e.to_string();
        assert!(msg.starts_with("cannot answer ET-001: no dialog"));
        assert!(msg.ends_with("a\nbc"), "{msg:?}");
    }
}
