//! Providers: agent CLI profiles (data, in [`crate::config::ProviderConfig`]) and reading an
//! agent's state from its rendered screen.
//!
//! [`Detector`] feeds a run's raw output into a terminal emulator (`vt100`) sized like the
//! pane and classifies the *rendered* screen with the profile's patterns — never a truncated
//! byte buffer (ARCHITECTURE.md, `provider/`). [`Tracker`] turns those raw readings into the run's status:
//! waiting wins over busy, a finished turn needs a debounce and, once complete, is latched
//! until new input is sent, so a redraw cannot flip it back to busy.

mod detect;
pub mod limit;
pub mod subagents;
mod track;
pub mod transcript;
pub mod usage;
mod version;
pub mod wiring;
pub mod witness;

pub use detect::{Detector, classify, screen_text};
pub use track::{HookMode, HookSignal, Observation, Tracker};
pub use version::{installed_version, proven_for};
pub use witness::{Reading, SecondWitness, Witness};

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::config::ProviderConfig;

/// `cmd` itself if it contains a `/` and is an executable file, else the first executable
/// `DIR/cmd` for `DIR` in `path` (a `PATH`-style list; the process's `PATH` when `None`).
pub fn find_executable(cmd: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return executable(&p).then_some(p);
    }
    let from_env = std::env::var_os("PATH");
    let dirs = path.or(from_env.as_deref())?;
    std::env::split_paths(dirs)
        .map(|d| d.join(cmd))
        .find(|p| executable(p))
}

/// `None` when `provider`'s CLI (the first word of its command, `{bosun}` expanded to
/// `bosun_exe`) can be found — on the provider's own `PATH` if its `env` sets one — else
/// a message for the operator naming the provider, the command and how to install it.
pub fn missing_cli(provider: &ProviderConfig, bosun_exe: &str) -> Option<String> {
    let cmd = provider.command.first()?.replace("{bosun}", bosun_exe);
    let path = provider.env.get("PATH").map(OsStr::new);
    if find_executable(&cmd, path).is_some() {
        return None;
    }
    let place = if cmd.contains('/') {
        "no executable file there"
    } else {
        "not on PATH"
    };
    let hint = if provider.install.is_empty() {
        String::new()
    } else {
        format!("; install it with: {}", provider.install)
    };
    Some(format!(
        "the `{}` provider's CLI `{cmd}` is not installed ({place}){hint}",
        provider.name
    ))
}

/// The launch argv of `provider`: `{bosun}` becomes `bosun_exe`; a batch provider gets the
/// prompt as its last argument (one argv element, never a shell string).
pub fn launch_argv(
    provider: &ProviderConfig,
    bosun_exe: &str,
    prompt: Option<&str>,
) -> Vec<String> {
    let mut argv: Vec<String> = provider
        .command
        .iter()
        .map(|a| a.replace("{bosun}", bosun_exe))
        .collect();
    if let Some(p) = prompt {
        argv.push(p.to_string());
    }
    argv
}
