//! `bosun providers --check NAME`: does the profile read the CLI that is installed today?
//!
//! The field's most common bug is a CLI update that silently breaks status detection (a
//! footer string changes, a hook stops firing). This runs the installed CLI, at whatever
//! version, through a short scripted session under a real [`crate::supervisor::Supervisor`] — bosun's own launch,
//! prompt delivery, hooks, screen reading and answers — against the built-in scripted model
//! ([`crate::sim::model`]) on 127.0.0.1, in a private tmux server, a scratch home
//! ([`crate::sim::homes`]), repository and database under bosun's data directory. Two tasks:
//! the first gets the multi-line prompt, a model that takes 2 s per answer, a tool call the
//! CLI asks permission for (answered the way `bosun answer` does) and a final text; the second
//! gets an error the CLI gives up on. The report says, for ready, busy, waiting, answer, done,
//! error and hooks, whether bosun read it right and how fast, measured from what the model
//! server (or agent-sim's trace) says happened.

//!
//! `session.rs` runs the session in a [`crate::sandbox::Sandbox`]; `read.rs` turns what
//! happened into the report's items.

mod read;
mod session;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::sim::homes::Cli;
use crate::sim::model::Pace;
use crate::supervisor::SupervisorError;

/// Why a check could not run (a status misread is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// No such provider in the config.
    #[error("no provider `{0}` in the config (see `bosun providers`)")]
    NoProvider(String),
    /// The provider is not one the check knows how to script.
    #[error(
        "`{0}` cannot be checked: providers --check scripts claude, codex, gemini and sim \
         (other profiles have no scripted model to talk to)"
    )]
    Unscripted(String),
    /// Its CLI is not installed: the message says what to install.
    #[error("{0}")]
    NotInstalled(String),
    /// The scratch setup failed.
    #[error("cannot set up the check in {}: {source}", path.display())]
    Setup {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The scratch repository could not be made.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// The config could not be built.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store or engine failed.
    #[error(transparent)]
    Engine(#[from] crate::pipeline::EngineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The supervisor failed.
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
    /// The sandbox could not be built.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `ready`, `busy`, `waiting`, `answer`, `done`, `error` or `hooks`.
    pub status: &'static str,
    /// Read right (`true`), misread or missed (`false`).
    pub ok: bool,
    /// What was seen, in words.
    pub detail: String,
    /// How long bosun took to read it, ms (see each detail for from when).
    pub ms: Option<i64>,
}

/// What the check found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The provider profile.
    pub provider: String,
    /// What the CLI's version command printed.
    pub version: Option<String>,
    /// The version the profile is proven against (empty: best effort).
    pub proven: String,
    /// One item per status.
    pub items: Vec<Item>,
}

impl Report {
    /// True when every status was read right.
    pub fn passed(&self) -> bool {
        self.items.iter().all(|i| i.ok)
    }
}

/// The file the scripted model writes (relative to the worktree).
const FILE: &str = "docs/check/written.md";
/// What it writes.
const CONTENT: &str = "# Check\n\nWritten by the scripted model.\n";
/// The model's last words in the first task.
const FINAL: &str = "I wrote docs/check/written.md.";
/// The model's pace: slow enough that a screen reading idle while it thinks is caught.
const PACE: Pace = Pace {
    first_token: Duration::from_secs(2),
    gap: Duration::from_millis(20),
};
/// Longest the whole check may take.
const LIMIT: Duration = Duration::from_secs(300);

/// Runs the check of provider `name` (see the module docs) with the config `cfg` (the
/// profile as the operator's config has it), in a scratch directory under `data_dir`, which
/// is removed afterwards unless `keep`. `progress` gets a line now and then.
///
/// # Errors
/// [`CheckError`] when the check cannot run at all: unknown or unscriptable provider, CLI not
/// installed, scratch setup failures.
pub fn run(
    cfg: &Config,
    name: &str,
    data_dir: &Path,
    bosun_exe: &str,
    keep: bool,
    mut progress: impl FnMut(&str),
) -> Result<Report, CheckError> {
    let profile = cfg
        .providers
        .get(name)
        .ok_or_else(|| CheckError::NoProvider(name.to_string()))?;
    let cli = Cli::of_provider(name);
    let sim = profile.command.iter().any(|a| a == "agent-sim");
    if cli.is_none() && !sim {
        return Err(CheckError::Unscripted(name.to_string()));
    }
    if let Some(missing) = crate::provider::missing_cli(profile, bosun_exe) {
        return Err(CheckError::NotInstalled(missing));
    }
    let version = crate::provider::installed_version(profile, bosun_exe);
    let dir = data_dir
        .join("checks")
        .join(format!("{name}-{}", std::process::id()));
    let setup = |source| CheckError::Setup {
        path: dir.clone(),
        source,
    };
    let _ = std::fs::remove_dir_all(&dir);
    crate::private::private_dir(&dir).map_err(setup)?;
    let dir = dir.canonicalize().map_err(setup)?;
    progress(&format!("scratch directory {}", dir.display()));
    let result = session::session(cfg, profile, cli, &dir, bosun_exe, &mut progress);
    if !keep {
        crate::sandbox::remove_dir(&dir);
    }
    Ok(Report {
        provider: name.to_string(),
        version,
        proven: profile.proven.clone(),
        items: result?,
    })
}
