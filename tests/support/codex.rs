//! A private `CODEX_HOME` for driving the real Codex CLI (`@openai/codex`, 0.169.0 checked)
//! against the scripted model server, with no login, onboarding, update or model-migration
//! screen in the way. Details: `tests/fixtures/codex-0.169.0/README.md`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The variable Codex reads the API key from (`env_key` of the scripted provider).
pub const KEY_VAR: &str = "BOSUN_SCRIPTED_OPENAI_KEY";
/// The key itself; the server does not check it, the tests check it arrives.
pub const KEY: &str = "sk-bosun-scripted-test-key-0123456789abcdef";
/// A model from Codex's bundled catalogue that declares the classic function tools
/// (`exec_command`, `apply_patch`, ...). An unknown slug works too but shows a "Model metadata
/// not found" warning; `gpt-6.1-sol` declares no tools at all but a JavaScript `exec` tool in
/// the input ("code mode").
pub const MODEL: &str = "gpt-5.5";
/// Flags for every test launch: no background app-server daemon (it outlives the pane and
/// its socket in `/tmp/codex-daemon-<uid>/` collides across CODEX_HOMEs), and unknown config
/// keys are errors, so a typo in [`write_home`] cannot go unnoticed.
pub const ARGS: &[&str] = &["--no-daemon", "--strict-config"];

/// How a test wants Codex to ask before running commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// `approval_policy = "on-request"`, `sandbox_mode = "danger-full-access"`: commands run
    /// at once, nothing is asked (the sandbox cannot be escaped, so there is nothing to ask).
    Never,
    /// `approval_policy = "on-request"`, `sandbox_mode = "workspace-write"`: a command that
    /// asks to leave the sandbox (`sandbox_permissions = "require_escalated"`) shows the
    /// approval prompt. (`approval_policy = "untrusted"` is refused by 0.169.0.)
    OnEscalation,
}

/// Writes `<codex_home>/config.toml`: the scripted provider at `base_url` (the server's
/// `http://127.0.0.1:PORT`; `/v1` is added), no retries by Codex itself (so a 429 or a
/// dropped stream shows at once), every directory in `trusted` trusted, approvals as asked,
/// and the notices that would otherwise pop up over the prompt marked as seen.
pub fn write_home(codex_home: &Path, base_url: &str, trusted: &[&Path], approval: Approval) {
    std::fs::create_dir_all(codex_home).expect("CODEX_HOME");
    let sandbox = match approval {
        Approval::Never => "danger-full-access",
        Approval::OnEscalation => "workspace-write",
    };
    let mut config = format!(
        r#"model = "{MODEL}"
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
env_key = "{KEY_VAR}"
request_max_retries = 0
stream_max_retries = 0
"#,
        notice = migration_notice(),
    );
    for dir in trusted {
        config.push_str(&format!(
            "\n[projects.{}]\ntrust_level = \"trusted\"\n",
            toml_string(&dir.to_string_lossy())
        ));
    }
    std::fs::write(codex_home.join("config.toml"), config).expect("config.toml");
}

/// The config lines marking the migration from [`MODEL`] to `gpt-6-sol` as seen: without
/// them Codex 0.169.0 opens a "Meet GPT-6 Sol … 1. Try new model / 2. Use existing model"
/// dialog over the input box about a second after start.
pub fn migration_notice() -> String {
    format!("[notice.model_migrations]\n\"{MODEL}\" = \"gpt-6-sol\"\n")
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The environment Codex needs besides its config: its home, a `HOME` of its own (the
/// machine's `~/.bashrc` is not read by the login shell Codex runs commands in), the key.
pub fn env(codex_home: &Path, home: &Path) -> Vec<(String, String)> {
    vec![
        ("CODEX_HOME".into(), codex_home.display().to_string()),
        ("HOME".into(), home.display().to_string()),
        (KEY_VAR.into(), KEY.into()),
        ("TERM".into(), "xterm-256color".into()),
    ]
}

/// `codex_home` and `home` under `dir`, created.
pub fn dirs(dir: &Path) -> (PathBuf, PathBuf) {
    let codex_home = dir.join("codex-home");
    let home = dir.join("home");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    std::fs::create_dir_all(&home).expect("home");
    (codex_home, home)
}
