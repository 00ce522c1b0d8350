//! Scratch homes that point a real agent CLI at bosun's scripted model server
//! ([`super::model`]) with nothing in the way: no login, onboarding, trust, update or
//! model-migration screen, no telemetry, and nothing of the operator's own home touched.
//! `bosun providers --check` and the live tests use them.
//!
//! [`prepare`] writes the CLI's files under a directory and returns the environment its pane
//! needs. What each CLI needs was learned from its real screens (README.md, Providers;
//! `tests/fixtures/<cli>-<version>/README.md`).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::model::Turn;

/// An agent CLI bosun can drive against its scripted model server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    /// Claude Code (`claude`), Anthropic Messages API.
    Claude,
    /// Codex (`codex`), OpenAI Responses API.
    Codex,
    /// Gemini CLI (`gemini`), Gemini API.
    Gemini,
}

impl Cli {
    /// The built-in provider profile of the CLI.
    pub fn provider(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Gemini => "gemini",
        }
    }

    /// The turn in which the model writes `content` to `path` (relative to the CLI's working
    /// directory) with the CLI's own file tool, which its built-in profile lets it use
    /// without asking: Claude Code's `Write` (`--permission-mode acceptEdits`), Codex's
    /// `apply_patch`, Gemini CLI's `write_file` (`--approval-mode auto_edit`).
    pub fn write_turn(self, path: &str, content: &str) -> Turn {
        match self {
            Cli::Claude => Turn::write_file(path, content),
            Cli::Codex => {
                let lines: String = content.lines().map(|l| format!("+{l}\n")).collect();
                Turn::apply_patch(format!(
                    "*** Begin Patch\n*** Add File: {path}\n{lines}*** End Patch"
                ))
            }
            Cli::Gemini => Turn::tool_use(
                "write_file",
                json!({ "file_path": path, "content": content }),
            ),
        }
    }

    /// Arguments that make the CLI ask before [`Cli::asking_turn`], added after its
    /// profile's own: Claude Code 2.1.332 in `acceptEdits` writes files and runs file-writing
    /// shell commands without asking, so it gets `--permission-mode default` (the last one
    /// given wins).
    pub fn asking_args(self) -> &'static [&'static str] {
        match self {
            Cli::Claude => &["--permission-mode", "default"],
            Cli::Codex | Cli::Gemini => &[],
        }
    }

    /// A turn the CLI asks the operator's permission for, with [`Cli::asking_args`] (and, for
    /// Codex, [`CodexApproval::OnEscalation`]): Claude Code's `Write` of `content` to `path`;
    /// for Codex and Gemini CLI, a shell command that writes it.
    pub fn asking_turn(self, path: &str, content: &str) -> Turn {
        let dir = Path::new(path)
            .parent()
            .map_or(String::new(), |d| d.display().to_string());
        let mkdir = if dir.is_empty() {
            String::new()
        } else {
            format!("mkdir -p {dir} && ")
        };
        let command = format!("{mkdir}printf '{}' > {path}", content.replace('\n', "\\n"));
        match self {
            Cli::Claude => self.write_turn(path, content),
            Cli::Codex => Turn::shell_escalated(command, "May I write the file?"),
            Cli::Gemini => Turn::tool_use(
                "run_shell_command",
                json!({ "command": command, "description": "Write the file" }),
            ),
        }
    }

    /// Turns after which the CLI gives up on its turn at once and shows an error: a 429
    /// that Claude Code is told not to retry (`x-should-retry: false`; [`prepare`] also sets
    /// `CLAUDE_CODE_MAX_RETRIES=1`), a 429 for Codex (its scratch config retries nothing), a
    /// 400 for Gemini CLI (it retries a 429 twice, then asks whether to keep trying).
    pub fn error_turns(self) -> Vec<Turn> {
        match self {
            Cli::Claude => vec![Turn::rate_limited(1).no_retry()],
            Cli::Codex => vec![Turn::rate_limited(1)],
            Cli::Gemini => vec![Turn::Error {
                status: 400,
                kind: "invalid_request_error".into(),
                message: "Request contains an invalid argument.".into(),
                retry_after: None,
                should_retry: None,
            }],
        }
    }

    /// The CLI of a built-in provider profile, by name.
    pub fn of_provider(name: &str) -> Option<Cli> {
        match name {
            "claude" => Some(Cli::Claude),
            "codex" => Some(Cli::Codex),
            "gemini" => Some(Cli::Gemini),
            _ => None,
        }
    }
}

/// The API key the CLIs are given (the scripted server accepts any).
pub const ANTHROPIC_KEY: &str = "sk-ant-api03-bosun-scripted-test-key-0123456789abcdef";
/// The variable Codex reads its key from (`env_key` of the scripted provider).
pub const CODEX_KEY_VAR: &str = "BOSUN_SCRIPTED_OPENAI_KEY";
/// Codex's key.
pub const CODEX_KEY: &str = "sk-bosun-scripted-test-key-0123456789abcdef";
/// Gemini CLI's key (`GEMINI_API_KEY`).
pub const GEMINI_KEY: &str = "bosun-scripted-gemini-key";
/// A model from Codex's bundled catalogue that declares the classic function tools
/// (`exec_command`, `apply_patch`, ...). An unknown slug works too but shows a "Model metadata
/// not found" warning.
pub const CODEX_MODEL: &str = "gpt-5.5";

/// How Codex asks before running commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodexApproval {
    /// `approval_policy = "on-request"`, `sandbox_mode = "danger-full-access"`: commands run
    /// at once, nothing is asked.
    Never,
    /// `approval_policy = "on-request"`, `sandbox_mode = "workspace-write"`: a command that
    /// asks to leave the sandbox (`sandbox_permissions = "require_escalated"`) shows the
    /// approval prompt.
    OnEscalation,
}

/// Writes the files `cli` needs under `dir` (created) to talk to the server at `base_url`
/// (`http://127.0.0.1:PORT`) and to trust every directory in `trusted`; returns the
/// environment its pane needs (its own `HOME` among it).
///
/// # Errors
/// The I/O error if a directory or file cannot be written.
pub fn prepare(
    cli: Cli,
    dir: &Path,
    base_url: &str,
    trusted: &[&Path],
    approval: CodexApproval,
) -> std::io::Result<Vec<(String, String)>> {
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    let mut env = vec![
        ("HOME".to_string(), home.display().to_string()),
        ("TERM".to_string(), "xterm-256color".to_string()),
    ];
    match cli {
        Cli::Claude => {
            claude_home(&home, trusted)?;
            env.extend([
                ("ANTHROPIC_BASE_URL".into(), base_url.to_string()),
                ("ANTHROPIC_API_KEY".into(), ANTHROPIC_KEY.to_string()),
                ("DISABLE_AUTOUPDATER".into(), "1".into()),
                (
                    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                    "1".into(),
                ),
            ]);
        }
        Cli::Codex => {
            let codex_home = dir.join("codex-home");
            codex_home_write(&codex_home, base_url, trusted, approval)?;
            env.extend([
                ("CODEX_HOME".into(), codex_home.display().to_string()),
                (CODEX_KEY_VAR.into(), CODEX_KEY.into()),
            ]);
        }
        Cli::Gemini => {
            let gemini_home = dir.join("gemini-home");
            gemini_home_write(&gemini_home)?;
            env.extend([
                // CI=true makes Gemini CLI run headless (and CI sets it).
                ("CI".into(), "false".into()),
                ("GEMINI_CLI_HOME".into(), gemini_home.display().to_string()),
                ("GOOGLE_GEMINI_BASE_URL".into(), base_url.to_string()),
                ("GEMINI_API_KEY".into(), GEMINI_KEY.into()),
            ]);
        }
    }
    Ok(env)
}

/// `<home>/.claude.json`: onboarding done, the key approved, `trusted` trusted (without it
/// Claude Code 2.1.x stops on "Unable to connect to Anthropic services" or a trust dialog).
fn claude_home(home: &Path, trusted: &[&Path]) -> std::io::Result<()> {
    let projects: serde_json::Map<String, serde_json::Value> = trusted
        .iter()
        .map(|p| {
            (
                p.to_string_lossy().into_owned(),
                json!({ "hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true }),
            )
        })
        .collect();
    let config = json!({
        "hasCompletedOnboarding": true,
        "customApiKeyResponses": {
            "approved": [&ANTHROPIC_KEY[ANTHROPIC_KEY.len() - 20..]],
            "rejected": [],
        },
        "projects": projects,
    });
    std::fs::write(home.join(".claude.json"), config.to_string())
}

/// `<codex_home>/config.toml`: the scripted provider at `base_url` (`/v1` is added), no
/// retries by Codex itself (so a 429 or a dropped stream shows at once), `trusted` trusted,
/// approvals as asked, and the notices that would pop up over the prompt marked as seen.
pub fn codex_home_write(
    codex_home: &Path,
    base_url: &str,
    trusted: &[&Path],
    approval: CodexApproval,
) -> std::io::Result<()> {
    std::fs::create_dir_all(codex_home)?;
    let sandbox = match approval {
        CodexApproval::Never => "danger-full-access",
        CodexApproval::OnEscalation => "workspace-write",
    };
    let mut config = format!(
        r#"model = "{CODEX_MODEL}"
model_provider = "scripted"
approval_policy = "on-request"
sandbox_mode = "{sandbox}"
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[tui]
screen_reader_detection_done = true

{notice}
[model_providers.scripted]
name = "Scripted"
base_url = "{base_url}/v1"
wire_api = "responses"
env_key = "{CODEX_KEY_VAR}"
request_max_retries = 0
stream_max_retries = 0
"#,
        notice = codex_migration_notice(),
    );
    for dir in trusted {
        config.push_str(&format!(
            "\n[projects.{}]\ntrust_level = \"trusted\"\n",
            toml::Value::String(dir.to_string_lossy().into_owned())
        ));
    }
    std::fs::write(codex_home.join("config.toml"), config)
}

/// The config lines marking the migration from [`CODEX_MODEL`] to `gpt-6-sol` as seen:
/// without them Codex (0.169.0, 0.171.0) opens a "Meet GPT-6 Sol" dialog over the input box
/// about a second after start, which swallows the first paste.
pub fn codex_migration_notice() -> String {
    format!("[notice.model_migrations]\n\"{CODEX_MODEL}\" = \"gpt-6-sol\"\n")
}

/// `<gemini_home>/.gemini/settings.json` (`GEMINI_CLI_HOME`): API-key auth (else an auth
/// dialog), folder trust off (else a trust dialog), no update check, usage statistics or
/// telemetry (they would reach for the network), no IDE nudge or terminal warning, and two
/// attempts per request before Gemini CLI gives up (its default is ten, with back-off).
fn gemini_home_write(gemini_home: &Path) -> std::io::Result<PathBuf> {
    let dot = gemini_home.join(".gemini");
    std::fs::create_dir_all(&dot)?;
    let settings = json!({
        "security": { "auth": { "selectedType": "gemini-api-key" }, "folderTrust": { "enabled": false } },
        "general": { "enableAutoUpdate": false, "enableAutoUpdateNotification": false, "maxAttempts": 2 },
        "privacy": { "usageStatisticsEnabled": false },
        "telemetry": { "enabled": false },
        "ide": { "enabled": false, "hasSeenNudge": true },
        "ui": { "showCompatibilityWarnings": false },
    });
    let path = dot.join("settings.json");
    std::fs::write(&path, settings.to_string())?;
    Ok(path)
}
