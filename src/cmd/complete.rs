//! Shell completion: `bosun completions SHELL` prints the shell's registration, which asks
//! `bosun` itself (`COMPLETE=SHELL bosun -- …`, clap_complete's dynamic engine) for
//! subcommands, options, task keys (from the database, read-only) and provider names (from
//! the config).

use anyhow::Result;
use clap_complete::CompletionCandidate;
use clap_complete::env::EnvCompleter;

use crate::config::{Config, paths};

/// Task keys with their titles as help, from `$BOSUN_DB` or the default database (a `--db` on
/// the line being completed is not seen). None when there is no database.
pub fn task_keys() -> Vec<CompletionCandidate> {
    let db = paths::db_path(None);
    crate::store::task_keys(&db)
        .unwrap_or_default()
        .into_iter()
        .map(|(key, title)| {
            CompletionCandidate::new(key).help(Some(crate::text::clean(&title).into()))
        })
        .collect()
}

/// Provider names from the config (`./bosun.toml` and the user's layered over the built-in).
pub fn providers() -> Vec<CompletionCandidate> {
    let mut names: Vec<String> = Config::load(None)
        .map(|c| c.providers.into_keys().collect())
        .unwrap_or_default();
    names.sort();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// Prints the registration script for `shell`, naming this binary by its absolute path so the
/// shell reaches the same `bosun` whatever its PATH.
pub(super) fn registration(shell: clap_complete::Shell) -> Result<()> {
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "bosun".into());
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &clap_complete::env::Bash,
        clap_complete::Shell::Zsh => &clap_complete::env::Zsh,
        clap_complete::Shell::Fish => &clap_complete::env::Fish,
        clap_complete::Shell::Elvish => &clap_complete::env::Elvish,
        clap_complete::Shell::PowerShell => &clap_complete::env::Powershell,
        other => anyhow::bail!("no completion for {other}"),
    };
    let mut out = std::io::stdout().lock();
    completer.write_registration("COMPLETE", "bosun", "bosun", &exe, &mut out)?;
    Ok(())
}
