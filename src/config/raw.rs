//! Config files as written: every key optional (so layers stack) and spanned (so errors
//! name the line), parsed with `deny_unknown_fields` — an unknown key is an error.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::locate::{Located, key_at};
use super::provider::RawProvider;
use super::{ConfigError, budget, intake, land, notify, prices};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayer {
    pub(super) supervisor: Option<RawSupervisor>,
    pub(super) queue: Option<RawQueue>,
    #[serde(default)]
    pub(super) roles: BTreeMap<String, Spanned<RawRole>>,
    pub(super) stages: Option<Spanned<Vec<Spanned<RawStage>>>>,
    #[serde(default)]
    pub(super) providers: BTreeMap<String, Spanned<RawProvider>>,
    pub(super) ui: Option<RawUi>,
    pub(super) notify: Option<notify::RawNotify>,
    pub(super) projects: Option<land::RawProjects>,
    pub(super) server: Option<intake::RawServer>,
    pub(super) budget: Option<budget::RawBudget>,
    pub(super) prices: Option<prices::RawPrices>,
    pub(super) intake: Option<Vec<intake::RawIntake>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUi {
    pub(super) theme: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSupervisor {
    pub(super) max_concurrency: Option<Spanned<u32>>,
    #[serde(default, deserialize_with = "de_duration")]
    pub(super) default_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub(super) kill_grace: Option<Duration>,
    pub(super) tmux_socket: Option<Spanned<String>>,
    pub(super) message_batch: Option<Spanned<u32>>,
    pub(super) completion_workers: Option<Spanned<u32>>,
    #[serde(default, deserialize_with = "de_duration")]
    pub(super) resume_stagger: Option<Duration>,
    pub(super) resume_prompt: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    pub(super) max_attempts: Option<Spanned<u32>>,
    pub(super) max_transient_attempts: Option<u32>,
    pub(super) max_infra_attempts: Option<u32>,
    #[serde(default, deserialize_with = "de_duration")]
    pub(super) backoff_base: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub(super) backoff_cap: Option<Duration>,
    pub(super) backoff_jitter: Option<Spanned<f64>>,
    pub(super) breaker_threshold: Option<Spanned<u32>>,
    #[serde(default, deserialize_with = "de_duration")]
    pub(super) breaker_pause: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub(super) prune_after: Option<Duration>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRole {
    pub(super) provider: Option<String>,
    pub(super) fallback: Option<Vec<String>>,
    pub(super) prompt: Option<String>,
    #[serde(default, deserialize_with = "de_duration")]
    pub(super) timeout: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    pub(super) name: Spanned<String>,
    pub(super) role: Spanned<String>,
    #[serde(default = "default_max_retries")]
    pub(super) max_retries: u32,
    #[serde(default)]
    pub(super) branches: Vec<Spanned<RawBranch>>,
    #[serde(default)]
    pub(super) gates: Vec<Spanned<RawGate>>,
}

pub(super) fn default_max_retries() -> u32 {
    2
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawAction {
    Retry,
    Rollback,
    NeedsInput,
    Block,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBranch {
    pub(super) when_exists: String,
    pub(super) then: Spanned<RawAction>,
    pub(super) to: Option<Spanned<String>>,
    pub(super) max: Option<Spanned<u32>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawGateKind {
    Artifact,
    Command,
    Verdict,
    Approval,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGate {
    pub(super) kind: RawGateKind,
    pub(super) path: Option<Spanned<String>>,
    pub(super) command: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "de_duration")]
    pub(super) timeout: Option<Duration>,
    pub(super) pass: Option<Spanned<String>>,
    pub(super) fail: Option<Spanned<String>>,
    pub(super) pass_words: Option<Spanned<Vec<String>>>,
    pub(super) fail_words: Option<Spanned<Vec<String>>>,
    pub(super) on_fail: Option<Spanned<RawAction>>,
    pub(super) to: Option<Spanned<String>>,
    pub(super) max: Option<Spanned<u32>>,
}

/// Default time limit of a command gate that sets none.
pub(super) const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(20 * 60);

pub(super) fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?} ({e}); write e.g. \"90s\", \"10m\", \"1h 30m\""
        ))
    })
}

/// One parsed file: where it came from, its text (for line numbers) and its raw layer.
pub(super) struct Source<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) layer: RawLayer,
}

impl<'a> Source<'a> {
    pub(super) fn parse(file: &'a Path, text: &'a str) -> Result<Source<'a>, ConfigError> {
        let layer: RawLayer = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let key = key_at(text, span.start);
            let message = e.message().trim().to_string();
            located(file, text, span.start, key, message)
        })?;
        Ok(Source { file, text, layer })
    }

    pub(super) fn err(
        &self,
        offset: usize,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        located(self.file, self.text, offset, key.into(), message.into())
    }
}

/// The offset in `text` of the first line that sets `key` (`key = …`), else 0.
pub(super) fn key_offset(text: &str, key: &str) -> usize {
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

pub(super) fn located(
    file: &Path,
    text: &str,
    offset: usize,
    key: String,
    message: String,
) -> ConfigError {
    ConfigError::Invalid(Located::new(file, text, offset, key, message))
}
