//! GitHub's issue JSON, field for field as api.github.com sends it (REST API 2022-11-28
//! schemas `issue`, `issue-comment`, `label`, `reaction-rollup`), with URLs on the forge's
//! own origin; a pull request listed among the issues is an issue with a `pull_request`
//! key (GitHub REST, "List repository issues": "GitHub's REST API considers every pull
//! request an issue").

use serde_json::{Value, json};

use super::super::issues::{CommentRec, IssueRec, LabelRec};
use super::super::state::{PullRec, State};
use super::super::{PullState, joined, rfc3339};
use super::payload::user;

/// GitHub's `author_association` of `login` here: the owner `OWNER`, the token's user
/// (a bot with write access) `COLLABORATOR`, anyone else `NONE`.
pub(super) fn association(st: &State, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&st.owner) {
        "OWNER"
    } else if login.eq_ignore_ascii_case(&st.token_user) {
        "COLLABORATOR"
    } else {
        "NONE"
    }
}

/// GitHub's `reaction-rollup` (no reactions here).
fn reactions(url: &str) -> Value {
    json!({
        "url": format!("{url}/reactions"),
        "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
        "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
    })
}

/// GitHub's `label`.
pub(super) fn label(st: &State, l: &LabelRec) -> Value {
    let name = super::super::http::encode(&l.name).replace(',', "%2C");
    json!({
        "id": 6_000_000_000_u64 + l.id,
        "node_id": format!("LA_sim{}", l.id),
        "url": format!("{}/repos/{}/labels/{name}", st.origin, st.full_name()),
        "name": l.name,
        "color": l.color,
        "default": false,
        "description": (!l.description.is_empty()).then_some(&l.description),
    })
}

/// The fields an issue and a pull request listed as an issue share.
#[allow(clippy::too_many_arguments)]
fn common(
    st: &State,
    number: u64,
    html: &str,
    title: &str,
    body: &str,
    author: &str,
    open: bool,
    times: (u64, u64, Option<u64>),
) -> Value {
    let api = format!("{}/repos/{}", st.origin, st.full_name());
    let url = format!("{api}/issues/{number}");
    let id = 2_000_000_000 + number;
    let links = json!({
        "url": url,
        "repository_url": api,
        "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"),
        "html_url": html,
        "timeline_url": format!("{url}/timeline"),
        "reactions": reactions(&url),
    });
    let fields = json!({
        "id": id,
        "node_id": format!("I_sim{id}"),
        "number": number,
        "title": title,
        "user": user(&st.origin, author),
        "state": if open { "open" } else { "closed" },
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "created_at": rfc3339(times.0),
        "updated_at": rfc3339(times.1),
        "closed_at": times.2.map(rfc3339),
        "author_association": association(st, author),
        "type": null,
        "active_lock_reason": null,
        "sub_issues_summary": { "total": 0, "completed": 0, "percent_completed": 0 },
        "body": (!body.is_empty()).then_some(body),
        "performed_via_github_app": null,
    });
    joined(links, fields)
}

/// GitHub's `issue`; `full` (Get an issue) adds `closed_by`.
pub(super) fn issue(st: &State, i: &IssueRec, full: bool) -> Value {
    let html = format!("{}/{}/issues/{}", st.origin, st.full_name(), i.number);
    let times = (i.created_at, i.updated_at, i.closed_at);
    let v = common(
        st, i.number, &html, &i.title, &i.body, &i.author, !i.closed, times,
    );
    let labels: Vec<Value> = i
        .labels
        .iter()
        .filter_map(|id| st.label(*id))
        .map(|l| label(st, l))
        .collect();
    let mut extra = json!({
        "labels": labels,
        "comments": st.comments_of(i.number).count(),
        "state_reason": i.state_reason,
    });
    if full && let Some(obj) = extra.as_object_mut() {
        obj.insert(
            "closed_by".into(),
            i.closed_by
                .as_deref()
                .map_or(Value::Null, |l| user(&st.origin, l)),
        );
    }
    joined(v, extra)
}

/// A pull request as GitHub lists it among the issues: `pull_request` and `draft` keys.
pub(super) fn pull_issue(st: &State, p: &PullRec) -> Value {
    let html = format!("{}/{}/pull/{}", st.origin, st.full_name(), p.number);
    let api = format!("{}/repos/{}/pulls/{}", st.origin, st.full_name(), p.number);
    let times = (p.created_at, p.updated_at, p.closed_at);
    let v = common(
        st,
        p.number,
        &html,
        &p.title,
        &p.body,
        &st.token_user,
        p.state == PullState::Open,
        times,
    );
    let extra = json!({
        "labels": [],
        "comments": 0,
        "state_reason": null,
        "draft": p.draft,
        "pull_request": {
            "url": api,
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "merged_at": p.merged_at.map(rfc3339),
        },
    });
    joined(v, extra)
}

/// GitHub's `issue-comment`.
pub(super) fn comment(st: &State, c: &CommentRec) -> Value {
    let api = format!("{}/repos/{}", st.origin, st.full_name());
    let id = 1_100_000_000 + c.id;
    let url = format!("{api}/issues/comments/{id}");
    json!({
        "url": url,
        "html_url": format!(
            "{}/{}/issues/{}#issuecomment-{id}",
            st.origin,
            st.full_name(),
            c.number
        ),
        "issue_url": format!("{api}/issues/{}", c.number),
        "id": id,
        "node_id": format!("IC_sim{id}"),
        "user": user(&st.origin, &c.user),
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
        "author_association": association(st, &c.user),
        "body": c.body,
        "reactions": reactions(&url),
        "performed_via_github_app": null,
    })
}
