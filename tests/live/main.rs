//! The live tests, in one binary: the real agent CLIs (Claude Code, Codex, Gemini CLI, at
//! the versions `scripts/install-agents.sh` pins) against bosun's scripted model servers on
//! 127.0.0.1. Without the CLIs installed they say so and skip locally; under `CI=true` they
//! fail. Run one file's tests with `cargo test --test live MODULE::`.

#[path = "../support/mod.rs"]
mod support;

mod scenarios;

mod alone;
mod claude_live;
mod claude_supervised;
mod codex_live;
mod codex_supervised;
mod gemini_live;
mod gemini_not_root;
mod gemini_supervised;
mod limits;
mod providers_check;
