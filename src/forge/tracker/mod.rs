//! A tracker's issues, for intake (issue 21): open issues listed by label (conditionally, by
//! ETag, honouring the rate limit), one issue read, its comments read, bosun's status comment
//! written and edited in place, labels added and removed — on GitHub with octocrab, on
//! Gitea/Forgejo and Plane with reqwest. Blocking, like [`super::Client`]: each call runs on the
//! tracker's own current-thread runtime.

mod gitea;
mod github;
mod plane;

pub use plane::strip_html;

use crate::config::intake::{IntakeSource, SourceKind};
use crate::intake::events::{TrackerComment, TrackerIssue};

use super::{ForgeError, ForgeKind, Target};

/// A page of open issues, or nothing new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// Not changed since the validator given (304).
    Unchanged,
    /// The open issues with the source's labels, oldest first (at most 100), and the
    /// validator for the next poll.
    Changed {
        /// The issues.
        issues: Vec<TrackerIssue>,
        /// The list's ETag.
        etag: Option<String>,
    },
}

/// A comment, with when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dated {
    /// The comment.
    pub comment: TrackerComment,
    /// When it was written, ms since the epoch.
    pub created_at: i64,
}

/// What a call learnt of the rate limit: spent until then (ms since the epoch).
pub type Limit = Option<i64>;

enum Api {
    Github(github::Github),
    Gitea(gitea::Gitea),
    Plane(plane::Plane),
}

/// An issue as a tracker call names it: its number, and its UUID where the tracker wants
/// that (Plane).
#[derive(Debug, Clone, Copy)]
pub struct IssueRef<'a> {
    /// The number (Plane: the sequence id).
    pub number: i64,
    /// The tracker's own id.
    pub id: Option<&'a str>,
}

impl IssueRef<'_> {
    fn uuid(&self) -> Result<&str, ForgeError> {
        self.id.ok_or_else(|| ForgeError::Refused {
            status: 0,
            message: format!("issue {} has no Plane id", self.number),
        })
    }
}

/// A blocking client of one intake source's tracker.
pub struct Tracker {
    rt: tokio::runtime::Runtime,
    api: Api,
}

impl Tracker {
    /// A client of `source`'s tracker, authenticated with `token`.
    ///
    /// # Errors
    /// [`ForgeError::Refused`] for a bad `api_url`; [`ForgeError::Unreachable`] when the runtime cannot be made.
    pub fn new(source: &IntakeSource, token: String) -> Result<Tracker, ForgeError> {
        let rt = super::runtime()?;
        let (owner, name) = source.repo.split_once('/').unwrap_or((&source.repo, ""));
        let kind = match source.kind {
            SourceKind::Github => ForgeKind::Github,
            SourceKind::Gitea => ForgeKind::Gitea,
            SourceKind::Forgejo => ForgeKind::Forgejo,
            SourceKind::Plane => {
                let api =
                    plane::Plane::new(&source.api_url, &source.repo, &source.token_env, token)?;
                return Ok(Tracker {
                    rt,
                    api: Api::Plane(api),
                });
            }
        };
        let target = Target {
            kind,
            api_url: source.api_url.clone(),
            owner: owner.to_string(),
            name: name.to_string(),
            token_env: source.token_env.clone(),
        };
        let api = rt.block_on(async {
            Ok::<_, ForgeError>(match kind {
                ForgeKind::Github => Api::Github(github::Github::new(&target, token)?),
                ForgeKind::Gitea | ForgeKind::Forgejo => {
                    Api::Gitea(gitea::Gitea::new(&target, token)?)
                }
            })
        })?;
        Ok(Tracker { rt, api })
    }

    /// The open issues with every one of `labels`, conditionally on `etag`; and the rate
    /// limit seen.
    ///
    /// # Errors
    /// See [`ForgeError`].
    pub fn list_open(
        &self,
        labels: &[String],
        etag: Option<&str>,
    ) -> Result<(Listed, Limit), ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.list_open(labels, etag).await,
                Api::Gitea(g) => g.list_open(labels, etag).await,
                Api::Plane(p) => p.list_open(labels, etag).await,
            }
        })
    }

    /// Issue `number` as it stands.
    ///
    /// # Errors
    /// See [`ForgeError`].
    pub fn issue(&self, issue: IssueRef<'_>) -> Result<TrackerIssue, ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.issue(issue.number).await,
                Api::Gitea(g) => g.issue(issue.number).await,
                Api::Plane(p) => p.issue_by_id(issue.uuid()?).await,
            }
        })
    }

    /// Issue `number`'s comments, oldest first (at most the first 100).
    ///
    /// # Errors
    /// See [`ForgeError`].
    pub fn comments(&self, issue: IssueRef<'_>) -> Result<Vec<Dated>, ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.comments(issue.number).await,
                Api::Gitea(g) => g.comments(issue.number).await,
                Api::Plane(p) => p.comments(issue.uuid()?).await,
            }
        })
    }

    /// Writes a comment on issue `number`; its id.
    ///
    /// # Errors
    /// See [`ForgeError`].
    pub fn comment(&self, issue: IssueRef<'_>, body: &str) -> Result<String, ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.comment(issue.number, body).await,
                Api::Gitea(g) => g.comment(issue.number, body).await,
                Api::Plane(p) => p.comment(issue.uuid()?, body).await,
            }
        })
    }

    /// Replaces comment `id`'s text.
    ///
    /// # Errors
    /// See [`ForgeError`] ([`ForgeError::Refused`] with 404 when it was deleted).
    pub fn edit_comment(
        &self,
        issue: IssueRef<'_>,
        id: &str,
        body: &str,
    ) -> Result<(), ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.edit_comment(id, body).await,
                Api::Gitea(g) => g.edit_comment(id, body).await,
                Api::Plane(p) => p.edit_comment(issue.uuid()?, id, body).await,
            }
        })
    }

    /// Puts `add` on issue `number` and takes `remove` off (those it does not have are
    /// skipped).
    ///
    /// # Errors
    /// See [`ForgeError`].
    pub fn labels(
        &self,
        issue: IssueRef<'_>,
        add: &[&str],
        remove: &[&str],
    ) -> Result<(), ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.labels(issue.number, add, remove).await,
                Api::Gitea(g) => g.labels(issue.number, add, remove).await,
                Api::Plane(p) => p.labels(issue.uuid()?, add, remove).await,
            }
        })
    }
}
