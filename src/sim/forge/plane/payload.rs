//! Plane's JSON, field for field as the self-hosted API (`/api/v1`) sends it: work items
//! (`plane/api/serializers/issue.py`, `IssueSerializer`: labels and assignees as UUIDs,
//! `description_stripped` left out), comments (`IssueCommentSerializer`), labels
//! (`LabelSerializer`), states (`StateSerializer`), users (`UserLiteSerializer`); and the
//! expanded work item webhooks carry (`IssueExpandSerializer`). Ids are stable UUIDs made
//! from the forge's own numbers ([`super::super::issues::uuid`]).

use serde_json::{Value, json};

use super::super::issues::{CommentRec, IssueRec, LabelRec, PLANE_STATES, uuid};
use super::super::state::State;
use super::super::{joined, rfc3339};

/// The project's creation time (its labels' and states' timestamps).
const CREATED: &str = "2024-01-01T00:00:00Z";

/// A user's UUID.
pub(super) fn user_id(login: &str) -> String {
    uuid(&format!("user-{login}"), 0)
}

/// The workspace's UUID.
pub(super) fn workspace_id(st: &State) -> String {
    uuid(&format!("workspace-{}", st.owner), 0)
}

/// A state's UUID (index into [`PLANE_STATES`]).
pub(super) fn state_id(index: usize) -> String {
    uuid("state", u64::try_from(index).unwrap_or(0))
}

/// Plane's `UserLiteSerializer`.
pub(super) fn user(login: &str) -> Value {
    json!({
        "id": user_id(login),
        "first_name": login,
        "last_name": "",
        "avatar": "",
        "avatar_url": null,
        "is_bot": false,
        "display_name": login,
    })
}

/// A workspace member as `GET /workspaces/{slug}/members/` lists it.
pub(super) fn member(login: &str, role: u32) -> Value {
    json!({
        "id": user_id(login),
        "first_name": login,
        "last_name": "",
        "email": format!("{login}@example.com"),
        "avatar": "",
        "avatar_url": null,
        "display_name": login,
        "role": role,
    })
}

/// The audit fields every project object has.
fn audit(st: &State, by: &str, created: &str, updated: &str) -> Value {
    json!({
        "created_at": created,
        "updated_at": updated,
        "deleted_at": null,
        "created_by": user_id(by),
        "updated_by": user_id(by),
        "project": st.name,
        "workspace": workspace_id(st),
        "external_source": null,
        "external_id": null,
    })
}

/// Plane's `LabelSerializer`.
pub(super) fn label(st: &State, l: &LabelRec) -> Value {
    let v = json!({
        "id": uuid("label", l.id),
        "name": l.name,
        "description": l.description,
        "color": format!("#{}", l.color),
        "sort_order": 65535.0 * f64::from(u32::try_from(l.id).unwrap_or(0)),
        "parent": null,
    });
    joined(v, audit(st, &st.owner, CREATED, CREATED))
}

/// Plane's `StateSerializer` for state `index`.
pub(super) fn state(st: &State, index: usize) -> Value {
    let (name, group, color) = PLANE_STATES.get(index).copied().unwrap_or(("", "", ""));
    let v = json!({
        "id": state_id(index),
        "name": name,
        "description": "",
        "color": color,
        "slug": name.to_ascii_lowercase().replace(' ', "-"),
        "sequence": 15000.0 * f64::from(u32::try_from(index + 1).unwrap_or(0)),
        "group": group,
        "is_triage": false,
        "default": index == 0,
    });
    joined(v, audit(st, &st.owner, CREATED, CREATED))
}

/// Text without its HTML tags, entities decoded (`description_stripped`).
pub(super) fn stripped(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The fields of a work item both shapes share.
fn issue_common(st: &State, i: &IssueRec) -> Value {
    let v = json!({
        "id": uuid("issue", i.number),
        "type_id": null,
        "point": null,
        "name": i.title,
        "description_html": i.body,
        "description_binary": null,
        "priority": "none",
        "start_date": null,
        "target_date": null,
        "sequence_id": i.number,
        "sort_order": 65535.0 * f64::from(u32::try_from(i.number).unwrap_or(0)),
        "completed_at": i.closed_at.map(rfc3339),
        "archived_at": null,
        "is_draft": false,
        "parent": null,
        "estimate_point": null,
    });
    let (created, updated) = (rfc3339(i.created_at), rfc3339(i.updated_at));
    joined(v, audit(st, &i.author, &created, &updated))
}

/// A work item as the REST API sends it: `state`, `labels`, `assignees` as UUIDs.
pub(super) fn issue(st: &State, i: &IssueRec) -> Value {
    let labels: Vec<String> = i.labels.iter().map(|id| uuid("label", *id)).collect();
    let extra = json!({
        "state": state_id(i.plane_state),
        "labels": labels,
        "assignees": [],
    });
    joined(issue_common(st, i), extra)
}

/// A work item as webhooks carry it (`IssueExpandSerializer` with labels and assignees
/// expanded): `state` `{id, name, color, group}`, `labels` `[{id, name, color}]`,
/// `description_stripped` included.
pub(super) fn issue_expanded(st: &State, i: &IssueRec) -> Value {
    let labels: Vec<Value> = i
        .labels
        .iter()
        .filter_map(|id| st.label(*id))
        .map(|l| json!({ "id": uuid("label", l.id), "name": l.name, "color": format!("#{}", l.color) }))
        .collect();
    let (name, group, color) = PLANE_STATES
        .get(i.plane_state)
        .copied()
        .unwrap_or(("", "", ""));
    let extra = json!({
        "state": { "id": state_id(i.plane_state), "name": name, "color": color, "group": group },
        "labels": labels,
        "assignees": [],
        "description": {},
        "description_stripped": stripped(&i.body),
    });
    joined(issue_common(st, i), extra)
}

/// Plane's `IssueCommentSerializer`; `is_member` as the REST views annotate it (webhooks
/// leave it out).
pub(super) fn comment(st: &State, c: &CommentRec, is_member: bool) -> Value {
    let edited = (c.edits > 0).then(|| rfc3339(c.updated_at));
    let mut v = json!({
        "id": uuid("comment", c.id),
        "comment_html": c.body,
        "attachments": [],
        "access": "INTERNAL",
        "edited_at": edited,
        "issue": uuid("issue", c.number),
        "actor": user_id(&c.user),
        "parent": null,
    });
    if is_member && let Some(obj) = v.as_object_mut() {
        obj.insert("is_member".into(), Value::Bool(true));
    }
    let (created, updated) = (rfc3339(c.created_at), rfc3339(c.updated_at));
    joined(v, audit(st, &c.user, &created, &updated))
}
