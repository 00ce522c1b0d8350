//! `bosun agent-sim`: the built-in scripted agent for the demo and tests. (Being written.)

use std::path::Path;

/// Runs the scripted agent on this terminal until it exits.
///
/// # Errors
/// Terminal or file errors.
pub fn run(_scenario: Option<&Path>) -> anyhow::Result<()> {
    anyhow::bail!("agent-sim is not built yet")
}
