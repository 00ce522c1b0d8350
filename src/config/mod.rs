//! `bosun.toml`: the pipeline (ordered stages with their branches and gates), the roles that
//! play each stage, and the supervisor and queue limits.
//!
//! Loading layers three sources, later ones winning key by key: the built-in default
//! ([`DEFAULT_TOML`], which `bosun init` writes out), the user config
//! (`$XDG_CONFIG_HOME/bosun/config.toml`) and the project config (`./bosun.toml`, or the file
//! given with `--config` / `$BOSUN_CONFIG`). A layer that gives `stages` replaces the whole
//! list; roles merge per role and per key. Every error names the file, line, column and key.

pub mod locate;
pub mod notify;
pub mod paths;
mod provider;

pub use provider::{HookStyle, ProviderConfig, ProviderMode, ScreenStatus};
use provider::{RawProvider, merge_providers};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;

use locate::{Located, key_at};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

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
        merge(parsed)
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

// ---------------------------------------------------------------------------------------
// Raw layers, as written in a file. Every field is optional so layers can be stacked.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    supervisor: Option<RawSupervisor>,
    queue: Option<RawQueue>,
    #[serde(default)]
    roles: BTreeMap<String, Spanned<RawRole>>,
    stages: Option<Spanned<Vec<Spanned<RawStage>>>>,
    #[serde(default)]
    providers: BTreeMap<String, Spanned<RawProvider>>,
    ui: Option<RawUi>,
    notify: Option<notify::RawNotify>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawUi {
    theme: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSupervisor {
    max_concurrency: Option<Spanned<u32>>,
    #[serde(default, deserialize_with = "de_duration")]
    default_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    kill_grace: Option<Duration>,
    tmux_socket: Option<Spanned<String>>,
    message_batch: Option<Spanned<u32>>,
    completion_workers: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    max_attempts: Option<Spanned<u32>>,
    max_transient_attempts: Option<u32>,
    max_infra_attempts: Option<u32>,
    #[serde(default, deserialize_with = "de_duration")]
    backoff_base: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    backoff_cap: Option<Duration>,
    backoff_jitter: Option<Spanned<f64>>,
    breaker_threshold: Option<Spanned<u32>>,
    #[serde(default, deserialize_with = "de_duration")]
    breaker_pause: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    prune_after: Option<Duration>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRole {
    provider: Option<String>,
    prompt: Option<String>,
    #[serde(default, deserialize_with = "de_duration")]
    timeout: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: Spanned<String>,
    role: Spanned<String>,
    #[serde(default = "default_max_retries")]
    max_retries: u32,
    #[serde(default)]
    branches: Vec<Spanned<RawBranch>>,
    #[serde(default)]
    gates: Vec<Spanned<RawGate>>,
}

fn default_max_retries() -> u32 {
    2
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RawAction {
    Retry,
    Rollback,
    NeedsInput,
    Block,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    when_exists: String,
    then: Spanned<RawAction>,
    to: Option<Spanned<String>>,
    max: Option<Spanned<u32>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RawGateKind {
    Artifact,
    Command,
    Verdict,
    Approval,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    kind: RawGateKind,
    path: Option<Spanned<String>>,
    command: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "de_duration")]
    timeout: Option<Duration>,
    pass: Option<Spanned<String>>,
    fail: Option<Spanned<String>>,
    pass_words: Option<Spanned<Vec<String>>>,
    fail_words: Option<Spanned<Vec<String>>>,
    on_fail: Option<Spanned<RawAction>>,
    to: Option<Spanned<String>>,
    max: Option<Spanned<u32>>,
}

/// Default time limit of a command gate that sets none.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(20 * 60);

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?} ({e}); write e.g. \"90s\", \"10m\", \"1h 30m\""
        ))
    })
}

/// One parsed file: where it came from, its text (for line numbers) and its raw layer.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
    layer: RawLayer,
}

impl<'a> Source<'a> {
    fn parse(file: &'a Path, text: &'a str) -> Result<Source<'a>, ConfigError> {
        let layer: RawLayer = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let key = key_at(text, span.start);
            let message = e.message().trim().to_string();
            located(file, text, span.start, key, message)
        })?;
        Ok(Source { file, text, layer })
    }

    fn err(
        &self,
        offset: usize,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        located(self.file, self.text, offset, key.into(), message.into())
    }
}

/// The offset in `text` of the first line that sets `key` (`key = …`), else 0.
fn key_offset(text: &str, key: &str) -> usize {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return at + (line.len() - t.len());
        }
        at += line.len();
    }
    0
}

fn located(file: &Path, text: &str, offset: usize, key: String, message: String) -> ConfigError {
    ConfigError::Invalid(Located::new(file, text, offset, key, message))
}

fn merge(sources: Vec<Source<'_>>) -> Result<Config, ConfigError> {
    let mut sup = RawSupervisor::default();
    let mut queue = RawQueue::default();
    let mut sup_src = 0;
    let mut queue_src = 0;
    // role name -> (source index, merged raw role)
    let mut roles: BTreeMap<String, (usize, RawRole, usize)> = BTreeMap::new();
    // Where each role's `provider` key was last given: (source, offset).
    let mut provider_at: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut stages_src = 0;

    for (i, src) in sources.iter().enumerate() {
        if let Some(s) = &src.layer.supervisor {
            sup_src = i;
            if let Some(v) = &s.max_concurrency {
                sup.max_concurrency = Some(v.clone());
            }
            sup.default_timeout = s.default_timeout.or(sup.default_timeout);
            sup.kill_grace = s.kill_grace.or(sup.kill_grace);
            if s.tmux_socket.is_some() {
                sup.tmux_socket = s.tmux_socket.clone();
            }
            if s.message_batch.is_some() {
                sup.message_batch = s.message_batch.clone();
            }
            if s.completion_workers.is_some() {
                sup.completion_workers = s.completion_workers.clone();
            }
        }
        if let Some(q) = &src.layer.queue {
            queue_src = i;
            if let Some(v) = &q.max_attempts {
                queue.max_attempts = Some(v.clone());
            }
            queue.max_transient_attempts =
                q.max_transient_attempts.or(queue.max_transient_attempts);
            queue.max_infra_attempts = q.max_infra_attempts.or(queue.max_infra_attempts);
            queue.backoff_base = q.backoff_base.or(queue.backoff_base);
            queue.backoff_cap = q.backoff_cap.or(queue.backoff_cap);
            if let Some(v) = &q.backoff_jitter {
                queue.backoff_jitter = Some(v.clone());
            }
            if let Some(v) = &q.breaker_threshold {
                queue.breaker_threshold = Some(v.clone());
            }
            queue.breaker_pause = q.breaker_pause.or(queue.breaker_pause);
            queue.prune_after = q.prune_after.or(queue.prune_after);
        }
        for (name, role) in &src.layer.roles {
            let r = role.get_ref();
            let entry = roles
                .entry(name.clone())
                .or_insert_with(|| (i, RawRole::default(), role.span().start));
            entry.0 = i;
            entry.2 = role.span().start;
            if r.provider.is_some() {
                entry.1.provider = r.provider.clone();
                // An unknown provider is reported at its own line.
                // The table's own lines: from its header to the next header.
                let start = role.span().start;
                let rest = src.text.get(start..).unwrap_or("");
                let end = rest
                    .match_indices("\n[")
                    .next()
                    .map_or(rest.len(), |(i, _)| i);
                let found = key_offset(&rest[..end], "provider");
                provider_at.insert(name.clone(), (i, start + found));
            }
            if r.prompt.is_some() {
                entry.1.prompt = r.prompt.clone();
            }
            if r.timeout.is_some() {
                entry.1.timeout = r.timeout;
            }
        }
        if src.layer.stages.is_some() {
            stages_src = i;
        }
    }

    // Supervisor and queue: every key is present in the built-in layer.
    let missing = |key: &str| sources[0].err(0, key, "missing from the built-in default");
    let s = &sources[sup_src];
    let max_concurrency = sup
        .max_concurrency
        .ok_or_else(|| missing("supervisor.max_concurrency"))?;
    if *max_concurrency.get_ref() == 0 {
        return Err(s.err(
            max_concurrency.span().start,
            "supervisor.max_concurrency",
            "must be at least 1",
        ));
    }
    let completion_workers = sup.completion_workers.map_or(Ok(4), |b| {
        if *b.get_ref() == 0 {
            Err(s.err(
                b.span().start,
                "supervisor.completion_workers",
                "must be at least 1",
            ))
        } else {
            Ok(*b.get_ref())
        }
    })?;
    let message_batch = sup.message_batch.map_or(Ok(1), |b| {
        if *b.get_ref() == 0 {
            Err(s.err(
                b.span().start,
                "supervisor.message_batch",
                "must be at least 1",
            ))
        } else {
            Ok(*b.get_ref())
        }
    })?;
    for (key, value) in [
        ("default_timeout", sup.default_timeout),
        ("kill_grace", sup.kill_grace),
    ] {
        if value.is_some_and(|d| d.is_zero()) {
            return Err(s.err(
                key_offset(s.text, key),
                format!("supervisor.{key}"),
                "must be more than zero (e.g. \"30m\", \"10s\")",
            ));
        }
    }
    let supervisor = SupervisorConfig {
        max_concurrency: *max_concurrency.get_ref(),
        default_timeout: sup
            .default_timeout
            .ok_or_else(|| missing("supervisor.default_timeout"))?,
        kill_grace: sup
            .kill_grace
            .ok_or_else(|| missing("supervisor.kill_grace"))?,
        tmux_socket: {
            let sock = sup
                .tmux_socket
                .ok_or_else(|| missing("supervisor.tmux_socket"))?;
            let name = sock.get_ref();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(s.err(
                    sock.span().start,
                    "supervisor.tmux_socket",
                    "must be a non-empty name of letters, digits, - _ .",
                ));
            }
            name.clone()
        },
        message_batch,
        completion_workers,
    };

    let q = &sources[queue_src];
    let max_attempts = queue
        .max_attempts
        .ok_or_else(|| missing("queue.max_attempts"))?;
    if *max_attempts.get_ref() == 0 {
        return Err(q.err(
            max_attempts.span().start,
            "queue.max_attempts",
            "must be at least 1",
        ));
    }
    let jitter = queue
        .backoff_jitter
        .ok_or_else(|| missing("queue.backoff_jitter"))?;
    if !(0.0..=1.0).contains(jitter.get_ref()) {
        return Err(q.err(
            jitter.span().start,
            "queue.backoff_jitter",
            "must be between 0.0 and 1.0 (a fraction of the delay)",
        ));
    }
    let threshold = queue
        .breaker_threshold
        .ok_or_else(|| missing("queue.breaker_threshold"))?;
    if *threshold.get_ref() == 0 {
        return Err(q.err(
            threshold.span().start,
            "queue.breaker_threshold",
            "must be at least 1",
        ));
    }
    let backoff_base = queue
        .backoff_base
        .ok_or_else(|| missing("queue.backoff_base"))?;
    let backoff_cap = queue
        .backoff_cap
        .ok_or_else(|| missing("queue.backoff_cap"))?;
    if backoff_cap < backoff_base {
        return Err(q.err(
            0,
            "queue.backoff_cap",
            "must not be smaller than queue.backoff_base",
        ));
    }
    let queue = QueueConfig {
        max_attempts: *max_attempts.get_ref(),
        max_transient_attempts: queue
            .max_transient_attempts
            .ok_or_else(|| missing("queue.max_transient_attempts"))?,
        max_infra_attempts: queue
            .max_infra_attempts
            .ok_or_else(|| missing("queue.max_infra_attempts"))?,
        backoff_base,
        backoff_cap,
        backoff_jitter: *jitter.get_ref(),
        breaker_threshold: *threshold.get_ref(),
        breaker_pause: queue
            .breaker_pause
            .ok_or_else(|| missing("queue.breaker_pause"))?,
        prune_after: queue
            .prune_after
            .ok_or_else(|| missing("queue.prune_after"))?,
    };

    let mut resolved_roles = BTreeMap::new();
    // Where each role was last defined, to locate an unknown-provider error.
    let role_sources: Vec<(String, usize, usize)> = roles
        .iter()
        .map(|(n, (i, _, o))| (n.clone(), *i, *o))
        .collect();
    for (name, (src_i, raw, offset)) in roles {
        let src = &sources[src_i];
        let key = format!("roles.{name}");
        let provider = raw
            .provider
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| src.err(offset, format!("{key}.provider"), "role needs a provider"))?;
        let prompt = raw
            .prompt
            .ok_or_else(|| src.err(offset, format!("{key}.prompt"), "role needs a prompt"))?;
        resolved_roles.insert(
            name.clone(),
            RoleConfig {
                name,
                provider,
                prompt,
                timeout: raw.timeout,
            },
        );
    }

    let providers = merge_providers(&sources)?;
    let ui = UiConfig {
        theme: sources
            .iter()
            .rev()
            .find_map(|s| s.layer.ui.as_ref().and_then(|u| u.theme.clone()))
            .unwrap_or_else(|| "default".into()),
    };
    for (name, src_i, offset) in &role_sources {
        let role = &resolved_roles[name];
        let (src_i, offset) = provider_at.get(name).copied().unwrap_or((*src_i, *offset));
        let (src_i, offset) = (&src_i, &offset);
        if !providers.contains_key(&role.provider) {
            let known: Vec<&str> = providers.keys().map(String::as_str).collect();
            return Err(sources[*src_i].err(
                *offset,
                format!("roles.{name}.provider"),
                format!(
                    "unknown provider `{}`; define [providers.{}] or use one of: {}",
                    role.provider,
                    role.provider,
                    known.join(", ")
                ),
            ));
        }
    }

    let src = &sources[stages_src];
    let stages = resolve_stages(src, &resolved_roles)?;
    Ok(Config {
        supervisor,
        queue,
        roles: resolved_roles,
        stages,
        providers,
        ui,
        notify: notify::resolve(sources.iter().filter_map(|s| s.layer.notify.as_ref())),
        sources: sources[2..].iter().map(|s| s.file.to_path_buf()).collect(),
    })
}

/// A provider being merged across layers: each field from the last layer that set it.
fn resolve_stages(
    src: &Source<'_>,
    roles: &BTreeMap<String, RoleConfig>,
) -> Result<Vec<Stage>, ConfigError> {
    let Some(raw) = &src.layer.stages else {
        return Err(src.err(0, "stages", "the pipeline needs at least one stage"));
    };
    if raw.get_ref().is_empty() {
        return Err(src.err(
            raw.span().start,
            "stages",
            "the pipeline needs at least one stage",
        ));
    }
    let names: Vec<&str> = raw
        .get_ref()
        .iter()
        .map(|s| s.get_ref().name.get_ref().as_str())
        .collect();
    let mut stages = Vec::new();
    for (i, stage) in raw.get_ref().iter().enumerate() {
        let st = stage.get_ref();
        let name = st.name.get_ref();
        let key = format!("stages[{i}]");
        if name.trim().is_empty() || name == "done" {
            return Err(src.err(
                st.name.span().start,
                format!("{key}.name"),
                "stage name must be non-empty and not `done` (the end of every pipeline)",
            ));
        }
        if names[..i].contains(&name.as_str()) {
            return Err(src.err(
                st.name.span().start,
                format!("{key}.name"),
                format!("stage `{name}` is defined twice"),
            ));
        }
        if !roles.contains_key(st.role.get_ref()) {
            let known: Vec<&str> = roles.keys().map(String::as_str).collect();
            return Err(src.err(
                st.role.span().start,
                format!("{key}.role"),
                format!(
                    "unknown role `{}`; define [roles.{}] or use one of: {}",
                    st.role.get_ref(),
                    st.role.get_ref(),
                    known.join(", ")
                ),
            ));
        }
        let mut branches = Vec::new();
        for (j, b) in st.branches.iter().enumerate() {
            let bk = format!("{key}.branches[{j}]");
            let br = b.get_ref();
            let then = resolve_action(
                src,
                &bk,
                &names,
                i,
                (*br.then.get_ref(), br.then.span().start),
                br.to.as_ref(),
                br.max.as_ref(),
                "then",
            )?;
            if then == Action::Retry {
                return Err(src.err(
                    br.then.span().start,
                    format!("{bk}.then"),
                    "a branch cannot `retry`; use `needs_input`, `rollback` or `block`",
                ));
            }
            branches.push(Branch {
                when_exists: br.when_exists.clone(),
                then,
            });
        }
        let mut gates = Vec::new();
        for (j, g) in st.gates.iter().enumerate() {
            gates.push(resolve_gate(
                src,
                &format!("{key}.gates[{j}]"),
                &names,
                i,
                g,
            )?);
        }
        stages.push(Stage {
            name: name.clone(),
            role: st.role.get_ref().clone(),
            max_retries: st.max_retries,
            branches,
            gates,
        });
    }
    Ok(stages)
}

#[allow(clippy::too_many_arguments)]
fn resolve_action(
    src: &Source<'_>,
    key: &str,
    names: &[&str],
    here: usize,
    (action, at): (RawAction, usize),
    to: Option<&Spanned<String>>,
    max: Option<&Spanned<u32>>,
    field: &str,
) -> Result<Action, ConfigError> {
    match action {
        RawAction::Rollback => {
            let Some(to) = to else {
                return Err(src.err(
                    at,
                    format!("{key}.to"),
                    "a rollback needs `to` (an earlier stage)",
                ));
            };
            let Some(target) = names.iter().position(|n| n == to.get_ref()) else {
                return Err(src.err(
                    to.span().start,
                    format!("{key}.to"),
                    format!(
                        "unknown stage `{}`; stages are: {}",
                        to.get_ref(),
                        names.join(", ")
                    ),
                ));
            };
            if target >= here {
                return Err(src.err(
                    to.span().start,
                    format!("{key}.to"),
                    format!(
                        "a rollback must go to an earlier stage than `{}`; `{}` is not earlier",
                        names[here],
                        to.get_ref()
                    ),
                ));
            }
            let Some(max) = max else {
                return Err(src.err(
                    to.span().start,
                    format!("{key}.max"),
                    format!(
                        "rolling back from `{}` to `{}` makes a cycle with no retry cap; set `max`",
                        names[here],
                        to.get_ref()
                    ),
                ));
            };
            if *max.get_ref() == 0 {
                return Err(src.err(max.span().start, format!("{key}.max"), "must be at least 1"));
            }
            Ok(Action::Rollback {
                to: target,
                max: *max.get_ref(),
            })
        }
        other => {
            if let Some(to) = to {
                return Err(src.err(
                    to.span().start,
                    format!("{key}.to"),
                    format!("`to` is only used with {field} = \"rollback\""),
                ));
            }
            if let Some(max) = max {
                return Err(src.err(
                    max.span().start,
                    format!("{key}.max"),
                    format!("`max` is only used with {field} = \"rollback\""),
                ));
            }
            Ok(match other {
                RawAction::Retry => Action::Retry,
                RawAction::NeedsInput => Action::NeedsInput,
                _ => Action::Block,
            })
        }
    }
}

fn resolve_gate(
    src: &Source<'_>,
    key: &str,
    names: &[&str],
    here: usize,
    gate: &Spanned<RawGate>,
) -> Result<Gate, ConfigError> {
    let g = gate.get_ref();
    let at = gate.span().start;
    let unused =
        |field: &str, s: &Option<Spanned<String>>, kind: &str| -> Result<(), ConfigError> {
            match s {
                Some(v) => Err(src.err(
                    v.span().start,
                    format!("{key}.{field}"),
                    format!("`{field}` is not used by a {kind} gate"),
                )),
                None => Ok(()),
            }
        };
    let regex = |field: &str, s: &Option<Spanned<String>>| -> Result<Regex, ConfigError> {
        let Some(s) = s else {
            return Err(src.err(
                at,
                format!("{key}.{field}"),
                format!(
                    "a verdict gate needs `pass_words` and `fail_words` (keywords), or `{field}` \
                     (a regex)"
                ),
            ));
        };
        Regex::new(s.get_ref()).map_err(|e| {
            src.err(
                s.span().start,
                format!("{key}.{field}"),
                format!("invalid regex: {e}"),
            )
        })
    };
    if g.kind != RawGateKind::Verdict
        && let Some(w) = g.pass_words.as_ref().or(g.fail_words.as_ref())
    {
        return Err(src.err(
            w.span().start,
            key.to_string(),
            "`pass_words` and `fail_words` are only used by a verdict gate",
        ));
    }
    let kind = match g.kind {
        RawGateKind::Artifact => {
            unused("command", &g.command, "artifact")?;
            unused("pass", &g.pass, "artifact")?;
            unused("fail", &g.fail, "artifact")?;
            let Some(path) = &g.path else {
                return Err(src.err(at, format!("{key}.path"), "an artifact gate needs `path`"));
            };
            glob::Pattern::new(path.get_ref()).map_err(|e| {
                src.err(
                    path.span().start,
                    format!("{key}.path"),
                    format!("invalid glob: {e}"),
                )
            })?;
            GateKind::Artifact {
                path: path.get_ref().clone(),
            }
        }
        RawGateKind::Command => {
            unused("path", &g.path, "command")?;
            unused("pass", &g.pass, "command")?;
            unused("fail", &g.fail, "command")?;
            GateKind::Command {
                command: g.command.as_ref().map(|c| c.get_ref().clone()),
                timeout: g.timeout.unwrap_or(DEFAULT_COMMAND_TIMEOUT),
            }
        }
        RawGateKind::Verdict => {
            unused("command", &g.command, "verdict")?;
            let rule = match (&g.pass_words, &g.fail_words) {
                (Some(p), Some(f)) => {
                    if let Some(r) = g.pass.as_ref().or(g.fail.as_ref()) {
                        return Err(src.err(
                            r.span().start,
                            key.to_string(),
                            "a verdict gate takes keywords (`pass_words`, `fail_words`) or \
                             patterns (`pass`, `fail`), not both",
                        ));
                    }
                    for (field, words) in [("pass_words", p), ("fail_words", f)] {
                        if words.get_ref().iter().all(|w| w.trim().is_empty()) {
                            return Err(src.err(
                                words.span().start,
                                format!("{key}.{field}"),
                                "give at least one keyword",
                            ));
                        }
                    }
                    VerdictRule::Words {
                        pass: p.get_ref().clone(),
                        fail: f.get_ref().clone(),
                    }
                }
                (Some(w), None) | (None, Some(w)) => {
                    let missing = if g.pass_words.is_none() {
                        "pass_words"
                    } else {
                        "fail_words"
                    };
                    return Err(src.err(
                        w.span().start,
                        format!("{key}.{missing}"),
                        format!("a verdict gate with keywords needs `{missing}` too"),
                    ));
                }
                (None, None) => VerdictRule::Patterns {
                    pass: regex("pass", &g.pass)?,
                    fail: regex("fail", &g.fail)?,
                },
            };
            GateKind::Verdict {
                path: g.path.as_ref().map(|p| p.get_ref().clone()),
                rule,
            }
        }
        RawGateKind::Approval => {
            unused("path", &g.path, "approval")?;
            unused("command", &g.command, "approval")?;
            unused("pass", &g.pass, "approval")?;
            unused("fail", &g.fail, "approval")?;
            GateKind::Approval
        }
    };
    let (action, action_at) = g
        .on_fail
        .as_ref()
        .map_or((RawAction::Retry, at), |a| (*a.get_ref(), a.span().start));
    let on_fail = resolve_action(
        src,
        key,
        names,
        here,
        (action, action_at),
        g.to.as_ref(),
        g.max.as_ref(),
        "on_fail",
    )?;
    if on_fail == Action::NeedsInput {
        return Err(src.err(
            action_at,
            format!("{key}.on_fail"),
            "a gate cannot fail into `needs_input`; use `retry`, `rollback` or `block`",
        ));
    }
    Ok(Gate { kind, on_fail })
}
