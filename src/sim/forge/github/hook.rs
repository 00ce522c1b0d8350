//! GitHub's webhook payloads (GitHub docs, "Webhook events and payloads": `issues`,
//! `issue_comment`, `ping`): `{action, issue, comment?, changes?, label?, repository,
//! sender}` with the same issue JSON as the REST API, compact, as GitHub sends it.

use serde_json::{Value, json};

use super::super::hooks::Outgoing;
use super::super::issues::Change;
use super::super::rfc3339;
use super::super::state::State;
use super::issue_payload::{comment, issue, label};
use super::payload::{repository, user};

fn out(event: &str, action: &str, body: &Value) -> Outgoing {
    Outgoing {
        event: event.into(),
        action: action.into(),
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

/// The `issues` event for issue `number`, with `extra` members (`changes`, `label`).
fn issues_event(st: &State, actor: &str, number: u64, action: &str, extra: Value) -> Vec<Outgoing> {
    let Some(i) = st.issue(number) else {
        return Vec::new();
    };
    let mut body = json!({
        "action": action,
        "issue": issue(st, i, false),
        "repository": repository(st),
        "sender": user(&st.origin, actor),
    });
    if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), extra) {
        obj.extend(extra);
    }
    vec![out("issues", action, &body)]
}

/// The deliveries GitHub makes for `change` by `actor`.
pub(in super::super) fn payloads(st: &State, actor: &str, change: &Change) -> Vec<Outgoing> {
    match change {
        Change::Opened(n) => issues_event(st, actor, *n, "opened", json!({})),
        Change::Edited {
            number,
            title,
            body,
        } => {
            let mut changes = serde_json::Map::new();
            if let Some(t) = title {
                changes.insert("title".into(), json!({ "from": t }));
            }
            if let Some(b) = body {
                changes.insert("body".into(), json!({ "from": b }));
            }
            let extra = json!({ "changes": changes });
            issues_event(st, actor, *number, "edited", extra)
        }
        Change::Closed { number, .. } => issues_event(st, actor, *number, "closed", json!({})),
        Change::Reopened { number, .. } => issues_event(st, actor, *number, "reopened", json!({})),
        Change::Moved { .. } => Vec::new(),
        Change::Labels {
            number,
            added,
            removed,
            ..
        } => {
            let mut all = Vec::new();
            let tagged = added
                .iter()
                .map(|id| ("labeled", id))
                .chain(removed.iter().map(|id| ("unlabeled", id)));
            for (action, id) in tagged {
                if let Some(l) = st.label(*id) {
                    let extra = json!({ "label": label(st, l) });
                    all.extend(issues_event(st, actor, *number, action, extra));
                }
            }
            all
        }
        Change::Commented(id) => comment_event(st, actor, *id, "created", None),
        Change::CommentEdited { id, old_body } => {
            comment_event(st, actor, *id, "edited", Some(old_body))
        }
    }
}

/// The `issue_comment` event for comment `id`.
fn comment_event(
    st: &State,
    actor: &str,
    id: u64,
    action: &str,
    old_body: Option<&String>,
) -> Vec<Outgoing> {
    let Some((c, i)) = st.comment(id).and_then(|c| Some((c, st.issue(c.number)?))) else {
        return Vec::new();
    };
    let mut body = json!({
        "action": action,
        "issue": issue(st, i, false),
        "comment": comment(st, c),
        "repository": repository(st),
        "sender": user(&st.origin, actor),
    });
    if let (Some(obj), Some(old)) = (body.as_object_mut(), old_body) {
        obj.insert("changes".into(), json!({ "body": { "from": old } }));
    }
    vec![out("issue_comment", action, &body)]
}

/// The `ping` GitHub sends when a webhook is created (hook `id`).
pub(in super::super) fn ping(st: &State, id: u64) -> Outgoing {
    let api = format!("{}/repos/{}/hooks/{id}", st.origin, st.full_name());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let body = json!({
        "zen": "Design for failure.",
        "hook_id": id,
        "hook": {
            "type": "Repository",
            "id": id,
            "name": "web",
            "active": true,
            "events": ["issues", "issue_comment"],
            "config": { "content_type": "json", "insecure_ssl": "0", "url": "(hidden)" },
            "url": api,
            "test_url": format!("{api}/test"),
            "ping_url": format!("{api}/pings"),
            "deliveries_url": format!("{api}/deliveries"),
            "last_response": { "code": null, "status": "unused", "message": null },
            "created_at": rfc3339(now),
            "updated_at": rfc3339(now),
        },
        "repository": repository(st),
        "sender": user(&st.origin, &st.owner),
    });
    out("ping", "", &body)
}
