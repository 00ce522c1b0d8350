//! Issues, their comments and the repository's labels — the same rules for every flavor —
//! and every change to them, each one told to the webhook queue ([`State::emit`]) as the
//! forge's own event.
//!
//! GitHub and Gitea number issues and pull requests in one sequence (GitHub docs: "Every
//! pull request is an issue"; Gitea's `issue.index`); Plane numbers its work items per
//! project (`sequence_id`). A Plane work item's openness is its state's group (Plane docs,
//! "States": `completed` and `cancelled` are closed).

use super::Flavor;
use super::state::State;

/// Plane's default states of a new project, in order: name, group, color (Plane docs,
/// "States"). A new work item is in the first; [`super::ForgeServer::close_issue`] moves it
/// to `Done`, [`super::ForgeServer::reopen_issue`] to `Todo`.
pub(super) const PLANE_STATES: [(&str, &str, &str); 5] = [
    ("Backlog", "backlog", "#A3A3A3"),
    ("Todo", "unstarted", "#3A3A3A"),
    ("In Progress", "started", "#F59E0B"),
    ("Done", "completed", "#16A34A"),
    ("Cancelled", "cancelled", "#EF4444"),
];
/// [`PLANE_STATES`]' `Todo`.
const PLANE_TODO: usize = 1;
/// [`PLANE_STATES`]' `Done`.
const PLANE_DONE: usize = 3;

/// Whether a Plane state (index into [`PLANE_STATES`]) closes its work item.
pub(super) fn plane_closed(state: usize) -> bool {
    PLANE_STATES
        .get(state)
        .is_some_and(|(_, group, _)| matches!(*group, "completed" | "cancelled"))
}

/// One issue as the forge stores it.
pub(super) struct IssueRec {
    pub(super) number: u64,
    pub(super) title: String,
    pub(super) body: String,
    pub(super) author: String,
    pub(super) closed: bool,
    /// Plane: index into [`PLANE_STATES`]; unused elsewhere.
    pub(super) plane_state: usize,
    /// Label ids ([`LabelRec::id`]), in the order they were put on.
    pub(super) labels: Vec<u64>,
    pub(super) created_at: u64,
    pub(super) updated_at: u64,
    pub(super) closed_at: Option<u64>,
    pub(super) closed_by: Option<String>,
    /// GitHub's `state_reason`: `completed` once closed, `reopened` once reopened.
    pub(super) state_reason: Option<&'static str>,
}

/// One comment on an issue.
pub(super) struct CommentRec {
    /// 1, 2, … across the repository.
    pub(super) id: u64,
    pub(super) number: u64,
    pub(super) user: String,
    pub(super) body: String,
    pub(super) created_at: u64,
    pub(super) updated_at: u64,
    pub(super) edits: u32,
}

/// One label of the repository (Plane: of the project).
pub(super) struct LabelRec {
    /// 1, 2, … in the repository.
    pub(super) id: u64,
    pub(super) name: String,
    /// Six hex digits, without `#`.
    pub(super) color: String,
    pub(super) description: String,
}

/// A change to an issue, as the webhook payloads tell it.
pub(super) enum Change {
    Opened(u64),
    /// The old title and body, for those that changed.
    Edited {
        number: u64,
        title: Option<String>,
        body: Option<String>,
    },
    Closed {
        number: u64,
        old_state: usize,
    },
    Reopened {
        number: u64,
        old_state: usize,
    },
    /// Plane: to another state of the same openness.
    Moved {
        number: u64,
        old_state: usize,
    },
    /// Label ids put on and taken off, and the ones it had before.
    Labels {
        number: u64,
        added: Vec<u64>,
        removed: Vec<u64>,
        old: Vec<u64>,
    },
    Commented(u64),
    CommentEdited {
        id: u64,
        old_body: String,
    },
}

impl State {
    /// The next issue or pull-request number (GitHub, Gitea: one sequence for both).
    pub(super) fn next_number(&self) -> u64 {
        let used = self.pulls.len() + self.issues.len();
        u64::try_from(used).map_or(u64::MAX, |n| n + 1)
    }

    /// Issue `number` (not a pull request).
    pub(super) fn issue(&self, number: u64) -> Option<&IssueRec> {
        self.issues.iter().find(|i| i.number == number)
    }

    fn issue_mut(&mut self, number: u64) -> Option<&mut IssueRec> {
        self.issues.iter_mut().find(|i| i.number == number)
    }

    /// Comment `id`.
    pub(super) fn comment(&self, id: u64) -> Option<&CommentRec> {
        self.comments.iter().find(|c| c.id == id)
    }

    /// Label `id`.
    pub(super) fn label(&self, id: u64) -> Option<&LabelRec> {
        self.labels.iter().find(|l| l.id == id)
    }

    /// The label named `name` (both forges compare label names without case).
    pub(super) fn label_named(&self, name: &str) -> Option<&LabelRec> {
        self.labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// A new label; returns its id.
    pub(super) fn create_label(&mut self, name: &str, color: &str, description: &str) -> u64 {
        let id = u64::try_from(self.labels.len()).map_or(u64::MAX, |n| n + 1);
        self.labels.push(LabelRec {
            id,
            name: name.to_string(),
            color: color.trim_start_matches('#').to_ascii_lowercase(),
            description: description.to_string(),
        });
        id
    }

    /// The label named `name`, created (color `ededed`, GitHub's default) when unknown.
    pub(super) fn ensure_label(&mut self, name: &str) -> u64 {
        match self.label_named(name) {
            Some(l) => l.id,
            None => self.create_label(name, "ededed", ""),
        }
    }

    /// See [`super::ForgeServer::open_issue`].
    pub(super) fn open_issue(
        &mut self,
        user: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> u64 {
        let number = match self.flavor {
            Flavor::Plane => u64::try_from(self.issues.len()).map_or(u64::MAX, |n| n + 1),
            _ => self.next_number(),
        };
        let mut ids: Vec<u64> = Vec::new();
        for l in labels {
            let id = self.ensure_label(l);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let now = self.tick();
        self.issues.push(IssueRec {
            number,
            title: title.to_string(),
            body: body.to_string(),
            author: user.to_string(),
            closed: false,
            plane_state: 0,
            labels: ids.clone(),
            created_at: now,
            updated_at: now,
            closed_at: None,
            closed_by: None,
            state_reason: None,
        });
        // Opened with its labels; GitHub then also tells each label as `labeled`.
        self.emit(user, &Change::Opened(number));
        if self.flavor == Flavor::GitHub && !ids.is_empty() {
            let change = Change::Labels {
                number,
                added: ids,
                removed: Vec::new(),
                old: Vec::new(),
            };
            self.emit(user, &change);
        }
        number
    }

    /// See [`super::ForgeServer::edit_issue`]; `false` for an unknown issue.
    pub(super) fn edit_issue(
        &mut self,
        actor: &str,
        number: u64,
        title: Option<&str>,
        body: Option<&str>,
    ) -> bool {
        let now = self.tick();
        let Some(i) = self.issue_mut(number) else {
            return false;
        };
        let title = title
            .filter(|t| *t != i.title)
            .map(|t| std::mem::replace(&mut i.title, t.to_string()));
        let body = body
            .filter(|b| *b != i.body)
            .map(|b| std::mem::replace(&mut i.body, b.to_string()));
        if title.is_none() && body.is_none() {
            return true;
        }
        i.updated_at = now;
        self.emit(
            actor,
            &Change::Edited {
                number,
                title,
                body,
            },
        );
        true
    }

    /// Closes or reopens issue `number` (Plane: to `Done` or `Todo`); a no-op when it is
    /// already so. `false` for an unknown issue.
    pub(super) fn set_closed(&mut self, actor: &str, number: u64, closed: bool) -> bool {
        let target = if closed { PLANE_DONE } else { PLANE_TODO };
        match self.issue(number) {
            None => false,
            Some(i) if i.closed == closed => true,
            Some(_) => {
                self.move_state(actor, number, target, closed);
                true
            }
        }
    }

    /// Puts issue `number` in Plane state `state` (GitHub, Gitea: open or closed as
    /// `closed` says), with the event that tells it.
    pub(super) fn move_state(&mut self, actor: &str, number: u64, state: usize, closed: bool) {
        let now = self.tick();
        let Some(i) = self.issue_mut(number) else {
            return;
        };
        let old_state = i.plane_state;
        let was_closed = i.closed;
        i.plane_state = state;
        i.closed = closed;
        i.updated_at = now;
        let change = match (was_closed, closed) {
            (false, true) => {
                i.closed_at = Some(now);
                i.closed_by = Some(actor.to_string());
                i.state_reason = Some("completed");
                Change::Closed { number, old_state }
            }
            (true, false) => {
                i.closed_at = None;
                i.closed_by = None;
                i.state_reason = Some("reopened");
                Change::Reopened { number, old_state }
            }
            _ => Change::Moved { number, old_state },
        };
        self.emit(actor, &change);
    }

    /// Gives issue `number` exactly the labels `ids` (unknown ids and repeats dropped),
    /// with the events that tell what changed. `false` for an unknown issue.
    pub(super) fn set_labels(&mut self, actor: &str, number: u64, ids: Vec<u64>) -> bool {
        let mut new: Vec<u64> = Vec::new();
        for id in ids {
            if self.label(id).is_some() && !new.contains(&id) {
                new.push(id);
            }
        }
        let now = self.tick();
        let Some(i) = self.issue_mut(number) else {
            return false;
        };
        let old = std::mem::replace(&mut i.labels, new.clone());
        let added: Vec<u64> = new.iter().filter(|l| !old.contains(l)).copied().collect();
        let removed: Vec<u64> = old.iter().filter(|l| !new.contains(l)).copied().collect();
        if added.is_empty() && removed.is_empty() {
            i.labels = old;
            return true;
        }
        i.updated_at = now;
        self.emit(
            actor,
            &Change::Labels {
                number,
                added,
                removed,
                old,
            },
        );
        true
    }

    /// Adds labels to issue `number`, keeping the ones it has.
    pub(super) fn add_labels(&mut self, actor: &str, number: u64, ids: &[u64]) -> bool {
        let Some(i) = self.issue(number) else {
            return false;
        };
        let mut all = i.labels.clone();
        all.extend_from_slice(ids);
        self.set_labels(actor, number, all)
    }

    /// Takes label `id` off issue `number`; `false` when the issue does not have it.
    pub(super) fn remove_label(&mut self, actor: &str, number: u64, id: u64) -> bool {
        let Some(i) = self.issue(number).filter(|i| i.labels.contains(&id)) else {
            return false;
        };
        let rest: Vec<u64> = i.labels.iter().filter(|l| **l != id).copied().collect();
        self.set_labels(actor, number, rest)
    }

    /// A comment by `user` on issue `number`; its id, `None` for an unknown issue. The
    /// issue's `updated_at` moves too (GitHub and Gitea do).
    pub(super) fn add_comment(&mut self, user: &str, number: u64, body: &str) -> Option<u64> {
        self.issue(number)?;
        let now = self.tick();
        let id = u64::try_from(self.comments.len()).map_or(u64::MAX, |n| n + 1);
        self.comments.push(CommentRec {
            id,
            number,
            user: user.to_string(),
            body: body.to_string(),
            created_at: now,
            updated_at: now,
            edits: 0,
        });
        if self.flavor != Flavor::Plane
            && let Some(i) = self.issue_mut(number)
        {
            i.updated_at = now;
        }
        self.emit(user, &Change::Commented(id));
        Some(id)
    }

    /// Edits comment `id` by `actor`; `false` for an unknown comment. An edit to the same
    /// text changes nothing and tells nothing.
    pub(super) fn edit_comment(&mut self, actor: &str, id: u64, body: &str) -> bool {
        let now = self.tick();
        let Some(c) = self.comments.iter_mut().find(|c| c.id == id) else {
            return false;
        };
        if c.body == body {
            return true;
        }
        let old_body = std::mem::replace(&mut c.body, body.to_string());
        c.updated_at = now;
        c.edits += 1;
        self.emit(actor, &Change::CommentEdited { id, old_body });
        true
    }

    /// The comments of issue `number`, oldest first.
    pub(super) fn comments_of(&self, number: u64) -> impl Iterator<Item = &CommentRec> {
        self.comments.iter().filter(move |c| c.number == number)
    }

    /// The label names of an issue, in order.
    pub(super) fn label_names(&self, i: &IssueRec) -> Vec<String> {
        i.labels
            .iter()
            .filter_map(|id| self.label(*id))
            .map(|l| l.name.clone())
            .collect()
    }
}

/// A stable UUID (version 4 layout) for `kind` number `n`: Plane's ids, and the webhook
/// deliveries' ids when seeded with a counter.
pub(super) fn uuid(kind: &str, n: u64) -> String {
    let hex = super::state::sha256_hex(format!("{kind}:{n}").as_bytes());
    let b = hex.as_bytes();
    let s = |r: std::ops::Range<usize>| String::from_utf8_lossy(&b[r]).into_owned();
    let variant = match b[16] {
        b'0'..=b'3' => '8',
        b'4'..=b'7' => '9',
        b'8' | b'9' | b'a' | b'b' => 'a',
        _ => 'b',
    };
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        s(0..8),
        s(8..12),
        s(13..16),
        s(17..20),
        s(20..32)
    )
}
