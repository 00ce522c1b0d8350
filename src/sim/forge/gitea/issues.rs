//! Gitea's issue routes under `/api/v1` (Gitea 1.22 swagger, tag `issue`).
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /repos/{o}/{r}/issues?state&type&labels&since&before&page&limit` | 200 issues and pull requests, newest first; `X-Total-Count`, `Link` |
//! | `GET /repos/{o}/{r}/issues/{n}` | 200 the issue (a pull request's number: the pull request as an issue); 404 |
//! | `GET`, `POST /repos/{o}/{r}/issues/{n}/comments {body}` | 200 the comments (`since`, `before`); 201 the new one |
//! | `GET /repos/{o}/{r}/issues/comments?since&before&page&limit` | 200 the repository's comments, oldest first |
//! | `GET`, `PATCH /repos/{o}/{r}/issues/comments/{id} {body}` | 200 the comment |
//! | `GET`, `POST /repos/{o}/{r}/labels {name, color, description?}` | 200 the labels; 201 the new one |
//! | `GET`, `POST /repos/{o}/{r}/issues/{n}/labels {labels: [ids or names]}` | 200 the issue's labels |
//! | `DELETE /repos/{o}/{r}/issues/{n}/labels/{id}` | 204; 422 no such label |
//! | `GET /user` | 200 the token's user |
//!
//! `labels` filters as Gitea 1.22 does, not as its swagger says: every named label that
//! exists is required (go-gitea/gitea#31119), names that do not exist are dropped, and
//! when none exists the filter is dropped too — every issue comes back. No ETag, no
//! `Last-Modified` (Gitea sends neither on API JSON).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Extract};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::Value;

use super::super::http::{link, number, page_of, param, parse_time, query_pairs};
use super::super::issues::CommentRec;
use super::super::state::State;
use super::super::{PullState, Shared, lock};
use super::issue_payload::{comment, issue, label, pull_issue};
use super::payload::user;
use super::{error, not_found};

/// The routes.
pub(super) fn routes() -> Router<Shared> {
    let repo = "/api/v1/repos/{owner}/{repo}";
    Router::new()
        .route(&format!("{repo}/issues"), get(list))
        .route(&format!("{repo}/issues/comments"), get(repo_comments))
        .route(
            &format!("{repo}/issues/comments/{{id}}"),
            get(get_comment).patch(edit_comment),
        )
        .route(&format!("{repo}/issues/{{n}}"), get(get_one))
        .route(
            &format!("{repo}/issues/{{n}}/comments"),
            get(comments).post(create_comment),
        )
        .route(
            &format!("{repo}/issues/{{n}}/labels"),
            get(issue_labels).post(add_labels),
        )
        .route(
            &format!("{repo}/issues/{{n}}/labels/{{id}}"),
            delete(remove_label),
        )
        .route(
            &format!("{repo}/labels"),
            get(repo_labels).post(create_label),
        )
        .route("/api/v1/user", get(me))
}

/// A 200 JSON list with `X-Total-Count` (the whole list) and, paged by `page` and `limit`
/// (30, at most 50), its `Link`.
fn paged(
    st: &State,
    path: &str,
    query: &[(String, String)],
    items: Vec<Value>,
    paging: bool,
) -> Response {
    let total = HeaderValue::from(items.len());
    let (items, link_header) = if paging {
        let limit = number(query, "limit", 30, 50);
        let page = number(query, "page", 1, usize::MAX);
        let (items, last) = page_of(items, page, limit);
        let base = format!("{}/api/v1/repos/{}{path}", st.origin, st.full_name());
        (items, link(&base, query, "page", page, last))
    } else {
        (items, None)
    };
    let mut r = (
        StatusCode::OK,
        [("x-total-count", total)],
        axum::Json(items),
    )
        .into_response();
    if let Some(v) = link_header {
        r.headers_mut().insert("link", v);
    }
    r
}

/// `since` and `before` (RFC 3339) as a window on `updated`.
fn window(query: &[(String, String)]) -> impl Fn(u64) -> bool {
    let since = param(query, "since").and_then(parse_time).unwrap_or(0);
    let before = param(query, "before")
        .and_then(parse_time)
        .unwrap_or(u64::MAX);
    move |t| t >= since && t < before
}

/// Gitea API: List a repository's issues (see the module's notes on `labels`).
async fn list(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(&st.origin);
    }
    if !st.pulls.is_empty() {
        st.refresh();
    }
    let q = query_pairs(raw.as_deref());
    let state = param(&q, "state").unwrap_or("open");
    let kind = param(&q, "type").unwrap_or("");
    let wanted: Vec<u64> = param(&q, "labels")
        .unwrap_or("")
        .split(',')
        .filter_map(|n| st.label_named(n.trim()).map(|l| l.id))
        .collect();
    let within = window(&q);
    // (number, open, updated, json)
    let mut rows: Vec<(u64, bool, u64, Value)> = Vec::new();
    if kind != "pulls" {
        for i in &st.issues {
            if wanted.iter().all(|w| i.labels.contains(w)) {
                rows.push((i.number, !i.closed, i.updated_at, issue(&st, i)));
            }
        }
    }
    if kind != "issues" && wanted.is_empty() {
        for p in &st.pulls {
            let open = p.state == PullState::Open;
            rows.push((p.number, open, p.updated_at, pull_issue(&st, p)));
        }
    }
    rows.retain(|(_, open, updated, _)| {
        (state == "all" || (state == "closed") != *open) && within(*updated)
    });
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let items = rows.into_iter().map(|r| r.3).collect();
    paged(&st, "/issues", &q, items, true)
}

/// Gitea API: Get an issue.
async fn get_one(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
) -> Response {
    let mut st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(&st.origin);
    }
    let n = n.parse::<u64>().unwrap_or(0);
    if let Some(i) = st.issue(n) {
        return axum::Json(issue(&st, i)).into_response();
    }
    st.refresh();
    match st.pull(n) {
        Some(p) => axum::Json(pull_issue(&st, p)).into_response(),
        None => not_found(&st.origin),
    }
}

/// The issue a path names (`Err`: the 404).
fn find(st: &State, owner: &str, repo: &str, n: &str) -> Result<u64, Response> {
    n.parse::<u64>()
        .ok()
        .filter(|n| st.is_repo(owner, repo) && st.issue(*n).is_some())
        .ok_or_else(|| not_found(&st.origin))
}

/// Gitea API: List all comments on an issue (`since`, `before`; no pages).
async fn comments(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = lock(&shared);
    let number = match find(&st, &owner, &repo, &n) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let q = query_pairs(raw.as_deref());
    let within = window(&q);
    let items = st
        .comments_of(number)
        .filter(|c| within(c.updated_at))
        .map(|c| comment(&st, c))
        .collect();
    paged(&st, "", &q, items, false)
}

/// Gitea API: List all comments in a repository (`since`, `before`, `page`, `limit`).
async fn repo_comments(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(&st.origin);
    }
    let q = query_pairs(raw.as_deref());
    let within = window(&q);
    let items = st
        .comments
        .iter()
        .filter(|c| within(c.updated_at))
        .map(|c| comment(&st, c))
        .collect();
    paged(&st, "/issues/comments", &q, items, true)
}

/// The `body` of a request; `Err` the 422 (`[Body]: Required`, Gitea's binding error).
fn body_of(st: &State, bytes: &Bytes) -> Result<String, Response> {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    match v.get("body").and_then(Value::as_str) {
        Some(b) if !b.is_empty() => Ok(b.to_string()),
        _ => Err(error(
            &st.origin,
            StatusCode::UNPROCESSABLE_ENTITY,
            "[Body]: Required",
        )),
    }
}

/// Gitea API: Add a comment to an issue (by the token's user).
async fn create_comment(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    let number = match find(&st, &owner, &repo, &n) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let text = match body_of(&st, &bytes) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let me = st.token_user.clone();
    match st
        .add_comment(&me, number, &text)
        .and_then(|id| st.comment(id))
    {
        Some(c) => (StatusCode::CREATED, axum::Json(comment(&st, c))).into_response(),
        None => not_found(&st.origin),
    }
}

/// The comment a path names.
fn comment_of<'a>(st: &'a State, owner: &str, repo: &str, id: &str) -> Option<&'a CommentRec> {
    let id = id.parse::<u64>().ok()?;
    st.is_repo(owner, repo).then(|| st.comment(id)).flatten()
}

/// Gitea API: Get a comment.
async fn get_comment(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> Response {
    let st = lock(&shared);
    match comment_of(&st, &owner, &repo, &id) {
        Some(c) => axum::Json(comment(&st, c)).into_response(),
        None => not_found(&st.origin),
    }
}

/// Gitea API: Edit a comment.
async fn edit_comment(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    let Some(id) = comment_of(&st, &owner, &repo, &id).map(|c| c.id) else {
        return not_found(&st.origin);
    };
    let text = match body_of(&st, &bytes) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let me = st.token_user.clone();
    st.edit_comment(&me, id, &text);
    match st.comment(id) {
        Some(c) => axum::Json(comment(&st, c)).into_response(),
        None => not_found(&st.origin),
    }
}

/// Gitea's labels of issue `number`.
fn labels_of(st: &State, number: u64) -> Vec<Value> {
    let ids = st
        .issue(number)
        .map(|i| i.labels.clone())
        .unwrap_or_default();
    ids.iter()
        .filter_map(|id| st.label(*id))
        .map(|l| label(st, l))
        .collect()
}

/// Gitea API: Get an issue's labels.
async fn issue_labels(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
) -> Response {
    let st = lock(&shared);
    match find(&st, &owner, &repo, &n) {
        Ok(n) => axum::Json(labels_of(&st, n)).into_response(),
        Err(r) => r,
    }
}

/// Gitea API: Add a label to an issue. `labels`: ids, or names (Gitea 1.22 takes both);
/// unknown ones are ignored.
async fn add_labels(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    let number = match find(&st, &owner, &repo, &n) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let Some(list) = v.get("labels").and_then(Value::as_array) else {
        return error(
            &st.origin,
            StatusCode::UNPROCESSABLE_ENTITY,
            "[Labels]: Required",
        );
    };
    let ids: Vec<u64> = list
        .iter()
        .filter_map(|l| match l {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => st.label_named(s).map(|l| l.id),
            _ => None,
        })
        .collect();
    let me = st.token_user.clone();
    st.add_labels(&me, number, &ids);
    axum::Json(labels_of(&st, number)).into_response()
}

/// Gitea API: Remove a label from an issue: 204, also when the issue did not have it; 422
/// for a label the repository lacks.
async fn remove_label(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n, id)): Path<(String, String, String, String)>,
) -> Response {
    let mut st = lock(&shared);
    let number = match find(&st, &owner, &repo, &n) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let Some(id) = id.parse::<u64>().ok().filter(|id| st.label(*id).is_some()) else {
        let message = format!("label does not exist [id: {id}]");
        return error(&st.origin, StatusCode::UNPROCESSABLE_ENTITY, &message);
    };
    let me = st.token_user.clone();
    st.remove_label(&me, number, id);
    StatusCode::NO_CONTENT.into_response()
}

/// Gitea API: Get all of a repository's labels.
async fn repo_labels(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(&st.origin);
    }
    let q = query_pairs(raw.as_deref());
    let items = st.labels.iter().map(|l| label(&st, l)).collect();
    paged(&st, "/labels", &q, items, true)
}

/// Gitea API: Create a label. `name` and `color` (`#rrggbb` or `rrggbb`) required.
async fn create_label(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(&st.origin);
    }
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let field = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (Some(name), Some(color)) = (field("name"), field("color")) else {
        let missing = if field("name").is_none() {
            "Name"
        } else {
            "Color"
        };
        let message = format!("[{missing}]: Required");
        return error(&st.origin, StatusCode::UNPROCESSABLE_ENTITY, &message);
    };
    let hex = color.trim_start_matches('#');
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let message = format!("invalid color format: {color}");
        return error(&st.origin, StatusCode::UNPROCESSABLE_ENTITY, &message);
    }
    let description = field("description").unwrap_or_default().to_string();
    let (name, hex) = (name.to_string(), hex.to_string());
    let id = st.create_label(&name, &hex, &description);
    match st.label(id) {
        Some(l) => (StatusCode::CREATED, axum::Json(label(&st, l))).into_response(),
        None => not_found(&st.origin),
    }
}

/// Gitea API: Get the authenticated user.
async fn me(Extract(shared): Extract<Shared>) -> Response {
    let st = lock(&shared);
    axum::Json(user(&st.origin, &st.token_user)).into_response()
}
