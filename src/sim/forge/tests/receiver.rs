//! A webhook receiver for the tests: a real axum server on 127.0.0.1, on its own thread
//! and runtime (so [`ForgeServer::redeliver`], which blocks, can be called from a test's
//! thread), that records every request's headers and raw body and answers a status the
//! test sets, after a delay the test sets.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::oneshot;

use crate::sim::forge::{Delivery, ForgeServer};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(super) struct Got {
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Got {
    /// A header's value (names without case).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inner {
    got: Mutex<Vec<Got>>,
    status: AtomicU16,
    delay_ms: AtomicU64,
}

pub(super) struct Receiver {
    inner: Arc<Inner>,
    pub(super) url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

async fn record(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    inner.got.lock().unwrap().push(Got {
        headers,
        body: body.to_vec(),
    });
    let delay = inner.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    StatusCode::from_u16(inner.status.load(Ordering::SeqCst)).unwrap()
}

impl Receiver {
    pub(super) fn start() -> Receiver {
        let inner = Arc::new(Inner::default());
        inner.status.store(200, Ordering::SeqCst);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new().fallback(record).with_state(inner.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Receiver {
            inner,
            url,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// Answers `status` from now on.
    pub(super) fn answer(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    /// Waits this long before each answer from now on.
    pub(super) fn delay(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap();
        self.inner.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub(super) fn got(&self) -> Vec<Got> {
        self.inner.got.lock().unwrap().clone()
    }

    /// The requests once there are `n` (5 s at most).
    pub(super) fn wait(&self, n: usize) -> Vec<Got> {
        let start = Instant::now();
        loop {
            let got = self.got();
            if got.len() >= n || start.elapsed() > Duration::from_secs(5) {
                assert_eq!(got.len(), n, "requests received");
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The forge's deliveries once there are `n` (5 s at most).
pub(super) fn deliveries(forge: &ForgeServer, n: usize) -> Vec<Delivery> {
    let start = Instant::now();
    loop {
        let d = forge.deliveries();
        if d.len() >= n || start.elapsed() > Duration::from_secs(5) {
            assert_eq!(d.len(), n, "deliveries: {d:#?}");
            return d;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Hex HMAC-SHA256 of `body` under `secret`, computed here, apart from the forge's code.
pub(super) fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
