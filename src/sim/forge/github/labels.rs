//! GitHub's label routes on issues (REST API 2022-11-28, "Labels"); see [`super::issues`]
//! for the table.

use axum::body::Bytes;
use axum::extract::{Path, State as Extract};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::super::http::conditional;
use super::super::state::State;
use super::super::{Shared, lock};
use super::issue_payload::label;
use super::issues::{find, not_found};
use super::{error, invalid};

const DOC_LABELS: &str = "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue";
const DOC_UNLABEL: &str = "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue";

/// The labels of issue `number`, GitHub's JSON.
fn labels_of(st: &State, number: u64) -> Value {
    let list: Vec<Value> = st
        .issue(number)
        .map(|i| i.labels.clone())
        .unwrap_or_default()
        .iter()
        .filter_map(|id| st.label(*id))
        .map(|l| label(st, l))
        .collect();
    Value::Array(list)
}

/// GitHub REST: List labels for an issue.
pub(super) async fn issue_labels(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let st = lock(&shared);
    match find(&st, &owner, &repo, &n, DOC_LABELS) {
        Ok(n) => conditional(&headers, &labels_of(&st, n), None),
        Err(r) => r,
    }
}

/// GitHub REST: Add labels to an issue. Body `{"labels": ["a", …]}`, `{"labels": [{"name":
/// "a"}]}` or `["a", …]`; a name the repository lacks is created (color `ededed`).
pub(super) async fn add_labels(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let mut st = lock(&shared);
    let number = match find(&st, &owner, &repo, &n, DOC_LABELS) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        return error(StatusCode::BAD_REQUEST, "Problems parsing JSON", DOC_LABELS);
    };
    let list = v.get("labels").unwrap_or(&v).as_array().cloned();
    let Some(list) = list else {
        let e = json!([{"resource": "Label", "code": "invalid", "field": "labels"}]);
        return invalid(e, DOC_LABELS);
    };
    let names: Vec<String> = list
        .iter()
        .filter_map(|l| l.as_str().or_else(|| l.get("name").and_then(Value::as_str)))
        .map(String::from)
        .collect();
    let ids: Vec<u64> = names.iter().map(|n| st.ensure_label(n)).collect();
    let me = st.token_user.clone();
    st.add_labels(&me, number, &ids);
    axum::Json(labels_of(&st, number)).into_response()
}

/// GitHub REST: Remove a label from an issue; 404 "Label does not exist" when the issue
/// does not have it.
pub(super) async fn remove_label(
    Extract(shared): Extract<Shared>,
    Path((owner, repo, n, name)): Path<(String, String, String, String)>,
) -> Response {
    let mut st = lock(&shared);
    let number = match find(&st, &owner, &repo, &n, DOC_UNLABEL) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let me = st.token_user.clone();
    let id = st.label_named(&name).map(|l| l.id);
    match id {
        Some(id) if st.remove_label(&me, number, id) => {
            axum::Json(labels_of(&st, number)).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "Label does not exist", DOC_UNLABEL),
    }
}

/// GitHub REST: List labels for a repository.
pub(super) async fn repo_labels(
    Extract(shared): Extract<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let st = lock(&shared);
    if !st.is_repo(&owner, &repo) {
        return not_found(DOC_LABELS);
    }
    let list: Vec<Value> = st.labels.iter().map(|l| label(&st, l)).collect();
    conditional(&headers, &Value::Array(list), None)
}
