//! Wiring bosun's hook command (and its MCP server) into each CLI's own mechanism, per run,
//! beside the provider profiles: a settings file for Claude Code (and agent-sim), `-c
//! hooks={…}` arguments for Codex, settings merged into the user's own in a per-run home for
//! Gemini CLI ([`layer`], [`merge`]). What the calls say is [`crate::agent::hooks`]'s.
//!
//! Every run gets a random token (128 bits, hex; [`crate::secret`]) given to the pane as
//! `BOSUN_HOOK_TOKEN` (with `BOSUN_RUN_ID`) through tmux's standard input, never a command
//! line; the store keeps only its SHA-256. Every hook command is `bosun --db <db> hook --run
//! <id>`, which reads the token from the environment the CLI passes its hooks. A provider with
//! `hooks = "claude-code"` is launched with `--settings <data_dir>/runs/<id>.settings.json`
//! (mode 0600, no secret in it), which adds Claude Code command hooks for [`SUBSCRIBED`] with
//! the hook's JSON on standard input
//! (format: <https://docs.anthropic.com/en/docs/claude-code/hooks>).
//!
//! A provider with `hooks = "codex"` is launched with one extra argument pair,
//! `-c hooks={…}` ([`codex_args`]): command hooks for [`CODEX_SUBSCRIBED`] running
//! `bosun --db <db> hook --run <id>` (the token comes from the pane's environment, so it is on
//! no command line), plus
//! `hooks.state."/<session-flags>/config.toml:<event>:0:0".trusted_hash` for each. Codex
//! 0.169.0 (`hooks` feature, stable and on by default) loads hooks from every config layer,
//! `-c` overrides included, but runs a user-level hook only once it is trusted: without the
//! hashes its `/hooks` view says "2 hooks need review before they can run" and none fires.
//! The hash is SHA-256 over the canonical JSON of `{event_name, hooks: [handler with
//! async = false]}`, checked against the one Codex itself recorded. Nothing is written to the
//! user's `CODEX_HOME`, and no other hook's trust changes (unlike
//! `--dangerously-bypass-hook-trust`, which would also run the user's and the repository's
//! unreviewed hooks).
//!
//! A provider with `hooks = "gemini"` gets `GEMINI_CLI_HOME=<data_dir>/runs/<id>.gemini-home`
//! in its pane's environment: a private home whose `.gemini/settings.json` is the user's own
//! settings with bosun's layer ([`gemini_settings`]) merged in ([`merge`]), everything else
//! linking to the user's real `~/.gemini/` ([`layer`]; the one per-process route Gemini CLI
//! 0.61.0 offers a user who is not root). Hook lists are concatenated, so the user's own hooks
//! stay in force. Its command hooks for [`GEMINI_SUBSCRIBED`]
//! run `bosun --db <db> hook --run <id>`. Hooks run only in a
//! trusted folder (the profile passes `--skip-trust`). Observed with 0.61.0: `BeforeAgent`
//! (`prompt`) when the prompt is taken, `BeforeTool` (`tool_name`) before a tool and its
//! dialog, `Notification` (`notification_type: ToolPermission`) when the dialog is drawn,
//! `AfterAgent` (`prompt_response`) once the prompt's last model turn ended — also after an
//! API error, with `prompt_response: "[no response text]"` — and nothing when the operator
//! declines a tool. They are stored under the Claude Code names they mean
//! ([`crate::agent::hooks::parse_payload`]): `UserPromptSubmit`, `PreToolUse`, `Notification` (as
//! `permission_prompt`), `Stop`, and `StopFailure` for an `AfterAgent` without a response.

pub mod layer;
pub mod merge;

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::store::hooks::HookEvent;

/// The hooks bosun subscribes to in Claude Code's settings.
pub const SUBSCRIBED: [HookEvent; 5] = [
    HookEvent::UserPromptSubmit,
    HookEvent::PreToolUse,
    HookEvent::Notification,
    HookEvent::Stop,
    HookEvent::StopFailure,
];

/// The hooks bosun subscribes to in Codex (0.169.0 has no failure hook: a turn that ends on
/// an API error calls none, and the screen reports it).
pub const CODEX_SUBSCRIBED: [HookEvent; 4] = [
    HookEvent::UserPromptSubmit,
    HookEvent::PreToolUse,
    HookEvent::PermissionRequest,
    HookEvent::Stop,
];

/// Where Codex says a `-c` override's hooks come from: the first part of their hook-state
/// keys (`<source>:<event label>:<group>:<handler>`).
const CODEX_SESSION_FLAGS: &str = "/<session-flags>/config.toml";

/// Seconds Claude Code gives each hook command before it gives up on it.
const HOOK_TIMEOUT_SECS: u64 = 10;

/// `s` quoted for a POSIX shell (Claude Code runs hook commands with `sh -c`).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Claude Code settings adding a command hook for each of [`SUBSCRIBED`] that calls
/// `bosun_exe --db db hook --run run_id`: the hook takes the token from the environment Claude
/// Code passes it (the pane's `BOSUN_HOOK_TOKEN`), so neither this file nor any command line
/// holds it.
pub fn claude_settings(bosun_exe: &str, db: &Path, run_id: i64) -> Value {
    let command = hook_command(bosun_exe, db, run_id);
    let mut all = serde_json::Map::new();
    for event in SUBSCRIBED {
        let mut matcher = json!({
            "hooks": [{ "type": "command", "command": command, "timeout": HOOK_TIMEOUT_SECS }]
        });
        if event == HookEvent::PreToolUse {
            matcher["matcher"] = json!("*");
        }
        all.insert(event.as_str().to_string(), json!([matcher]));
    }
    json!({ "hooks": all })
}

/// The `bosun hook` command line a hook runs with `sh -c`. Every CLI's hooks inherit the
/// pane's environment, where `bosun hook` reads the token (`BOSUN_HOOK_TOKEN`): it is on no
/// command line, neither the CLI's nor `bosun hook`'s own (both visible in `ps`).
fn hook_command(bosun_exe: &str, db: &Path, run_id: i64) -> String {
    format!(
        "{} --db {} hook --run {run_id}",
        shell_quote(bosun_exe),
        shell_quote(&db.to_string_lossy()),
    )
}

/// Codex's name for `event` in hook-state keys and trust hashes.
fn codex_label(event: HookEvent) -> &'static str {
    match event {
        HookEvent::UserPromptSubmit => "user_prompt_submit",
        HookEvent::PreToolUse => "pre_tool_use",
        HookEvent::PermissionRequest => "permission_request",
        HookEvent::Stop => "stop",
        // Not Codex hooks; never subscribed there.
        HookEvent::Notification => "notification",
        HookEvent::StopFailure => "stop_failure",
    }
}

/// `v` with every object's keys sorted, printed compactly: the form Codex hashes.
fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// `v` as a TOML inline value (JSON strings are valid TOML basic strings, and quoted keys
/// are valid TOML keys).
fn toml_inline(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}={}", Value::from(k.as_str()), toml_inline(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_inline).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// The hash Codex trusts a command hook by (`hooks.state.<key>.trusted_hash`): SHA-256 of
/// the canonical JSON of the event's label and its matcher group holding just this handler,
/// with Codex's defaults filled in (`async = false`).
fn codex_trust_hash(event: HookEvent, handler: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut handler = handler.clone();
    handler["async"] = json!(false);
    let identity = json!({ "event_name": codex_label(event), "hooks": [handler] });
    let digest = Sha256::digest(canonical_json(&identity).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The Codex arguments (`-c hooks={…}`) adding a command hook for each of
/// [`CODEX_SUBSCRIBED`] that calls `bosun_exe --db db hook --run run_id` (the token comes
/// from the environment), each trusted for this invocation by its hash in `hooks.state` (Codex
/// runs only hooks the user reviewed, or whose recorded hash matches). Nothing is written to
/// the user's `CODEX_HOME`; the user's own hooks are untouched.
pub fn codex_args(bosun_exe: &str, db: &Path, run_id: i64) -> Vec<String> {
    let command = hook_command(bosun_exe, db, run_id);
    let mut hooks = serde_json::Map::new();
    let mut state = serde_json::Map::new();
    for event in CODEX_SUBSCRIBED {
        let handler =
            json!({ "type": "command", "command": command, "timeout": HOOK_TIMEOUT_SECS });
        let key = format!("{CODEX_SESSION_FLAGS}:{}:0:0", codex_label(event));
        state.insert(
            key,
            json!({ "trusted_hash": codex_trust_hash(event, &handler) }),
        );
        hooks.insert(event.as_str().to_string(), json!([{ "hooks": [handler] }]));
    }
    hooks.insert("state".into(), Value::Object(state));
    vec![
        "-c".to_string(),
        format!("hooks={}", toml_inline(&Value::Object(hooks))),
    ]
}

/// The Gemini CLI events bosun subscribes to (0.61.0 names; see the module docs for what
/// each is stored as).
pub const GEMINI_SUBSCRIBED: [&str; 4] =
    ["BeforeAgent", "BeforeTool", "Notification", "AfterAgent"];

/// Gemini CLI settings (merged into the user's in the run's home, [`layer`]) adding a
/// command hook for each of [`GEMINI_SUBSCRIBED`] that calls `bosun_exe --db db hook --run
/// run_id` (the token comes from the environment; timeouts are milliseconds in Gemini CLI), and
/// `ui.errorVerbosity = "full"`: without it Gemini CLI retries a 429 or 5xx forever, silently;
/// with it, it asks "Keep trying / Stop" after `general.maxAttempts`, which bosun reads as
/// an error and requeues with its own backoff. The user's own hooks run too; bosun's
/// `errorVerbosity` wins ([`merge`]).
pub fn gemini_settings(bosun_exe: &str, db: &Path, run_id: i64) -> Value {
    gemini_settings_with(bosun_exe, db, run_id, false)
}

/// [`gemini_settings`], with bosun's MCP server in `mcpServers` when `mcp`: trusted (its tools
/// run without asking), given the run's id, token and config by name (`$VAR`, which Gemini
/// CLI expands from its own environment), so the file holds no secret.
pub fn gemini_settings_with(bosun_exe: &str, db: &Path, run_id: i64, mcp: bool) -> Value {
    let mut settings = gemini_hooks(bosun_exe, db, run_id);
    if mcp {
        settings["mcpServers"] = json!({
            "bosun": {
                "command": bosun_exe,
                "args": ["--db", db.to_string_lossy(), "mcp"],
                "env": {
                    "BOSUN_RUN_ID": "$BOSUN_RUN_ID",
                    "BOSUN_HOOK_TOKEN": "$BOSUN_HOOK_TOKEN",
                    "BOSUN_CONFIG": "$BOSUN_CONFIG",
                },
                "trust": true,
            }
        });
    }
    settings
}

fn gemini_hooks(bosun_exe: &str, db: &Path, run_id: i64) -> Value {
    let command = hook_command(bosun_exe, db, run_id);
    let mut all = serde_json::Map::new();
    for event in GEMINI_SUBSCRIBED {
        let handler = json!({
            "type": "command",
            "name": format!("bosun-{}", event.to_ascii_lowercase()),
            "command": command,
            "timeout": HOOK_TIMEOUT_SECS * 1000,
        });
        let mut group = json!({ "hooks": [handler] });
        if event == "BeforeTool" {
            group["matcher"] = json!("*");
        }
        all.insert(event.to_string(), json!([group]));
    }
    json!({ "hooks": all, "ui": { "errorVerbosity": "full" } })
}

/// Claude Code's `--mcp-config` file giving the agent bosun's MCP server (`bosun_exe --db db
/// mcp`). The server takes the run's id and token from the environment Claude Code passes
/// its stdio servers (the pane's: `BOSUN_RUN_ID`, `BOSUN_HOOK_TOKEN`), so the file holds no
/// secret.
pub fn claude_mcp_config(bosun_exe: &str, db: &Path) -> Value {
    json!({
        "mcpServers": {
            "bosun": {
                "type": "stdio",
                "command": bosun_exe,
                "args": ["--db", db.to_string_lossy(), "mcp"],
            }
        }
    })
}

/// The Codex arguments giving the agent bosun's MCP server: `-c mcp_servers.bosun.*`
/// overrides (nothing written to the user's `CODEX_HOME`) with the command, the environment
/// Codex must pass it (Codex gives stdio servers only a few variables of its own unless
/// `env_vars` names more) and its tools approved without asking.
pub fn codex_mcp_args(bosun_exe: &str, db: &Path) -> Vec<String> {
    let args = json!(["--db", db.to_string_lossy(), "mcp"]);
    [
        format!("mcp_servers.bosun.command={}", Value::from(bosun_exe)),
        format!("mcp_servers.bosun.args={}", toml_inline(&args)),
        "mcp_servers.bosun.env_vars=[\"BOSUN_RUN_ID\",\"BOSUN_HOOK_TOKEN\",\"BOSUN_CONFIG\"]"
            .to_string(),
        "mcp_servers.bosun.default_tools_approval_mode=\"approve\"".to_string(),
    ]
    .into_iter()
    .flat_map(|c| ["-c".to_string(), c])
    .collect()
}

/// The tool pattern that lets Claude Code call every tool of bosun's MCP server without
/// asking (`--allowedTools`).
pub const CLAUDE_MCP_TOOLS: &str = "mcp__bosun";

/// Writes `settings` to `path`, readable by the owner only, never through a symbolic link
/// planted there ([`crate::private::create_private`]).
///
/// # Errors
/// The I/O error if the file cannot be written (`ELOOP` for a symbolic link).
pub fn write_settings(path: &Path, settings: &Value) -> std::io::Result<()> {
    let mut f = crate::private::create_private(path, false)?;
    f.write_all(settings.to_string().as_bytes())?;
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_settings_add_a_hook_per_event_calling_bosun() {
        let v = gemini_settings("/opt/my bosun", Path::new("/data/b.db"), 7);
        for event in GEMINI_SUBSCRIBED {
            let h = &v["hooks"][event][0]["hooks"][0];
            assert_eq!(h["type"], "command");
            assert_eq!(h["command"], "'/opt/my bosun' --db /data/b.db hook --run 7");
            assert_eq!(h["timeout"], 10_000, "milliseconds");
        }
        assert_eq!(v["ui"]["errorVerbosity"], "full");
    }

    #[test]
    fn claude_settings_hold_no_token() {
        let v = claude_settings("/opt/my bosun", Path::new("/data/b.db"), 7);
        for event in SUBSCRIBED {
            let h = &v["hooks"][event.as_str()][0]["hooks"][0];
            assert_eq!(h["command"], "'/opt/my bosun' --db /data/b.db hook --run 7");
        }
        assert!(!v.to_string().contains("token"));
    }

    #[test]
    fn shell_quoting_survives_sh() {
        for s in ["plain", "with space", "it's", "$HOME `x` \"q\"", ""] {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {}", shell_quote(s))])
                .output()
                .expect("sh");
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }

    #[test]
    fn codex_trust_hash_is_the_one_codex_records() {
        // Codex 0.169.0's `/hooks` → "t trust all" wrote this hash for a `-c` Stop hook
        // `{type="command",command="/tmp/probe/x.sh Stop",timeout=10}`.
        let handler =
            json!({ "type": "command", "command": "/tmp/probe/x.sh Stop", "timeout": 10 });
        assert_eq!(
            codex_trust_hash(HookEvent::Stop, &handler),
            "sha256:b1c16d204f3310df397ad4ceafdc4202792e0b1045d1ebe8ab3b9539fc6217bc"
        );
    }

    #[test]
    fn codex_args_add_trusted_hooks_calling_bosun() {
        let args = codex_args("/opt/my bosun", Path::new("/data/b.db"), 7);
        assert_eq!(args.len(), 2);
        assert_eq!(args[0], "-c");
        let value = args[1].strip_prefix("hooks=").expect("hooks= override");
        let doc: toml::Table = toml::from_str(&format!("hooks = {value}")).expect("TOML");
        let hooks = doc["hooks"].as_table().expect("table");
        let command = "'/opt/my bosun' --db /data/b.db hook --run 7";
        let state = hooks["state"].as_table().expect("state");
        for event in CODEX_SUBSCRIBED {
            let handler = &hooks[event.as_str()][0]["hooks"][0];
            assert_eq!(handler["type"].as_str(), Some("command"));
            assert_eq!(handler["command"].as_str(), Some(command));
            assert_eq!(handler["timeout"].as_integer(), Some(10));
            let key = format!("/<session-flags>/config.toml:{}:0:0", codex_label(event));
            let want = codex_trust_hash(
                event,
                &json!({ "type": "command", "command": command, "timeout": 10 }),
            );
            assert_eq!(state[&key]["trusted_hash"].as_str(), Some(want.as_str()));
        }
        assert_eq!(hooks.len(), CODEX_SUBSCRIBED.len() + 1);
        // No token on Codex's command line, nor on the hook's.
        assert!(!args[1].contains("--token"));
    }

    #[test]
    fn the_mcp_server_is_given_without_its_secret() {
        let db = Path::new("/data/b.db");
        let claude = claude_mcp_config("/opt/bosun", db);
        assert_eq!(
            claude["mcpServers"]["bosun"]["args"],
            json!(["--db", "/data/b.db", "mcp"])
        );
        assert!(!claude.to_string().contains("TOKEN"), "{claude}");
        let codex = codex_mcp_args("/opt/bosun", db);
        assert_eq!(codex.len(), 8);
        assert!(codex.iter().step_by(2).all(|a| a == "-c"));
        assert_eq!(codex[1], r#"mcp_servers.bosun.command="/opt/bosun""#);
        assert_eq!(
            codex[3],
            r#"mcp_servers.bosun.args=["--db","/data/b.db","mcp"]"#
        );
        assert!(
            codex[5].contains("BOSUN_HOOK_TOKEN"),
            "passed by name, not value"
        );
    }
}
