//! Providers: agent CLI profiles (data, in [`crate::config::ProviderConfig`]) and reading an
//! agent's state from its rendered screen.
//!
//! [`Detector`] feeds a run's raw output into a terminal emulator (`vt100`) sized like the
//! pane and classifies the *rendered* screen with the profile's patterns — never a truncated
//! byte buffer (DESIGN.md §3). [`Tracker`] turns those raw readings into the run's status:
//! waiting wins over busy, a finished turn needs a debounce and, once complete, is latched
//! until new input is sent, so a redraw cannot flip it back to busy.

mod detect;
mod track;

pub use detect::{Detector, classify, screen_text};
pub use track::{HookSignal, Observation, Tracker};

use crate::config::ProviderConfig;

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
