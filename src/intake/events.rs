//! What a tracker's webhook delivery says, read from its (verified) body: an issue as it
//! stands now, or a comment on one. GitHub's and Gitea's (and Forgejo's) payloads carry the
//! whole issue (GitHub docs, "Webhook events and payloads": `issues`, `issue_comment`; Gitea's
//! are modelled on them); Plane's carry ids whose labels and state are read back from its API,
//! so a Plane delivery only names the issue that changed.

use serde::Deserialize;

use crate::config::intake::SourceKind;

/// An issue as the tracker shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerIssue {
    /// Its number (Plane: its sequence id).
    pub number: i64,
    /// The tracker's own id where it is not the number (Plane's UUID).
    pub id: Option<String>,
    /// Title (tracker text).
    pub title: String,
    /// Body (tracker text, markdown).
    pub body: String,
    /// Web page.
    pub url: String,
    /// Open (not closed or completed).
    pub open: bool,
    /// Its labels' names.
    pub labels: Vec<String>,
    /// Its assignees' logins.
    pub assignees: Vec<String>,
    /// A pull request (GitHub lists them as issues): never a task.
    pub pull_request: bool,
}

impl TrackerIssue {
    /// An issue known by its ledger entry only (its number, id and page), for taking a
    /// comment on it.
    pub fn known(number: i64, id: Option<String>, url: String) -> TrackerIssue {
        TrackerIssue {
            number,
            id,
            title: String::new(),
            body: String::new(),
            url,
            open: true,
            labels: Vec::new(),
            assignees: Vec::new(),
            pull_request: false,
        }
    }
}

/// A comment on an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerComment {
    /// The comment's id.
    pub id: String,
    /// Who wrote it (login).
    pub user: String,
    /// Its text.
    pub body: String,
    /// When it was written, ms since the epoch (when the tracker says).
    pub created_at: Option<i64>,
}

/// What a delivery says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An issue was opened, edited, labelled, closed or reopened: it as it stands.
    Issue(TrackerIssue),
    /// A comment was written on an issue.
    Comment {
        /// The issue.
        issue: TrackerIssue,
        /// The comment.
        comment: TrackerComment,
    },
    /// Something about Plane issue `id` changed (its API says what).
    PlaneIssue {
        /// The issue's UUID.
        id: String,
    },
    /// A comment on Plane issue `issue` (its API has the issue).
    PlaneComment {
        /// The issue's UUID.
        issue: String,
        /// The comment.
        comment: TrackerComment,
    },
    /// Something happened to pull request `number` (opened, reviewed, merged, closed): a
    /// landing that follows it reads it now instead of at its next poll.
    PullRequest {
        /// Its number.
        number: i64,
    },
    /// Nothing bosun acts on (a ping, an edited comment, another event): why.
    Ignored(String),
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

/// An issue as GitHub's and Gitea's webhooks and Gitea's REST API show it (the fields bosun
/// reads).
#[derive(Deserialize)]
pub(crate) struct HubIssue {
    number: i64,
    title: String,
    #[serde(default)]
    body: Option<String>,
    html_url: String,
    state: String,
    #[serde(default)]
    labels: Option<Vec<Named>>,
    #[serde(default)]
    assignees: Option<Vec<Login>>,
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct HubComment {
    id: serde_json::Value,
    body: Option<String>,
    user: Login,
    #[serde(default)]
    created_at: Option<String>,
}

#[derive(Deserialize)]
struct HubPayload {
    #[serde(default)]
    action: String,
    issue: Option<HubIssue>,
    comment: Option<HubComment>,
}

#[derive(Deserialize)]
struct PlaneData {
    id: String,
    #[serde(default)]
    issue: Option<String>,
    #[serde(default)]
    comment_stripped: Option<String>,
    #[serde(default)]
    comment_html: Option<String>,
    #[serde(default)]
    actor_detail: Option<PlaneUser>,
    #[serde(default)]
    created_by: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct PlaneUser {
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct PlaneActivity {
    #[serde(default)]
    actor: Option<PlaneUser>,
}

#[derive(Deserialize)]
struct PlanePayload {
    event: String,
    action: String,
    data: PlaneData,
    #[serde(default)]
    activity: Option<PlaneActivity>,
}

impl HubIssue {
    /// The issue.
    pub(crate) fn into_issue(self) -> TrackerIssue {
        TrackerIssue {
            number: self.number,
            id: None,
            title: self.title,
            body: self.body.unwrap_or_default(),
            url: self.html_url,
            open: self.state == "open",
            labels: self
                .labels
                .unwrap_or_default()
                .into_iter()
                .map(|l| l.name)
                .collect(),
            assignees: self
                .assignees
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.login)
                .collect(),
            pull_request: self.pull_request.is_some_and(|p| !p.is_null()),
        }
    }
}

/// Reads a delivery of event `event` (the event header's value) from a `kind` tracker.
///
/// # Errors
/// A sentence when the body is not the event's JSON.
pub fn parse(kind: SourceKind, event: &str, body: &[u8]) -> Result<Event, String> {
    if kind == SourceKind::Plane {
        return parse_plane(body);
    }
    // Gitea sends label changes as `issue_label` (action `label_updated`), with the issue.
    let event = if event == "issue_label" {
        "issues"
    } else {
        event
    };
    // GitHub: pull_request, pull_request_review; Gitea: pull_request, pull_request_approved,
    // pull_request_rejected, pull_request_review_*: the number at the top or in the PR.
    if event.starts_with("pull_request") {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("not a {event} payload: {e}"))?;
        let number = v
            .get("number")
            .or_else(|| v.get("pull_request").and_then(|p| p.get("number")))
            .and_then(serde_json::Value::as_i64);
        return Ok(match number {
            Some(number) => Event::PullRequest { number },
            None => Event::Ignored(format!("a {event} event without a number")),
        });
    }
    match event {
        "issues" | "issue_comment" => {}
        "ping" => return Ok(Event::Ignored("a ping".into())),
        other => return Ok(Event::Ignored(format!("a {other:?} event"))),
    }
    let p: HubPayload =
        serde_json::from_slice(body).map_err(|e| format!("not an {event} payload: {e}"))?;
    let Some(issue) = p.issue else {
        return Err(format!("an {event} payload without its issue"));
    };
    let issue = issue.into_issue();
    if event == "issues" {
        return Ok(Event::Issue(issue));
    }
    if p.action != "created" {
        return Ok(Event::Ignored(format!("a comment {}", p.action)));
    }
    let Some(c) = p.comment else {
        return Err("an issue_comment payload without its comment".into());
    };
    Ok(Event::Comment {
        issue,
        comment: TrackerComment {
            id: id_text(&c.id),
            user: c.user.login,
            body: c.body.unwrap_or_default(),
            created_at: c.created_at.as_deref().map(rfc3339_ms).filter(|t| *t > 0),
        },
    })
}

fn parse_plane(body: &[u8]) -> Result<Event, String> {
    let p: PlanePayload =
        serde_json::from_slice(body).map_err(|e| format!("not a Plane payload: {e}"))?;
    match (p.event.as_str(), p.action.as_str()) {
        ("issue", "create" | "created" | "update" | "updated") => {
            Ok(Event::PlaneIssue { id: p.data.id })
        }
        ("issue_comment", "create" | "created") => {
            let Some(issue) = p.data.issue else {
                return Err("a Plane comment without its issue".into());
            };
            let user = p
                .activity
                .and_then(|a| a.actor)
                .and_then(|a| a.display_name)
                .or_else(|| p.data.actor_detail.and_then(|a| a.display_name))
                .or_else(|| p.data.created_by.as_ref().map(id_text))
                .unwrap_or_default();
            let body = p
                .data
                .comment_stripped
                .or_else(|| {
                    p.data
                        .comment_html
                        .as_deref()
                        .map(crate::forge::tracker::strip_html)
                })
                .unwrap_or_default();
            Ok(Event::PlaneComment {
                issue,
                comment: TrackerComment {
                    id: p.data.id,
                    user,
                    body,
                    created_at: None,
                },
            })
        }
        (e, a) => Ok(Event::Ignored(format!("a Plane {e} {a}"))),
    }
}

fn id_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An RFC 3339 time (`2026-12-07T03:08:41Z`, `2026-12-07T11:08:41+08:00`, fractions
/// allowed) as ms since the epoch; 0 when it is not one.
pub fn rfc3339_ms(s: &str) -> i64 {
    let s = s.trim();
    let (base, offset_s) = match s.len().checked_sub(6).map(|i| s.split_at(i)) {
        Some((b, o))
            if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" =>
        {
            let h: i64 = o[1..3].parse().unwrap_or(0);
            let m: i64 = o[4..6].parse().unwrap_or(0);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            (b, sign * (h * 3600 + m * 60))
        }
        _ => (s.trim_end_matches('Z'), 0),
    };
    humantime::parse_rfc3339_weak(base)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX) - offset_s * 1000
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_and_gitea_issues_and_comments() {
        let issue = br#"{"action":"labeled","issue":{"number":12,"title":"Crash on start",
            "body":"steps","html_url":"https://github.com/o/r/issues/12","state":"open",
            "labels":[{"name":"bosun"},{"name":"bug"}],"assignees":[{"login":"ann"}]},
            "label":{"name":"bosun"},"repository":{"full_name":"o/r"},"sender":{"login":"ann"}}"#;
        let Ok(Event::Issue(i)) = parse(SourceKind::Github, "issues", issue) else {
            panic!("issue")
        };
        assert_eq!((i.number, i.open, i.labels.len()), (12, true, 2));
        assert_eq!(i.assignees, ["ann"]);
        let comment = br#"{"action":"created","number":12,"issue":{"number":12,"title":"t",
            "body":null,"html_url":"u","state":"open","labels":null,"assignees":null},
            "comment":{"id":99,"body":"/approve","user":{"login":"octocat"}}}"#;
        let Ok(Event::Comment { comment, .. }) = parse(SourceKind::Gitea, "issue_comment", comment)
        else {
            panic!("comment")
        };
        assert_eq!(
            (comment.id.as_str(), comment.user.as_str()),
            ("99", "octocat")
        );
        assert!(matches!(
            parse(SourceKind::Github, "ping", b"{}"),
            Ok(Event::Ignored(_))
        ));
        assert!(parse(SourceKind::Github, "issues", b"not json").is_err());
        let review = br#"{"action":"submitted","review":{},"pull_request":{"number":7}}"#;
        assert_eq!(
            parse(SourceKind::Github, "pull_request_review", review),
            Ok(Event::PullRequest { number: 7 })
        );
    }

    #[test]
    fn plane_names_the_issue() {
        let body = br#"{"event":"issue","action":"update","webhook_id":"w","workspace_id":"s",
            "data":{"id":"5f2c","sequence_id":3,"name":"x"},"activity":{}}"#;
        assert_eq!(
            parse(SourceKind::Plane, "issue", body),
            Ok(Event::PlaneIssue { id: "5f2c".into() })
        );
    }

    #[test]
    fn times_with_and_without_an_offset() {
        let z = rfc3339_ms("2026-12-07T03:08:41Z");
        assert_eq!(z, rfc3339_ms("2026-12-07T11:08:41+08:00"));
        assert_eq!(z + 500, rfc3339_ms("2026-12-07T03:08:41.5Z"));
        assert_eq!(rfc3339_ms("yesterday"), 0);
    }
}
