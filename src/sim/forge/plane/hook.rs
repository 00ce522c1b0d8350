//! Plane's webhook payloads (`plane/bgtasks/webhook_task.py`, `webhook_send_task`):
//! `{event, action, webhook_id, workspace_id, data, activity}`; `event` `issue` or
//! `issue_comment`, `action` `create` or `update`, `data` the expanded work item or the
//! comment, `activity` `{field, new_value, old_value, actor, old_identifier,
//! new_identifier}` — one delivery per changed field (`model_activity`). The body is
//! Python's `json.dumps(payload)` — `", "` and `": "` separators, non-ASCII as `\uXXXX` —
//! which is also what Plane signs.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;
use serde_json::{Value, json};

use super::super::hooks::Outgoing;
use super::super::issues::{Change, uuid};
use super::super::state::State;
use super::payload::{comment, issue_expanded, state_id, user, workspace_id};

/// serde_json's compact output with Python's default separators and `ensure_ascii`.
struct Python;

impl Formatter for Python {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for ch in fragment.chars() {
            if ch.is_ascii() {
                w.write_all(&[ch as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// `v` as Python's `json.dumps` writes it.
pub(super) fn python_json(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Python);
    if v.serialize(&mut ser).is_err() {
        return Vec::new();
    }
    out
}

/// One delivery: `event`, `action`, `data`, and the activity of `field` by `actor`.
fn delivery(
    st: &State,
    actor: &str,
    event: &str,
    action: &str,
    data: Value,
    field: Option<(&str, Value, Value)>,
) -> Outgoing {
    let (field, old, new) = match field {
        Some((f, old, new)) => (Value::from(f), old, new),
        None => (Value::Null, Value::Null, Value::Null),
    };
    let body = json!({
        "event": event,
        "action": action,
        "webhook_id": uuid(&format!("webhook-{}", st.owner), 0),
        "workspace_id": workspace_id(st),
        "data": data,
        "activity": {
            "field": field,
            "new_value": new,
            "old_value": old,
            "actor": user(actor),
            "old_identifier": null,
            "new_identifier": null,
        },
    });
    Outgoing {
        event: event.into(),
        action: action.into(),
        body: python_json(&body),
    }
}

/// The deliveries Plane makes for `change` by `actor`.
pub(in super::super) fn payloads(st: &State, actor: &str, change: &Change) -> Vec<Outgoing> {
    let issue_update = |number: u64, field: &str, old: Value, new: Value| {
        st.issue(number).map(|i| {
            let data = issue_expanded(st, i);
            delivery(st, actor, "issue", "update", data, Some((field, old, new)))
        })
    };
    let mut out = Vec::new();
    match change {
        Change::Opened(n) => {
            if let Some(i) = st.issue(*n) {
                out.push(delivery(
                    st,
                    actor,
                    "issue",
                    "create",
                    issue_expanded(st, i),
                    None,
                ));
            }
        }
        Change::Edited {
            number,
            title,
            body,
        } => {
            if let (Some(old), Some(i)) = (title, st.issue(*number)) {
                out.extend(issue_update(*number, "name", json!(old), json!(i.title)));
            }
            if let (Some(old), Some(i)) = (body, st.issue(*number)) {
                let (old, new) = (json!(old), json!(i.body));
                out.extend(issue_update(*number, "description_html", old, new));
            }
        }
        Change::Closed { number, old_state }
        | Change::Reopened { number, old_state }
        | Change::Moved { number, old_state } => {
            if let Some(i) = st.issue(*number) {
                let (old, new) = (json!(state_id(*old_state)), json!(state_id(i.plane_state)));
                out.extend(issue_update(*number, "state", old, new));
            }
        }
        Change::Labels { number, old, .. } => {
            if let Some(i) = st.issue(*number) {
                let ids =
                    |l: &[u64]| json!(l.iter().map(|id| uuid("label", *id)).collect::<Vec<_>>());
                out.extend(issue_update(*number, "labels", ids(old), ids(&i.labels)));
            }
        }
        Change::Commented(id) => {
            if let Some(c) = st.comment(*id) {
                let data = comment(st, c, false);
                out.push(delivery(st, actor, "issue_comment", "create", data, None));
            }
        }
        Change::CommentEdited { id, old_body } => {
            if let Some(c) = st.comment(*id) {
                let field = ("comment_html", json!(old_body), json!(c.body));
                let data = comment(st, c, false);
                out.push(delivery(
                    st,
                    actor,
                    "issue_comment",
                    "update",
                    data,
                    Some(field),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_matches_json_dumps() {
        let v = json!({"b": [1, 2.5, "é😀"], "a": {"x": null, "y": "q\"\n"}});
        // Python: json.dumps({"a": {"x": None, "y": "q\"\n"}, "b": [1, 2.5, "é😀"]})
        let expected = r#"{"a": {"x": null, "y": "q\"\n"}, "b": [1, 2.5, "\u00e9\ud83d\ude00"]}"#;
        assert_eq!(String::from_utf8(python_json(&v)).unwrap(), expected);
    }
}
