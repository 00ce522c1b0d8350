//! Talking to a task's running agent from outside the supervisor (the console, `bosun
//! answer`, `bosun send`): the agent's pane is on bosun's tmux server, so any process can
//! press keys there. The supervisor sees the effect on the screen like any other output.

use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::store::{Store, runs, tasks};
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
}

/// The pane and provider of the task's latest run, if that run has not ended.
fn live_pane(store: &Store, key: &str) -> Result<(String, String), ControlError> {
    let task = tasks::by_key(store.conn(), key)?;
    let run = runs::for_task(store.conn(), task.id)?
        .pop()
        .filter(|r| r.ended_at.is_none())
        .ok_or_else(|| ControlError::NoAgent(task.key.clone()))?;
    let pane = run
        .pane_id
        .ok_or_else(|| ControlError::NoAgent(task.key.clone()))?;
    Ok((pane, run.provider))
}

fn tmux(cfg: &Config, data_dir: &Path) -> Result<Tmux, ControlError> {
    Ok(Tmux::new(&cfg.supervisor.tmux_socket, data_dir, 200, 50)?)
}

/// Answers the task's waiting agent with its provider's yes (or no) keys.
///
/// # Errors
/// [`ControlError::NoAgent`] when the task has no running agent; store and tmux failures.
pub fn answer(
    cfg: &Config,
    data_dir: &Path,
    store: &Store,
    key: &str,
    yes: bool,
) -> Result<(), ControlError> {
    let (pane, provider) = live_pane(store, key)?;
    let p = cfg
        .providers
        .get(&provider)
        .ok_or(ControlError::NoProvider(provider))?;
    let keys: Vec<&str> = if yes { &p.yes_keys } else { &p.no_keys }
        .iter()
        .map(String::as_str)
        .collect();
    tmux(cfg, data_dir)?.send_keys(&pane, &keys)?;
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
    let (pane, provider) = live_pane(store, key)?;
    let p = cfg
        .providers
        .get(&provider)
        .ok_or(ControlError::NoProvider(provider))?;
    let t = tmux(cfg, data_dir)?;
    t.paste(&pane, text)?;
    std::thread::sleep(p.submit_delay.max(Duration::from_millis(50)));
    let keys: Vec<&str> = p.submit_keys.iter().map(String::as_str).collect();
    t.send_keys(&pane, &keys)?;
    Ok(())
}
