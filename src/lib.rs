//! bosun: a keyboard-driven terminal supervisor for fleets of CLI coding agents.
//!
//! Layers, top to bottom (DESIGN.md §2): `cmd` (CLI commands) → `pipeline` and `queue`
//! (pure decision code) → `store` (SQLite, the only SQL) → `config`.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod git;
pub mod logging;
pub mod pipeline;
pub mod provider;
pub mod queue;
pub mod sim;
pub mod store;
pub mod supervisor;
pub mod tmux;
pub mod tui;
