//! Where bosun keeps its files, following the XDG base directory specification
//! (<https://specifications.freedesktop.org/basedir-spec/latest/>) through the `directories`
//! crate: `$XDG_CONFIG_HOME/bosun`, `$XDG_DATA_HOME/bosun`, `$XDG_STATE_HOME/bosun`.

use std::path::PathBuf;

use directories::ProjectDirs;

/// Environment variable that overrides the database path (same as `--db`).
pub const DB_ENV: &str = "BOSUN_DB";

fn dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "bosun")
}

/// The user config directory, `$XDG_CONFIG_HOME/bosun` (usually `~/.config/bosun`).
/// `None` when no home directory can be found.
pub fn config_dir() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().to_path_buf())
}

/// The user config file, `config_dir()/config.toml`.
pub fn user_config_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.toml"))
}

/// The data directory, `$XDG_DATA_HOME/bosun` (usually `~/.local/share/bosun`): the database
/// and the run logs. Falls back to `./.bosun` when no home directory can be found.
pub fn data_dir() -> PathBuf {
    dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".bosun"))
}

/// The state directory, `$XDG_STATE_HOME/bosun` (usually `~/.local/state/bosun`): log files.
pub fn state_dir() -> PathBuf {
    dirs()
        .and_then(|d| d.state_dir().map(|p| p.to_path_buf()))
        .unwrap_or_else(data_dir)
}

/// The database path: `explicit` (from `--db`) if given, else `$BOSUN_DB`, else
/// `data_dir()/bosun.db`.
pub fn db_path(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os(DB_ENV).map(PathBuf::from))
        .unwrap_or_else(|| data_dir().join("bosun.db"))
}
