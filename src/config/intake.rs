//! `[server]` and `[[intake]]`: where work comes in from the trackers (issue 21). The daemon
//! serves webhooks at `POST /webhooks/<kind>` on `[server] listen` (off unless set), and each
//! `[[intake]]` source names a tracker's repository (or Plane project), which of its issues
//! become tasks of which bosun project, and who may decide from the tracker. `[[intake]]` is
//! a list: the last layer that writes one replaces the list.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::ConfigError;
use super::raw::Source;

/// Trackers work comes in from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// GitHub (and GitHub Enterprise by `api_url`).
    Github,
    /// Gitea.
    Gitea,
    /// Forgejo.
    Forgejo,
    /// Plane.
    Plane,
}

impl SourceKind {
    /// The word, as written in the config and in the webhook's path.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Github => "github",
            SourceKind::Gitea => "gitea",
            SourceKind::Forgejo => "forgejo",
            SourceKind::Plane => "plane",
        }
    }

    /// The kind named `s` (a webhook path's last segment).
    pub fn parse(s: &str) -> Option<SourceKind> {
        Some(match s {
            "github" => SourceKind::Github,
            "gitea" => SourceKind::Gitea,
            "forgejo" => SourceKind::Forgejo,
            "plane" => SourceKind::Plane,
            _ => return None,
        })
    }
}

/// `[server]`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerConfig {
    /// The address webhooks are served on; `None`: no server (the default).
    pub listen: Option<SocketAddr>,
    /// The largest request body taken, bytes (default 1 MiB: GitHub caps payloads at 25 MB,
    /// but an issue event is a few kilobytes).
    pub max_body: usize,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            listen: None,
            max_body: 1 << 20,
        }
    }
}

/// One `[[intake]]` source, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntakeSource {
    /// `kind:repo`, unique: how the ledger, `bosun intake status` and the logs name it.
    pub name: String,
    /// The bosun project tasks are created in (its name or key prefix).
    pub project: String,
    /// The tracker.
    pub kind: SourceKind,
    /// `owner/name`; for Plane `workspace-slug/project-id`.
    pub repo: String,
    /// The API's base URL.
    pub api_url: String,
    /// The environment variable holding the API token (never stored).
    pub token_env: String,
    /// The environment variable holding the webhook secret; `None`: webhooks of this source
    /// are refused.
    pub webhook_secret_env: Option<String>,
    /// An issue becomes a task only with all of these labels (none: every open issue).
    pub labels: Vec<String>,
    /// ... and only when assigned to this user, if set.
    pub assignee: Option<String>,
    /// How often the tracker is read; `None`: never (webhooks only).
    #[serde(serialize_with = "opt_humantime")]
    pub poll: Option<Duration>,
    /// Who may `/approve`, `/reject`, `/answer` and `/cancel` from the tracker (logins).
    pub allow: Vec<String>,
    /// The priority of the tasks it creates (lower runs first; default 100).
    pub priority: i64,
    /// How many tasks one poll creates at most (a first poll of a long backlog).
    pub max_new: usize,
    /// Status back on the issue: a comment edited in place and `bosun:*` labels.
    pub report: bool,
}

fn opt_humantime<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
        None => s.serialize_str("off"),
    }
}

/// `[server]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    listen: Option<Spanned<String>>,
    max_body: Option<Spanned<usize>>,
}

/// `[[intake]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIntake {
    project: Spanned<String>,
    kind: Spanned<SourceKind>,
    repo: Option<Spanned<String>>,
    api_url: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
    webhook_secret_env: Option<Spanned<String>>,
    #[serde(default)]
    labels: Vec<String>,
    assignee: Option<String>,
    poll: Option<Spanned<String>>,
    #[serde(default)]
    allow: Vec<String>,
    priority: Option<i64>,
    max_new: Option<usize>,
    report: Option<bool>,
}

/// The default poll interval (60 s).
pub const DEFAULT_POLL: Duration = Duration::from_secs(60);

/// The shortest poll interval taken (5 s: a forge's rate limit is shared by every client of
/// the token).
pub const MIN_POLL: Duration = Duration::from_secs(5);

/// Tasks one poll creates at most, by default.
pub const DEFAULT_MAX_NEW: usize = 20;

/// `[server]` from the layers (later keys win).
pub(super) fn resolve_server(sources: &[Source<'_>]) -> Result<ServerConfig, ConfigError> {
    let mut server = ServerConfig::default();
    for s in sources {
        let Some(raw) = &s.layer.server else { continue };
        if let Some(l) = &raw.listen {
            let text = l.get_ref().trim();
            server.listen = if text.is_empty() || text == "off" {
                None
            } else {
                Some(text.parse().map_err(|_| {
                    s.err(
                        l.span().start,
                        "server.listen",
                        format!(
                            "{text:?} is not an address: write \"127.0.0.1:8787\" (or \"off\")"
                        ),
                    )
                })?)
            };
        }
        if let Some(m) = &raw.max_body {
            if *m.get_ref() < 1024 {
                return Err(s.err(m.span().start, "server.max_body", "at least 1024 bytes"));
            }
            server.max_body = *m.get_ref();
        }
    }
    Ok(server)
}

/// `[[intake]]` from the last layer that writes it.
pub(super) fn resolve_intake(sources: &[Source<'_>]) -> Result<Vec<IntakeSource>, ConfigError> {
    let Some(s) = sources.iter().rev().find(|s| s.layer.intake.is_some()) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<IntakeSource> = Vec::new();
    for raw in s.layer.intake.iter().flatten() {
        let kind = *raw.kind.get_ref();
        let at = raw.kind.span().start;
        let Some(repo) = raw.repo.as_ref() else {
            return Err(s.err(at, "intake.repo", repo_hint(kind)));
        };
        let repo_text = repo.get_ref().trim().to_string();
        if repo_text
            .split_once('/')
            .is_none_or(|(a, b)| a.is_empty() || b.is_empty())
        {
            return Err(s.err(repo.span().start, "intake.repo", repo_hint(kind)));
        }
        let api_url = match (&raw.api_url, kind) {
            (Some(u), _) => u.get_ref().trim_end_matches('/').to_string(),
            (None, SourceKind::Github) => "https://api.github.com".to_string(),
            (None, _) => {
                return Err(s.err(
                    at,
                    "intake.api_url",
                    format!(
                        "a {} source needs api_url (e.g. \"https://HOST/api/v1\")",
                        kind.as_str()
                    ),
                ));
            }
        };
        let poll = match &raw.poll {
            None => Some(DEFAULT_POLL),
            Some(p) if p.get_ref().trim() == "off" => None,
            Some(p) => Some(
                humantime::parse_duration(p.get_ref())
                    .map_err(|e| {
                        s.err(
                            p.span().start,
                            "intake.poll",
                            format!(
                                "invalid duration {:?} ({e}); write e.g. \"60s\", or \"off\"",
                                p.get_ref()
                            ),
                        )
                    })?
                    .max(MIN_POLL),
            ),
        };
        let name = format!("{}:{repo_text}", kind.as_str());
        if out.iter().any(|o| o.name == name) {
            return Err(s.err(
                repo.span().start,
                "intake.repo",
                format!("{name} is listed twice"),
            ));
        }
        let default_env = match kind {
            SourceKind::Github => "GITHUB_TOKEN",
            SourceKind::Gitea => "GITEA_TOKEN",
            SourceKind::Forgejo => "FORGEJO_TOKEN",
            SourceKind::Plane => "PLANE_API_KEY",
        };
        out.push(IntakeSource {
            name,
            project: raw.project.get_ref().clone(),
            kind,
            repo: repo_text,
            api_url,
            token_env: raw
                .token_env
                .as_ref()
                .map_or_else(|| default_env.to_string(), |t| t.get_ref().clone()),
            webhook_secret_env: raw.webhook_secret_env.as_ref().map(|t| t.get_ref().clone()),
            labels: raw.labels.clone(),
            assignee: raw.assignee.clone(),
            poll,
            allow: raw.allow.clone(),
            priority: raw.priority.unwrap_or(100),
            max_new: raw.max_new.unwrap_or(DEFAULT_MAX_NEW).max(1),
            report: raw.report.unwrap_or(true),
        });
    }
    Ok(out)
}

fn repo_hint(kind: SourceKind) -> String {
    match kind {
        SourceKind::Plane => "a plane source needs repo = \"workspace-slug/project-id\"".into(),
        k => format!("a {} source needs repo = \"owner/name\"", k.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_layers(&[(Path::new("bosun.toml"), text)])
    }

    #[test]
    fn sources_with_their_defaults_and_errors_that_name_the_line() {
        let cfg = load(
            "[server]\nlisten = \"127.0.0.1:8787\"\n\n[[intake]]\nproject = \"ET\"\nkind = \
             \"github\"\nrepo = \"octo/app\"\nlabels = [\"bosun\"]\nallow = [\"octocat\"]\n\n\
             [[intake]]\nproject = \"ET\"\nkind = \"plane\"\nrepo = \"acme/7f0c\"\napi_url = \
             \"https://plane.example/api/v1/\"\npoll = \"off\"\n",
        )
        .expect("config");
        assert_eq!(
            cfg.server.listen,
            Some("127.0.0.1:8787".parse().expect("addr"))
        );
        let [gh, plane] = cfg.intake.as_slice() else {
            panic!("{:?}", cfg.intake)
        };
        assert_eq!(gh.name, "github:octo/app");
        assert_eq!(gh.api_url, "https://api.github.com");
        assert_eq!(
            (gh.poll, gh.token_env.as_str()),
            (Some(DEFAULT_POLL), "GITHUB_TOKEN")
        );
        assert_eq!(plane.api_url, "https://plane.example/api/v1");
        assert_eq!(plane.poll, None);
        let e = load("[[intake]]\nproject = \"ET\"\nkind = \"gitea\"\nrepo = \"a/b\"\n")
            .expect_err("no api_url");
        let text = e.to_string();
        assert!(
            text.contains("bosun.toml:3") && text.contains("intake.api_url"),
            "{text}"
        );
        let e = load("[server]\nlisten = \"everywhere\"\n").expect_err("bad address");
        assert!(e.to_string().contains("server.listen"), "{e}");
        let e = load(
            "[[intake]]\nproject = \"ET\"\nkind = \"github\"\nrepo = \"a/b\"\nsecret = \"x\"\n",
        )
        .expect_err("unknown key");
        assert!(e.to_string().contains("secret"), "{e}");
        assert!(load("").expect("none").intake.is_empty());
    }
}
