//! The Gitea/Forgejo flavor: pull-request routes of the Gitea REST API under `/api/v1`, as
//! Gitea 1.22 and Forgejo 9 serve them (their swagger, `/api/swagger`), with their payloads
//! and error shapes (`{"message", "url"}`; a 404 also has `"errors": null`).
//!
//! | Route | Answer |
//! |---|---|
//! | `POST /api/v1/repos/{o}/{r}/pulls` | 201 the pull request; 404 a branch is missing; 409 an open one exists; 422 no changes |
//! | `GET /api/v1/repos/{o}/{r}/pulls?state&page&limit` | 200 the list, newest first, `X-Total-Count` |
//! | `GET /api/v1/repos/{o}/{r}/pulls/{n}` | 200 the pull request; 404 |
//! | `GET /api/v1/repos/{o}/{r}/pulls/{n}/merge` | 204 merged, 404 not |
//! | `GET /api/v1/repos/{o}/{r}/pulls/{n}/reviews` | 200 the reviews, oldest first |
//! | `GET /api/v1/repos/{o}/{r}/pulls/{base}/{head}` | 200 the newest pull request from `head` (may hold `/`, or be `owner:branch`) into `base`, any state; 404 |
//!
//! Gitea sends no ETag on API JSON and ignores `If-None-Match` there; so does this.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as Extract};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::state::{CreateError, PullRec, REPO_ID, State};
use super::{PullState, Shared, lock};
use payload::{pull, pull_id, review};

mod issue_payload;
mod issues;
mod payload;

pub(super) mod hook;

/// The routes; [`super::ForgeServer::start`] adds the token check and the state. Gitea
/// routes `/pulls/{index}`, `/pulls/{index}/merge`, `/pulls/{index}/reviews` and
/// `/pulls/{base}/*`; one wildcard route takes all four here and tells them apart by their
/// segments (a number first: the index routes, as Gitea's router matches them first).
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/repos/{owner}/{repo}/pulls", get(list).post(create))
        .route(
            "/api/v1/repos/{owner}/{repo}/pulls/{*rest}",
            get(under_pulls),
        )
        .merge(issues::routes())
        .fallback(fallback)
        .method_not_allowed_fallback(fallback)
}

/// 401: no token (`token is required`) or a wrong one (`invalid username, password or
/// token`), as Gitea 1.22 answers.
pub(super) fn unauthorized(origin: &str, message: &str) -> Response {
    error(origin, StatusCode::UNAUTHORIZED, message)
}

/// Gitea's error JSON (`APIError`): `{"message", "url"}`, `url` its swagger page.
pub(super) fn error(origin: &str, status: StatusCode, message: &str) -> Response {
    let body = json!({ "message": message, "url": format!("{origin}/api/swagger") });
    (status, axum::Json(body)).into_response()
}

/// Gitea's 404 (`APIContext.NotFound`).
pub(super) fn not_found(origin: &str) -> Response {
    let body = json!({
        "errors": null,
        "message": "The target couldn't be found.",
        "url": format!("{origin}/api/swagger"),
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

async fn fallback(Extract(shared): Extract<Shared>) -> Response {
    not_found(&lock(&shared).origin)
}

/// Gitea API: List a repo's pull requests. `state` `open` (default), `closed` or `all`;
/// newest first; pages of `limit` (30, at most 50, Gitea's `MAX_RESPONSE_ITEMS`).
async fn list(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(&st.origin);
    }
    st.refresh();
    let state = q.get("state").map_or("open", String::as_str);
    let limit = q
        .get("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 50);
    let page = q
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let matching: Vec<&PullRec> = st
        .pulls
        .iter()
        .rev()
        .filter(|p| state == "all" || p.state_word() == state)
        .collect();
    let total = matching.len();
    let items: Vec<Value> = matching
        .into_iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|p| pull(&st, p))
        .collect();
    let count = HeaderValue::from(total);
    (
        StatusCode::OK,
        [("x-total-count", count)],
        axum::Json(items),
    )
        .into_response()
}

/// Gitea API: Create a pull request. Body `{head, base, title, body?}`; `head` is `branch`
/// or `owner:branch` (this repository's owner: there are no forks here).
async fn create(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut st = lock(&shared);
    let origin = st.origin.clone();
    if !st.is_repo(&owner, &repo) {
        return not_found(&origin);
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return error(&origin, StatusCode::BAD_REQUEST, "invalid JSON body");
    };
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    for (name, shown) in [("head", "Head"), ("base", "Base"), ("title", "Title")] {
        if field(name).is_none() {
            let message = format!("[{shown}]: Required");
            return error(&origin, StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
    }
    let (head, base, title) = (
        field("head").unwrap_or_default(),
        field("base").unwrap_or_default(),
        field("title").unwrap_or_default(),
    );
    let Some(branch) = own_branch(&st, head) else {
        return not_found(&origin);
    };
    let text = field("body").unwrap_or_default();
    match st.create(title, text, branch, base, is_wip(title)) {
        Ok(n) => match st.pull(n) {
            Some(p) => (StatusCode::CREATED, axum::Json(pull(&st, p))).into_response(),
            None => error(&origin, StatusCode::INTERNAL_SERVER_ERROR, "lost"),
        },
        Err(CreateError::NoHead | CreateError::NoBase) => not_found(&origin),
        Err(CreateError::Exists(n)) => {
            let message = format!(
                "pull request already exists for these targets [id: {}, issue_id: {n}, \
                 head_repo_id: {REPO_ID}, base_repo_id: {REPO_ID}, head_branch: {branch}, \
                 base_branch: {base}]",
                pull_id(n)
            );
            error(&origin, StatusCode::CONFLICT, &message)
        }
        Err(CreateError::NoCommits) => error(
            &origin,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid PullRequest: There are no changes between the head and the base",
        ),
        Err(CreateError::Git(e)) => error(&origin, StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// The branch of a `head` given as `branch` or `owner:branch`; `None` for another owner.
fn own_branch<'a>(st: &State, head: &'a str) -> Option<&'a str> {
    match head.split_once(':') {
        Some((user, branch)) => user.eq_ignore_ascii_case(&st.owner).then_some(branch),
        None => Some(head),
    }
}

/// A work-in-progress title (Gitea's default `WORK_IN_PROGRESS_PREFIXES`): a draft.
fn is_wip(title: &str) -> bool {
    let t = title.trim_start().to_ascii_uppercase();
    t.starts_with("WIP:") || t.starts_with("[WIP]")
}

/// Everything under `/pulls/`: Get a pull request, Check if a pull request has been merged,
/// List all reviews for a pull request, and Get a pull request by base and head.
async fn under_pulls(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, rest)): Path<(String, String, String)>,
) -> Response {
    let mut st = lock(&shared);
    let origin = st.origin.clone();
    if !st.is_repo(&owner, &repo) {
        return not_found(&origin);
    }
    st.refresh();
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let index = segments.first().and_then(|s| s.parse::<u64>().ok());
    let found = |n: u64| st.pull(n);
    match (index, segments.as_slice()) {
        (Some(n), [_]) => match found(n) {
            Some(p) => axum::Json(pull(&st, p)).into_response(),
            None => not_found(&origin),
        },
        (Some(n), [_, "merge"]) => match found(n) {
            Some(p) if p.state == PullState::Merged => StatusCode::NO_CONTENT.into_response(),
            _ => StatusCode::NOT_FOUND.into_response(),
        },
        (Some(n), [_, "reviews"]) => match found(n) {
            Some(_) => {
                let list: Vec<Value> = st
                    .reviews
                    .iter()
                    .filter(|r| r.number == n)
                    .map(|r| review(&st, r))
                    .collect();
                axum::Json(list).into_response()
            }
            None => not_found(&origin),
        },
        (_, [base, head @ ..]) if !head.is_empty() && head.iter().all(|s| !s.is_empty()) => {
            let head = head.join("/");
            let pick = own_branch(&st, &head).and_then(|branch| {
                st.pulls
                    .iter()
                    .rev()
                    .find(|p| p.base == *base && p.head == branch)
            });
            match pick {
                Some(p) => axum::Json(pull(&st, p)).into_response(),
                None => not_found(&origin),
            }
        }
        _ => not_found(&origin),
    }
}
