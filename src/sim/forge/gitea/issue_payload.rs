//! Gitea's issue JSON, field for field as Gitea 1.22 sends it (swagger models `Issue`,
//! `Comment`, `Label`; `services/convert/issue.go`), with URLs on the forge's own origin.
//! A pull request listed among the issues carries `pull_request` (`PullRequestMeta`).

use serde_json::{Value, json};

use super::super::issues::{CommentRec, IssueRec, LabelRec};
use super::super::state::{PullRec, REPO_ID, State};
use super::super::{PullState, joined, rfc3339};
use super::payload::user;

/// Gitea's `Label`.
pub(super) fn label(st: &State, l: &LabelRec) -> Value {
    json!({
        "id": l.id,
        "name": l.name,
        "exclusive": false,
        "is_archived": false,
        "color": l.color,
        "description": l.description,
        "url": format!("{}/api/v1/repos/{}/labels/{}", st.origin, st.full_name(), l.id),
    })
}

/// The fields an issue and a pull request listed as an issue share.
fn common(
    st: &State,
    number: u64,
    html: String,
    author: &str,
    times: (u64, u64, Option<u64>),
) -> Value {
    let full = st.full_name();
    json!({
        "id": number,
        "url": format!("{}/api/v1/repos/{full}/issues/{number}", st.origin),
        "html_url": html,
        "number": number,
        "user": user(&st.origin, author),
        "original_author": "",
        "original_author_id": 0,
        "ref": "",
        "assets": [],
        "milestone": null,
        "assignee": null,
        "assignees": null,
        "is_locked": false,
        "created_at": rfc3339(times.0),
        "updated_at": rfc3339(times.1),
        "closed_at": times.2.map(rfc3339),
        "due_date": null,
        "repository": { "id": REPO_ID, "name": st.name, "owner": st.owner, "full_name": full },
        "pin_order": 0,
    })
}

/// Gitea's `Issue`.
pub(super) fn issue(st: &State, i: &IssueRec) -> Value {
    let html = format!("{}/{}/issues/{}", st.origin, st.full_name(), i.number);
    let v = common(
        st,
        i.number,
        html,
        &i.author,
        (i.created_at, i.updated_at, i.closed_at),
    );
    let labels: Vec<Value> = i
        .labels
        .iter()
        .filter_map(|id| st.label(*id))
        .map(|l| label(st, l))
        .collect();
    let extra = json!({
        "title": i.title,
        "body": i.body,
        "labels": labels,
        "state": if i.closed { "closed" } else { "open" },
        "comments": st.comments_of(i.number).count(),
        "pull_request": null,
    });
    joined(v, extra)
}

/// A pull request as Gitea lists it among the issues.
pub(super) fn pull_issue(st: &State, p: &PullRec) -> Value {
    let html = format!("{}/{}/pulls/{}", st.origin, st.full_name(), p.number);
    let times = (p.created_at, p.updated_at, p.closed_at);
    let v = common(st, p.number, html.clone(), &st.token_user, times);
    let extra = json!({
        "title": p.title,
        "body": p.body,
        "labels": [],
        "state": p.state_word(),
        "comments": 0,
        "pull_request": {
            "merged": p.state == PullState::Merged,
            "merged_at": p.merged_at.map(rfc3339),
            "draft": p.draft,
            "html_url": html,
        },
    });
    joined(v, extra)
}

/// Gitea's `Comment`.
pub(super) fn comment(st: &State, c: &CommentRec) -> Value {
    let issue = format!("{}/{}/issues/{}", st.origin, st.full_name(), c.number);
    json!({
        "id": c.id,
        "html_url": format!("{issue}#issuecomment-{}", c.id),
        "pull_request_url": "",
        "issue_url": issue,
        "user": user(&st.origin, &c.user),
        "original_author": "",
        "original_author_id": 0,
        "body": c.body,
        "assets": [],
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    })
}
