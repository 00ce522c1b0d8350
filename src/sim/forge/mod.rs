//! The scripted forge: a real HTTP server on 127.0.0.1 that answers the pull-request and
//! issue parts of the GitHub REST API (`github/`) or of the Gitea/Forgejo REST API
//! (`gitea/`) for one repository, whose branches live in a real bare git repository — or
//! the work-item part of Plane's API (`plane/`) for one project. bosun's tests land tasks
//! as pull requests against it and take tasks from its issues; the test plays the forge's
//! users through the control API ([`ForgeServer::merge`], [`ForgeServer::close`],
//! [`ForgeServer::review`]; for issues [`ForgeServer::open_issue`],
//! [`ForgeServer::comment`], … in `control.rs`) and receives every change to an issue as a
//! signed webhook delivery (`hooks.rs`).
//!
//! [`ForgeServer::start`] listens on `127.0.0.1:0` and serves on a tokio current-thread
//! runtime owned by a background thread; dropping the [`ForgeServer`] shuts it down
//! gracefully (in-flight answers finish, at most [`SHUTDOWN_GRACE`]) and joins the thread.
//!
//! # The world
//! - One repository, `owner/name` as given; any other repository is 404.
//! - One token; every request without it is 401 in the forge's shape. It acts as the
//!   repository's owner unless [`ForgeServer::set_token_user`] names another user (a bot):
//!   the author of what is created through the API. The owner merges, closes and labels
//!   through the control API.
//! - Issues and pull requests share one number sequence (GitHub, Gitea); the issue lists
//!   return both.
//! - Each token has a rate-limit budget in the forge's terms (`gate.rs`,
//!   [`ForgeServer::set_rate_limit`]).
//! - Branches are the bare repository's: a pull request can only be opened for a head
//!   branch that exists there, and each read of a pull request reads the branch's tip
//!   again, so a push to the head branch shows up as a new head sha, a new `updated_at`
//!   and (GitHub) a new ETag.
//! - Timestamps are whole seconds; every change to a pull request (create, merge, close,
//!   review, a new head commit) moves its `updated_at` to a new second — the forge's clock
//!   runs ahead of the wall clock by a second when changes come faster than one a second,
//!   so two states of a pull request never share an `updated_at` (nor an ETag).
//! - [`ForgeServer::set_delay`] makes every answer wait first (tests use 200 ms and more so
//!   that nothing in the world is instant).
//!
//! Every request is recorded ([`ForgeServer::requests`]) with its method, path and query,
//! the status it got and its `If-None-Match` header.

mod control;
mod gate;
mod gitea;
mod github;
mod hooks;
mod http;
mod issues;
mod plane;
mod state;

pub use control::{Comment, Issue, IssueState};
pub use hooks::Delivery;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::middleware;
use tokio::sync::{mpsc, oneshot};

use state::State;

/// How long a dropped server waits for answers in flight before it stops anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Which forge's REST API the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// api.github.com (REST API version 2022-11-28), as octocrab calls it.
    GitHub,
    /// Gitea 1.22 (`/api/v1`).
    Gitea,
    /// Forgejo 9: Gitea's API; its webhooks also carry `X-Forgejo-*` headers.
    Forgejo,
    /// Plane (self-hosted, `/api/v1`, `X-API-Key`): work items of one project; no pull
    /// requests.
    Plane,
}

/// The Plane project's UUID the tests use (`start(Flavor::Plane, …,
/// "workspace-slug/<this>", …)`); any UUID-shaped id works.
pub const PLANE_PROJECT: &str = "4c5b1f0e-2d3a-4e6f-9a7b-8c9d0e1f2a3b";

/// Where a pull request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullState {
    /// Open: can be merged or closed.
    Open,
    /// Closed without being merged.
    Closed,
    /// Merged (and closed).
    Merged,
}

/// A snapshot of one pull request, as the forge holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    /// Its number in the repository (1, 2, …).
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its description (empty when none was given).
    pub body: String,
    /// The head branch (without an `owner:` prefix).
    pub head: String,
    /// The base branch.
    pub base: String,
    /// Open, closed or merged.
    pub state: PullState,
    /// Opened as a draft (GitHub `draft`; Gitea: a `WIP:` or `[WIP]` title).
    pub draft: bool,
    /// The base's new tip the merge made (full sha); `None` until merged.
    pub merge_commit_sha: Option<String>,
    /// The head branch's tip (full sha): read from the bare repository while open, as of
    /// the merge or close after.
    pub head_sha: String,
    /// Last change, unix seconds (see the module's notes on the clock).
    pub updated_at: u64,
}

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path with the query, as sent (`/repos/o/r/pulls?state=all`).
    pub path: String,
    /// The status answered (401 and 404 included).
    pub status: u16,
    /// The request's `If-None-Match` header, if any.
    pub if_none_match: Option<String>,
}

/// The scripted forge. Dropping it stops the server.
pub struct ForgeServer {
    shared: Shared,
    addr: SocketAddr,
    flavor: Flavor,
    stop: Option<(oneshot::Sender<()>, oneshot::Sender<()>)>,
    thread: Option<JoinHandle<()>>,
}

/// The state every handler and the control API share. The lock is never held across an
/// `.await`; git runs under it (the world changes one step at a time).
type Shared = Arc<Mutex<State>>;

/// Locks the state; a panic elsewhere while it was held does not stop the server.
fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ForgeServer {
    /// Listens on 127.0.0.1:0. `remote`: the bare repository the PRs' branches live in
    /// ("owner/name" is the repository's full name on the forge). `token`: the only token
    /// accepted.
    ///
    /// # Errors
    /// `full_name` is not `owner/name` (`InvalidInput`), or the socket, the runtime or its
    /// thread cannot be set up.
    pub fn start(
        flavor: Flavor,
        remote: &Path,
        full_name: &str,
        token: &str,
    ) -> std::io::Result<ForgeServer> {
        let (owner, name) = full_name
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("the repository's full name must be owner/name, not `{full_name}`"),
                )
            })?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{addr}");
        let (jobs, queue) = mpsc::unbounded_channel();
        let shared: Shared = Arc::new(Mutex::new(State::new(
            flavor, remote, owner, name, token, origin, jobs,
        )));
        let routes = match flavor {
            Flavor::GitHub => github::routes(),
            Flavor::Gitea | Flavor::Forgejo => gitea::routes(),
            Flavor::Plane => plane::routes(),
        };
        let app: Router = routes
            .layer(middleware::from_fn_with_state(shared.clone(), gate::gate))
            .with_state(shared.clone());
        // The webhook client is reqwest on rustls without a built-in provider: ring, as
        // `crate::forge` installs it (a second install is refused, harmlessly).
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let deliveries = hooks::run(shared.clone(), queue);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (graceful_tx, graceful_rx) = oneshot::channel::<()>();
        let (hard_tx, hard_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("forge-sim-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async {
                    tokio::spawn(deliveries);
                    serve(listener, app, graceful_rx, hard_rx).await;
                });
            })?;
        Ok(ForgeServer {
            shared,
            addr,
            flavor,
            stop: Some((graceful_tx, hard_tx)),
            thread: Some(thread),
        })
    }

    /// The API base URL: GitHub `http://127.0.0.1:PORT` (what octocrab's `base_uri`
    /// takes); Gitea, Forgejo and Plane `http://127.0.0.1:PORT/api/v1`.
    pub fn api_url(&self) -> String {
        match self.flavor {
            Flavor::GitHub => format!("http://{}", self.addr),
            _ => format!("http://{}/api/v1", self.addr),
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Each answer waits this long first (default 0; tests make it 200 ms+ so the world is
    /// not instant). Applies to requests that arrive after the call.
    pub fn set_delay(&self, d: Duration) {
        lock(&self.shared).delay = d;
    }

    /// Every pull request, by number, after reading the head branches' tips again.
    pub fn pulls(&self) -> Vec<Pull> {
        let mut st = lock(&self.shared);
        st.refresh();
        st.pulls.iter().map(state::PullRec::snapshot).collect()
    }

    /// How many create requests succeeded (answered 201).
    pub fn creates(&self) -> usize {
        lock(&self.shared).creates
    }

    /// Every request answered so far, in the order the answers went out.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.shared).requests.clone()
    }

    /// Merges PR `number` on the forge like the web UI's button: a real merge of the head
    /// branch into the base inside the bare repository ([`crate::git::land`]:
    /// `merge-tree --write-tree`, `commit-tree`, `update-ref` with the old value).
    /// `strategy`: `merge` (two parents; GitHub's message `Merge pull request #N from
    /// owner/head`, Gitea's `Merge pull request 'title' (#N) from head into base`),
    /// `squash` (one parent, message `title (#N)` as both forges default to) or `rebase`
    /// (the head's commits replayed on the base). Committer: the bare repository's
    /// `user.name`/`user.email`, else bosun's fallback identity. Returns the merge commit
    /// sha (the base's new tip).
    ///
    /// # Errors
    /// No such pull request, it is not open, the strategy is unknown, the head branch is
    /// gone, or the merge conflicts (the message names the files) or fails.
    pub fn merge(&self, number: u64, strategy: &str) -> Result<String, String> {
        lock(&self.shared).merge(number, strategy)
    }

    /// Closes PR `number` without merging it, as its author or a maintainer does on the web
    /// UI. A pull request that is not open (or unknown) is left as it is.
    pub fn close(&self, number: u64) {
        lock(&self.shared).close(number);
    }

    /// A review of PR `number` by `user`: `state` is `APPROVED`, `CHANGES_REQUESTED` or
    /// `COMMENTED` (GitHub's words; Gitea shows `APPROVED`, `REQUEST_CHANGES`, `COMMENT`);
    /// its `commit_id` is the head branch's current tip in the bare repository. Moves the
    /// pull request's `updated_at`. An unknown pull request is ignored.
    pub fn review(&self, number: u64, user: &str, state: &str, body: &str) {
        lock(&self.shared).review(number, user, state, body);
    }
}

impl Drop for ForgeServer {
    fn drop(&mut self) {
        if let Some((graceful, hard)) = self.stop.take() {
            let _ = graceful.send(());
            let _ = hard.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `app` on `listener` until `graceful` fires (or its sender is dropped); then the
/// answers in flight get [`SHUTDOWN_GRACE`] to finish.
async fn serve(
    listener: std::net::TcpListener,
    app: Router,
    graceful: oneshot::Receiver<()>,
    hard: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("forge sim: cannot serve: {e}");
            return;
        }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(async {
        let _ = graceful.await;
    });
    tokio::select! {
        result = server => {
            if let Err(e) = result {
                tracing::warn!("forge sim: server stopped: {e}");
            }
        }
        () = async {
            let _ = hard.await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {}
    }
}

/// A header's value as text, when present and visible ASCII.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The members of two JSON objects in one (`b`'s win); a JSON object too long for one
/// `json!` (its recursion limit) is built in parts.
fn joined(a: serde_json::Value, b: serde_json::Value) -> serde_json::Value {
    match (a, b) {
        (serde_json::Value::Object(mut a), serde_json::Value::Object(b)) => {
            a.extend(b);
            serde_json::Value::Object(a)
        }
        (a, _) => a,
    }
}

/// Unix seconds as RFC 3339 UTC (`2024-05-01T12:00:00Z`), as both forges write times.
fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests;
