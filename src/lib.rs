#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
//! bosun: a keyboard-driven terminal supervisor for fleets of CLI coding agents.
//!
//! Layers, top to bottom (ARCHITECTURE.md, Code map): `cmd` (CLI commands) and `tui` (the console) →
//! `supervisor` → `pipeline` and `queue` (pure decision code), `provider`, `tmux` (the only
//! code that runs tmux), `git` (the only code that runs git) → `store` (SQLite, the only SQL)
//! → `config`. `sim` is the built-in scripted agent; `notify` tells the operator (desktop,
//! command) when they are needed.

pub mod agent;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod control;
pub mod crash;
pub mod decide;
pub mod diagnostics;
pub mod forge;
pub mod git;
pub mod intake;
pub mod logging;
pub mod notify;
pub mod pipeline;
pub mod priority;
pub mod private;
pub mod provider;
pub mod queue;
pub mod sandbox;
pub mod secret;
pub mod server;
pub mod sim;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod text;
pub mod tmux;
pub mod tui;
pub mod untrusted;
