//! The GitHub flavor: pull-request routes of the GitHub REST API (version 2022-11-28) at
//! the paths api.github.com serves them, with its payloads and error shapes, so octocrab
//! 0.54 (and anything else written against api.github.com) parses them.
//!
//! | Route | Answer (GitHub REST docs, "Pulls" and "Reviews") |
//! |---|---|
//! | `POST /repos/{o}/{r}/pulls` | 201 the pull request, `Location` its URL; 422 "Validation Failed" |
//! | `GET /repos/{o}/{r}/pulls?state&head&base&sort&direction&per_page&page` | 200 the list (the "simple" shape), `Link` when there are more pages |
//! | `GET /repos/{o}/{r}/pulls/{n}` | 200 the pull request; 404 |
//! | `GET /repos/{o}/{r}/pulls/{n}/merge` | 204 merged, 404 not |
//! | `GET /repos/{o}/{r}/pulls/{n}/reviews` | 200 the reviews, oldest first |
//!
//! Every 200 carries `ETag: W/"<sha-256 of the body>"`; a GET whose `If-None-Match` names
//! it gets 304 with no body (GitHub's conditional requests). Anything else is 404 with
//! GitHub's error JSON.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as Extract};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::state::{CreateError, PullRec, State};
use super::{PullState, Shared, lock};
use payload::{pull, review};

mod issue_payload;
mod issues;
mod labels;
mod payload;

pub(super) mod hook;

const DOCS: &str = "https://docs.github.com/rest";
const DOC_CREATE: &str = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";
const DOC_LIST: &str = "https://docs.github.com/rest/pulls/pulls#list-pull-requests";
const DOC_GET: &str = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request";
const DOC_MERGED: &str =
    "https://docs.github.com/rest/pulls/pulls#check-if-a-pull-request-has-been-merged";
const DOC_REVIEWS: &str =
    "https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request";

/// The routes; [`super::ForgeServer::start`] adds the token check and the state.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/repos/{owner}/{repo}/pulls", get(list).post(create))
        .route("/repos/{owner}/{repo}/pulls/{n}", get(get_one))
        .route("/repos/{owner}/{repo}/pulls/{n}/merge", get(merged))
        .route("/repos/{owner}/{repo}/pulls/{n}/reviews", get(reviews))
        .merge(issues::routes())
        .fallback(fallback)
        .method_not_allowed_fallback(fallback)
}

/// 401 for a missing or wrong token (GitHub REST, "Authenticating to the REST API").
pub(super) fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS)
}

/// GitHub's error JSON: `{"message", "documentation_url", "status"}`.
pub(super) fn error(status: StatusCode, message: &str, doc: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": doc,
        "status": status.as_u16().to_string(),
    });
    (status, axum::Json(body)).into_response()
}

/// 422 "Validation Failed" with `errors`.
pub(super) fn invalid(errors: Value, doc: &str) -> Response {
    let body = json!({
        "message": "Validation Failed",
        "errors": errors,
        "documentation_url": doc,
        "status": "422",
    });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

async fn fallback() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found", DOCS)
}

/// 200 with `body` and its ETag, or 304 when the request's `If-None-Match` names the ETag.
fn conditional(headers: &HeaderMap, body: &Value) -> Response {
    super::http::conditional(headers, body, None)
}

/// GitHub REST: List pull requests. Filters `state` (`open` default, `closed`, `all`),
/// `head` (`owner:branch`; without the `owner:` the filter is ignored, as GitHub does),
/// `base`; `sort` `created` (default) or `updated`, `direction` (`desc` default for
/// `created`, else `asc`); pages of `per_page` (30, at most 100).
async fn list(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return error(StatusCode::NOT_FOUND, "Not Found", DOC_LIST);
    }
    st.refresh();
    let state = q.get("state").map_or("open", String::as_str);
    if !matches!(state, "open" | "closed" | "all") {
        let e = json!([{"resource": "Issue", "field": "state", "code": "invalid"}]);
        return invalid(e, DOC_LIST);
    }
    let head = q
        .get("head")
        .and_then(|h| h.split_once(':'))
        .map(|(user, branch)| (user.to_string(), branch.to_string()));
    let mut pulls: Vec<&PullRec> = st
        .pulls
        .iter()
        .filter(|p| state == "all" || p.state_word() == state)
        .filter(|p| {
            head.as_ref().is_none_or(|(user, branch)| {
                user.eq_ignore_ascii_case(&st.owner) && p.head == *branch
            })
        })
        .filter(|p| q.get("base").is_none_or(|b| p.base == *b))
        .collect();
    let sort = q.get("sort").map_or("created", String::as_str);
    if sort == "updated" {
        pulls.sort_by_key(|p| (p.updated_at, p.number));
    }
    let default_desc = sort == "created";
    if q.get("direction").map_or(default_desc, |d| d == "desc") {
        pulls.reverse();
    }
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = q
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = pulls.len();
    let items: Vec<Value> = pulls
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|p| pull(&st, p, false))
        .collect();
    let mut response = conditional(&headers, &Value::Array(items));
    let last = total.div_ceil(per_page).max(1);
    if page < last {
        let mut query: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        query.sort();
        let base = format!("{}/repos/{}/pulls", st.origin, st.full_name());
        let link = |n: usize, rel: &str| {
            let mut parts: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            parts.push(format!("page={n}"));
            format!("<{base}?{}>; rel=\"{rel}\"", parts.join("&"))
        };
        let value = format!("{}, {}", link(page + 1, "next"), link(last, "last"));
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert("link", v);
        }
    }
    response
}

/// GitHub REST: Create a pull request. Body `{title, head, base, body?, draft?}`; `head` is
/// `branch` or `owner:branch` (this repository's owner: there are no forks here).
async fn create(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return error(StatusCode::NOT_FOUND, "Not Found", DOC_CREATE);
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Problems parsing JSON", DOC_CREATE);
    };
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    for name in ["title", "head", "base"] {
        if field(name).is_none() {
            let e = json!([{"resource": "PullRequest", "field": name, "code": "missing_field"}]);
            return invalid(e, DOC_CREATE);
        }
    }
    let (title, head, base) = (
        field("title").unwrap_or_default(),
        field("head").unwrap_or_default(),
        field("base").unwrap_or_default(),
    );
    let text = field("body").unwrap_or_default();
    let draft = v.get("draft").and_then(Value::as_bool).unwrap_or(false);
    let branch = match head.split_once(':') {
        Some((user, b)) if user.eq_ignore_ascii_case(&st.owner) => b,
        Some(_) => "",
        None => head,
    };
    match st.create(title, text, branch, base, draft) {
        Ok(n) => {
            let Some(p) = st.pull(n) else {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error", DOCS);
            };
            let body = pull(&st, p, true);
            let url = body["url"].as_str().unwrap_or_default().to_string();
            let location = HeaderValue::from_str(&url).unwrap_or(HeaderValue::from_static("/"));
            (
                StatusCode::CREATED,
                [(LOCATION, location)],
                axum::Json(body),
            )
                .into_response()
        }
        Err(CreateError::NoHead) => invalid(
            json!([{"resource": "PullRequest", "field": "head", "code": "invalid"}]),
            DOC_CREATE,
        ),
        Err(CreateError::NoBase) => invalid(
            json!([{"resource": "PullRequest", "field": "base", "code": "invalid"}]),
            DOC_CREATE,
        ),
        Err(CreateError::Exists(_)) => {
            let message = format!("A pull request already exists for {}:{branch}.", st.owner);
            invalid(
                json!([{"resource": "PullRequest", "code": "custom", "message": message}]),
                DOC_CREATE,
            )
        }
        Err(CreateError::NoCommits) => {
            let message = format!("No commits between {base} and {branch}");
            invalid(
                json!([{"resource": "PullRequest", "code": "custom", "message": message}]),
                DOC_CREATE,
            )
        }
        Err(CreateError::Git(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e, DOCS),
    }
}

/// The number of the pull request a path names, after reading the branches again; `Err`
/// is the 404.
fn find(st: &mut State, owner: &str, repo: &str, n: &str, doc: &str) -> Result<u64, Response> {
    if !st.is_repo(owner, repo) {
        return Err(error(StatusCode::NOT_FOUND, "Not Found", doc));
    }
    st.refresh();
    n.parse::<u64>()
        .ok()
        .filter(|n| st.pull(*n).is_some())
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found", doc))
}

/// GitHub REST: Get a pull request.
async fn get_one(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut st = lock(&shared);
    let found = find(&mut st, &owner, &repo, &n, DOC_GET);
    match found.map(|n| st.pull(n)) {
        Ok(Some(p)) => conditional(&headers, &pull(&st, p, true)),
        Ok(None) => error(StatusCode::NOT_FOUND, "Not Found", DOC_GET),
        Err(r) => r,
    }
}

/// GitHub REST: Check if a pull request has been merged (204 yes, 404 no).
async fn merged(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
) -> Response {
    let mut st = lock(&shared);
    let found = find(&mut st, &owner, &repo, &n, DOC_MERGED);
    match found.map(|n| st.pull(n)) {
        Ok(Some(p)) if p.state == PullState::Merged => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => error(StatusCode::NOT_FOUND, "Not Found", DOC_MERGED),
        Err(r) => r,
    }
}

/// GitHub REST: List reviews for a pull request (oldest first).
async fn reviews(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut st = lock(&shared);
    let number = match find(&mut st, &owner, &repo, &n, DOC_REVIEWS) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let list: Vec<Value> = st
        .reviews
        .iter()
        .filter(|r| r.number == number)
        .map(|r| review(&st, r))
        .collect();
    conditional(&headers, &Value::Array(list))
}
