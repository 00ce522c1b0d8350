//! The scripted model server: the model APIs agent CLIs call (Anthropic Messages for Claude
//! Code, OpenAI Responses for Codex, Gemini `streamGenerateContent` for Gemini CLI), answered
//! from a script on 127.0.0.1, so real CLIs run without a network or a real model. The
//! tests drive the real CLIs with it, and `bosun providers --check` checks a profile against
//! the CLI installed today with it.
//!
//! [`ModelServer::start`] listens on `127.0.0.1:0` (see [`ModelServer::url`]: the value for
//! `ANTHROPIC_BASE_URL` and `GOOGLE_GEMINI_BASE_URL`; Codex's provider `base_url` is it plus
//! `/v1`), serves each connection on its own thread and stops on drop.
//!
//! # Endpoints
//! - `POST /v1/messages` ([`anthropic`]), `POST /v1/messages/count_tokens` (`{"input_tokens":
//!   N}`, N ≈ body bytes / 4).
//! - `POST /v1/responses` ([`openai`]), `GET /v1/models` (an OpenAI model list).
//! - `POST /v1beta/models/<model>:streamGenerateContent` and `:generateContent`
//!   ([`gemini`]), `:countTokens`.
//! - anything else: 404 with the API's error JSON, recorded.
//!
//! # Scenario
//! A [`Scenario`] is a queue of [`Turn`]s shared by every API. Each *main* request (the
//! CLI's agent loop) takes the next turn: text, a tool call, an HTTP error, or a dropped
//! connection ([`Turn::Drop`]). A tool call is rendered per API: a `tool_use` block on the
//! Messages API (Claude Code's `Write` with `file_path` + `content`, [`Turn::write_file`]); a
//! `function_call` on the Responses API (Codex's `exec_command`, [`Turn::shell`]) or, when
//! the input is a JSON string, a `custom_tool_call` (Codex's freeform `apply_patch`,
//! [`Turn::apply_patch`]); a `functionCall` part on the Gemini API (`write_file`,
//! `run_shell_command`). An error is rendered in the API's shape, with `retry-after` when
//! given. [`Turn::Delay`] entries are not answers: they are slept before the next answer.
//! Once the queue is empty every main request gets [`EXHAUSTED_TEXT`].
//!
//! # Side requests
//! The CLIs send requests of their own besides the agent loop (session titles, routers);
//! they are answered without consuming a scripted turn ([`Answer::Side`]); each API module
//! says how it tells them apart.
//!
//! # Pace
//! Answers come at a [`Pace`]: [`Pace::REALISTIC`] by default (3 s to the first token, then
//! 20 ms between events), because a CLI's screen during those seconds is what status
//! detection must read right; tests about something else lower it with
//! [`ModelServer::set_pace`]. Side requests use [`Pace::SIDE`].
//!
//! Every request is recorded ([`ModelServer::requests`]) with method, path, headers, body,
//! how it was answered and when its last byte went out.

mod anthropic;
pub mod gemini;
mod http;
mod limit;
pub mod openai;
mod script;

use std::collections::VecDeque;
use std::io::BufReader;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What a main or side answer is made of.
#[derive(Clone, Copy)]
pub(crate) struct Ask<'a> {
    turn: &'a Turn,
    stream: bool,
    model: &'a str,
    input_tokens: u64,
    pace: Pace,
}

pub use http::Pace;
use http::{RawRequest, send_json};
pub use script::{Answer, Request, Scenario, Turn};

/// Answer to a main request once the scenario is used up.
pub const EXHAUSTED_TEXT: &str = "(scenario exhausted)";
/// Answer to a side request: short, so titles and probes stay tidy.
pub const SIDE_TEXT: &str = "Scripted session";

struct State {
    turns: VecDeque<Turn>,
    answered: usize,
    requests: Vec<Request>,
    pace: Pace,
    /// The usage main answers reported, normalised as `provider::usage` counts it.
    tally: crate::provider::usage::Usage,
    /// Until when a [`Turn::UsageLimit`] answers every main request, per API: a limit of
    /// one provider's account leaves the others alone.
    limits: Vec<(Api, std::time::SystemTime)>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    ids: AtomicU64,
    /// Open connections, shut down on drop so keep-alive clients see the server go.
    conns: Mutex<Vec<TcpStream>>,
}

impl Shared {
    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running server; stops listening on drop.
pub struct ModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl ModelServer {
    /// Listens on `127.0.0.1:0` and answers from `scenario` at [`Pace::REALISTIC`].
    ///
    /// # Errors
    /// The I/O error if the socket cannot be bound or the accept thread not started.
    pub fn start(scenario: impl Into<Scenario>) -> std::io::Result<ModelServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                turns: scenario.into().turns,
                answered: 0,
                requests: Vec::new(),
                pace: Pace::REALISTIC,
                tally: crate::provider::usage::Usage::default(),
                limits: Vec::new(),
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            ids: AtomicU64::new(1),
            conns: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("model-server".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if s.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    if let Ok(c) = conn.try_clone() {
                        s.conns.lock().unwrap_or_else(|p| p.into_inner()).push(c);
                    }
                    let s = Arc::clone(&s);
                    let spawned = std::thread::Builder::new()
                        .name("model-conn".into())
                        .spawn(move || serve(conn, &s));
                    if let Err(e) = spawned {
                        tracing::warn!(error = %e, "model server: cannot serve a connection");
                    }
                }
            })?;
        Ok(ModelServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// Sets how fast main requests are answered from now on.
    pub fn set_pace(&self, pace: Pace) {
        self.shared.lock().pace = pace;
    }

    /// `http://127.0.0.1:PORT`: the value for `ANTHROPIC_BASE_URL` and
    /// `GOOGLE_GEMINI_BASE_URL` (Codex's provider `base_url` is this plus `/v1`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends a turn to the scenario while running.
    pub fn push(&self, turn: Turn) {
        self.shared.lock().turns.push_back(turn);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// The tokens the main answers reported so far (those that went out whole), as the
    /// CLI's session record should count them (`provider::usage`'s normalisation).
    pub fn usage_tally(&self) -> crate::provider::usage::Usage {
        self.shared.lock().tally
    }

    /// Scripted turns answered so far (delays not counted).
    pub fn answered(&self) -> usize {
        self.shared.lock().answered
    }

    /// Scripted turns (delays included) not yet used.
    pub fn remaining(&self) -> usize {
        self.shared.lock().turns.len()
    }

    /// When the last byte of the last main request's answer went out, if it has.
    pub fn last_main_finished(&self) -> Option<Instant> {
        let st = self.shared.lock();
        st.requests.iter().rev().find(|r| r.is_main())?.finished
    }

    /// [`ModelServer::last_main_finished`] in milliseconds since the Unix epoch.
    pub fn last_main_finished_ms(&self) -> Option<i64> {
        let st = self.shared.lock();
        st.requests.iter().rev().find(|r| r.is_main())?.finished_ms
    }

    /// Blocks until `pred` holds over the recorded requests, or `timeout` passes; returns
    /// whether it held.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Request]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if pred(&st.requests) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = match self.shared.changed.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for c in self
            .shared
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = c.shutdown(Shutdown::Both);
        }
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(conn: TcpStream, shared: &Shared) {
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    while !shared.stop.load(Ordering::SeqCst) {
        let Some(req) = http::read_request(&mut reader) else {
            break;
        };
        let client_close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let keep_alive = answer(&req, shared, &mut out).unwrap_or(false) && !client_close;
        if !keep_alive {
            break;
        }
    }
    let _ = out.shutdown(Shutdown::Both);
}

/// Which API a request speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Api {
    Anthropic,
    OpenAi,
    Gemini,
}

impl Api {
    fn of(route: &str) -> Api {
        if route.starts_with("/v1/responses") || route.starts_with("/v1/models") {
            Api::OpenAi
        } else if route.starts_with("/v1beta/") || route.starts_with("/v1alpha/") {
            Api::Gemini
        } else {
            Api::Anthropic
        }
    }

    /// The API's error body.
    fn error_body(self, status: u16, kind: &str, message: &str) -> Value {
        match self {
            Api::Anthropic => anthropic::error_body(kind, message),
            Api::OpenAi => openai::error_body(status, kind, message),
            Api::Gemini => gemini::error_body(status, message),
        }
    }
}

/// What to send for one request, decided under the lock.
enum Plan {
    Json {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// A turn in the API's shape.
    Turn {
        api: Api,
        turn: Turn,
        stream: bool,
        model: String,
        pace: Pace,
    },
}

/// The next scripted turn (delays before it are added to `delay`), or `None` when the
/// scenario is used up.
fn next_turn(st: &mut State, delay: &mut Duration) -> Option<(usize, Turn)> {
    while let Some(Turn::Delay(d)) = st.turns.front() {
        *delay += *d;
        st.turns.pop_front();
    }
    let turn = st.turns.pop_front()?;
    let i = st.answered;
    st.answered += 1;
    Some((i, turn))
}

/// The plan for a turn: an error turn becomes the API's error JSON.
fn turn_plan(api: Api, turn: Turn, stream: bool, model: String, pace: Pace) -> Plan {
    match turn {
        Turn::Error {
            status,
            kind,
            message,
            retry_after,
            should_retry,
        } => {
            let mut headers = vec![];
            if let Some(s) = retry_after {
                headers.push(("retry-after".to_string(), s.to_string()));
            }
            if let Some(retry) = should_retry {
                headers.push(("x-should-retry".to_string(), retry.to_string()));
            }
            Plan::Json {
                status,
                headers,
                body: api.error_body(status, &kind, &message),
            }
        }
        turn => Plan::Turn {
            api,
            turn,
            stream,
            model,
            pace,
        },
    }
}

/// A main request's plan: the next scripted turn, or [`EXHAUSTED_TEXT`].
fn main_plan(
    st: &mut State,
    delay: &mut Duration,
    api: Api,
    stream: bool,
    model: String,
) -> (Plan, Answer) {
    let pace = st.pace;
    let now = std::time::SystemTime::now();
    st.limits.retain(|(_, until)| now < *until);
    if let Some((_, until)) = st.limits.iter().find(|(a, _)| *a == api) {
        return (limit::plan(api, *until), Answer::Limited);
    }
    match next_turn(st, delay) {
        Some((i, Turn::UsageLimit { reset_in })) => {
            let until = now + *delay + reset_in;
            st.limits.push((api, until));
            (limit::plan(api, until), Answer::Scripted(i))
        }
        Some((i, turn)) => (
            turn_plan(api, turn, stream, model, pace),
            Answer::Scripted(i),
        ),
        None => (
            turn_plan(api, Turn::text(EXHAUSTED_TEXT), stream, model, pace),
            Answer::Exhausted,
        ),
    }
}

/// A side request's plan: `text`, at [`Pace::SIDE`].
fn side_plan(api: Api, text: String, stream: bool, model: String) -> (Plan, Answer) {
    (
        turn_plan(api, Turn::Text(text), stream, model, Pace::SIDE),
        Answer::Side,
    )
}

/// Decides how to answer `req`, under the lock.
fn plan(st: &mut State, req: &RawRequest, delay: &mut Duration) -> (Plan, Answer) {
    let route = req.route().to_string();
    let body: Option<Value> = serde_json::from_slice(&req.body).ok();
    let input_tokens = (req.body.len() as u64 / 4).max(1);
    let api = Api::of(&route);
    let model = body
        .as_ref()
        .and_then(|b| b.get("model"))
        .and_then(Value::as_str)
        .unwrap_or("scripted")
        .to_string();
    let stream = body
        .as_ref()
        .and_then(|b| b.get("stream"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let json = |body: Value| Plan::Json {
        status: 200,
        headers: vec![],
        body,
    };
    match (req.method.as_str(), route.as_str(), &body) {
        ("POST", "/v1/messages/count_tokens", Some(_)) => (
            json(json!({ "input_tokens": input_tokens })),
            Answer::CountTokens,
        ),
        ("POST", "/v1/messages", Some(b)) if !anthropic::is_main(b) => {
            side_plan(api, SIDE_TEXT.into(), stream, model)
        }
        ("POST", "/v1/messages", Some(_)) => main_plan(st, delay, api, stream, model),
        ("POST", "/v1/responses", Some(b)) if openai::is_side(b) => {
            side_plan(api, openai::side_json(b), stream, model)
        }
        ("POST", "/v1/responses", Some(_)) => main_plan(st, delay, api, stream, model),
        ("GET", "/v1/models", _) => (json(openai::model_list()), Answer::Models),
        ("POST", _, Some(b)) if api == Api::Gemini => match gemini::method(&route) {
            Some((_, gemini::Method::CountTokens)) => (
                json(json!({ "totalTokens": input_tokens })),
                Answer::CountTokens,
            ),
            Some((model, m)) => {
                let stream = m == gemini::Method::Stream;
                match gemini::side_reply(b, m) {
                    Some(text) => side_plan(api, text, stream, model),
                    None => main_plan(st, delay, api, stream, model),
                }
            }
            None => not_found(api, req, &route),
        },
        ("POST", _, None)
            if matches!(route.as_str(), "/v1/messages" | "/v1/responses") || api == Api::Gemini =>
        {
            (
                Plan::Json {
                    status: 400,
                    headers: vec![],
                    body: api.error_body(400, "invalid_request_error", "body is not JSON"),
                },
                Answer::BadRequest,
            )
        }
        _ => not_found(api, req, &route),
    }
}

fn not_found(api: Api, req: &RawRequest, route: &str) -> (Plan, Answer) {
    (
        Plan::Json {
            status: 404,
            headers: vec![],
            body: api.error_body(
                404,
                "not_found_error",
                &format!("no route {} {route}", req.method),
            ),
        },
        Answer::NotFound,
    )
}

/// Answers `req`; returns whether the connection may be kept open.
fn answer(req: &RawRequest, shared: &Shared, out: &mut TcpStream) -> std::io::Result<bool> {
    let mut delay = Duration::ZERO;
    let input_tokens = (req.body.len() as u64 / 4).max(1);
    let (plan, index) = {
        let mut st = shared.lock();
        let (plan, how) = plan(&mut st, req, &mut delay);
        st.requests.push(Request {
            method: req.method.clone(),
            path: req.path.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            answer: how,
            received: Instant::now(),
            finished: None,
            finished_ms: None,
        });
        shared.changed.notify_all();
        (plan, st.requests.len() - 1)
    };
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let mut reported = None;
    let result = match plan {
        Plan::Json {
            status,
            headers,
            body,
        } => send_json(out, status, &headers, &body, shared.next_id()).map(|()| true),
        Plan::Turn {
            api,
            turn,
            stream,
            model,
            pace,
        } => {
            let ask = Ask {
                turn: &turn,
                stream,
                model: &model,
                input_tokens,
                pace,
            };
            match api {
                Api::Anthropic => anthropic::send(out, shared, &ask, &mut reported),
                Api::OpenAi => openai::send(out, shared, &ask, &mut reported),
                Api::Gemini => gemini::send(out, shared, &ask, &mut reported),
            }
        }
    };
    let mut st = shared.lock();
    // The tally counts main answers that went out whole: what the CLI's record should hold.
    let main = st
        .requests
        .get(index)
        .is_some_and(|r| matches!(r.answer, Answer::Scripted(_) | Answer::Exhausted));
    if let (Some(u), true, Ok(_)) = (reported, main, &result) {
        st.tally = st.tally.plus(u);
    }
    if let Some(r) = st.requests.get_mut(index) {
        r.finished = Some(Instant::now());
        r.finished_ms = Some(crate::store::now_ms());
    }
    shared.changed.notify_all();
    result
}
