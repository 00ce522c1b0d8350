//! Gitea's webhook payloads (Gitea 1.22 `modules/structs/hook.go`: `IssuePayload`
//! `{action, number, changes?, issue, repository, sender, commit_id}`,
//! `IssueCommentPayload` `{action, issue, comment, changes?, repository, sender, is_pull}`;
//! `services/webhook/notifier.go` for which change sends what), indented by two spaces
//! with `<`, `>`, `&` escaped, as Go's `json.MarshalIndent` writes them.

use serde_json::{Value, json};

use super::super::hooks::Outgoing;
use super::super::issues::Change;
use super::super::state::State;
use super::issue_payload::{comment, issue};
use super::payload::{repository, user};

/// Go's JSON: two-space indent, HTML characters and U+2028/9 escaped.
fn go_json(v: &Value) -> Vec<u8> {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
        .into_bytes()
}

/// An `issues` delivery for issue `number`, `changes` when given.
fn issues_event(
    st: &State,
    actor: &str,
    number: u64,
    action: &str,
    changes: Option<Value>,
) -> Option<Outgoing> {
    let i = st.issue(number)?;
    let mut body = json!({
        "action": action,
        "number": number,
        "issue": issue(st, i),
        "repository": repository(st),
        "sender": user(&st.origin, actor),
        "commit_id": "",
    });
    if let (Some(obj), Some(c)) = (body.as_object_mut(), changes) {
        obj.insert("changes".into(), c);
    }
    Some(Outgoing {
        event: "issues".into(),
        action: action.into(),
        body: go_json(&body),
    })
}

/// The deliveries Gitea makes for `change` by `actor`: a title and a body edit are two
/// events; any label change is one `label_updated`.
pub(in super::super) fn payloads(st: &State, actor: &str, change: &Change) -> Vec<Outgoing> {
    let mut out = Vec::new();
    match change {
        Change::Opened(n) => out.extend(issues_event(st, actor, *n, "opened", None)),
        Change::Edited {
            number,
            title,
            body,
        } => {
            if let Some(t) = title {
                let c = json!({ "title": { "from": t } });
                out.extend(issues_event(st, actor, *number, "edited", Some(c)));
            }
            if let Some(b) = body {
                let c = json!({ "body": { "from": b } });
                out.extend(issues_event(st, actor, *number, "edited", Some(c)));
            }
        }
        Change::Closed { number, .. } => {
            out.extend(issues_event(st, actor, *number, "closed", None));
        }
        Change::Reopened { number, .. } => {
            out.extend(issues_event(st, actor, *number, "reopened", None));
        }
        Change::Moved { .. } => {}
        Change::Labels { number, .. } => {
            out.extend(issues_event(st, actor, *number, "label_updated", None));
        }
        Change::Commented(id) => out.extend(comment_event(st, actor, *id, "created", None)),
        Change::CommentEdited { id, old_body } => {
            out.extend(comment_event(st, actor, *id, "edited", Some(old_body)));
        }
    }
    out
}

/// An `issue_comment` delivery for comment `id`.
fn comment_event(
    st: &State,
    actor: &str,
    id: u64,
    action: &str,
    old: Option<&String>,
) -> Option<Outgoing> {
    let c = st.comment(id)?;
    let i = st.issue(c.number)?;
    let mut body = json!({
        "action": action,
        "issue": issue(st, i),
        "comment": comment(st, c),
        "repository": repository(st),
        "sender": user(&st.origin, actor),
        "is_pull": false,
    });
    if let (Some(obj), Some(old)) = (body.as_object_mut(), old) {
        obj.insert("changes".into(), json!({ "body": { "from": old } }));
    }
    Some(Outgoing {
        event: "issue_comment".into(),
        action: action.into(),
        body: go_json(&body),
    })
}
