//! Plane's comment, label, state and user routes (see [`super`] for the table).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::super::issues::{PLANE_STATES, uuid};
use super::super::state::State;
use super::super::{Shared, lock};
use super::payload::{comment, label, member, state, user};
use super::{cursor_page, error, issue_number, missing, scope};

/// The work item a path names, after the scope checks.
fn item(st: &State, slug: &str, project: &str, id: &str) -> Result<u64, Response> {
    scope(st, slug, project)?;
    issue_number(st, id).ok_or_else(missing)
}

/// `comment_html` of a request; `Err` the 400.
fn html_of(bytes: &Bytes) -> Result<String, Response> {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    match v.get("comment_html").and_then(Value::as_str) {
        Some(h) if !h.is_empty() => Ok(h.to_string()),
        _ => {
            let body = json!({ "comment_html": ["This field is required."] });
            Err((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
        }
    }
}

/// Plane API: List work item comments (newest first).
pub(super) async fn comments(
    Extract(shared): Extract<Shared>,
    Path((slug, project, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = lock(&shared);
    let number = match item(&st, &slug, &project, &id) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let mut list: Vec<Value> = st
        .comments_of(number)
        .map(|c| comment(&st, c, true))
        .collect();
    list.reverse();
    cursor_page(raw.as_deref(), list)
}

/// Plane API: Create a work item comment (by the key's user). Body `{comment_html,
/// access?}`.
pub(super) async fn create_comment(
    Extract(shared): Extract<Shared>,
    Path((slug, project, id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    let number = match item(&st, &slug, &project, &id) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let html = match html_of(&bytes) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let me = st.token_user.clone();
    match st
        .add_comment(&me, number, &html)
        .and_then(|c| st.comment(c))
    {
        Some(c) => (StatusCode::CREATED, axum::Json(comment(&st, c, true))).into_response(),
        None => missing(),
    }
}

/// The comment a path names, on the work item it names.
fn comment_of(st: &State, number: u64, cid: &str) -> Option<u64> {
    st.comments_of(number)
        .find(|c| uuid("comment", c.id) == cid)
        .map(|c| c.id)
}

/// Plane API: Retrieve a work item comment.
pub(super) async fn get_comment(
    Extract(shared): Extract<Shared>,
    Path((slug, project, id, cid)): Path<(String, String, String, String)>,
) -> Response {
    let st = lock(&shared);
    let found = item(&st, &slug, &project, &id).map(|n| comment_of(&st, n, &cid));
    match found {
        Ok(Some(c)) => match st.comment(c) {
            Some(c) => axum::Json(comment(&st, c, true)).into_response(),
            None => missing(),
        },
        Ok(None) => missing(),
        Err(r) => r,
    }
}

/// Plane API: Update a work item comment (`comment_html`; `edited_at` set).
pub(super) async fn edit_comment(
    Extract(shared): Extract<Shared>,
    Path((slug, project, id, cid)): Path<(String, String, String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    let found = item(&st, &slug, &project, &id).map(|n| comment_of(&st, n, &cid));
    let c = match found {
        Ok(Some(c)) => c,
        Ok(None) => return missing(),
        Err(r) => return r,
    };
    let html = match html_of(&bytes) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let me = st.token_user.clone();
    st.edit_comment(&me, c, &html);
    match st.comment(c) {
        Some(c) => axum::Json(comment(&st, c, true)).into_response(),
        None => missing(),
    }
}

/// Plane API: List labels (newest first).
pub(super) async fn labels(
    Extract(shared): Extract<Shared>,
    Path((slug, project)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = lock(&shared);
    if let Err(r) = scope(&st, &slug, &project) {
        return r;
    }
    let list = st.labels.iter().rev().map(|l| label(&st, l)).collect();
    cursor_page(raw.as_deref(), list)
}

/// Plane API: Create a label. `name` required; `color` `#rrggbb` (default `#000000`); a
/// name the project has is 409.
pub(super) async fn create_label(
    Extract(shared): Extract<Shared>,
    Path((slug, project)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    if let Err(r) = scope(&st, &slug, &project) {
        return r;
    }
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let field = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let Some(name) = field("name").map(String::from) else {
        let body = json!({ "name": ["This field is required."] });
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    };
    if let Some(l) = st.labels.iter().find(|l| l.name == name) {
        let body = json!({
            "error": "Label with the same name already exists in the project",
            "id": uuid("label", l.id),
        });
        return (StatusCode::CONFLICT, axum::Json(body)).into_response();
    }
    let color = field("color").unwrap_or("#000000").to_string();
    let description = field("description").unwrap_or_default().to_string();
    let id = st.create_label(&name, &color, &description);
    match st.label(id) {
        Some(l) => (StatusCode::CREATED, axum::Json(label(&st, l))).into_response(),
        None => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong please try again later",
        ),
    }
}

/// Plane API: List states (the project's five, in order).
pub(super) async fn states(
    Extract(shared): Extract<Shared>,
    Path((slug, project)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = lock(&shared);
    if let Err(r) = scope(&st, &slug, &project) {
        return r;
    }
    let list = (0..PLANE_STATES.len()).map(|i| state(&st, i)).collect();
    cursor_page(raw.as_deref(), list)
}

/// Plane API: List workspace members — the owner (admin, role 20), the key's user and
/// everyone who opened or commented on a work item (members, role 15).
pub(super) async fn members(
    Extract(shared): Extract<Shared>,
    Path(slug): Path<String>,
) -> Response {
    let st = lock(&shared);
    if slug != st.owner {
        return super::super::gate::plane_detail(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        );
    }
    let mut logins: Vec<&str> = vec![st.owner.as_str(), st.token_user.as_str()];
    logins.extend(st.issues.iter().map(|i| i.author.as_str()));
    logins.extend(st.comments.iter().map(|c| c.user.as_str()));
    let mut seen = Vec::new();
    for l in logins {
        if !seen.contains(&l) {
            seen.push(l);
        }
    }
    let list: Vec<Value> = seen
        .iter()
        .map(|l| member(l, if *l == st.owner { 20 } else { 15 }))
        .collect();
    axum::Json(list).into_response()
}

/// Plane API: Get the current user (the key's).
pub(super) async fn me(Extract(shared): Extract<Shared>) -> Response {
    let st = lock(&shared);
    let mut v = user(&st.token_user);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "email".into(),
            json!(format!("{}@example.com", st.token_user)),
        );
    }
    axum::Json(v).into_response()
}
