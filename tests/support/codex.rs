//! A private `CODEX_HOME` for driving the real Codex CLI against the scripted model server:
//! the product's [`bosun::sim::homes`] with the names the Codex tests use. Details:
//! `tests/fixtures/codex-0.169.0/README.md`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bosun::sim::homes;

pub use bosun::sim::homes::CodexApproval as Approval;

/// The variable Codex reads the API key from (`env_key` of the scripted provider).
pub const KEY_VAR: &str = homes::CODEX_KEY_VAR;
/// The key itself; the server does not check it, the tests check it arrives.
pub const KEY: &str = homes::CODEX_KEY;
/// The model the scripted provider is configured with.
pub const MODEL: &str = homes::CODEX_MODEL;
/// Flags for every test launch: no background app-server daemon (it outlives the pane and
/// its socket in `/tmp/codex-daemon-<uid>/` collides across CODEX_HOMEs), and unknown config
/// keys are errors, so a typo in the config cannot go unnoticed.
pub const ARGS: &[&str] = &["--no-daemon", "--strict-config"];

/// Writes `<codex_home>/config.toml` (see [`homes::codex_home_write`]).
pub fn write_home(codex_home: &Path, base_url: &str, trusted: &[&Path], approval: Approval) {
    homes::codex_home_write(codex_home, base_url, trusted, approval).expect("config.toml");
}

/// The migration notice lines (see [`homes::codex_migration_notice`]).
pub fn migration_notice() -> String {
    homes::codex_migration_notice()
}

/// Removes the migration notice from `<codex_home>/config.toml` (edited as TOML), so Codex
/// offers the model migration again.
pub fn forget_migration_notice(codex_home: &Path) {
    let path = codex_home.join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config.toml");
    let mut config: toml::Table = toml::from_str(&text).expect("config.toml is TOML");
    let notice: toml::Table = toml::from_str(&migration_notice()).expect("the notice is TOML");
    if let Some(toml::Value::Table(mine)) = config.get_mut("notice") {
        for key in notice
            .get("notice")
            .and_then(|n| n.as_table())
            .into_iter()
            .flatten()
        {
            mine.remove(key.0);
        }
        if mine.is_empty() {
            config.remove("notice");
        }
    }
    std::fs::write(&path, toml::to_string(&config).expect("TOML")).expect("config.toml");
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
