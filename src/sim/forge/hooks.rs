//! Webhook deliveries: every change to an issue is turned into the flavor's event payload
//! at the moment it happens ([`State::emit`]), signed with the hook's secret, and queued;
//! one task on the forge's runtime POSTs the queue in order, one delivery at a time, and
//! records what the receiver answered (0: no answer). A failed delivery is not retried
//! (GitHub docs, "Handling failed webhook deliveries": GitHub does not redeliver failed
//! deliveries by itself); [`super::ForgeServer::redeliver`] sends one again, byte for byte,
//! like GitHub's "Redeliver" button.
//!
//! Headers, as each forge sends them:
//! - GitHub ("Webhook events and payloads", "Validating webhook deliveries"): `Accept`,
//!   `Content-Type: application/json`, `User-Agent: GitHub-Hookshot/…`,
//!   `X-GitHub-Delivery`, `X-GitHub-Event`, `X-GitHub-Hook-ID`,
//!   `X-GitHub-Hook-Installation-Target-ID`/`-Type`, `X-Hub-Signature-256: sha256=<hex>`
//!   (only with a secret).
//! - Gitea 1.22 (`services/webhook/deliver.go`, `addDefaultHeaders`): the `X-Gitea-*`,
//!   `X-Gogs-*` quartets (`Delivery`, `Event`, `Event-Type`, `Signature`: bare hex, empty
//!   without a secret), `X-Hub-Signature-256` and `X-GitHub-Delivery`/`-Event`/`-Event-Type`;
//!   Forgejo sends an `X-Forgejo-*` quartet first. Go's client adds `User-Agent:
//!   Go-http-client/1.1`.
//! - Plane (`bgtasks/webhook_task.py`): `Content-Type`, `User-Agent: Autopilot`,
//!   `X-Plane-Delivery`, `X-Plane-Event`, `X-Plane-Signature` (bare hex, only with a
//!   secret).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

use super::issues::{Change, uuid};
use super::state::{REPO_ID, State};
use super::{Flavor, Shared, gitea, github, lock, plane};

/// How long a receiver may take to answer (GitHub's limit: 10 s).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One webhook delivery as it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The delivery's GUID (`X-GitHub-Delivery`, `X-Gitea-Delivery`, `X-Plane-Delivery`).
    pub id: String,
    /// The event header's value: `issues`, `issue_comment`, `ping` (GitHub, Gitea);
    /// `issue`, `issue_comment` (Plane).
    pub event: String,
    /// The payload's `action`.
    pub action: String,
    /// Every header sent, in order, names as the forge spells them.
    pub headers: Vec<(String, String)>,
    /// The exact body sent (the signature is over these bytes).
    pub body: Vec<u8>,
    /// The status the receiver answered; 0 when the connection failed or timed out.
    pub status: u16,
    /// Sent again by [`super::ForgeServer::redeliver`] (same id, headers and body).
    pub redelivery: bool,
}

/// A payload ready to be signed and sent.
pub(super) struct Outgoing {
    pub(super) event: String,
    pub(super) action: String,
    pub(super) body: Vec<u8>,
}

/// Where deliveries go.
struct Target {
    url: String,
    secret: String,
    id: u64,
}

/// Work for the delivery task.
pub(super) enum Job {
    Deliver(Delivery, String),
    Redeliver(String, std::sync::mpsc::Sender<u16>),
    Raw(Vec<(String, String)>, Vec<u8>, std::sync::mpsc::Sender<u16>),
}

/// The hook, the deliveries made, and the queue to the delivery task.
pub(super) struct Hooks {
    target: Option<Target>,
    pub(super) delivered: Vec<Delivery>,
    tx: mpsc::UnboundedSender<Job>,
    /// Seeds the delivery GUIDs: unique across servers in one test.
    nonce: u64,
    sent: u64,
    hooks: u64,
}

impl Hooks {
    /// No hook yet; jobs go to `tx`.
    pub(super) fn new(tx: mpsc::UnboundedSender<Job>) -> Hooks {
        Hooks {
            target: None,
            delivered: Vec::new(),
            tx,
            nonce: fastrand::u64(..),
            sent: 0,
            hooks: 0,
        }
    }

    /// Queues a job for the delivery task; `false` when it has stopped.
    pub(super) fn send(&self, job: Job) -> bool {
        self.tx.send(job).is_ok()
    }
}

/// Hex HMAC-SHA256 of `body` under `secret`.
pub(super) fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl State {
    /// Points the webhook at `url` with `secret`, for every change from now on; GitHub
    /// sends its `ping` event first (GitHub docs, "Webhook events and payloads: ping").
    pub(super) fn set_hook(&mut self, url: &str, secret: &str) {
        self.hooks.hooks += 1;
        self.hooks.target = Some(Target {
            url: url.to_string(),
            secret: secret.to_string(),
            id: 470_000_000 + self.hooks.hooks,
        });
        if self.flavor == Flavor::GitHub {
            let ping = github::hook::ping(self, 470_000_000 + self.hooks.hooks);
            self.queue(ping);
        }
    }

    /// The signature header value this flavor sends for `body` with the hook's secret
    /// (GitHub `sha256=<hex>`, the others bare hex).
    pub(super) fn sign(&self, body: &[u8]) -> String {
        let secret = self.hooks.target.as_ref().map_or("", |t| t.secret.as_str());
        let hex = hmac_hex(secret, body);
        match self.flavor {
            Flavor::GitHub => format!("sha256={hex}"),
            _ => hex,
        }
    }

    /// Tells the hook about `change` by `actor`, in the flavor's events.
    pub(super) fn emit(&mut self, actor: &str, change: &Change) {
        if self.hooks.target.is_none() {
            return;
        }
        let outgoing = match self.flavor {
            Flavor::GitHub => github::hook::payloads(self, actor, change),
            Flavor::Gitea | Flavor::Forgejo => gitea::hook::payloads(self, actor, change),
            Flavor::Plane => plane::hook::payloads(self, actor, change),
        };
        for o in outgoing {
            self.queue(o);
        }
    }

    /// Signs `o`, gives it the flavor's headers and a new GUID, and queues it.
    fn queue(&mut self, o: Outgoing) {
        let Some(target) = &self.hooks.target else {
            return;
        };
        self.hooks.sent += 1;
        let id = uuid(&format!("delivery-{}", self.hooks.nonce), self.hooks.sent);
        let hex = if target.secret.is_empty() {
            String::new()
        } else {
            hmac_hex(&target.secret, &o.body)
        };
        let headers = headers(self.flavor, &id, &o.event, &o.action, &hex, target.id);
        let url = target.url.clone();
        let delivery = Delivery {
            id,
            event: o.event,
            action: o.action,
            headers,
            body: o.body,
            status: 0,
            redelivery: false,
        };
        if !self.hooks.send(Job::Deliver(delivery, url)) {
            tracing::warn!("forge sim: the delivery task has stopped");
        }
    }

    /// The hook's URL, if any.
    fn hook_url(&self) -> Option<String> {
        self.hooks.target.as_ref().map(|t| t.url.clone())
    }
}

/// The headers `flavor` sends with a delivery; `hex` is the HMAC (empty: no secret).
fn headers(
    flavor: Flavor,
    id: &str,
    event: &str,
    action: &str,
    hex: &str,
    hook: u64,
) -> Vec<(String, String)> {
    let mut h: Vec<(&str, String)> = Vec::new();
    let event_type = gitea_event_type(event, action);
    match flavor {
        Flavor::GitHub => {
            h.push(("Accept", "*/*".into()));
            h.push(("Content-Type", "application/json".into()));
            h.push(("User-Agent", "GitHub-Hookshot/5e1b9a3".into()));
            h.push(("X-GitHub-Delivery", id.into()));
            h.push(("X-GitHub-Event", event.into()));
            h.push(("X-GitHub-Hook-ID", hook.to_string()));
            h.push(("X-GitHub-Hook-Installation-Target-ID", REPO_ID.to_string()));
            h.push((
                "X-GitHub-Hook-Installation-Target-Type",
                "repository".into(),
            ));
            if !hex.is_empty() {
                h.push(("X-Hub-Signature-256", format!("sha256={hex}")));
            }
        }
        Flavor::Gitea | Flavor::Forgejo => {
            h.push(("Content-Type", "application/json".into()));
            h.push(("User-Agent", "Go-http-client/1.1".into()));
            let mut prefixes = vec!["Gitea", "Gogs"];
            if flavor == Flavor::Forgejo {
                prefixes.insert(0, "Forgejo");
            }
            for p in prefixes {
                h.push((leak(p, "Delivery"), id.into()));
                h.push((leak(p, "Event"), event.into()));
                h.push((leak(p, "Event-Type"), event_type.clone()));
                h.push((leak(p, "Signature"), hex.into()));
            }
            h.push(("X-Hub-Signature-256", format!("sha256={hex}")));
            h.push(("X-GitHub-Delivery", id.into()));
            h.push(("X-GitHub-Event", event.into()));
            h.push(("X-GitHub-Event-Type", event_type));
        }
        Flavor::Plane => {
            h.push(("Content-Type", "application/json".into()));
            h.push(("User-Agent", "Autopilot".into()));
            h.push(("X-Plane-Delivery", id.into()));
            h.push(("X-Plane-Event", event.into()));
            if !hex.is_empty() {
                h.push(("X-Plane-Signature", hex.into()));
            }
        }
    }
    h.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// `X-{prefix}-{what}` as a static name (the few combinations there are).
fn leak(prefix: &str, what: &str) -> &'static str {
    match (prefix, what) {
        ("Forgejo", "Delivery") => "X-Forgejo-Delivery",
        ("Forgejo", "Event") => "X-Forgejo-Event",
        ("Forgejo", "Event-Type") => "X-Forgejo-Event-Type",
        ("Forgejo", "Signature") => "X-Forgejo-Signature",
        ("Gogs", "Delivery") => "X-Gogs-Delivery",
        ("Gogs", "Event") => "X-Gogs-Event",
        ("Gogs", "Event-Type") => "X-Gogs-Event-Type",
        ("Gogs", "Signature") => "X-Gogs-Signature",
        (_, "Delivery") => "X-Gitea-Delivery",
        (_, "Event") => "X-Gitea-Event",
        (_, "Event-Type") => "X-Gitea-Event-Type",
        _ => "X-Gitea-Signature",
    }
}

/// Gitea's hook event type (`HookEventType`) behind an event: a label change is
/// `issue_label` under the `issues` event (Gitea `modules/webhook/type.go`).
fn gitea_event_type(event: &str, action: &str) -> String {
    match (event, action) {
        ("issues", "label_updated" | "label_cleared") => "issue_label".into(),
        _ => event.into(),
    }
}

/// The delivery task: POSTs the queued jobs one at a time, in order, until the queue's
/// senders are gone (the server stopped).
pub(super) async fn run(shared: Shared, mut rx: mpsc::UnboundedReceiver<Job>) {
    let client = match reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("forge sim: no webhook client: {e}");
            return;
        }
    };
    while let Some(job) = rx.recv().await {
        match job {
            Job::Deliver(mut d, url) => {
                d.status = post(&client, &url, &d.headers, &d.body).await;
                lock(&shared).hooks.delivered.push(d);
            }
            Job::Redeliver(id, reply) => {
                let (found, url) = {
                    let st = lock(&shared);
                    let found = st
                        .hooks
                        .delivered
                        .iter()
                        .find(|d| d.id == id && !d.redelivery)
                        .cloned();
                    (found, st.hook_url())
                };
                let status = match (found, url) {
                    (Some(mut d), Some(url)) => {
                        d.status = post(&client, &url, &d.headers, &d.body).await;
                        d.redelivery = true;
                        let status = d.status;
                        lock(&shared).hooks.delivered.push(d);
                        status
                    }
                    _ => 0,
                };
                let _ = reply.send(status);
            }
            Job::Raw(headers, body, reply) => {
                let url = lock(&shared).hook_url();
                let status = match url {
                    Some(url) => post(&client, &url, &headers, &body).await,
                    None => 0,
                };
                let _ = reply.send(status);
            }
        }
    }
}

/// POSTs `body` with `headers` to `url`; the status answered, 0 when there was none.
async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> u16 {
    let mut req = client.post(url).body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let _ = resp.bytes().await;
            status
        }
        Err(e) => {
            tracing::debug!("forge sim: delivery to {url} failed: {e}");
            0
        }
    }
}
