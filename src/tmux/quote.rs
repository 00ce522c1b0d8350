//! What tmux would misread in the values bosun passes, undone (a trailing `;`, a `#` in a
//! format), and the reading of a failed call's stderr.

use std::borrow::Cow;
use std::path::Path;
use std::process::Output;

use tmux_interface::TmuxCommand;

use super::{TmuxError, error};

pub(super) fn utf8_path<'p>(p: &'p Path, what: &'static str) -> Result<&'p str, TmuxError> {
    p.to_str().ok_or_else(|| TmuxError::Invalid {
        what,
        value: p.display().to_string(),
        why: "tmux arguments must be valid UTF-8; use a UTF-8 path",
    })
}

/// Escapes a trailing `;`, which tmux would otherwise take as a command separator
/// (`a;` → `a\;`; tmux turns a trailing `\;` back into `;`).
pub(super) fn esc(s: &str) -> Cow<'_, str> {
    match s.strip_suffix(';') {
        Some(head) => Cow::Owned(format!("{head}\\;")),
        None => Cow::Borrowed(s),
    }
}

/// Doubles `#` in a value tmux expands as a format.
pub(super) fn fmt_escape(s: &str) -> String {
    s.replace('#', "##")
}

pub(super) fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// A failed command whose stderr says there is no server ([`error::server_gone`]).
pub(super) fn not_running(out: &Output) -> bool {
    !out.status.success() && error::server_gone(&stderr_of(out))
}

pub(super) fn command_names(cmds: &[TmuxCommand<'_>]) -> String {
    cmds.iter()
        .filter_map(|c| c.name.as_deref())
        .collect::<Vec<_>>()
        .join(" + ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_semicolon_is_escaped() {
        assert_eq!(esc("a;"), "a\\;");
        assert_eq!(esc(";"), "\\;");
        assert_eq!(esc("a\\;"), "a\\\\;");
        assert_eq!(esc("a;b"), "a;b");
    }
}
