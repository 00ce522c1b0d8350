//! The private home a Gemini CLI run gets, through which bosun's per-run settings reach it.
//!
//! Gemini CLI 0.61.0 has two ways to add settings to one process: a system layer
//! (`GEMINI_CLI_SYSTEM_DEFAULTS_PATH`, `GEMINI_CLI_SYSTEM_SETTINGS_PATH`), which it reads only
//! when root owns the file and every directory above it (`isFileAndDirectorySecureSync` in
//! its bundle) — never for an operator who is not root — and `GEMINI_CLI_HOME`, the home its
//! `homedir()` returns, whose `.gemini/settings.json` are the user's settings. bosun uses the
//! second, always (root or not, so its tests run what users get): each run gets
//! `runs/<run>.gemini-home/` (0700, [`run_home`]) and `GEMINI_CLI_HOME` naming it, where
//!
//! - `.gemini/settings.json` (0600) is the user's real `settings.json` with bosun's layer
//!   merged in ([`super::merge`]): the user's own hooks keep running next to bosun's;
//! - every other entry of the real `.gemini/` (`oauth_creds.json`, `google_accounts.json`,
//!   `trustedFolders.json`, `installation_id`, `tmp/` with the chat records, `history/`,
//!   `GEMINI.md`, …) is a symbolic link to the real one, so auth, trust, records and memory
//!   are the user's own (the real `.gemini/` and `tmp/` are made if missing, so records land
//!   there); `.env` and `.agents` beside it link to the real home's;
//! - `settings.json` at the top links to `.gemini/settings.json` (Gemini CLI's launcher reads
//!   `$GEMINI_CLI_HOME/settings.json` for its memory flags).
//!
//! The real home is the one Gemini CLI would use without bosun ([`real_home`]):
//! `GEMINI_CLI_HOME` when the operator set one, else `HOME`. The run's home is removed when
//! its window is closed ([`remove_run_home`]), or by the next supervisor when its pane is gone
//! (`recover.rs`); neither making nor removing it follows a
//! symbolic link planted where it goes. No file in it holds the hook token (the hooks and the
//! MCP server read `BOSUN_HOOK_TOKEN` from their environment). What Gemini CLI creates anew
//! in the run's `.gemini/` (an entry the real one did not have) goes with it.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The variable naming Gemini CLI's home.
pub const HOME_VAR: &str = "GEMINI_CLI_HOME";

/// Entries of the real home itself (beside `.gemini/`) Gemini CLI 0.61.0 reads through its
/// `homedir()`: the last `.env` it looks for and the user's agent skills.
const HOME_ENTRIES: [&str; 2] = [".env", ".agents"];

/// The private home of Gemini CLI run `run_id` whose log goes to `runs_dir`.
pub fn run_home(runs_dir: &Path, run_id: i64) -> PathBuf {
    runs_dir.join(format!("{run_id}.gemini-home"))
}

/// The home Gemini CLI would use in a pane given `pane_env` (the provider's `env`) without
/// bosun: a non-empty `GEMINI_CLI_HOME` of the pane, else of bosun's own environment (which
/// its tmux server passes on), else `HOME` the same way, else the user's home directory.
pub fn real_home(pane_env: &BTreeMap<String, String>) -> Option<PathBuf> {
    let of = |name: &str| {
        pane_env
            .get(name)
            .map(PathBuf::from)
            .or_else(|| std::env::var_os(name).map(PathBuf::from))
            .filter(|p| !p.as_os_str().is_empty())
    };
    of(HOME_VAR)
        .or_else(|| of("HOME"))
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()))
        .map(|p| std::path::absolute(&p).unwrap_or(p))
}

/// The user's Gemini CLI settings file under home `real`.
pub fn user_settings_path(real: &Path) -> PathBuf {
    real.join(".gemini").join("settings.json")
}

/// Most bytes of the user's Gemini CLI settings file read (a real one is a few KiB).
const USER_SETTINGS_MAX: usize = 1024 * 1024;

/// The user's settings under home `real`: `{}` when there is no file.
///
/// # Errors
/// Why the file cannot be used, in words naming it (Gemini CLI itself would refuse it).
pub fn user_settings(real: &Path) -> Result<Value, String> {
    let path = user_settings_path(real);
    // Bounded, regular files only: an agent running as the user could swap it for a FIFO or
    // a link to /dev/zero.
    match crate::untrusted::read_regular(&path, USER_SETTINGS_MAX)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
    {
        Ok(text) => super::merge::parse_user_settings(&text)
            .map_err(|e| format!("Gemini CLI settings '{}': {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(e) => Err(format!(
            "Gemini CLI settings '{}' cannot be read: {e}",
            path.display()
        )),
    }
}

/// Makes `home` (removing what was there first, without following a link) as the module docs
/// say: the user's settings under `real` merged with bosun's `layer`, links to the rest.
/// Returns the problem with the user's settings, if any (then bosun's layer is used alone,
/// and the run goes on).
///
/// # Errors
/// The I/O error of a directory, link or file that cannot be made.
pub fn build_run_home(home: &Path, real: &Path, layer: &Value) -> std::io::Result<Option<String>> {
    remove_tree(home)?;
    let mkdir = |dir: &Path| {
        std::fs::DirBuilder::new()
            .mode(crate::private::DIR_MODE)
            .create(dir)
    };
    // Not recursive: a directory (or link) someone put here in between is refused.
    mkdir(home)?;
    let dot = home.join(".gemini");
    mkdir(&dot)?;
    let real_dot = real.join(".gemini");
    // Where Gemini CLI writes its chat records: in the real home, also on a first run.
    for dir in [&real_dot, &real_dot.join("tmp")] {
        if let Err(e) = crate::private::private_dir(dir) {
            tracing::debug!(dir = %dir.display(), error = %e, "cannot make Gemini CLI's directory");
        }
    }
    let (user, problem) = match user_settings(real) {
        Ok(v) => (v, None),
        Err(problem) => (serde_json::json!({}), Some(problem)),
    };
    let merged = super::merge::merge(&user, layer);
    let mut f = crate::private::create_private(&dot.join("settings.json"), true)?;
    f.write_all(serde_json::to_string_pretty(&merged)?.as_bytes())?;
    f.flush()?;
    for entry in std::fs::read_dir(&real_dot).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name != "settings.json" {
            std::os::unix::fs::symlink(real_dot.join(&name), dot.join(&name))?;
        }
    }
    for name in HOME_ENTRIES {
        let target = real.join(name);
        if std::fs::symlink_metadata(&target).is_ok() {
            std::os::unix::fs::symlink(target, home.join(name))?;
        }
    }
    std::os::unix::fs::symlink(".gemini/settings.json", home.join("settings.json"))?;
    Ok(problem)
}

/// Removes the private home of run `run_id` ([`run_home`]), if any: a symbolic link there is
/// removed itself, and nothing is followed inside (the links to the real home stay links).
pub fn remove_run_home(runs_dir: &Path, run_id: i64) {
    let home = run_home(runs_dir, run_id);
    if let Err(e) = remove_tree(&home) {
        tracing::warn!(run = run_id, home = %home.display(), error = %e, "cannot remove the run's Gemini CLI home");
    }
}

/// Removes `path` whatever it is, never following a symbolic link (`remove_dir_all` removes
/// a link itself and does not follow those inside); nothing there is `Ok`.
fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_run_home_merges_the_settings_and_links_the_rest() {
        let d = tempfile::tempdir().expect("tempdir");
        let real = d.path().join("real");
        let real_dot = real.join(".gemini");
        std::fs::create_dir_all(real_dot.join("history")).expect("dirs");
        std::fs::write(real_dot.join("oauth_creds.json"), "{}").expect("creds");
        std::fs::write(
            real_dot.join("settings.json"),
            r#"{ "hooks": { "AfterAgent": [{ "hooks": [{ "type": "command", "command": "mine" }] }] } }"#,
        )
        .expect("settings");
        std::fs::write(real.join(".env"), "A=1").expect("env");
        let runs = d.path().join("runs");
        std::fs::create_dir_all(&runs).expect("runs");
        let home = run_home(&runs, 4);
        // Something planted where the home goes is removed, not followed.
        let victim = d.path().join("victim");
        std::fs::create_dir(&victim).expect("victim");
        std::os::unix::fs::symlink(&victim, &home).expect("planted link");
        let layer = super::super::gemini_settings_with("/b", Path::new("/d.db"), 4, true);
        assert_eq!(build_run_home(&home, &real, &layer).expect("built"), None);
        assert!(victim.read_dir().expect("victim").next().is_none());
        let meta = std::fs::symlink_metadata(&home).expect("home");
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o777, 0o700);
        let settings = home.join(".gemini/settings.json");
        assert_eq!(
            std::fs::metadata(&settings).expect("file").mode() & 0o777,
            0o600
        );
        let merged: Value =
            serde_json::from_str(&std::fs::read_to_string(&settings).expect("read")).expect("json");
        assert_eq!(
            merged["hooks"]["AfterAgent"][0]["hooks"][0]["command"],
            "mine"
        );
        assert_eq!(
            merged["hooks"]["AfterAgent"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(merged["mcpServers"]["bosun"]["command"], "/b");
        assert!(!merged.to_string().contains("token"));
        for name in ["oauth_creds.json", "history", "tmp"] {
            let link = home.join(".gemini").join(name);
            assert_eq!(
                std::fs::read_link(&link).expect("link"),
                real_dot.join(name)
            );
        }
        assert!(real_dot.join("tmp").is_dir(), "made for the chat records");
        assert_eq!(
            std::fs::read_link(home.join(".env")).expect("link"),
            real.join(".env")
        );
        assert!(!home.join(".agents").exists());
        assert_eq!(
            std::fs::read_to_string(home.join("settings.json")).expect("top link"),
            std::fs::read_to_string(&settings).expect("settings")
        );

        // A settings file Gemini CLI would refuse: named, and bosun's layer alone.
        std::fs::write(real_dot.join("settings.json"), "{ nope").expect("settings");
        let problem = build_run_home(&home, &real, &layer)
            .expect("built")
            .expect("a problem");
        assert!(problem.contains("is not valid JSON"), "{problem}");

        remove_run_home(&runs, 4);
        assert!(std::fs::symlink_metadata(&home).is_err());
        assert!(
            real_dot.join("oauth_creds.json").is_file(),
            "links removed, not followed"
        );
        assert!(real_dot.join("history").is_dir());
    }

    #[test]
    fn the_real_home_is_the_operators_gemini_home_first() {
        let mut env = BTreeMap::new();
        env.insert("HOME".to_string(), "/h".to_string());
        if std::env::var_os(HOME_VAR).is_none() {
            assert_eq!(real_home(&env), Some(PathBuf::from("/h")));
        }
        env.insert(HOME_VAR.to_string(), "/g".to_string());
        assert_eq!(real_home(&env), Some(PathBuf::from("/g")));
    }
}
