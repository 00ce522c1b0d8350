//! The hermetic tests, in one binary: real SQLite files, git repositories, tmux servers
//! (a private socket per test, killed on drop) and `bosun agent-sim`, no agent CLI. One
//! binary links once (27 separate ones took minutes of a clean CI run to compile and link).
//! Run one file's tests with `cargo test --test it MODULE::`.

#[path = "../support/mod.rs"]
mod support;

mod budget;
mod budget_daemon;
mod cli;
mod config;
mod console;
mod console_budget;
mod console_e2e;
mod console_update;
mod decisions;
mod detect_fixtures;
mod git;
mod helpers;
mod hostile_files;
mod idle;
mod intake;
mod land;
mod messages;
mod model_server;
mod notify;
mod pipeline;
mod privacy;
mod queue;
mod run_loss;
mod runtime;
mod sim;
mod terminal_safety;
mod theme_keymap;
mod tmux;
mod usage;
