//! The control API for issues (issue 21): the test plays the tracker's users — opens,
//! edits, closes and labels issues, comments on them — reads back what bosun did
//! ([`ForgeServer::issues`]), and receives every change as a signed webhook delivery
//! ([`ForgeServer::hook`], [`ForgeServer::deliveries`]).
//!
//! Every change made here returns before its delivery is sent: the deliveries go out from
//! the forge's own runtime, in order, one at a time.

use std::time::Duration;

use super::hooks::{Delivery, Job};
use super::issues::{PLANE_STATES, uuid};
use super::state::State;
use super::{Flavor, ForgeServer, lock};

/// Whether an issue is open or closed (Plane: its state's group is `completed` or
/// `cancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueState {
    /// Open.
    Open,
    /// Closed.
    Closed,
}

/// A snapshot of one issue, as the forge holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Its number (Plane: its `sequence_id`).
    pub number: u64,
    /// Its id as the API shows it (GitHub's and Gitea's database id, Plane's UUID).
    pub api_id: String,
    /// Its title (Plane: `name`).
    pub title: String,
    /// Its body as stored (GitHub, Gitea: Markdown; Plane: `description_html`).
    pub body: String,
    /// Who opened it.
    pub author: String,
    /// Open or closed.
    pub state: IssueState,
    /// Its labels' names, in the order they were put on.
    pub labels: Vec<String>,
    /// Last change, unix seconds.
    pub updated_at: u64,
    /// Its comments, oldest first.
    pub comments: Vec<Comment>,
}

/// A snapshot of one comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Its number in the repository (1, 2, …), as [`ForgeServer::comment`] returned it.
    pub id: u64,
    /// Its id as the API shows it.
    pub api_id: String,
    /// Who wrote it.
    pub user: String,
    /// Its text as stored (Plane: `comment_html`).
    pub body: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub updated_at: u64,
    /// How many times it was edited.
    pub edits: u32,
}

/// Plane's rich text for a plain line, as its editor stores it: `<p>text</p>`, escaped.
pub(super) fn plane_html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!("<p>{escaped}</p>")
}

impl State {
    /// The public snapshot of every issue.
    pub(super) fn issue_snapshots(&self) -> Vec<Issue> {
        self.issues
            .iter()
            .map(|i| Issue {
                number: i.number,
                api_id: self.issue_api_id(i.number),
                title: i.title.clone(),
                body: i.body.clone(),
                author: i.author.clone(),
                state: if i.closed {
                    IssueState::Closed
                } else {
                    IssueState::Open
                },
                labels: self.label_names(i),
                updated_at: i.updated_at,
                comments: self
                    .comments_of(i.number)
                    .map(|c| Comment {
                        id: c.id,
                        api_id: self.comment_api_id(c.id),
                        user: c.user.clone(),
                        body: c.body.clone(),
                        created_at: c.created_at,
                        updated_at: c.updated_at,
                        edits: c.edits,
                    })
                    .collect(),
            })
            .collect()
    }

    /// An issue's id as its API shows it: GitHub's database id, Gitea's, Plane's UUID.
    pub(super) fn issue_api_id(&self, number: u64) -> String {
        match self.flavor {
            Flavor::GitHub => (2_000_000_000 + number).to_string(),
            Flavor::Gitea | Flavor::Forgejo => number.to_string(),
            Flavor::Plane => uuid("issue", number),
        }
    }

    /// A comment's id as its API shows it.
    pub(super) fn comment_api_id(&self, id: u64) -> String {
        match self.flavor {
            Flavor::GitHub => (1_100_000_000 + id).to_string(),
            Flavor::Gitea | Flavor::Forgejo => id.to_string(),
            Flavor::Plane => uuid("comment", id),
        }
    }
}

impl ForgeServer {
    /// The user the token acts as from now on — the author of what bosun posts through
    /// the API (comments, pull requests) — instead of the repository's owner (e.g.
    /// `bosun-bot`, a bot account with write access).
    pub fn set_token_user(&self, login: &str) {
        lock(&self.shared).token_user = login.to_string();
    }

    /// `user` opens an issue with `labels` (unknown labels are created first, as a
    /// maintainer would); returns its number (Plane: its `sequence_id`). Plane stores the
    /// body as `description_html` (`<p>body</p>`). Webhook: GitHub `issues` `opened` and one
    /// `labeled` per label; Gitea `issues` `opened`; Plane `issue` `create`.
    pub fn open_issue(&self, user: &str, title: &str, body: &str, labels: &[&str]) -> u64 {
        let mut st = lock(&self.shared);
        let body = match st.flavor {
            Flavor::Plane => plane_html(body),
            _ => body.to_string(),
        };
        st.open_issue(user, title, &body, labels)
    }

    /// Its author edits issue `number`'s title and/or body (Plane: the body becomes
    /// `<p>body</p>`). Webhook: GitHub `issues` `edited` with `changes`; Gitea one `edited`
    /// for each of title and body; Plane one `issue` `update` per field.
    pub fn edit_issue(&self, number: u64, title: Option<&str>, body: Option<&str>) {
        let mut st = lock(&self.shared);
        let author = st
            .issue(number)
            .map(|i| i.author.clone())
            .unwrap_or_default();
        let body = match st.flavor {
            Flavor::Plane => body.map(plane_html),
            _ => body.map(String::from),
        };
        if !st.edit_issue(&author, number, title, body.as_deref()) {
            tracing::warn!("forge sim: no issue #{number} to edit");
        }
    }

    /// The owner closes issue `number` (GitHub `state_reason: completed`; Plane: to
    /// `Done`). Already closed: nothing happens.
    pub fn close_issue(&self, number: u64) {
        let mut st = lock(&self.shared);
        let owner = st.owner.clone();
        if !st.set_closed(&owner, number, true) {
            tracing::warn!("forge sim: no issue #{number} to close");
        }
    }

    /// The owner reopens issue `number` (Plane: to `Todo`). Already open: nothing happens.
    pub fn reopen_issue(&self, number: u64) {
        let mut st = lock(&self.shared);
        let owner = st.owner.clone();
        if !st.set_closed(&owner, number, false) {
            tracing::warn!("forge sim: no issue #{number} to reopen");
        }
    }

    /// The owner puts `label` on issue `number` (created first when unknown). Already on
    /// it: nothing happens. Webhook: GitHub `labeled`; Gitea `label_updated`; Plane
    /// `update` of `labels`.
    pub fn add_label(&self, number: u64, label: &str) {
        let mut st = lock(&self.shared);
        let owner = st.owner.clone();
        let id = st.ensure_label(label);
        if !st.add_labels(&owner, number, &[id]) {
            tracing::warn!("forge sim: no issue #{number} to label");
        }
    }

    /// `user` comments `body` on issue `number` (Plane: stored as `<p>body</p>`); returns
    /// the comment's id (see [`Comment::id`]; 0 for an unknown issue). Webhook:
    /// `issue_comment` `created` (Plane `create`).
    pub fn comment(&self, number: u64, user: &str, body: &str) -> u64 {
        let mut st = lock(&self.shared);
        let body = match st.flavor {
            Flavor::Plane => plane_html(body),
            _ => body.to_string(),
        };
        st.add_comment(user, number, &body).unwrap_or_else(|| {
            tracing::warn!("forge sim: no issue #{number} to comment on");
            0
        })
    }

    /// Every issue (not the pull requests), by number, with its comments.
    pub fn issues(&self) -> Vec<super::Issue> {
        lock(&self.shared).issue_snapshots()
    }

    /// The names of Plane's states, with their groups, in order (what `GET …/states/`
    /// lists).
    pub fn plane_states() -> Vec<(&'static str, &'static str)> {
        PLANE_STATES.iter().map(|(n, g, _)| (*n, *g)).collect()
    }

    /// The token has `remaining` requests left until `reset_in` from now, then the
    /// flavor's full budget again (GitHub 5,000 an hour, Plane 60 a minute). At 0 every
    /// request is refused: GitHub 403 with `x-ratelimit-remaining: 0`, Gitea and Plane
    /// 429 with `Retry-After`.
    pub fn set_rate_limit(&self, remaining: u32, reset_in: Duration) {
        lock(&self.shared).limit.set(remaining, reset_in);
    }

    /// From now on every change is delivered to `url`, signed with `secret` (empty: no
    /// signature). GitHub first sends a `ping`.
    pub fn hook(&self, url: &str, secret: &str) {
        lock(&self.shared).set_hook(url, secret);
    }

    /// Every delivery attempted so far, in the order sent (redeliveries included).
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.shared).hooks.delivered.clone()
    }

    /// Sends delivery `delivery_id` again to the hook's URL — the same headers and bytes,
    /// GitHub's "Redeliver" — after the deliveries queued before it; the status answered
    /// (0: none, or no such delivery). Blocks the calling thread until then: do not call it
    /// from the thread whose runtime serves the receiver.
    pub fn redeliver(&self, delivery_id: &str) -> u16 {
        let (tx, rx) = std::sync::mpsc::channel();
        if !lock(&self.shared)
            .hooks
            .send(Job::Redeliver(delivery_id.to_string(), tx))
        {
            return 0;
        }
        rx.recv().unwrap_or(0)
    }

    /// POSTs `body` with exactly `headers` to the hook's URL (a tampered or forged
    /// delivery, not recorded); the status answered (0: none). Blocks like
    /// [`ForgeServer::redeliver`].
    pub fn send_raw(&self, headers: &[(&str, &str)], body: &[u8]) -> u16 {
        let (tx, rx) = std::sync::mpsc::channel();
        let headers = headers
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        if !lock(&self.shared)
            .hooks
            .send(Job::Raw(headers, body.to_vec(), tx))
        {
            return 0;
        }
        rx.recv().unwrap_or(0)
    }

    /// The signature header value this flavor sends for `body` with the hooked secret
    /// (GitHub `X-Hub-Signature-256: sha256=<hex>`; Gitea/Forgejo `X-Gitea-Signature`, Plane
    /// `X-Plane-Signature`: bare hex). GitHub docs, "Validating webhook deliveries".
    pub fn sign(&self, body: &[u8]) -> String {
        lock(&self.shared).sign(body)
    }
}
