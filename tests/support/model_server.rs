//! A scripted model server speaking the Anthropic Messages API and the OpenAI Responses API,
//! for driving real agent CLIs (Claude Code, Codex) in tests without a network or a real
//! model.
//!
//! [`ModelServer::start`] listens on `127.0.0.1:0` (see [`ModelServer::url`], which is what
//! goes in `ANTHROPIC_BASE_URL`, or with `/v1` appended in Codex's provider `base_url`),
//! serves each connection on its own thread and stops on drop.
//!
//! # Endpoints
//! - `POST /v1/messages`: with `"stream": true` answers with Server-Sent Events exactly as
//!   Anthropic documents them (`message_start`, `content_block_start`, `ping`,
//!   `content_block_delta` carrying `text_delta` / `input_json_delta`, `content_block_stop`,
//!   `message_delta` with `stop_reason` `end_turn` or `tool_use`, `message_stop`); otherwise
//!   with one `message` JSON object.
//! - `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, N ≈ request body bytes / 4.
//! - `POST /v1/responses`: with `"stream": true` answers with Server-Sent Events as OpenAI
//!   documents them and Codex consumes them (`response.created`, `response.in_progress`, per
//!   output item `response.output_item.added`, its deltas — `response.content_part.added`,
//!   `response.output_text.delta`…, `response.output_text.done`, `response.content_part.done`
//!   for a message; `response.function_call_arguments.delta`… / `.done` for a function call;
//!   `response.custom_tool_call_input.delta`… / `.done` for a custom (freeform) tool call —
//!   and `response.output_item.done`, then `response.completed` with `usage`; every event has
//!   a `sequence_number`); otherwise with one `response` JSON object.
//! - `GET /v1/models`: an OpenAI model list ([`MODELS`]).
//! - anything else: 404 with the API's error JSON, recorded.
//!
//! # Scenario
//! A [`Scenario`] is a queue of [`Turn`]s shared by both APIs. Each *main* request takes the
//! next turn: text, a tool call, an HTTP error, or a dropped connection ([`Turn::Drop`]: the
//! head and first event go out, then the socket closes). A tool call is rendered per API: a
//! `tool_use` block on the Messages API (e.g. Claude Code's `Write` with `file_path` +
//! `content`, [`Turn::write_file`]); on the Responses API a `function_call` whose `arguments`
//! are the JSON-encoded input (Codex's `exec_command` with `cmd`, [`Turn::shell`],
//! [`Turn::shell_escalated`]), or, when the input is a JSON string, a `custom_tool_call` with
//! that raw `input` (Codex's freeform `apply_patch`, [`Turn::apply_patch`]). An error is
//! rendered in the API's shape: Anthropic's `{"type": "error", "error": {type, message}}`,
//! OpenAI's `{"error": {message, type, param, code}}` (`rate_limit_error` becomes type
//! `requests`, code `rate_limit_exceeded`; `overloaded_error` becomes `server_error` /
//! `server_is_overloaded`), with `retry-after` when given. [`Turn::Delay`] entries are not
//! answers: they are slept before the next answer. Once the queue is empty every main request
//! gets [`EXHAUSTED_TEXT`].
//!
//! # Side requests
//! Both CLIs send requests of their own besides the agent loop; they are answered without
//! consuming a scripted turn ([`Answer::Side`]).
//!
//! Claude Code: the agent loop always sends its tool definitions (27 tools in 2.1.197), side
//! requests send none, so a `/v1/messages` request with no (or an empty) `tools` array is a
//! side request, answered with [`SIDE_TEXT`]. Claude Code 2.1.197, run with
//! `DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`, was observed sending:
//! `HEAD /` (connectivity probe, gets 404), one side request per conversation
//! (`claude-haiku-4-5-20251001`, `max_tokens: 32000`, streaming, no tools: the session title;
//! not tiny, so `max_tokens` is no use to tell them apart), and the main requests
//! (`claude-opus-4-8`, `max_tokens: 64000`, streaming, all to `/v1/messages?beta=true`). No
//! model listing, telemetry or `count_tokens`. Details and screens:
//! `tests/fixtures/claude-2.1.197/README.md`.
//!
//! Codex: its thread-title request declares tools too (`apply_patch`), so tools tell nothing;
//! it is the only request with a JSON-schema output format (`text.format.type =
//! "json_schema"`, `name: "codex_output_schema"`, schema `{"title": string}`; its
//! `x-codex-turn-metadata` header says `"thread_source": "thread_title"`). Such a request is a
//! side request, answered with JSON text filling the schema's string properties with
//! [`SIDE_TEXT`] (`{"title": "Scripted session"}`, which Codex shows in its footer). Codex
//! 0.169.0 with a custom `model_provider` (`wire_api = "responses"`), `analytics.enabled =
//! false` and `--no-daemon` was observed sending only `POST /v1/responses`: the main requests
//! (model from the config, `stream: true`, `tools`: `exec_command`, `write_stdin`,
//! `list_mcp_resources`, `list_mcp_resource_templates`, `read_mcp_resource`,
//! `request_user_input`, `apply_patch` (custom), `view_image`, `get_goal`, `create_goal`,
//! `update_goal`, plus `tool_search` and `web_search` entries without a name; tool results
//! come back as `function_call_output` / `custom_tool_call_output` input items), and one
//! title request per thread, sent in parallel with the first main request. No model listing
//! (`GET /v1/models` is served anyway), no telemetry. Details and screens:
//! `tests/fixtures/codex-0.169.0/README.md`.
//!
//! Every request is recorded ([`ModelServer::requests`]) with method, path, headers, body and
//! how it was answered, so tests can assert on what the CLI sent.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Answer to a main request once the scenario is used up.
pub const EXHAUSTED_TEXT: &str = "(scenario exhausted)";
/// Answer to a side request (no tools): short, so titles and probes stay tidy.
pub const SIDE_TEXT: &str = "Scripted session";

/// One scripted answer of the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// An assistant text reply, `stop_reason: end_turn`.
    Text(String),
    /// One `tool_use` content block (optionally after some text), `stop_reason: tool_use`.
    ToolUse {
        /// Text block sent before the tool call, if any.
        text: Option<String>,
        /// Tool name as the CLI declared it, e.g. `Write`, `Bash`.
        name: String,
        /// The tool input object.
        input: Value,
    },
    /// An HTTP error with Anthropic's error body.
    Error {
        /// HTTP status, e.g. 429, 529, 500.
        status: u16,
        /// Anthropic error type, e.g. `rate_limit_error`, `overloaded_error`.
        kind: String,
        /// Human-readable message.
        message: String,
        /// Seconds for the `retry-after` header, if any.
        retry_after: Option<u64>,
        /// `x-should-retry` header, if any: `Some(false)` makes the Anthropic SDK and Claude
        /// Code give up at once instead of retrying (up to 10 times, backing off to 30 s+).
        should_retry: Option<bool>,
    },
    /// Sleep this long before answering the next main request (not itself an answer).
    Delay(Duration),
    /// A dropped connection: the status line, headers and first event of a stream (or just
    /// the head of a JSON answer) go out, then the socket is closed mid-answer.
    Drop,
}

impl Turn {
    /// A text reply.
    pub fn text(s: impl Into<String>) -> Turn {
        Turn::Text(s.into())
    }

    /// A tool call with no text before it.
    pub fn tool_use(name: impl Into<String>, input: Value) -> Turn {
        Turn::ToolUse {
            text: None,
            name: name.into(),
            input,
        }
    }

    /// Claude Code's `Write` tool creating `file_path` with `content`.
    pub fn write_file(file_path: impl Into<String>, content: impl Into<String>) -> Turn {
        Turn::tool_use(
            "Write",
            json!({ "file_path": file_path.into(), "content": content.into() }),
        )
    }

    /// HTTP 429 `rate_limit_error` with `retry-after: secs`.
    pub fn rate_limited(retry_after_secs: u64) -> Turn {
        Turn::Error {
            status: 429,
            kind: "rate_limit_error".into(),
            message: "Number of request tokens has exceeded your per-minute rate limit".into(),
            retry_after: Some(retry_after_secs),
            should_retry: None,
        }
    }

    /// HTTP 529 `overloaded_error`.
    pub fn overloaded() -> Turn {
        Turn::Error {
            status: 529,
            kind: "overloaded_error".into(),
            message: "Overloaded".into(),
            retry_after: None,
            should_retry: None,
        }
    }

    /// This error with `x-should-retry: false`, so the client reports it instead of retrying.
    pub fn no_retry(self) -> Turn {
        match self {
            Turn::Error {
                status,
                kind,
                message,
                retry_after,
                ..
            } => Turn::Error {
                status,
                kind,
                message,
                retry_after,
                should_retry: Some(false),
            },
            other => other,
        }
    }

    /// A pause before the next answer.
    pub fn delay(d: Duration) -> Turn {
        Turn::Delay(d)
    }

    /// Codex's `exec_command` tool running `cmd` in its shell (a `function_call` on the
    /// Responses API): `printf 'hi\n' > hello.txt` writes a file.
    pub fn shell(cmd: impl Into<String>) -> Turn {
        Turn::tool_use("exec_command", json!({ "cmd": cmd.into() }))
    }

    /// Codex's `exec_command` asking to run `cmd` outside the sandbox
    /// (`sandbox_permissions: "require_escalated"`): under `approval_policy = "on-request"`
    /// and a `workspace-write` sandbox the CLI asks the user first, showing `justification`.
    pub fn shell_escalated(cmd: impl Into<String>, justification: impl Into<String>) -> Turn {
        Turn::tool_use(
            "exec_command",
            json!({
                "cmd": cmd.into(),
                "sandbox_permissions": "require_escalated",
                "justification": justification.into(),
            }),
        )
    }

    /// Codex's freeform `apply_patch` tool with `patch` (`*** Begin Patch` ...): a
    /// `custom_tool_call` on the Responses API, whose input is the raw text.
    pub fn apply_patch(patch: impl Into<String>) -> Turn {
        Turn::tool_use("apply_patch", Value::String(patch.into()))
    }

    /// A dropped connection (see [`Turn::Drop`]).
    pub fn dropped() -> Turn {
        Turn::Drop
    }
}

/// The queue of scripted turns.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    turns: VecDeque<Turn>,
}

impl Scenario {
    /// An empty scenario: every main request gets [`EXHAUSTED_TEXT`].
    pub fn new() -> Scenario {
        Scenario::default()
    }

    /// Append a turn.
    pub fn then(mut self, turn: Turn) -> Scenario {
        self.turns.push_back(turn);
        self
    }
}

impl<I: IntoIterator<Item = Turn>> From<I> for Scenario {
    fn from(turns: I) -> Scenario {
        Scenario {
            turns: turns.into_iter().collect(),
        }
    }
}

/// How the server answered a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A scripted turn (index into the scenario's answers, delays not counted).
    Scripted(usize),
    /// A main request after the scenario ran out.
    Exhausted,
    /// A side request (no tools) answered with [`SIDE_TEXT`].
    Side,
    /// `count_tokens`.
    CountTokens,
    /// `GET /v1/models`: the model list.
    Models,
    /// 404: unknown path or method.
    NotFound,
    /// 400: the body was not JSON.
    BadRequest,
}

/// One recorded HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path including any query string.
    pub path: String,
    /// Headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Raw body (de-chunked).
    pub body: Vec<u8>,
    /// How it was answered.
    pub answer: Answer,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The path without its query string.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

#[derive(Default)]
struct State {
    turns: VecDeque<Turn>,
    answered: usize,
    requests: Vec<Request>,
}

struct Shared {
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
}

/// The running server; stops listening on drop.
pub struct ModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl ModelServer {
    /// Listen on `127.0.0.1:0` and answer from `scenario`.
    pub fn start(scenario: impl Into<Scenario>) -> ModelServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                turns: scenario.into().turns,
                ..State::default()
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
                    let _ = std::thread::Builder::new()
                        .name("model-conn".into())
                        .spawn(move || serve(conn, &s));
                }
            })
            .expect("spawn accept thread");
        ModelServer {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`, the value for `ANTHROPIC_BASE_URL` (Codex's provider
    /// `base_url` is this plus `/v1`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Append turns to the scenario while running.
    pub fn push(&self, turn: Turn) {
        self.lock().turns.push_back(turn);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Scripted turns answered so far (delays not counted).
    pub fn answered(&self) -> usize {
        self.lock().answered
    }

    /// Scripted turns (delays included) not yet used.
    pub fn remaining(&self) -> usize {
        self.lock().turns.len()
    }

    /// Block until `pred` holds over the recorded requests, or `timeout` passes; returns
    /// whether it held.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Request]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
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

struct RawRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Read one HTTP/1.1 request; `None` on EOF or garbage.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<RawRequest> {
    let mut line = String::new();
    // Skip stray blank lines between keep-alive requests.
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut req = RawRequest {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        // curl sends this for bodies over 1 kB and waits a second for it.
        let mut w = r.get_ref();
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t).ok()? == 0 || t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            r.read_exact(&mut req.body[start..]).ok()?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).ok()?;
        }
    } else if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        req.body.resize(len, 0);
        r.read_exact(&mut req.body).ok()?;
    }
    Some(req)
}

fn serve(conn: TcpStream, shared: &Shared) {
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut out = write_half;
    let mut reader = BufReader::new(conn);
    while !shared.stop.load(Ordering::SeqCst) {
        let Some(req) = read_request(&mut reader) else {
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
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Both);
}

/// What to send for one request, decided under the lock.
enum Plan {
    Json {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// An Anthropic Messages answer.
    Message {
        turn: Turn,
        stream: bool,
        model: String,
        input_tokens: u64,
    },
    /// An OpenAI Responses answer.
    Response {
        turn: Turn,
        stream: bool,
        model: String,
        input_tokens: u64,
    },
}

/// Which API a request speaks, for answers shared by both (errors, drops).
#[derive(Clone, Copy, PartialEq)]
enum Api {
    Anthropic,
    OpenAi,
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

/// A side request of Codex: one with a JSON-schema output format (`text.format.type =
/// "json_schema"`), which Codex uses for the thread title and nothing in the agent loop.
fn responses_side(body: &Value) -> bool {
    body["text"]["format"]["type"].as_str() == Some("json_schema")
}

/// JSON text satisfying a side request's output schema: every string property gets
/// [`SIDE_TEXT`] (Codex's title schema is `{"title": string}`).
fn side_json(body: &Value) -> String {
    let mut out = serde_json::Map::new();
    if let Some(props) = body["text"]["format"]["schema"]["properties"].as_object() {
        for (k, v) in props {
            let value = match v["type"].as_str() {
                Some("string") => Value::String(SIDE_TEXT.to_string()),
                Some("boolean") => Value::Bool(false),
                Some("number" | "integer") => json!(0),
                Some("array") => json!([]),
                _ => Value::Null,
            };
            out.insert(k.clone(), value);
        }
    }
    Value::Object(out).to_string()
}

/// Answer `req`; returns whether the connection may be kept open.
fn answer(req: &RawRequest, shared: &Shared, out: &mut TcpStream) -> std::io::Result<bool> {
    let route = req.path.split('?').next().unwrap_or("").to_string();
    let body: Option<Value> = serde_json::from_slice(&req.body).ok();
    let input_tokens = (req.body.len() as u64 / 4).max(1);
    let api = if route.starts_with("/v1/responses") || route.starts_with("/v1/models") {
        Api::OpenAi
    } else {
        Api::Anthropic
    };
    let model_of = |b: &Value| {
        b.get("model")
            .and_then(Value::as_str)
            .unwrap_or("scripted")
            .to_string()
    };

    let mut delay = Duration::ZERO;
    let plan = {
        let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let (plan, how) = match (req.method.as_str(), route.as_str(), &body) {
            ("POST", "/v1/messages/count_tokens", Some(_)) => (
                Plan::Json {
                    status: 200,
                    headers: vec![],
                    body: json!({ "input_tokens": input_tokens }),
                },
                Answer::CountTokens,
            ),
            ("POST", "/v1/messages", Some(b)) => {
                let stream = b.get("stream").and_then(Value::as_bool).unwrap_or(false);
                let model = model_of(b);
                let has_tools = b
                    .get("tools")
                    .and_then(Value::as_array)
                    .is_some_and(|t| !t.is_empty());
                if !has_tools {
                    let turn = Turn::text(SIDE_TEXT);
                    (
                        message_plan(turn, stream, model, input_tokens),
                        Answer::Side,
                    )
                } else {
                    match next_turn(&mut st, &mut delay) {
                        Some((i, turn)) => (
                            message_plan(turn, stream, model, input_tokens),
                            Answer::Scripted(i),
                        ),
                        None => {
                            let turn = Turn::text(EXHAUSTED_TEXT);
                            (
                                message_plan(turn, stream, model, input_tokens),
                                Answer::Exhausted,
                            )
                        }
                    }
                }
            }
            ("POST", "/v1/responses", Some(b)) => {
                let stream = b.get("stream").and_then(Value::as_bool).unwrap_or(false);
                let model = model_of(b);
                if responses_side(b) {
                    let turn = Turn::text(side_json(b));
                    (
                        response_plan(turn, stream, model, input_tokens),
                        Answer::Side,
                    )
                } else {
                    match next_turn(&mut st, &mut delay) {
                        Some((i, turn)) => (
                            response_plan(turn, stream, model, input_tokens),
                            Answer::Scripted(i),
                        ),
                        None => {
                            let turn = Turn::text(EXHAUSTED_TEXT);
                            (
                                response_plan(turn, stream, model, input_tokens),
                                Answer::Exhausted,
                            )
                        }
                    }
                }
            }
            ("GET", "/v1/models", _) => (
                Plan::Json {
                    status: 200,
                    headers: vec![],
                    body: json!({
                        "object": "list",
                        "data": MODELS.iter().map(|id| json!({
                            "id": id, "object": "model", "created": 1_700_000_000,
                            "owned_by": "scripted",
                        })).collect::<Vec<_>>(),
                    }),
                },
                Answer::Models,
            ),
            ("POST", "/v1/messages" | "/v1/messages/count_tokens" | "/v1/responses", None) => (
                error_plan(api, 400, "invalid_request_error", "body is not JSON", None),
                Answer::BadRequest,
            ),
            _ => (
                error_plan(
                    api,
                    404,
                    "not_found_error",
                    &format!("no route {} {}", req.method, route),
                    None,
                ),
                Answer::NotFound,
            ),
        };
        st.requests.push(Request {
            method: req.method.clone(),
            path: req.path.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            answer: how,
        });
        shared.changed.notify_all();
        plan
    };
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }

    match plan {
        Plan::Json {
            status,
            headers,
            body,
        } => {
            send_json(out, status, &headers, &body, shared)?;
            Ok(true)
        }
        Plan::Message {
            turn: Turn::Drop,
            stream,
            model,
            input_tokens,
        } => {
            let id = format!("msg_scripted_{:06}", shared.next_id());
            let first = json!({ "type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": { "input_tokens": input_tokens, "output_tokens": 1 },
            }});
            drop_mid_answer(out, stream, &first)
        }
        Plan::Message {
            turn,
            stream,
            model,
            input_tokens,
        } => {
            let id = format!("msg_scripted_{:06}", shared.next_id());
            let (blocks, stop_reason) = content_blocks(&turn, shared);
            let output_tokens = blocks
                .iter()
                .map(|b| b.to_string().len() as u64 / 4)
                .sum::<u64>()
                .max(1);
            if stream {
                send_sse(
                    out,
                    &id,
                    &model,
                    &blocks,
                    stop_reason,
                    input_tokens,
                    output_tokens,
                )?;
                Ok(false)
            } else {
                let body = json!({
                    "id": id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": stop_reason,
                    "stop_sequence": null,
                    "usage": { "input_tokens": input_tokens, "output_tokens": output_tokens },
                });
                send_json(out, 200, &[], &body, shared)?;
                Ok(true)
            }
        }
        Plan::Response {
            turn: Turn::Drop,
            stream,
            model,
            ..
        } => {
            let id = format!("resp_scripted_{:06}", shared.next_id());
            let first = json!({ "type": "response.created", "sequence_number": 0,
                                "response": response_object(&id, &model, "in_progress", &[], None) });
            drop_mid_answer(out, stream, &first)
        }
        Plan::Response {
            turn,
            stream,
            model,
            input_tokens,
        } => {
            let id = format!("resp_scripted_{:06}", shared.next_id());
            let items = output_items(&turn, shared);
            let output_tokens = items
                .iter()
                .map(|b| b.to_string().len() as u64 / 4)
                .sum::<u64>()
                .max(1);
            let usage = json!({
                "input_tokens": input_tokens,
                "input_tokens_details": { "cached_tokens": 0 },
                "output_tokens": output_tokens,
                "output_tokens_details": { "reasoning_tokens": 0 },
                "total_tokens": input_tokens + output_tokens,
            });
            if stream {
                send_responses_sse(out, &id, &model, &items, &usage)?;
                Ok(false)
            } else {
                let body = response_object(&id, &model, "completed", &items, Some(&usage));
                send_json(out, 200, &[], &body, shared)?;
                Ok(true)
            }
        }
    }
}

/// Models listed by `GET /v1/models`.
pub const MODELS: &[&str] = &["gpt-5.5", "claude-opus-4-8"];

/// Sends the head of an answer (and, streaming, its first event), then closes the socket.
fn drop_mid_answer(out: &mut TcpStream, stream: bool, first: &Value) -> std::io::Result<bool> {
    if stream {
        out.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        )?;
        sse(out, first["type"].as_str().unwrap_or("message"), first)?;
    } else {
        out.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n{\"id\":",
        )?;
    }
    out.flush()?;
    out.shutdown(Shutdown::Both)?;
    Ok(false)
}

fn message_plan(turn: Turn, stream: bool, model: String, input_tokens: u64) -> Plan {
    match turn {
        Turn::Error {
            status,
            kind,
            message,
            retry_after,
            should_retry,
        } => {
            let mut plan = error_plan(Api::Anthropic, status, &kind, &message, retry_after);
            if let (Some(retry), Plan::Json { headers, .. }) = (should_retry, &mut plan) {
                headers.push(("x-should-retry".to_string(), retry.to_string()));
            }
            plan
        }
        turn => Plan::Message {
            turn,
            stream,
            model,
            input_tokens,
        },
    }
}

fn response_plan(turn: Turn, stream: bool, model: String, input_tokens: u64) -> Plan {
    match turn {
        Turn::Error {
            status,
            kind,
            message,
            retry_after,
            should_retry,
        } => {
            let mut plan = error_plan(Api::OpenAi, status, &kind, &message, retry_after);
            if let (Some(retry), Plan::Json { headers, .. }) = (should_retry, &mut plan) {
                headers.push(("x-should-retry".to_string(), retry.to_string()));
            }
            plan
        }
        turn => Plan::Response {
            turn,
            stream,
            model,
            input_tokens,
        },
    }
}

/// OpenAI's `(type, code)` for an error given by its Anthropic type (the [`Turn::Error`]
/// `kind`); a kind that is not an Anthropic type is used as OpenAI's type, without a code.
fn openai_error_kind(status: u16, kind: &str) -> (String, Option<&'static str>) {
    match kind {
        "rate_limit_error" => ("requests".into(), Some("rate_limit_exceeded")),
        "overloaded_error" => ("server_error".into(), Some("server_is_overloaded")),
        "api_error" => ("server_error".into(), None),
        "not_found_error" => ("invalid_request_error".into(), Some("not_found")),
        "authentication_error" => ("invalid_request_error".into(), Some("invalid_api_key")),
        _ if status == 429 && kind.is_empty() => ("requests".into(), Some("rate_limit_exceeded")),
        other => (other.to_string(), None),
    }
}

/// An error answer in `api`'s shape: Anthropic's `{"type": "error", "error": {type,
/// message}}` or OpenAI's `{"error": {message, type, param, code}}`; `retry-after` header
/// when given.
fn error_plan(api: Api, status: u16, kind: &str, message: &str, retry_after: Option<u64>) -> Plan {
    let mut headers = vec![];
    if let Some(s) = retry_after {
        headers.push(("retry-after".to_string(), s.to_string()));
    }
    let body = match api {
        Api::Anthropic => {
            json!({ "type": "error", "error": { "type": kind, "message": message } })
        }
        Api::OpenAi => {
            let (kind, code) = openai_error_kind(status, kind);
            json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
        }
    };
    Plan::Json {
        status,
        headers,
        body,
    }
}

/// A Responses API `response` object.
fn response_object(
    id: &str,
    model: &str,
    status: &str,
    output: &[Value],
    usage: Option<&Value>,
) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": 1_700_000_000,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "usage": usage,
    })
}

/// The Responses API output items of a turn, complete: an assistant `message` with one
/// `output_text` part, then for a tool call a `function_call` (object input, JSON-encoded
/// into `arguments`) or a `custom_tool_call` (string input, e.g. `apply_patch`).
fn output_items(turn: &Turn, shared: &Shared) -> Vec<Value> {
    let message = |text: &str, shared: &Shared| {
        json!({
            "type": "message",
            "id": format!("msg_scripted_{:06}", shared.next_id()),
            "status": "completed",
            "role": "assistant",
            "content": [{ "type": "output_text", "text": text, "annotations": [] }],
        })
    };
    match turn {
        Turn::Text(t) => vec![message(t, shared)],
        Turn::ToolUse { text, name, input } => {
            let mut items = vec![];
            if let Some(t) = text {
                items.push(message(t, shared));
            }
            let n = shared.next_id();
            items.push(match input {
                Value::String(raw) => json!({
                    "type": "custom_tool_call",
                    "id": format!("ctc_scripted_{n:06}"),
                    "status": "completed",
                    "call_id": format!("call_scripted_{n:06}"),
                    "name": name,
                    "input": raw,
                }),
                other => json!({
                    "type": "function_call",
                    "id": format!("fc_scripted_{n:06}"),
                    "status": "completed",
                    "call_id": format!("call_scripted_{n:06}"),
                    "name": name,
                    "arguments": other.to_string(),
                }),
            });
            items
        }
        // Errors are answered before this; a delay is never popped as an answer.
        Turn::Error { .. } | Turn::Delay(_) | Turn::Drop => vec![],
    }
}

/// Streams a Responses API answer the way OpenAI does: `response.created`,
/// `response.in_progress`, then per output item `response.output_item.added`, its deltas
/// (`response.content_part.added` / `response.output_text.delta`… / `.done` /
/// `response.content_part.done` for a message, `response.function_call_arguments.delta`… /
/// `.done` for a function call, `response.custom_tool_call_input.delta`… / `.done` for a
/// custom tool call) and `response.output_item.done`, and `response.completed` with the
/// usage. Every event carries a `sequence_number`.
fn send_responses_sse(
    out: &mut TcpStream,
    id: &str,
    model: &str,
    items: &[Value],
    usage: &Value,
) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
    )?;
    let mut seq = 0u64;
    let mut emit = |out: &mut TcpStream, mut data: Value| -> std::io::Result<()> {
        data["sequence_number"] = json!(seq);
        seq += 1;
        let event = data["type"].as_str().unwrap_or("").to_string();
        sse(out, &event, &data)
    };
    let pending = response_object(id, model, "in_progress", &[], None);
    emit(
        out,
        json!({ "type": "response.created", "response": pending }),
    )?;
    emit(
        out,
        json!({ "type": "response.in_progress", "response": pending }),
    )?;
    for (index, item) in items.iter().enumerate() {
        let item_id = item["id"].clone();
        match item["type"].as_str() {
            Some("message") => {
                let text = item["content"][0]["text"].as_str().unwrap_or("");
                let mut added = item.clone();
                added["status"] = json!("in_progress");
                added["content"] = json!([]);
                emit(
                    out,
                    json!({ "type": "response.output_item.added",
                                  "output_index": index, "item": added }),
                )?;
                emit(
                    out,
                    json!({ "type": "response.content_part.added", "item_id": item_id,
                                  "output_index": index, "content_index": 0,
                                  "part": { "type": "output_text", "text": "", "annotations": [] } }),
                )?;
                for p in pieces(text, 16) {
                    emit(
                        out,
                        json!({ "type": "response.output_text.delta", "item_id": item_id,
                                      "output_index": index, "content_index": 0, "delta": p }),
                    )?;
                }
                emit(
                    out,
                    json!({ "type": "response.output_text.done", "item_id": item_id,
                                  "output_index": index, "content_index": 0, "text": text }),
                )?;
                emit(
                    out,
                    json!({ "type": "response.content_part.done", "item_id": item_id,
                                  "output_index": index, "content_index": 0,
                                  "part": item["content"][0] }),
                )?;
            }
            Some(kind) => {
                let (field, delta_event, done_event) = if kind == "custom_tool_call" {
                    (
                        "input",
                        "response.custom_tool_call_input.delta",
                        "response.custom_tool_call_input.done",
                    )
                } else {
                    (
                        "arguments",
                        "response.function_call_arguments.delta",
                        "response.function_call_arguments.done",
                    )
                };
                let full = item[field].as_str().unwrap_or("").to_string();
                let mut added = item.clone();
                added["status"] = json!("in_progress");
                added[field] = json!("");
                emit(
                    out,
                    json!({ "type": "response.output_item.added",
                                  "output_index": index, "item": added }),
                )?;
                for p in pieces(&full, 24) {
                    emit(
                        out,
                        json!({ "type": delta_event, "item_id": item_id,
                                      "output_index": index, "delta": p }),
                    )?;
                }
                emit(
                    out,
                    json!({ "type": done_event, "item_id": item_id,
                                  "output_index": index, field: full }),
                )?;
            }
            None => {}
        }
        emit(
            out,
            json!({ "type": "response.output_item.done",
                          "output_index": index, "item": item }),
        )?;
    }
    let done = response_object(id, model, "completed", items, Some(usage));
    emit(
        out,
        json!({ "type": "response.completed", "response": done }),
    )
}

/// The content blocks (complete, as in a non-streaming reply) and the stop reason.
fn content_blocks(turn: &Turn, shared: &Shared) -> (Vec<Value>, &'static str) {
    match turn {
        Turn::Text(t) => (vec![json!({ "type": "text", "text": t })], "end_turn"),
        Turn::ToolUse { text, name, input } => {
            let mut blocks = vec![];
            if let Some(t) = text {
                blocks.push(json!({ "type": "text", "text": t }));
            }
            blocks.push(json!({
                "type": "tool_use",
                "id": format!("toolu_scripted_{:06}", shared.next_id()),
                "name": name,
                "input": input,
            }));
            (blocks, "tool_use")
        }
        // Errors are answered before this; a delay is never popped as an answer.
        Turn::Error { .. } | Turn::Delay(_) | Turn::Drop => (vec![], "end_turn"),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Status",
    }
}

fn send_json(
    out: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &Value,
    shared: &Shared,
) -> std::io::Result<()> {
    let body = body.to_string();
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: req_scripted_{:06}\r\n",
        reason(status),
        body.len(),
        shared.next_id(),
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body.as_bytes())?;
    out.flush()
}

fn sse(out: &mut TcpStream, event: &str, data: &Value) -> std::io::Result<()> {
    out.write_all(format!("event: {event}\ndata: {data}\n\n").as_bytes())?;
    out.flush()
}

/// Pieces of `s` of about `n` chars, split on char boundaries, so deltas arrive in several
/// events the way a real stream does.
fn pieces(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

fn send_sse(
    out: &mut TcpStream,
    id: &str,
    model: &str,
    blocks: &[Value],
    stop_reason: &str,
    input_tokens: u64,
    output_tokens: u64,
) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
    )?;
    sse(
        out,
        "message_start",
        &json!({ "type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": { "input_tokens": input_tokens, "output_tokens": 1 },
        }}),
    )?;
    for (index, block) in blocks.iter().enumerate() {
        match block["type"].as_str() {
            Some("text") => {
                sse(
                    out,
                    "content_block_start",
                    &json!({ "type": "content_block_start", "index": index,
                             "content_block": { "type": "text", "text": "" } }),
                )?;
                if index == 0 {
                    sse(out, "ping", &json!({ "type": "ping" }))?;
                }
                for p in pieces(block["text"].as_str().unwrap_or(""), 16) {
                    sse(
                        out,
                        "content_block_delta",
                        &json!({ "type": "content_block_delta", "index": index,
                                 "delta": { "type": "text_delta", "text": p } }),
                    )?;
                }
            }
            _ => {
                sse(
                    out,
                    "content_block_start",
                    &json!({ "type": "content_block_start", "index": index,
                             "content_block": { "type": "tool_use", "id": block["id"],
                                                "name": block["name"], "input": {} } }),
                )?;
                if index == 0 {
                    sse(out, "ping", &json!({ "type": "ping" }))?;
                }
                sse(
                    out,
                    "content_block_delta",
                    &json!({ "type": "content_block_delta", "index": index,
                             "delta": { "type": "input_json_delta", "partial_json": "" } }),
                )?;
                for p in pieces(&block["input"].to_string(), 24) {
                    sse(
                        out,
                        "content_block_delta",
                        &json!({ "type": "content_block_delta", "index": index,
                                 "delta": { "type": "input_json_delta", "partial_json": p } }),
                    )?;
                }
            }
        }
        sse(
            out,
            "content_block_stop",
            &json!({ "type": "content_block_stop", "index": index }),
        )?;
    }
    sse(
        out,
        "message_delta",
        &json!({ "type": "message_delta",
                 "delta": { "stop_reason": stop_reason, "stop_sequence": null },
                 "usage": { "output_tokens": output_tokens } }),
    )?;
    sse(out, "message_stop", &json!({ "type": "message_stop" }))?;
    Ok(())
}
