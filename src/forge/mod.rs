//! The project's forge: pull requests opened, followed and read back, on GitHub (and GitHub
//! Enterprise, by `api_url`) with octocrab, and on Gitea and Forgejo over their REST API with
//! reqwest (issue 20). This module owns every HTTP call to a forge; the lander
//! (`supervisor::land`) decides what to do with the answers.
//!
//! A [`Client`] is blocking: each call runs on a current-thread tokio runtime the client owns,
//! on the caller's thread (a `land` lane thread). The token is handed in by the caller, read
//! from the environment variable the config names ([`Target::token_env`]); it is never
//! stored, logged or printed, and the client has no `Debug`.

pub mod body;
mod client;
mod gitea;
mod github;
pub mod remote;
pub mod tracker;

pub(crate) use client::runtime;
pub use client::{Client, NewPull, TIMEOUT};

use serde::{Deserialize, Serialize};

/// The kinds of forge bosun opens pull requests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForgeKind {
    /// github.com or GitHub Enterprise Server.
    Github,
    /// Gitea.
    Gitea,
    /// Forgejo (Gitea's API, served under the same paths).
    Forgejo,
}

impl ForgeKind {
    /// The word, as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitea => "gitea",
            ForgeKind::Forgejo => "forgejo",
        }
    }

    /// The environment variable the token is read from when the config names none.
    pub fn default_token_env(self) -> &'static str {
        match self {
            ForgeKind::Github => "GITHUB_TOKEN",
            ForgeKind::Gitea => "GITEA_TOKEN",
            ForgeKind::Forgejo => "FORGEJO_TOKEN",
        }
    }
}

/// The forge keys of `[projects.land]`, as configured (each optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ForgeSettings {
    /// `forge`: the kind; `None`: github when the remote is on github.com.
    pub kind: Option<ForgeKind>,
    /// `api_url`: the API's base URL; `None`: derived from the kind and the remote's host.
    pub api_url: Option<String>,
    /// `repo`: `owner/name` on the forge; `None`: read from the remote's URL.
    pub repo: Option<String>,
    /// `token_env`: the environment variable holding the token; `None`: the kind's default
    /// ([`ForgeKind::default_token_env`]).
    pub token_env: Option<String>,
}

/// Where a project's pull requests go, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The forge's kind.
    pub kind: ForgeKind,
    /// The API's base URL: `https://api.github.com`, `https://ghe.example.com/api/v3`,
    /// `https://gitea.example.com/api/v1`.
    pub api_url: String,
    /// The repository's owner (user or organisation).
    pub owner: String,
    /// The repository's name.
    pub name: String,
    /// The environment variable the token is read from.
    pub token_env: String,
}

impl Target {
    /// Resolves `settings` with what the remote's URL (`remote_url`, of remote `remote`)
    /// says.
    ///
    /// # Errors
    /// A sentence saying which key to set when the forge's kind or the repository cannot be
    /// told from the remote's URL.
    pub fn resolve(
        settings: &ForgeSettings,
        remote: &str,
        remote_url: Option<&str>,
    ) -> Result<Target, String> {
        let parsed = remote_url.and_then(remote::parse);
        let shown = remote_url.map_or_else(|| "none".to_string(), crate::text::plain);
        let kind = match (settings.kind, &parsed) {
            (Some(k), _) => k,
            (None, Some(p)) if p.host == "github.com" => ForgeKind::Github,
            _ => {
                return Err(format!(
                    "bosun cannot tell the forge of remote {remote} (URL {shown}): set \
                     forge = \"github\", \"gitea\" or \"forgejo\" in [projects.land]"
                ));
            }
        };
        let (owner, name) = match (&settings.repo, &parsed) {
            (Some(r), _) => match r.split_once('/') {
                Some((o, n)) if !o.is_empty() && !n.is_empty() => (o.to_string(), n.to_string()),
                _ => {
                    return Err(format!(
                        "[projects.land] repo = {r:?} is not \"owner/name\""
                    ));
                }
            },
            (None, Some(p)) => (p.owner.clone(), p.name.clone()),
            (None, None) => {
                return Err(format!(
                    "bosun cannot tell the repository on the forge from remote {remote} (URL \
                     {shown}): set repo = \"owner/name\" in [projects.land]"
                ));
            }
        };
        let api_url = match (&settings.api_url, &parsed) {
            (Some(u), _) => u.trim_end_matches('/').to_string(),
            (None, Some(p)) => default_api_url(kind, p),
            (None, None) => {
                return Err(format!(
                    "bosun cannot tell the forge's API from remote {remote} (URL {shown}): set \
                     api_url in [projects.land]"
                ));
            }
        };
        Ok(Target {
            kind,
            api_url,
            owner,
            name,
            token_env: settings
                .token_env
                .clone()
                .unwrap_or_else(|| kind.default_token_env().to_string()),
        })
    }
}

/// The API's base URL for a remote on `p`'s host: `https://api.github.com` for github.com,
/// `/api/v3` on a GitHub Enterprise host (GitHub Enterprise Server docs, "REST API
/// endpoints"), `/api/v1` on a Gitea or Forgejo host (Gitea docs, "API Usage").
fn default_api_url(kind: ForgeKind, p: &remote::RemoteRepo) -> String {
    let scheme = if p.scheme == "http" { "http" } else { "https" };
    let host = match p.port {
        Some(port) => format!("{}:{port}", p.host),
        None => p.host.clone(),
    };
    match kind {
        ForgeKind::Github if p.host == "github.com" => "https://api.github.com".into(),
        ForgeKind::Github => format!("{scheme}://{host}/api/v3"),
        ForgeKind::Gitea | ForgeKind::Forgejo => format!("{scheme}://{host}/api/v1"),
    }
}

/// Where a pull request stands on the forge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrState {
    /// Open: waiting for review or merge.
    Open,
    /// Closed without merging.
    Closed,
    /// Merged.
    Merged,
}

impl PrState {
    /// `open`, `closed`, `merged`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Closed => "closed",
            PrState::Merged => "merged",
        }
    }
}

/// A pull request, as bosun needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number in the repository.
    pub number: u64,
    /// Its web page (forge text: sanitise before printing).
    pub url: String,
    /// Where it stands.
    pub state: PrState,
    /// The commit the merge made, once merged.
    pub merge_commit: Option<String>,
    /// The head branch's tip as the forge sees it.
    pub head_sha: Option<String>,
}

/// A reviewer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Approved.
    Approved,
    /// Asked for changes (GitHub `CHANGES_REQUESTED`, Gitea `REQUEST_CHANGES`).
    ChangesRequested,
    /// Anything else: a comment, a pending or dismissed review.
    Other,
}

/// One review of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The reviewer's login (forge text).
    pub user: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The review's text (forge text).
    pub body: String,
    /// The commit reviewed.
    pub commit: Option<String>,
}

/// The reviewers' latest verdicts on `head` (a review of an older commit is stale): the
/// reviews asking for changes, in the order given, one per reviewer whose latest review on
/// `head` asks for changes.
pub fn changes_requested<'a>(reviews: &'a [Review], head: &str) -> Vec<&'a Review> {
    let mut latest: Vec<&Review> = Vec::new();
    for r in reviews {
        if r.commit.as_deref() != Some(head) || r.verdict == Verdict::Other {
            continue;
        }
        latest.retain(|l| l.user != r.user);
        latest.push(r);
    }
    latest
        .into_iter()
        .filter(|r| r.verdict == Verdict::ChangesRequested)
        .collect()
}

/// A conditional read of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    /// Not changed since the ETag given (HTTP 304: GitHub does not count it against the rate
    /// limit, GitHub REST docs "Conditional requests").
    Unchanged,
    /// Read: the pull request and its new ETag, when the forge sends one.
    Changed {
        /// The pull request.
        pr: PullRequest,
        /// Its ETag.
        etag: Option<String>,
    },
}

/// Why a forge call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForgeError {
    /// The forge refused the token (HTTP 401, or 403 without a rate limit).
    #[error("the forge refused the token in ${env} (HTTP {status}): {message}")]
    Auth {
        /// The environment variable the token came from.
        env: String,
        /// The HTTP status.
        status: u16,
        /// The forge's message (sanitised).
        message: String,
    },
    /// The forge refused the request for good (another 4xx): trying again changes nothing.
    #[error("the forge refused it (HTTP {status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The forge's message (sanitised).
        message: String,
    },
    /// The forge could not be reached or failed (network, timeout, 5xx): worth another try
    /// later.
    #[error("the forge could not be reached: {0}")]
    Unreachable(String),
    /// The token's rate limit is spent (HTTP 403 with `x-ratelimit-remaining: 0`, or 429):
    /// worth another try once it resets.
    #[error("the forge's rate limit is spent (HTTP {status}): {message}")]
    Limited {
        /// The HTTP status.
        status: u16,
        /// When it resets, ms since the epoch, when the forge said.
        until: Option<i64>,
        /// The forge's message (sanitised).
        message: String,
    },
}

/// What an answer's headers say of the rate limit (`get` reads a header): `None` while it
/// is not spent; else when it resets, ms since the epoch — GitHub's `x-ratelimit-remaining:
/// 0` with `x-ratelimit-reset` (unix seconds; GitHub REST docs, "Rate limits"), or
/// `retry-after` (seconds) — `Some(None)` when it does not say.
pub(crate) fn spent<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Option<i64>> {
    let remaining = get("x-ratelimit-remaining").map(str::trim);
    let retry = get("retry-after").and_then(|v| v.trim().parse::<i64>().ok());
    if remaining != Some("0") && retry.is_none() {
        return None;
    }
    let reset = get("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|s| s.saturating_mul(1000));
    Some(reset.or_else(|| retry.map(|s| crate::store::now_ms() + s.saturating_mul(1000))))
}

impl ForgeError {
    /// From an HTTP error status and the forge's message; `limit`: what the answer said of
    /// the rate limit ([`spent`]); a 403 with it spent, and a 429, are worth another try.
    pub(crate) fn from_status(
        status: u16,
        message: &str,
        env: &str,
        limit: Option<Option<i64>>,
    ) -> Self {
        let message = crate::text::plain(message.trim());
        let message: String = message.chars().take(500).collect();
        if let (429, l) | (403, l @ Some(_)) = (status, limit) {
            return ForgeError::Limited {
                status,
                until: l.flatten(),
                message,
            };
        }
        match status {
            401 | 403 => ForgeError::Auth {
                env: env.to_string(),
                status,
                message,
            },
            s if (400..500).contains(&s) => ForgeError::Refused { status, message },
            _ => ForgeError::Unreachable(format!("HTTP {status}: {message}")),
        }
    }

    /// Worth trying again later.
    pub fn transient(&self) -> bool {
        matches!(
            self,
            ForgeError::Unreachable(_) | ForgeError::Limited { .. }
        )
    }

    /// When a spent rate limit resets, ms since the epoch, if the forge said.
    pub fn limited_until(&self) -> Option<i64> {
        match self {
            ForgeError::Limited { until, .. } => *until,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_from_the_remote_and_the_keys() {
        let none = ForgeSettings::default();
        let t = Target::resolve(&none, "origin", Some("git@github.com:octo/app.git")).expect("gh");
        assert_eq!(
            (
                t.kind,
                t.api_url.as_str(),
                t.owner.as_str(),
                t.name.as_str()
            ),
            (ForgeKind::Github, "https://api.github.com", "octo", "app")
        );
        assert_eq!(t.token_env, "GITHUB_TOKEN");
        let e = Target::resolve(&none, "origin", Some("https://code.example.org/a/b.git"))
            .expect_err("unknown host");
        assert!(e.contains("forge = "), "{e}");
        let gitea = ForgeSettings {
            kind: Some(ForgeKind::Forgejo),
            ..ForgeSettings::default()
        };
        let t = Target::resolve(&gitea, "origin", Some("http://127.0.0.1:3000/a/b")).expect("fj");
        assert_eq!(t.api_url, "http://127.0.0.1:3000/api/v1");
        assert_eq!(t.token_env, "FORGEJO_TOKEN");
        let e = Target::resolve(&gitea, "origin", Some("/srv/b.git")).expect_err("local");
        assert!(e.contains("repo = "), "{e}");
        let ghe = ForgeSettings {
            kind: Some(ForgeKind::Github),
            repo: Some("team/app".into()),
            api_url: Some("http://127.0.0.1:9/".into()),
            token_env: Some("GHE_TOKEN".into()),
        };
        let t = Target::resolve(&ghe, "origin", None).expect("all keys");
        assert_eq!(
            (t.api_url.as_str(), t.token_env.as_str()),
            ("http://127.0.0.1:9", "GHE_TOKEN")
        );
    }

    #[test]
    fn only_the_latest_verdict_per_reviewer_on_the_head_counts() {
        let r = |user: &str, verdict, commit: &str| Review {
            user: user.into(),
            verdict,
            body: format!("{user} on {commit}"),
            commit: Some(commit.into()),
        };
        let reviews = [
            r("ann", Verdict::ChangesRequested, "old"),
            r("bob", Verdict::ChangesRequested, "new"),
            r("bob", Verdict::Other, "new"),
            r("cy", Verdict::ChangesRequested, "new"),
            r("cy", Verdict::Approved, "new"),
        ];
        let asked: Vec<&str> = changes_requested(&reviews, "new")
            .iter()
            .map(|r| r.user.as_str())
            .collect();
        assert_eq!(asked, ["bob"]);
        assert!(changes_requested(&reviews, "newer").is_empty());
    }
}
