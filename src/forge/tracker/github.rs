//! GitHub issues with octocrab (GitHub REST docs, "Issues" and "Issue comments"): `GET
//! /repos/{o}/{r}/issues?state=open&labels=…` with `If-None-Match`, `GET …/issues/{n}`,
//! `GET …/issues/{n}/comments`, `POST …/issues/{n}/comments`, `PATCH
//! …/issues/comments/{id}`, `POST …/issues/{n}/labels`, `DELETE …/issues/{n}/labels/{name}`.

use octocrab::models::issues::{Comment, Issue};

use super::{Dated, Limit, Listed};
use crate::forge::{ForgeError, Target};
use crate::intake::events::{TrackerComment, TrackerIssue};

pub(super) struct Github(crate::forge::github::Github);

impl std::ops::Deref for Github {
    type Target = crate::forge::github::Github;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Github {
    pub(super) fn new(target: &Target, token: String) -> Result<Github, ForgeError> {
        Ok(Github(crate::forge::github::Github::new(target, token)?))
    }

    pub(super) async fn list_open(
        &self,
        labels: &[String],
        etag: Option<&str>,
    ) -> Result<(Listed, Limit), ForgeError> {
        let mut route = format!(
            "/repos/{}/{}/issues?state=open&sort=created&direction=asc&per_page=100",
            self.owner, self.name
        );
        if !labels.is_empty() {
            let joined: Vec<String> = labels.iter().map(|l| encode(l)).collect();
            route.push_str(&format!("&labels={}", joined.join(",")));
        }
        Ok(
            match self.get_conditional::<Vec<Issue>>(&route, etag).await? {
                (None, limit) => (Listed::Unchanged, limit),
                (Some((issues, etag)), limit) => (
                    Listed::Changed {
                        issues: issues.iter().map(issue).collect(),
                        etag,
                    },
                    limit,
                ),
            },
        )
    }

    pub(super) async fn issue(&self, number: i64) -> Result<TrackerIssue, ForgeError> {
        let n = u64::try_from(number).unwrap_or_default();
        let i = self
            .octo
            .issues(&self.owner, &self.name)
            .get(n)
            .await
            .map_err(|e| self.err(e))?;
        Ok(issue(&i))
    }

    pub(super) async fn comments(&self, number: i64) -> Result<Vec<Dated>, ForgeError> {
        let n = u64::try_from(number).unwrap_or_default();
        let page = self
            .octo
            .issues(&self.owner, &self.name)
            .list_comments(n)
            .per_page(100)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(page.items.iter().map(dated).collect())
    }

    pub(super) async fn comment(&self, number: i64, body: &str) -> Result<String, ForgeError> {
        let n = u64::try_from(number).unwrap_or_default();
        let c = self
            .octo
            .issues(&self.owner, &self.name)
            .create_comment(n, body)
            .await
            .map_err(|e| self.err(e))?;
        Ok(c.id.to_string())
    }

    pub(super) async fn edit_comment(&self, id: &str, body: &str) -> Result<(), ForgeError> {
        let id: u64 = id.parse().map_err(|_| ForgeError::Refused {
            status: 0,
            message: format!("{id:?} is not a GitHub comment id"),
        })?;
        self.octo
            .issues(&self.owner, &self.name)
            .update_comment(id.into(), body)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(super) async fn labels(
        &self,
        number: i64,
        add: &[&str],
        remove: &[&str],
    ) -> Result<(), ForgeError> {
        let n = u64::try_from(number).unwrap_or_default();
        let issues = self.octo.issues(&self.owner, &self.name);
        if !add.is_empty() {
            let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
            issues.add_labels(n, &add).await.map_err(|e| self.err(e))?;
        }
        for l in remove {
            match issues.remove_label(n, l).await {
                Ok(_) => {}
                // Not on the issue: nothing to take off.
                Err(octocrab::Error::GitHub { source, .. }) if source.status_code == 404 => {}
                Err(e) => return Err(self.err(e)),
            }
        }
        Ok(())
    }
}

fn issue(i: &Issue) -> TrackerIssue {
    TrackerIssue {
        number: i64::try_from(i.number).unwrap_or(i64::MAX),
        id: None,
        title: i.title.clone(),
        body: i.body.clone().unwrap_or_default(),
        url: i.html_url.to_string(),
        open: matches!(i.state, octocrab::models::IssueState::Open),
        labels: i.labels.iter().map(|l| l.name.clone()).collect(),
        assignees: i.assignees.iter().map(|a| a.login.clone()).collect(),
        pull_request: i.pull_request.is_some(),
    }
}

fn dated(c: &Comment) -> Dated {
    Dated {
        comment: TrackerComment {
            id: c.id.to_string(),
            user: c.user.login.clone(),
            body: c.body.clone().unwrap_or_default(),
            created_at: Some(c.created_at.timestamp_millis()),
        },
        created_at: c.created_at.timestamp_millis(),
    }
}

/// A label name as a query value (RFC 3986 unreserved characters kept, the rest
/// percent-encoded; a comma inside a name too, since commas separate them).
pub(super) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
