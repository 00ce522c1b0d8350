//! The tmux version: read from `tmux -V`, checked against [`MIN_VERSION`].

use std::process::{Command, Stdio};

use super::quote::stderr_of;
use super::{MIN_VERSION, TmuxError};

/// Runs `<binary> -V` and checks the version.
pub(super) fn check_version(binary: &str) -> Result<(), TmuxError> {
    version(binary).map(|_| ())
}

/// What `<binary> -V` says (`tmux 3.3a`), once it is known to be at least [`MIN_VERSION`].
///
/// Errors: [`TmuxError::NotInstalled`] when there is no such binary, [`TmuxError::TooOld`],
/// [`TmuxError::Command`] when `-V` fails.
pub fn version(binary: &str) -> Result<String, TmuxError> {
    let mut built = tmux_interface::Tmux::new().version().build();
    built.name(binary);
    let out = Command::from(built)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                TmuxError::NotInstalled {
                    binary: binary.to_string(),
                }
            } else {
                TmuxError::Spawn {
                    binary: binary.to_string(),
                    command: "-V".into(),
                    source,
                }
            }
        })?;
    let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        return Err(TmuxError::Command {
            socket: String::new(),
            command: "-V".into(),
            status: out
                .status
                .code()
                .map_or_else(|| "signal".to_string(), |c| c.to_string()),
            stderr: stderr_of(&out),
        });
    }
    match parse_version(&found) {
        Some(v) if v < MIN_VERSION => Err(TmuxError::TooOld {
            binary: binary.to_string(),
            found,
        }),
        Some(_) => Ok(found),
        None => {
            // Development builds say `tmux master` or `tmux openbsd-7.5`: assume recent.
            tracing::warn!(version = %found, "unrecognised tmux version; assuming it is recent");
            Ok(found)
        }
    }
}

/// (major, minor) from `tmux -V` output such as `tmux 3.3a` or `tmux next-3.4`; `None` when
/// there is no `<digits>.<digits>` version.
pub(crate) fn parse_version(v: &str) -> Option<(u32, u32)> {
    let v = v.trim();
    let v = v.strip_prefix("tmux ").unwrap_or(v);
    let v = v.strip_prefix("next-").unwrap_or(v);
    let (major, rest) = v.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("tmux 3.2"), Some((3, 2)));
        assert_eq!(parse_version("tmux next-3.6"), Some((3, 6)));
        assert_eq!(parse_version("tmux 10.0\n"), Some((10, 0)));
        assert_eq!(parse_version("tmux master"), None);
        assert_eq!(parse_version("tmux openbsd-7.5"), None);
        assert!(parse_version("tmux 2.9a").is_some_and(|v| v < MIN_VERSION));
    }
}
