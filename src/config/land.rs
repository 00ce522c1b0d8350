//! `[projects.land]`: what happens when a task passes its last stage — nothing more (`none`),
//! its branch merged into the project's base branch (`merge`), or pushed with a pull request
//! opened on the project's forge (`pr`). A project's own settings (`bosun project land`, kept
//! in the database as JSON of the same keys) lie over the config's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a task lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandMode {
    /// It does not: the task ends `done` on its branch (bosun's behaviour before landing).
    None,
    /// Its branch is merged into the base branch of the project's own repository.
    Merge,
    /// Its branch is pushed and a pull request opened on the forge.
    Pr,
}

impl LandMode {
    /// The word, as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            LandMode::None => "none",
            LandMode::Merge => "merge",
            LandMode::Pr => "pr",
        }
    }
}

pub use crate::forge::{ForgeKind, ForgeSettings};
pub use crate::status::Strategy;

/// How often an open pull request is read by default (60 s: a conditional request that finds
/// nothing new does not count against GitHub's rate limit).
pub const DEFAULT_POLL: Duration = Duration::from_secs(60);

/// The shortest poll interval taken (1 s).
pub const MIN_POLL: Duration = Duration::from_secs(1);

/// What a landing whose branch conflicts with the base does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Back to the `rollback_to` stage with the conflicting files and hunks as feedback.
    Rollback,
    /// The task blocks for the operator.
    Block,
}

/// What a pull request a reviewer asked changes of does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnChangesRequested {
    /// Back to the `rollback_to` stage with the review's text as feedback.
    Rollback,
    /// Stays in review: the operator (or the forge's author) acts.
    Wait,
}

/// The resolved landing settings of a project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LandConfig {
    /// How tasks land.
    pub mode: LandMode,
    /// How the branch's commits reach the base.
    pub strategy: Strategy,
    /// The base branch; `None`: the project's default branch.
    pub base: Option<String>,
    /// Delete the task's branch once it is integrated into the base.
    pub delete_branch: bool,
    /// `merge`: run the project's test command on the merged result before the base moves.
    pub verify: bool,
    /// A branch that conflicts with the base.
    pub on_conflict: OnConflict,
    /// A pull request a reviewer asked changes of.
    pub on_changes_requested: OnChangesRequested,
    /// The stage a rollback goes to (its name; the first stage if the pipeline has none).
    pub rollback_to: String,
    /// `pr`: the git remote pushed to.
    pub remote: String,
    /// `pr`: the forge and repository pull requests go to (`forge`, `api_url`, `repo`,
    /// `token_env`).
    pub forge: ForgeSettings,
    /// `pr`: how often an open pull request is read again, when no webhook says it changed.
    #[serde(serialize_with = "as_humantime")]
    pub poll: Duration,
}

fn as_humantime<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

impl Default for LandConfig {
    fn default() -> LandConfig {
        LandConfig {
            mode: LandMode::None,
            strategy: Strategy::Squash,
            base: None,
            delete_branch: true,
            verify: false,
            on_conflict: OnConflict::Rollback,
            on_changes_requested: OnChangesRequested::Wait,
            rollback_to: "development".into(),
            remote: "origin".into(),
            forge: ForgeSettings::default(),
            poll: DEFAULT_POLL,
        }
    }
}

/// `[projects.land]` as written (and a project's own settings as stored): every key
/// optional, later layers override earlier ones key by key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLand {
    /// See [`LandConfig::mode`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<LandMode>,
    /// See [`LandConfig::strategy`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// See [`LandConfig::base`] (empty: the default branch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// See [`LandConfig::delete_branch`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_branch: Option<bool>,
    /// See [`LandConfig::verify`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<bool>,
    /// See [`LandConfig::on_conflict`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_conflict: Option<OnConflict>,
    /// See [`LandConfig::on_changes_requested`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_changes_requested: Option<OnChangesRequested>,
    /// See [`LandConfig::rollback_to`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_to: Option<String>,
    /// See [`LandConfig::remote`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// See [`ForgeSettings::kind`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forge: Option<ForgeKind>,
    /// See [`ForgeSettings::api_url`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// See [`ForgeSettings::repo`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// See [`ForgeSettings::token_env`]: the variable's name, never the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// See [`LandConfig::poll`]: a humantime string ("60s").
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::raw::de_duration",
        serialize_with = "opt_humantime"
    )]
    pub poll: Option<Duration>,
}

fn opt_humantime<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => as_humantime(d, s),
        None => s.serialize_none(),
    }
}

/// `[projects]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProjects {
    pub(super) land: Option<RawLand>,
}

impl LandConfig {
    /// These settings with `raw`'s keys laid over them.
    #[must_use]
    pub fn with(mut self, raw: &RawLand) -> LandConfig {
        if let Some(v) = raw.mode {
            self.mode = v;
        }
        if let Some(v) = raw.strategy {
            self.strategy = v;
        }
        if let Some(v) = &raw.base {
            self.base = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = raw.delete_branch {
            self.delete_branch = v;
        }
        if let Some(v) = raw.verify {
            self.verify = v;
        }
        if let Some(v) = raw.on_conflict {
            self.on_conflict = v;
        }
        if let Some(v) = raw.on_changes_requested {
            self.on_changes_requested = v;
        }
        if let Some(v) = &raw.rollback_to {
            self.rollback_to = v.clone();
        }
        if let Some(v) = &raw.remote {
            self.remote = v.clone();
        }
        if let Some(v) = raw.forge {
            self.forge.kind = Some(v);
        }
        if let Some(v) = &raw.api_url {
            self.forge.api_url = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = &raw.repo {
            self.forge.repo = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = &raw.token_env {
            self.forge.token_env = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = raw.poll {
            self.poll = v.max(MIN_POLL);
        }
        self
    }

    /// A project's landing: these (the config's) settings with its own stored ones (`json`,
    /// see [`RawLand`]) laid over them.
    ///
    /// # Errors
    /// The JSON error when the stored settings cannot be read (written by another version).
    pub fn for_project(&self, json: Option<&str>) -> Result<LandConfig, serde_json::Error> {
        match json {
            None => Ok(self.clone()),
            Some(j) => Ok(self.clone().with(&serde_json::from_str::<RawLand>(j)?)),
        }
    }
}

/// Lays the `[projects.land]` sections of the layers (oldest first) over the defaults.
pub(super) fn resolve<'a>(layers: impl Iterator<Item = &'a RawLand>) -> LandConfig {
    layers.fold(LandConfig::default(), |land, raw| land.with(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_a_projects_own_settings_override_key_by_key() {
        let config: RawLand =
            toml::from_str("mode = \"merge\"\nstrategy = \"rebase\"\nverify = true").expect("raw");
        let land = resolve([&config].into_iter());
        assert_eq!(land.mode, LandMode::Merge);
        assert_eq!(land.strategy, Strategy::Rebase);
        assert!(land.verify && land.delete_branch);
        let own = land
            .for_project(Some(r#"{"strategy":"squash","base":"trunk"}"#))
            .expect("json");
        assert_eq!(
            (own.mode, own.strategy, own.base.as_deref()),
            (LandMode::Merge, Strategy::Squash, Some("trunk"))
        );
        assert!(toml::from_str::<RawLand>("mode = \"push\"").is_err());
        assert!(toml::from_str::<RawLand>("moed = \"pr\"").is_err());
    }
}
