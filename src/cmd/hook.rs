//! `bosun hook`: one call from an agent's own hooks (see `supervisor::hooks`).
//!
//! Prints nothing on standard output: Claude Code adds a `UserPromptSubmit` hook's output to
//! the agent's context. Does not load the config, so a broken config file cannot stop an
//! agent's status reaching bosun.

use std::io::Read;

use anyhow::{Context, Result};

use super::Ctx;
use crate::supervisor::hooks;

/// Largest payload read, bytes (Claude Code sends a few hundred; `PreToolUse` carries the
/// tool input, which can be a whole file).
const PAYLOAD_MAX: u64 = 16 << 20;

pub(super) fn run(ctx: &Ctx, run_id: i64, token: Option<String>) -> Result<()> {
    // An empty or missing token is refused (and counted) like a wrong one.
    let token = token
        .or_else(|| std::env::var("BOSUN_HOOK_TOKEN").ok())
        .unwrap_or_default();
    let mut payload = Vec::new();
    std::io::stdin()
        .take(PAYLOAD_MAX)
        .read_to_end(&mut payload)
        .context("cannot read the hook payload from standard input")?;
    let store = ctx.store()?;
    hooks::receive(&store, run_id, &token, &payload)?;
    Ok(())
}
