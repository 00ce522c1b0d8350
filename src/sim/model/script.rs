//! What the scripted model says: the [`Turn`]s of a [`Scenario`], and the record of each
//! [`Request`] and how it was [`Answer`]ed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One scripted answer of the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// An assistant text reply (`end_turn` / `STOP`).
    Text(String),
    /// One tool call (optionally after some text).
    ToolUse {
        /// Text sent before the tool call, if any.
        text: Option<String>,
        /// Tool name as the CLI declared it, e.g. `Write`, `exec_command`, `write_file`.
        name: String,
        /// The tool input: an object, or a string for a freeform (custom) tool.
        input: Value,
    },
    /// An HTTP error in the API's error shape.
    Error {
        /// HTTP status, e.g. 429, 529, 500.
        status: u16,
        /// Anthropic error type, e.g. `rate_limit_error`, `overloaded_error` (mapped to the
        /// other APIs' vocabularies).
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
    /// The account's usage limit, reached until `reset_in` from the moment it is answered:
    /// this and every main request of the same API until then get its usage-limit error (HTTP 429
    /// with the reset time in the API's own headers and body, see `limit.rs`), without
    /// taking a turn ([`Answer::Limited`]); after it the scenario carries on.
    UsageLimit {
        /// How long after the answer the limit resets.
        reset_in: Duration,
    },
}

/// The tool name of [`Turn::tool_search`].
pub const TOOL_SEARCH: &str = "tool_search";

/// Between the namespace and the name in [`Turn::namespaced`]'s tool name.
pub const NAMESPACE_SEPARATOR: &str = "::";

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

    /// Codex's client-side `tool_search` (Responses API `tool_search_call`): the model asks
    /// Codex to load deferred tools (MCP servers' tools are deferred in Codex 0.171.0) that
    /// match `query`; they are offered on the next request.
    pub fn tool_search(query: impl Into<String>) -> Turn {
        Turn::tool_use(TOOL_SEARCH, json!({ "query": query.into(), "limit": 8 }))
    }

    /// A call of tool `name` in `namespace` (Responses API `function_call` with a
    /// `namespace`, as Codex offers a loaded MCP server's tools: namespace `mcp__bosun`, name
    /// `handoff`). Written as `namespace::name` in the tool name of [`Turn::ToolUse`].
    pub fn namespaced(namespace: &str, name: &str, input: Value) -> Turn {
        Turn::tool_use(format!("{namespace}{NAMESPACE_SEPARATOR}{name}"), input)
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
    #[must_use]
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

    /// The usage limit, resetting `reset_in` after it is answered (see [`Turn::UsageLimit`]).
    pub fn usage_limit(reset_in: Duration) -> Turn {
        Turn::UsageLimit { reset_in }
    }
}

/// The queue of scripted turns.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub(super) turns: VecDeque<Turn>,
}

impl Scenario {
    /// An empty scenario: every main request gets [`EXHAUSTED_TEXT`].
    pub fn new() -> Scenario {
        Scenario::default()
    }

    /// Appends a turn.
    #[must_use]
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
    /// A side request answered without a scripted turn.
    Side,
    /// A token count.
    CountTokens,
    /// `GET /v1/models`: the model list.
    Models,
    /// 404: unknown path or method.
    NotFound,
    /// 400: the body was not JSON.
    BadRequest,
    /// A main request while a [`Turn::UsageLimit`] stood: the usage-limit error again.
    Limited,
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
    /// When it arrived.
    pub received: Instant,
    /// When the last byte of its answer went out (`None` while it is being answered).
    pub finished: Option<Instant>,
    /// The same moment as milliseconds since the Unix epoch (as bosun's event times).
    pub finished_ms: Option<i64>,
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

    /// True for a request of the agent loop (it took, or would have taken, a scripted turn).
    pub fn is_main(&self) -> bool {
        matches!(self.answer, Answer::Scripted(_) | Answer::Exhausted)
    }
}
