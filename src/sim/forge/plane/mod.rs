//! The Plane flavor: the work-item part of Plane's self-hosted REST API under `/api/v1`
//! (`plane/api/urls/`, `plane/api/views/`), authenticated by `X-API-Key`, for one project
//! of one workspace (`start`'s full name is `workspace-slug/project-uuid`).
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /workspaces/{slug}/projects/{p}/issues/?cursor&per_page` | 200 a cursor page of work items, newest first |
//! | `GET`, `PATCH /workspaces/{slug}/projects/{p}/issues/{id}/ {labels, state, name, description_html}` | 200 the work item; 400 an unknown state |
//! | `GET`, `POST …/issues/{id}/comments/ {comment_html}` | 200 a cursor page, newest first; 201 the comment |
//! | `GET`, `PATCH …/issues/{id}/comments/{comment_id}/ {comment_html}` | 200 the comment |
//! | `GET`, `POST /workspaces/{slug}/projects/{p}/labels/ {name, color}` | 200 a cursor page; 201 the label; 409 a name taken |
//! | `GET /workspaces/{slug}/projects/{p}/states/` | 200 a cursor page of the project's states |
//! | `GET /workspaces/{slug}/members/`, `GET /users/me/` | 200 the members (everyone seen); the token's user |
//!
//! Cursor pages are `plane/utils/paginator.py`'s: `{grouped_by, sub_grouped_by,
//! total_count, next_cursor, prev_cursor, next_page_results, prev_page_results, count,
//! total_pages, total_results, extra_stats, results}`, the cursor `per_page:page:is_prev`,
//! `per_page` 100 at most. No ETag, no `Last-Modified`, no label filter (filter the list
//! yourself). A path without its trailing slash is 301 to the one with it (Django's
//! `APPEND_SLASH`): a client that follows it turns a `POST` into a `GET`. Errors: `{"detail":
//! …}` from the framework, `{"error": …}` from Plane's views.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State as Extract};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::gate::plane_detail;
use super::http::{param, query_pairs};
use super::issues::{PLANE_STATES, plane_closed, uuid};
use super::state::State;
use super::{Shared, lock};
use payload::issue;

mod more;
mod payload;

pub(super) mod hook;

/// The routes; [`super::ForgeServer::start`] adds the key check and the state.
pub(super) fn routes() -> Router<Shared> {
    let project = "/api/v1/workspaces/{slug}/projects/{project}";
    Router::new()
        .route(&format!("{project}/issues/"), get(list))
        .route(
            &format!("{project}/issues/{{id}}/"),
            get(get_one).patch(patch),
        )
        .route(
            &format!("{project}/issues/{{id}}/comments/"),
            get(more::comments).post(more::create_comment),
        )
        .route(
            &format!("{project}/issues/{{id}}/comments/{{cid}}/"),
            get(more::get_comment).patch(more::edit_comment),
        )
        .route(
            &format!("{project}/labels/"),
            get(more::labels).post(more::create_label),
        )
        .route(&format!("{project}/states/"), get(more::states))
        .route("/api/v1/workspaces/{slug}/members/", get(more::members))
        .route("/api/v1/users/me/", get(more::me))
        .fallback(fallback)
        .method_not_allowed_fallback(not_allowed)
}

/// Plane views' error JSON: `{"error": …}`.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// The 404 of an object that is not there (Plane's `ObjectDoesNotExist` handler).
pub(super) fn missing() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "The requested resource does not exist.",
    )
}

/// Unknown paths: 301 to the path with a trailing slash (Django's `APPEND_SLASH`), else
/// 404.
async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    if path.ends_with('/') {
        return plane_detail(StatusCode::NOT_FOUND, "Not found.");
    }
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let to = HeaderValue::from_str(&format!("{path}/{query}"));
    match to {
        Ok(to) => (StatusCode::MOVED_PERMANENTLY, [(LOCATION, to)]).into_response(),
        Err(_) => plane_detail(StatusCode::NOT_FOUND, "Not found."),
    }
}

async fn not_allowed(req: Request) -> Response {
    let message = format!("Method \"{}\" not allowed.", req.method());
    plane_detail(StatusCode::METHOD_NOT_ALLOWED, &message)
}

/// Checks a path's workspace (403, the project permission) and project (404).
pub(super) fn scope(st: &State, slug: &str, project: &str) -> Result<(), Response> {
    if slug != st.owner {
        let detail = "You do not have permission to perform this action.";
        return Err(plane_detail(StatusCode::FORBIDDEN, detail));
    }
    if project != st.name {
        return Err(missing());
    }
    Ok(())
}

/// The number of the work item whose UUID is `id`.
pub(super) fn issue_number(st: &State, id: &str) -> Option<u64> {
    st.issues
        .iter()
        .map(|i| i.number)
        .find(|n| uuid("issue", *n) == id)
}

/// A cursor page of `items` (in the order given) as Plane's `BasePaginator.paginate`
/// answers: `per_page` (100, at most 100), `cursor` `per_page:page:is_prev`.
pub(super) fn cursor_page(raw: Option<&str>, items: Vec<Value>) -> Response {
    let q = query_pairs(raw);
    let per_page = match param(&q, "per_page").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if n > 100 => {
            let detail = "Invalid per_page value. Cannot exceed 100.";
            return plane_detail(StatusCode::BAD_REQUEST, detail);
        }
        Some(Ok(n)) => n.max(1),
        Some(Err(_)) => {
            return plane_detail(StatusCode::BAD_REQUEST, "Invalid per_page parameter.");
        }
    };
    let cursor = param(&q, "cursor").map_or_else(|| format!("{per_page}:0:0"), String::from);
    let bits: Vec<&str> = cursor.split(':').collect();
    let page = match bits.as_slice() {
        [value, page, prev] if value.parse::<f64>().is_ok() && prev.parse::<u8>().is_ok() => {
            match page.parse::<i64>() {
                Ok(p) if p >= 0 => usize::try_from(p).unwrap_or(0),
                Ok(_) => return plane_detail(StatusCode::BAD_REQUEST, "Error in parsing"),
                Err(_) => {
                    return plane_detail(StatusCode::BAD_REQUEST, "Invalid cursor parameter.");
                }
            }
        }
        _ => return plane_detail(StatusCode::BAD_REQUEST, "Invalid cursor parameter."),
    };
    let total = items.len();
    let start = page.saturating_mul(per_page);
    let results: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();
    let next = start.saturating_add(per_page) < total;
    let page_i = i64::try_from(page).unwrap_or(0);
    axum::Json(json!({
        "grouped_by": null,
        "sub_grouped_by": null,
        "total_count": total,
        "next_cursor": format!("{per_page}:{}:0", page_i + 1),
        "prev_cursor": format!("{per_page}:{}:1", page_i - 1),
        "next_page_results": next,
        "prev_page_results": page > 0,
        "count": results.len(),
        "total_pages": total.div_ceil(per_page),
        "total_results": total,
        "extra_stats": null,
        "results": results,
    }))
    .into_response()
}

/// Plane API: List work items (newest first).
async fn list(
    Extract(shared): Extract<Shared>,
    Path((slug, project)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = lock(&shared);
    if let Err(r) = scope(&st, &slug, &project) {
        return r;
    }
    let items = st.issues.iter().rev().map(|i| issue(&st, i)).collect();
    cursor_page(raw.as_deref(), items)
}

/// Plane API: Retrieve a work item.
async fn get_one(
    Extract(shared): Extract<Shared>,
    Path((slug, project, id)): Path<(String, String, String)>,
) -> Response {
    let st = lock(&shared);
    if let Err(r) = scope(&st, &slug, &project) {
        return r;
    }
    match issue_number(&st, &id).and_then(|n| st.issue(n)) {
        Some(i) => axum::Json(issue(&st, i)).into_response(),
        None => missing(),
    }
}

/// Plane API: Update a work item, by the key's user. `labels` replaces the set (UUIDs of
/// other projects' labels are dropped, as Plane's serializer does); `state` must be one of
/// the project's (400 otherwise); `name`, `description_html`. One webhook per field that
/// changed (`model_activity`).
async fn patch(
    Extract(shared): Extract<Shared>,
    Path((slug, project, id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    if let Err(r) = scope(&st, &slug, &project) {
        return r;
    }
    let Some(number) = issue_number(&st, &id) else {
        return missing();
    };
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        let detail = "JSON parse error - Expecting value: line 1 column 1 (char 0)";
        return plane_detail(StatusCode::BAD_REQUEST, detail);
    };
    let state = match v.get("state").and_then(Value::as_str) {
        None => None,
        Some(s) => match (0..PLANE_STATES.len()).find(|i| payload::state_id(*i) == s) {
            Some(i) => Some(i),
            None => {
                let message = format!("Invalid pk \"{s}\" - object does not exist.");
                let body = json!({ "state": [message] });
                return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
            }
        },
    };
    let me = st.token_user.clone();
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
    let (name, html) = (text("name"), text("description_html"));
    if name.is_some() || html.is_some() {
        st.edit_issue(&me, number, name.as_deref(), html.as_deref());
    }
    if let Some(list) = v.get("labels").and_then(Value::as_array) {
        let ids: Vec<u64> = list
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|s| st.labels.iter().find(|l| uuid("label", l.id) == s))
            .map(|l| l.id)
            .collect();
        st.set_labels(&me, number, ids);
    }
    if let Some(s) = state
        && st.issue(number).is_some_and(|i| i.plane_state != s)
    {
        st.move_state(&me, number, s, plane_closed(s));
    }
    match st.issue(number) {
        Some(i) => axum::Json(issue(&st, i)).into_response(),
        None => missing(),
    }
}
