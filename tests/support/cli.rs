//! The one table of what differs between the agent CLIs the live tests drive (Claude Code,
//! Codex, Gemini CLI): how each is launched, what its screen shows when it is ready or busy,
//! how a prompt is typed and submitted, which key says yes to its dialogs, what its hooks say,
//! which wire format the scripted model server speaks to it and which turns make it hit a
//! rate limit, hand off over MCP or run subagents. The harnesses (`tests/live/alone.rs`,
//! [`super::supervised`]) and the common scenarios (`tests/live/scenarios.rs`) read this
//! table and nothing else about a CLI; a new CLI is a new row.
//!
//! The scratch home each CLI gets (config files, keys, trust) and the turns with which it
//! writes a file or asks first are the product's own ([`bosun::sim::homes`]), shared with
//! `bosun providers --check`.
#![allow(dead_code)]

use bosun::sim::homes::{self, Cli};
use bosun::sim::model::{Request, Turn};

/// One row of the table.
pub struct Spec {
    pub cli: Cli,
    /// Arguments after the binary in every launch: the built-in profile's, and for Codex
    /// `--strict-config` (a typo in its scratch config cannot go unnoticed) with `--no-daemon`
    /// (its background app-server outlives the pane and collides across homes).
    pub args: &'static [&'static str],
    /// On the screen when the CLI is ready for a prompt (its empty input box).
    pub ready: &'static str,
    /// On the screen while a turn runs.
    pub busy: &'static str,
    /// What a pasted prompt's first line follows in the input box (`""`: the box shows it
    /// alone, or [`Submit::UntilBoxEmpty`]'s placeholder for a long paste).
    pub typed: &'static str,
    /// How a pasted prompt is submitted.
    pub submit: Submit,
    /// The key that answers its permission dialogs yes (option 1, selected when the dialog
    /// opens).
    pub yes: &'static str,
    /// What its hooks report.
    pub hooks: Hooks,
    /// The API the scripted model server speaks to it.
    pub wire: Wire,
    /// How it meets a rate limit under the supervisor.
    pub rate_limit: RateLimit,
    /// The model's turns that hand `request` off to the `reviewer` role over bosun's MCP
    /// server, as this CLI offers MCP tools.
    pub handoff: fn(request: &str) -> Vec<Turn>,
    /// The subagents the model runs before it writes the artifact in the slow-model scenario,
    /// for a CLI whose subagents keep records of their own.
    pub subagents: Option<Subagents>,
}

/// Subagents as the slow-model scenario runs them. A subagent's requests declare tools, so
/// they take scripted turns from the same queue as the session's: `turns` are the session's
/// and the subagents' in the order their requests come, which `env` makes certain.
pub struct Subagents {
    pub turns: fn() -> Vec<Turn>,
    pub env: &'static [(&'static str, &'static str)],
    /// The request header that names the subagent a request comes from.
    pub header: &'static str,
    /// Whether each of `turns` goes to a subagent's request (else to the session's).
    pub by_subagent: &'static [bool],
}

/// How a pasted prompt is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submit {
    /// Enter, once.
    Once,
    /// Enter every 2 s until the prompt is gone from the input box: Claude Code can drop an
    /// Enter that comes while it is still taking the paste in (bosun's supervisor presses it
    /// again too).
    UntilGone,
    /// After 300 ms, Enter every 2 s until the box is empty again and no `placeholder` of a
    /// collapsed paste is left: Gemini CLI turns an Enter within 40 ms of a paste into a
    /// newline.
    UntilBoxEmpty { placeholder: &'static str },
}

/// What a CLI's hooks report.
#[derive(Debug, Clone, Copy)]
pub struct Hooks {
    /// How bosun wires them (for messages).
    pub wiring: &'static str,
    /// A turn's hook calls start with `UserPromptSubmit` and end with `Stop`, nothing after.
    pub bracket_the_turn: bool,
    /// The detail of the `PermissionRequest` hook that comes before its dialog (the model's
    /// justification), when it calls one.
    pub permission_detail: Option<&'static str>,
    /// What its hooks say of a turn that failed on a rate limit.
    pub on_rate_limit: OnRateLimit,
}

/// What a CLI's hooks say of a turn that failed on a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRateLimit {
    /// A `StopFailure` hook whose detail starts with `rate_limit: ` (the screen's error is
    /// the fallback).
    StopFailure,
    /// No hook but the prompt's: the error comes from the screen alone.
    PromptOnly,
    /// Not pinned down by the tests.
    Unchecked,
}

/// The API the scripted model server speaks to a CLI.
pub struct Wire {
    pub name: &'static str,
    /// The header that carries the scratch home's key, and its value.
    pub auth: fn() -> (&'static str, String),
    /// The kind of item a tool's result goes back to the model in.
    pub tool_result: &'static str,
    /// One line describing a recorded request (what the live tests print and save).
    pub describe: fn(&Request) -> String,
}

/// How a CLI meets a rate limit under the supervisor: the scripted turns that fail its first
/// run, the environment that bounds its own retries, whether its error names the status.
pub struct RateLimit {
    pub turns: fn() -> Vec<Turn>,
    pub env: &'static [(&'static str, &'static str)],
    /// The failed run's error names the 429.
    pub names_the_status: bool,
}

/// The row of `cli`.
pub fn spec(cli: Cli) -> &'static Spec {
    match cli {
        Cli::Claude => &CLAUDE,
        Cli::Codex => &CODEX,
        Cli::Gemini => &GEMINI,
    }
}

/// Every row.
pub fn all() -> [&'static Spec; 3] {
    [&CLAUDE, &CODEX, &GEMINI]
}

impl Spec {
    /// The provider's name, which is also the binary's (`claude`, `codex`, `gemini`).
    pub fn name(&self) -> &'static str {
        self.cli.provider()
    }

    /// [`Spec::args`], owned.
    pub fn args(&self) -> Vec<String> {
        self.args.iter().map(|a| a.to_string()).collect()
    }

    /// Asserts that request `r` carried the scratch home's key.
    pub fn assert_authenticated(&self, r: &Request) {
        let (header, value) = (self.wire.auth)();
        assert_eq!(r.header(header), Some(value.as_str()), "{header}");
    }
}

static CLAUDE: Spec = Spec {
    cli: Cli::Claude,
    args: &["--permission-mode", "acceptEdits"],
    // In the input box the text follows `❯` and a no-break space; once submitted it is
    // echoed above with a plain space.
    ready: "❯\u{a0}",
    busy: "esc to interrupt",
    typed: "❯\u{a0}",
    submit: Submit::UntilGone,
    yes: "Enter",
    hooks: Hooks {
        wiring: "--settings",
        bracket_the_turn: false,
        permission_detail: None,
        on_rate_limit: OnRateLimit::StopFailure,
    },
    wire: Wire {
        name: "Anthropic Messages",
        auth: || ("x-api-key", homes::ANTHROPIC_KEY.to_string()),
        tool_result: "tool_result",
        describe: |r| {
            let b = r.json();
            format!(
                "{} {} -> {:?} model={} max_tokens={} stream={} tools={}",
                r.method,
                r.path,
                r.answer,
                b["model"],
                b["max_tokens"],
                b["stream"],
                b["tools"].as_array().map_or(0, Vec::len),
            )
        },
    },
    rate_limit: RateLimit {
        // `x-should-retry: false`: Claude gives up on the 429 at once and shows it;
        // CLAUDE_CODE_MAX_RETRIES=1 bounds it should a version ignore the header. Its error
        // screen does not show the server's retry-after, so bosun's backoff is what keeps
        // the next attempt from coming sooner.
        turns: || vec![Turn::rate_limited(2).no_retry()],
        env: &[("CLAUDE_CODE_MAX_RETRIES", "1")],
        names_the_status: true,
    },
    handoff: |request| {
        vec![Turn::tool_use(
            "mcp__bosun__handoff",
            serde_json::json!({ "role": "reviewer", "task_text": request }),
        )]
    },
    // Claude Code 2.1.332's `Agent` tool (its declared input: `description`, `prompt`,
    // `subagent_type`, ...): a general-purpose subagent that writes a file and reports, then
    // a fork (whose record starts with a copy of the response that called it) that reports.
    // Subagents run in the background by default, and the session's next request then races
    // the subagent's first for the next turn; CLAUDE_CODE_DISABLE_BACKGROUND_TASKS runs them
    // in the foreground, the session waiting for each. Their records are alike either way.
    subagents: Some(Subagents {
        turns: || {
            vec![
                Turn::tool_use(
                    "Agent",
                    serde_json::json!({
                        "description": "Write parser notes",
                        "prompt": "Write docs/notes/parser.md with what the parser reads.",
                        "subagent_type": "general-purpose",
                    }),
                ),
                Turn::write_file("docs/notes/parser.md", "One line at a time.\n"),
                Turn::text("Wrote docs/notes/parser.md."),
                Turn::tool_use(
                    "Agent",
                    serde_json::json!({
                        "description": "Check the notes",
                        "prompt": "Say whether docs/notes/parser.md covers long lines.",
                        "subagent_type": "fork",
                    }),
                ),
                Turn::text("The notes do not cover long lines yet."),
            ]
        },
        env: &[("CLAUDE_CODE_DISABLE_BACKGROUND_TASKS", "1")],
        header: "x-claude-code-agent-id",
        by_subagent: &[false, true, true, false, true],
    }),
};

static CODEX: Spec = Spec {
    cli: Cli::Codex,
    args: &["--no-daemon", "--strict-config"],
    // The empty input box (its placeholder).
    ready: "› Ask Codex to do anything",
    busy: "esc to interrupt",
    typed: "› ",
    submit: Submit::Once,
    yes: "Enter",
    hooks: Hooks {
        wiring: "-c hooks={…}",
        bracket_the_turn: true,
        permission_detail: Some("Bash: May I write the file?"),
        on_rate_limit: OnRateLimit::PromptOnly,
    },
    wire: Wire {
        name: "OpenAI Responses",
        auth: || ("authorization", format!("Bearer {}", homes::CODEX_KEY)),
        tool_result: "function_call_output",
        describe: |r| {
            let b = r.json();
            let tools: Vec<&str> = b["tools"]
                .as_array()
                .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
                .unwrap_or_default();
            let source = r
                .header("x-codex-turn-metadata")
                .and_then(|h| serde_json::from_str::<serde_json::Value>(h).ok())
                .map_or(serde_json::Value::Null, |m| m["thread_source"].clone());
            format!(
                "{} {} -> {:?} model={} stream={} format={} source={} tools={}",
                r.method,
                r.path,
                r.answer,
                b["model"],
                b["stream"],
                b["text"]["format"]["name"],
                source,
                tools.join(","),
            )
        },
    },
    rate_limit: RateLimit {
        // Codex does not print the Retry-After it got: bosun's own backoff applies.
        turns: || vec![Turn::rate_limited(2)],
        env: &[],
        names_the_status: true,
    },
    // Codex 0.171.0 defers MCP tools: the model searches them first (`tool_search`), then
    // calls `handoff` in the `mcp__bosun` namespace.
    handoff: |request| {
        vec![
            Turn::tool_search("bosun handoff reviewer"),
            Turn::namespaced(
                "mcp__bosun",
                "handoff",
                serde_json::json!({ "role": "reviewer", "task_text": request }),
            ),
        ]
    },
    subagents: None,
};

static GEMINI: Spec = Spec {
    cli: Cli::Gemini,
    args: &["--approval-mode", "auto_edit", "--skip-trust"],
    // The input box with its placeholder.
    ready: "Type your message",
    busy: "esc to cancel",
    typed: "",
    submit: Submit::UntilBoxEmpty {
        placeholder: "[Pasted Text",
    },
    yes: "Enter",
    hooks: Hooks {
        wiring: "a per-run settings layer (GEMINI_CLI_HOME)",
        bracket_the_turn: false,
        permission_detail: None,
        on_rate_limit: OnRateLimit::Unchecked,
    },
    wire: Wire {
        name: "Gemini",
        auth: || ("x-goog-api-key", homes::GEMINI_KEY.to_string()),
        tool_result: "functionResponse",
        describe: |r| format!("{} {} -> {:?}", r.method, r.path, r.answer),
    },
    rate_limit: RateLimit {
        // Two attempts (the scratch home's general.maxAttempts), then Gemini CLI gives up
        // and asks "Keep trying / Stop" (bosun's settings layer sets errorVerbosity).
        turns: || vec![Turn::rate_limited(1), Turn::rate_limited(1)],
        env: &[],
        names_the_status: false,
    },
    // Gemini CLI 0.61.0 names MCP tools `mcp_<server>_<tool>`.
    handoff: |request| {
        vec![Turn::tool_use(
            "mcp_bosun_handoff",
            serde_json::json!({ "role": "reviewer", "task_text": request }),
        )]
    },
    subagents: None,
};
