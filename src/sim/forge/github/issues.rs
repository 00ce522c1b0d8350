//! GitHub's issue routes (REST API 2022-11-28, "Issues", "Issue comments", "Labels").
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /repos/{o}/{r}/issues?state&labels&since&sort&direction&per_page&page` | 200 issues and pull requests (`pull_request` key), newest first; `Link`; 422 bad `state` |
//! | `GET /repos/{o}/{r}/issues/{n}` | 200 the issue (or the pull request as an issue); 404 |
//! | `GET /repos/{o}/{r}/issues/{n}/comments?since&per_page&page` | 200 its comments, oldest first |
//! | `POST /repos/{o}/{r}/issues/{n}/comments {body}` | 201 the comment, `Location`; 422 no body |
//! | `GET /repos/{o}/{r}/issues/comments?since&sort&direction&per_page&page` | 200 the repository's comments (ascending) |
//! | `GET`, `PATCH` (and `POST`, as octocrab sends) `/repos/{o}/{r}/issues/comments/{id}` | 200 the comment |
//! | `GET`, `POST /repos/{o}/{r}/issues/{n}/labels {labels: [names]}` | 200 the issue's labels (unknown names are created) |
//! | `DELETE /repos/{o}/{r}/issues/{n}/labels/{name}` | 200 the labels left; 404 "Label does not exist" |
//! | `GET /repos/{o}/{r}/labels`, `GET /user` | 200 |
//!
//! Lists and single reads carry `ETag` and `Last-Modified` (the newest change among the
//! repository's issues or the listed comments) and answer 304 to a matching
//! `If-None-Match` or a not-older `If-Modified-Since`. Comments and labels on a pull
//! request's number are 404 here (GitHub takes them).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Extract};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};

use super::super::http::{conditional, link, number, page_of, param, parse_time, query_pairs};
use super::super::issues::CommentRec;
use super::super::state::State;
use super::super::{Shared, lock};
use super::issue_payload::{comment, issue, pull_issue};
use super::payload::user;
use super::{error, invalid, labels};

const DOC_LIST: &str = "https://docs.github.com/rest/issues/issues#list-repository-issues";
const DOC_GET: &str = "https://docs.github.com/rest/issues/issues#get-an-issue";
const DOC_COMMENTS: &str =
    "https://docs.github.com/rest/issues/comments#list-issue-comments-for-a-repository";
const DOC_COMMENT: &str = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";

/// The routes.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/repos/{owner}/{repo}/issues", get(list))
        .route("/repos/{owner}/{repo}/issues/comments", get(repo_comments))
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            get(get_comment).patch(edit_comment).post(edit_comment),
        )
        .route("/repos/{owner}/{repo}/issues/{n}", get(get_one))
        .route(
            "/repos/{owner}/{repo}/issues/{n}/comments",
            get(comments).post(create_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{n}/labels",
            get(labels::issue_labels).post(labels::add_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{n}/labels/{name}",
            delete(labels::remove_label),
        )
        .route("/repos/{owner}/{repo}/labels", get(labels::repo_labels))
        .route("/user", get(me))
}

pub(super) fn not_found(doc: &str) -> Response {
    error(StatusCode::NOT_FOUND, "Not Found", doc)
}

/// The newest change among the repository's issues and pull requests (`Last-Modified`).
fn newest(st: &State) -> u64 {
    let issues = st.issues.iter().map(|i| i.updated_at);
    issues
        .chain(st.pulls.iter().map(|p| p.updated_at))
        .max()
        .unwrap_or(0)
}

/// A 200 page of `items` with its `Link`, conditional on `modified`.
fn paged(
    st: &State,
    headers: &HeaderMap,
    path: &str,
    query: &[(String, String)],
    items: Vec<Value>,
    modified: u64,
) -> Response {
    let per_page = number(query, "per_page", 30, 100);
    let page = number(query, "page", 1, usize::MAX);
    let (items, last) = page_of(items, page, per_page);
    let mut r = conditional(headers, &Value::Array(items), Some(modified));
    let base = format!("{}/repos/{}{path}", st.origin, st.full_name());
    if let Some(v) = link(&base, query, "page", page, last) {
        r.headers_mut().insert("link", v);
    }
    r
}

/// One issue or pull request of the list, with what it is filtered and sorted by.
struct Row {
    number: u64,
    created: u64,
    updated: u64,
    comments: usize,
    open: bool,
    labels: Vec<String>,
    json: Value,
}

/// GitHub REST: List repository issues. `state` open (default), closed or all; `labels`
/// comma-separated, every one required (names without case); `since` updated at or after;
/// `sort` created (default), updated or comments; `direction` desc (default) or asc.
async fn list(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(DOC_LIST);
    }
    if !st.pulls.is_empty() {
        st.refresh();
    }
    let q = query_pairs(raw.as_deref());
    let state = param(&q, "state").unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        let e = json!([{"resource": "Issue", "field": "state", "code": "invalid"}]);
        return invalid(e, DOC_LIST);
    }
    let wanted: Vec<&str> = param(&q, "labels")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let since = param(&q, "since").and_then(parse_time).unwrap_or(0);
    let mut rows: Vec<Row> = Vec::new();
    for i in &st.issues {
        rows.push(Row {
            number: i.number,
            created: i.created_at,
            updated: i.updated_at,
            comments: st.comments_of(i.number).count(),
            open: !i.closed,
            labels: st.label_names(i),
            json: issue(&st, i, false),
        });
    }
    for p in &st.pulls {
        rows.push(Row {
            number: p.number,
            created: p.created_at,
            updated: p.updated_at,
            comments: 0,
            open: p.state == super::super::PullState::Open,
            labels: Vec::new(),
            json: pull_issue(&st, p),
        });
    }
    rows.retain(|r| {
        (state == "all" || (state == "open") == r.open)
            && r.updated >= since
            && wanted
                .iter()
                .all(|w| r.labels.iter().any(|l| l.eq_ignore_ascii_case(w)))
    });
    match param(&q, "sort").unwrap_or("created") {
        "updated" => rows.sort_by_key(|r| (r.updated, r.number)),
        "comments" => rows.sort_by_key(|r| (r.comments, r.number)),
        _ => rows.sort_by_key(|r| (r.created, r.number)),
    }
    if param(&q, "direction") != Some("asc") {
        rows.reverse();
    }
    let items = rows.into_iter().map(|r| r.json).collect();
    let modified = newest(&st);
    paged(&st, &headers, "/issues", &q, items, modified)
}

/// GitHub REST: Get an issue (a pull request's number gives the pull request as an issue).
async fn get_one(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(DOC_GET);
    }
    let n = n.parse::<u64>().unwrap_or(0);
    if let Some(i) = st.issue(n) {
        return conditional(&headers, &issue(&st, i, true), Some(i.updated_at));
    }
    st.refresh();
    match st.pull(n) {
        Some(p) => conditional(&headers, &pull_issue(&st, p), Some(p.updated_at)),
        None => not_found(DOC_GET),
    }
}

/// The issue a path names (`Err`: the 404).
pub(super) fn find(
    st: &State,
    owner: &str,
    repo: &str,
    n: &str,
    doc: &str,
) -> Result<u64, Response> {
    n.parse::<u64>()
        .ok()
        .filter(|n| st.is_repo(owner, repo) && st.issue(*n).is_some())
        .ok_or_else(|| not_found(doc))
}

/// GitHub REST: List issue comments. `since`: updated at or after; oldest first.
async fn comments(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = lock(&shared);
    let number = match find(&st, &owner, &repo, &n, DOC_COMMENTS) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let q = query_pairs(raw.as_deref());
    let since = param(&q, "since").and_then(parse_time).unwrap_or(0);
    let all: Vec<&CommentRec> = st.comments_of(number).collect();
    let modified = all.iter().map(|c| c.updated_at).max().unwrap_or(0);
    let items = all
        .into_iter()
        .filter(|c| c.updated_at >= since)
        .map(|c| comment(&st, c))
        .collect();
    paged(
        &st,
        &headers,
        &format!("/issues/{number}/comments"),
        &q,
        items,
        modified,
    )
}

/// GitHub REST: List issue comments for a repository. `sort` created (default) or
/// updated, `direction` asc (default) or desc, `since` updated at or after.
async fn repo_comments(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(DOC_COMMENTS);
    }
    let q = query_pairs(raw.as_deref());
    let since = param(&q, "since").and_then(parse_time).unwrap_or(0);
    let mut all: Vec<&CommentRec> = st.comments.iter().collect();
    let modified = all.iter().map(|c| c.updated_at).max().unwrap_or(0);
    all.retain(|c| c.updated_at >= since);
    if param(&q, "sort") == Some("updated") {
        all.sort_by_key(|c| (c.updated_at, c.id));
    }
    if param(&q, "direction") == Some("desc") {
        all.reverse();
    }
    let items = all.into_iter().map(|c| comment(&st, c)).collect();
    paged(&st, &headers, "/issues/comments", &q, items, modified)
}

/// The `body` of a JSON request body; `Err` the 400 or 422.
fn body_field(bytes: &Bytes, resource: &str, doc: &str) -> Result<String, Response> {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return Err(error(StatusCode::BAD_REQUEST, "Problems parsing JSON", doc));
    };
    match v.get("body").and_then(Value::as_str) {
        Some(b) if !b.is_empty() => Ok(b.to_string()),
        _ => Err(invalid(
            json!([{"resource": resource, "code": "missing_field", "field": "body"}]),
            doc,
        )),
    }
}

/// GitHub REST: Create an issue comment (by the token's user).
async fn create_comment(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    let number = match find(&st, &owner, &repo, &n, DOC_COMMENT) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let text = match body_field(&bytes, "IssueComment", DOC_COMMENT) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let me = st.token_user.clone();
    let made = st
        .add_comment(&me, number, &text)
        .and_then(|id| st.comment(id));
    match made {
        Some(c) => {
            let v = comment(&st, c);
            let url = v["url"].as_str().unwrap_or_default();
            let location = HeaderValue::from_str(url).unwrap_or(HeaderValue::from_static("/"));
            (StatusCode::CREATED, [(LOCATION, location)], axum::Json(v)).into_response()
        }
        None => not_found(DOC_COMMENT),
    }
}

/// A comment id from the path (the API's id); `None` when unknown.
fn comment_of(st: &State, owner: &str, repo: &str, id: &str) -> Option<u64> {
    let id = id.parse::<u64>().ok()?.checked_sub(1_100_000_000)?;
    (st.is_repo(owner, repo) && st.comment(id).is_some()).then_some(id)
}

/// GitHub REST: Get an issue comment.
async fn get_comment(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let st = lock(&shared);
    match comment_of(&st, &owner, &repo, &id).and_then(|id| st.comment(id)) {
        Some(c) => conditional(&headers, &comment(&st, c), Some(c.updated_at)),
        None => not_found(DOC_COMMENT),
    }
}

/// GitHub REST: Update an issue comment (`PATCH`; octocrab 0.54 sends `POST`, which
/// GitHub takes for `PATCH`).
async fn edit_comment(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    let Some(id) = comment_of(&st, &owner, &repo, &id) else {
        return not_found(DOC_COMMENT);
    };
    let text = match body_field(&bytes, "IssueComment", DOC_COMMENT) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let me = st.token_user.clone();
    st.edit_comment(&me, id, &text);
    match st.comment(id) {
        Some(c) => axum::Json(comment(&st, c)).into_response(),
        None => not_found(DOC_COMMENT),
    }
}

/// GitHub REST: Get the authenticated user (the token's user).
async fn me(Extract(shared): Extract<Shared>, headers: HeaderMap) -> Response {
    let st = lock(&shared);
    conditional(&headers, &user(&st.origin, &st.token_user), None)
}
