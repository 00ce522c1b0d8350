//! Logging with `tracing`, to a file only — never to the terminal, which the console owns.
//!
//! The file is `$XDG_STATE_HOME/bosun/bosun.log` unless `--log-file` names another. The level
//! comes from `BOSUN_LOG`, else `RUST_LOG`, else `info` (EnvFilter syntax, e.g.
//! `bosun=debug`).

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use tracing_subscriber::EnvFilter;

/// Keeps logging set up while alive (nothing to flush today; reserved for a buffered
/// writer).
pub struct Guard;

/// Starts logging to `file` (or the default file). If the file cannot be opened, logging is
/// off: bosun must not fail, nor write to the terminal, because of its log.
pub fn init(file: Option<&Path>) -> Guard {
    let path = file.map_or_else(
        || crate::config::paths::state_dir().join("bosun.log"),
        Path::to_path_buf,
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The state directory is bosun's own: private even if an older bosun made it 0755.
        if file.is_none() {
            let _ = crate::private::private_dir(dir);
        } else {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    let Ok(f) = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(crate::private::FILE_MODE)
        // bosun's own log is never written through a link planted there; a `--log-file` is
        // the operator's choice (`/dev/stderr` is a link).
        .custom_flags(if file.is_none() { libc::O_NOFOLLOW } else { 0 })
        .open(&path)
    else {
        return Guard;
    };
    // A log made by an older bosun (0644) becomes private too.
    if file.is_none() {
        let _ = crate::private::tighten(&path, crate::private::FILE_MODE);
    }
    let filter = std::env::var("BOSUN_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(f))
        .try_init();
    Guard
}
