//! The daemon's HTTP server (`[server] listen`, off unless set): tracker webhooks arrive at
//! `POST /webhooks/<kind>` (`github`, `gitea`, `forgejo`, `plane`); `GET /healthz` answers
//! `ok`. axum on a current-thread tokio runtime of its own thread.
//!
//! A delivery is taken in this order, and nothing of it is parsed before its signature is
//! checked: the body is read whole up to `[server] max_body` (a larger one gets 413); its
//! signature header is checked, in constant time, against the webhook secret of each
//! `[[intake]]` source of that kind (no header, or no secret that verifies: 401, counted per
//! source, no row per request); a delivery without its id header gets 400; then it is
//! recorded (`store::intake::record_delivery`, once per source and delivery id) and answered
//! 202. The supervisor's intake lane processes it after: a replay or a retry of the same
//! delivery changes nothing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};

use crate::config::Config;
use crate::config::intake::{IntakeSource, SourceKind};
use crate::intake::signature;
use crate::store::{Store, intake, now_ms};

/// A running server; dropping it stops it (in-flight requests finish first).
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What the handlers share.
struct Shared {
    /// Sources with their webhook secret (read from the environment at start).
    sources: Vec<(IntakeSource, Option<Vec<u8>>)>,
    db: PathBuf,
    store: Mutex<Option<Store>>,
}

impl Server {
    /// Binds `[server] listen` and serves on a thread of its own; `None` when no address is
    /// configured. A source whose `webhook_secret_env` is unset refuses every delivery (and
    /// the log says so once, here).
    ///
    /// # Errors
    /// The bind's error (the address in use, not ours) or the runtime's.
    pub fn start(cfg: &Config, db: &Path) -> std::io::Result<Option<Server>> {
        let Some(listen) = cfg.server.listen else {
            return Ok(None);
        };
        let sources = cfg
            .intake
            .iter()
            .map(|s| {
                let secret = s
                    .webhook_secret_env
                    .as_ref()
                    .and_then(|env| std::env::var(env).ok())
                    .filter(|v| !v.is_empty())
                    .map(String::into_bytes);
                if secret.is_none() {
                    tracing::warn!(
                        source = %s.name,
                        env = s.webhook_secret_env.as_deref().unwrap_or("(none)"),
                        "no webhook secret: this source's deliveries are refused"
                    );
                }
                (s.clone(), secret)
            })
            .collect();
        let shared = Arc::new(Shared {
            sources,
            db: db.to_path_buf(),
            store: Mutex::new(None),
        });
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let app = router(shared, cfg.server.max_body);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bosun-server".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "webhook server cannot listen");
                            return;
                        }
                    };
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                    if let Err(e) = serve.await {
                        tracing::error!(error = %e, "webhook server stopped");
                    }
                });
            })?;
        tracing::info!(%addr, "serving webhooks");
        Ok(Some(Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }))
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn router(shared: Arc<Shared>, max_body: usize) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/webhooks/{kind}", post(webhook))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(shared)
}

/// How a delivery was answered.
type Answer = (StatusCode, &'static str);

async fn webhook(
    State(shared): State<Arc<Shared>>,
    UrlPath(kind): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let Some(kind) = SourceKind::parse(&kind) else {
        return (StatusCode::NOT_FOUND, "no such tracker kind\n");
    };
    let of_kind: Vec<&(IntakeSource, Option<Vec<u8>>)> = shared
        .sources
        .iter()
        .filter(|(s, _)| s.kind == kind)
        .collect();
    if of_kind.is_empty() {
        return (StatusCode::NOT_FOUND, "no [[intake]] source of this kind\n");
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let found = signature::headers(kind)
        .iter()
        .find(|h| header(h.signature).is_some());
    let verified: Vec<&IntakeSource> = match found {
        Some(h) => {
            let sig = header(h.signature).unwrap_or_default();
            of_kind
                .iter()
                .filter(|(_, secret)| {
                    secret
                        .as_deref()
                        .is_some_and(|k| signature::verify(kind, sig, &body, k))
                })
                .map(|(s, _)| s)
                .collect()
        }
        None => Vec::new(),
    };
    let Some(h) = found.filter(|_| !verified.is_empty()) else {
        let names: Vec<String> = of_kind.iter().map(|(s, _)| s.name.clone()).collect();
        let _ = with_store(&shared, move |store| {
            store.write(|tx| {
                for n in &names {
                    intake::bad_signature(tx, n)?;
                }
                Ok::<_, crate::store::StoreError>(())
            })
        })
        .await;
        return (StatusCode::UNAUTHORIZED, "bad or missing signature\n");
    };
    let Some(delivery) = header(h.delivery).map(str::to_string) else {
        return (StatusCode::BAD_REQUEST, "no delivery id\n");
    };
    let event = header(h.event).unwrap_or("").to_string();
    // Signed by more than one source's secret: the payload's repository decides.
    let source = if verified.len() == 1 {
        verified[0].name.clone()
    } else {
        let repo = repository(kind, &body);
        verified
            .iter()
            .find(|s| Some(s.repo.as_str()) == repo.as_deref())
            .unwrap_or(&verified[0])
            .name
            .clone()
    };
    let recorded = with_store(&shared, move |store| {
        store.write(|tx| intake::record_delivery(tx, &source, &delivery, &event, &body, now_ms()))
    })
    .await;
    match recorded {
        Ok(Ok(true)) => (StatusCode::ACCEPTED, "recorded\n"),
        Ok(Ok(false)) => (StatusCode::ACCEPTED, "already recorded\n"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot record a delivery");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot record it now; redeliver\n",
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot record a delivery");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot record it now; redeliver\n",
            )
        }
    }
}

/// The repository a verified payload names (`repository.full_name`; Plane has none).
fn repository(kind: SourceKind, body: &[u8]) -> Option<String> {
    if kind == SourceKind::Plane {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(v.get("repository")?.get("full_name")?.as_str()?.to_string())
}

/// Runs `f` with the server's connection (opened on first use) off the async thread.
async fn with_store<T: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&Store) -> T + Send + 'static,
) -> Result<T, String> {
    let shared = Arc::clone(shared);
    tokio::task::spawn_blocking(move || {
        let mut guard = shared.store.lock().map_err(|_| "poisoned".to_string())?;
        if guard.is_none() {
            *guard = Some(Store::open(&shared.db).map_err(|e| e.to_string())?);
        }
        let store = guard.as_ref().ok_or("no store")?;
        Ok(f(store))
    })
    .await
    .map_err(|e| e.to_string())?
}
