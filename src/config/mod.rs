//! `bosun.toml`: the pipeline (ordered stages with their branches and gates), the roles that
//! play each stage, and the supervisor and queue limits.
//!
//! Loading layers three sources, later ones winning key by key: the built-in default
//! ([`DEFAULT_TOML`], which `bosun init` writes out), the user config
//! (`$XDG_CONFIG_HOME/bosun/config.toml`) and the project config (`./bosun.toml`, or the file
//! given with `--config` / `$BOSUN_CONFIG`). A layer that gives `stages` replaces the whole
//! list; roles merge per role and per key. Every error names the file, line, column and key.
//!
//! This module holds the validated model ([`Config`] and its parts); `raw.rs` the files as
//! written, `merge.rs` the layering, `stages.rs` the pipeline's validation, `provider.rs` and
//! `notify.rs` their sections, `locate.rs` the file positions of errors.

pub mod budget;
pub mod intake;
pub mod land;
pub mod locate;
mod merge;
pub mod notify;
pub mod paths;
pub mod prices;
mod provider;
mod raw;
mod stages;

pub use provider::{HookStyle, LimitPattern, ProviderConfig, ProviderMode, ScreenStatus};
use raw::{Source, de_duration};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;

use locate::Located;

/// The commented default config, embedded in the binary. `bosun init` writes it out verbatim.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// The built-in provider profiles, the lowest config layer.
pub const PROVIDERS_TOML: &str = include_str!("providers.toml");

/// Environment variable naming the project config file (same as `--config`).
pub const CONFIG_ENV: &str = "BOSUN_CONFIG";

/// A config error, located in its source file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The file that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A value is malformed, a key is unknown, or a rule between keys is broken.
    #[error(transparent)]
    Invalid(Located),
}

/// Supervisor limits (`[supervisor]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorConfig {
    /// Runs working at the same time across all tasks; at least 1.
    pub max_concurrency: u32,
    /// Run timeout for roles that set none.
    pub default_timeout: Duration,
    /// Time between SIGTERM and SIGKILL when a run is stopped.
    pub kill_grace: Duration,
    /// Name of bosun's private tmux server socket (`tmux -L NAME`).
    pub tmux_socket: String,
    /// Messages delivered to an idle agent in one turn (its inbox is emptied this many at a
    /// time); at least 1.
    pub message_batch: u32,
    /// Threads that finish completed runs (commit, gates, decision) at once; at least 1,
    /// default 4.
    pub completion_workers: u32,
    /// After a provider's usage limit resets, the runs parked at it resume this far apart
    /// (`resume_stagger`, default 10 s), oldest first; its queued jobs wait for the last.
    pub resume_stagger: Duration,
    /// The turn pasted into a parked run's pane when its provider's limit has reset
    /// (`resume_prompt`).
    pub resume_prompt: String,
}

/// The console (`[ui]`).
#[derive(Debug, Clone, PartialEq)]
pub struct UiConfig {
    /// Theme name: a built-in (`default`, `light`, `high-contrast`) or a file in
    /// `$XDG_CONFIG_HOME/bosun/themes/`.
    pub theme: String,
}

/// Job queue policy (`[queue]`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// Permanent failures a job may have before it fails for good; at least 1.
    pub max_attempts: u32,
    /// Transient failures (rate limits, outages) a job may have before it fails for good.
    pub max_transient_attempts: u32,
    /// Infrastructure failures (the tmux server or a pane lost, tmux unreachable) a job may
    /// have before it fails for good; they never spend `max_attempts`.
    pub max_infra_attempts: u32,
    /// First backoff delay; doubles with each failure.
    pub backoff_base: Duration,
    /// Largest backoff delay.
    pub backoff_cap: Duration,
    /// Fraction (0.0–1.0) of a backoff delay that may be taken off at random.
    pub backoff_jitter: f64,
    /// Consecutive transient failures of one provider that open its breaker; at least 1.
    pub breaker_threshold: u32,
    /// How long an open breaker waits before letting one probe job through.
    pub breaker_pause: Duration,
    /// Age after which finished jobs are pruned.
    pub prune_after: Duration,
}

/// A role: who plays a stage (`[roles.NAME]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleConfig {
    /// Role name, e.g. `developer`.
    pub name: String,
    /// Provider profile name, e.g. `claude`, `codex`, `sim`.
    pub provider: String,
    /// Providers that take this role's new jobs, in order, while its provider is parked at a
    /// usage limit (`fallback = ["codex"]`); empty by default.
    pub fallback: Vec<String>,
    /// Prompt template with `{key}`, `{title}`, `{spec}`, `{stage}`, `{worktree}`, `{feedback}`.
    pub prompt: String,
    /// Run timeout; `None` uses [`SupervisorConfig::default_timeout`].
    pub timeout: Option<Duration>,
}

/// What a failed gate or a taken branch does to the task.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run the same stage again with the failure as feedback, at most the stage's
    /// `max_retries` times, then block.
    Retry,
    /// Go back to an earlier stage with feedback, at most `max` times, then block.
    Rollback {
        /// Index of the target stage in [`Config::stages`].
        to: usize,
        /// Cap on rollbacks along this edge for one task.
        max: u32,
    },
    /// Stop and wait for the operator's answer (branches only).
    NeedsInput,
    /// Stop and wait for the operator.
    Block,
}

/// A gate's check.
#[derive(Debug, Clone)]
pub enum GateKind {
    /// A file (path or glob, `{key}` expanded) exists under the worktree and is non-empty.
    Artifact {
        /// Path or glob relative to the worktree.
        path: String,
    },
    /// A shell command exits 0 in the worktree within `timeout`.
    Command {
        /// Shell command (`sh -c`); `None` uses the project's test command.
        command: Option<String>,
        /// Time limit.
        timeout: Duration,
    },
    /// A verdict parsed from a file or from the run's final message.
    Verdict {
        /// File relative to the worktree; `None` reads the run's final message.
        path: Option<String>,
        /// How the verdict is read.
        rule: VerdictRule,
    },
    /// The operator approves or rejects.
    Approval,
}

impl GateKind {
    /// The kind's name as written in config and stored in `gate_results.kind`.
    pub fn name(&self) -> &'static str {
        match self {
            GateKind::Artifact { .. } => "artifact",
            GateKind::Command { .. } => "command",
            GateKind::Verdict { .. } => "verdict",
            GateKind::Approval => "approval",
        }
    }
}

/// How a verdict gate reads its verdict (see `pipeline::verdict`).
#[derive(Debug, Clone)]
pub enum VerdictRule {
    /// Keywords (`pass_words`, `fail_words`) where people write verdicts: the first line,
    /// after a `Verdict:` label, under a `## Verdict` heading. Case and `_`/`-`/space do not
    /// matter; both kinds at once is ambiguous.
    Words {
        /// Keywords of a passing verdict, e.g. `APPROVED`.
        pass: Vec<String>,
        /// Keywords of a failing verdict, e.g. `REQUEST_CHANGES`.
        fail: Vec<String>,
    },
    /// Regexes (`pass`, `fail`) over the whole text; `fail` is checked first.
    Patterns {
        /// Matches a passing verdict.
        pass: Regex,
        /// Matches a failing verdict.
        fail: Regex,
    },
}

/// A quality gate of a stage.
#[derive(Debug, Clone)]
pub struct Gate {
    /// What is checked.
    pub kind: GateKind,
    /// What a failure does.
    pub on_fail: Action,
}

/// A branch: a file whose existence diverts the task before the gates are checked.
#[derive(Debug, Clone)]
pub struct Branch {
    /// Path relative to the worktree, `{key}` expanded.
    pub when_exists: String,
    /// What the branch does; its text becomes the feedback or the operator's question.
    pub then: Action,
}

/// A pipeline stage.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Stage name, unique in the pipeline.
    pub name: String,
    /// Role that plays it (a key of [`Config::roles`]).
    pub role: String,
    /// Times a failed gate with `on_fail = "retry"` may re-run the stage before it blocks.
    pub max_retries: u32,
    /// Checked first, in order.
    pub branches: Vec<Branch>,
    /// Checked in order after the branches.
    pub gates: Vec<Gate>,
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[supervisor]`.
    pub supervisor: SupervisorConfig,
    /// `[queue]`.
    pub queue: QueueConfig,
    /// `[roles.*]` by name.
    pub roles: BTreeMap<String, RoleConfig>,
    /// `[[stages]]` in pipeline order; never empty.
    pub stages: Vec<Stage>,
    /// `[providers.*]` by name: the built-in profiles with config overrides.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// `[ui]`: the console.
    pub ui: UiConfig,
    /// `[notify]`: telling the operator when they are needed.
    pub notify: notify::NotifyConfig,
    /// `[projects.land]`: how tasks land once they passed their last stage (a project's own
    /// settings lie over these: [`land::LandConfig::for_project`]).
    pub land: land::LandConfig,
    /// `[prices]`: what tokens cost, per model.
    pub prices: prices::PriceConfig,
    /// `[budget]`: tokens and US dollars a task, a project and a day may use.
    pub budget: budget::BudgetConfig,
    /// `[server]`: the webhook server of the daemon.
    pub server: intake::ServerConfig,
    /// `[[intake]]`: the trackers work comes in from.
    pub intake: Vec<intake::IntakeSource>,
    /// Files that were layered over the built-in default, in order.
    pub sources: Vec<PathBuf>,
}

impl Config {
    /// The built-in default alone.
    ///
    /// # Errors
    /// Only if the embedded default is broken, which a unit test rules out.
    pub fn builtin() -> Result<Config, ConfigError> {
        Config::from_layers(&[])
    }

    /// The files [`Config::load`] layers over the built-in config, lowest first: the user's
    /// (`$XDG_CONFIG_HOME/bosun/config.toml`, when it exists), then `project` (or
    /// `$BOSUN_CONFIG`, else `./bosun.toml` when it exists).
    pub fn layer_files(project: Option<&Path>) -> Vec<PathBuf> {
        let mut files = Vec::new();
        if let Some(user) = paths::user_config_file().filter(|p| p.is_file()) {
            files.push(user);
        }
        let explicit = project
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from));
        match explicit {
            Some(p) => files.push(p),
            None => {
                let local = PathBuf::from("bosun.toml");
                if local.is_file() {
                    files.push(local);
                }
            }
        }
        files
    }

    /// Loads the built-in default, then the user config if it exists, then the project
    /// config: `project` if given, else `$BOSUN_CONFIG`, else `./bosun.toml` if it exists.
    ///
    /// # Errors
    /// [`ConfigError::Read`] if a named file cannot be read; [`ConfigError::Invalid`] for
    /// any malformed value, unknown key or broken rule, naming file, line and key.
    pub fn load(project: Option<&Path>) -> Result<Config, ConfigError> {
        let files = Config::layer_files(project);
        let mut texts = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            texts.push((path, text));
        }
        let layers: Vec<(&Path, &str)> = texts
            .iter()
            .map(|(p, t)| (p.as_path(), t.as_str()))
            .collect();
        Config::from_layers(&layers)
    }

    /// Builds a config from the built-in default with `layers` (file name, text) on top.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] as for [`Config::load`].
    pub fn from_layers(layers: &[(&Path, &str)]) -> Result<Config, ConfigError> {
        let mut parsed = vec![
            Source::parse(Path::new("<built-in providers>"), PROVIDERS_TOML)?,
            Source::parse(Path::new("<built-in>"), DEFAULT_TOML)?,
        ];
        for (path, text) in layers {
            parsed.push(Source::parse(path, text)?);
        }
        merge::merge(parsed)
    }

    /// Index of the stage named `name`.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }

    /// The role playing `stage`.
    pub fn role_of(&self, stage: &Stage) -> &RoleConfig {
        // Validation guarantees every stage's role exists.
        &self.roles[&stage.role]
    }

    /// The run timeout for `role`.
    pub fn timeout_of(&self, role: &RoleConfig) -> Duration {
        role.timeout.unwrap_or(self.supervisor.default_timeout)
    }
}
