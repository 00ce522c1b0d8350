//! CLI command handlers, one small file per command group. Each prints human text, or JSON
//! with `--json` (every read command takes it).

mod agent;
mod budget;
pub mod complete;
mod config;
mod control;
mod daemon;
mod decide;
mod demo;
mod doctor;
mod gc;
mod hook;
mod init;
pub mod intake;
mod log;
mod out;
mod project;
mod providers;
mod queue;
mod task;
mod usage;

use out::outln;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::config::paths;
use crate::store::Store;

/// What every handler gets: the command line's global options.
pub struct Ctx {
    db: Option<std::path::PathBuf>,
    config: Option<std::path::PathBuf>,
    theme: Option<String>,
}

impl Ctx {
    /// The layered, validated config.
    fn config(&self) -> Result<Config> {
        Ok(Config::load(self.config.as_deref())?)
    }

    /// The database path: `--db`, else `$BOSUN_DB`, else the XDG data dir.
    fn db_path(&self) -> std::path::PathBuf {
        paths::db_path(self.db.clone())
    }

    /// Where run logs and worktrees live: beside the database.
    fn data_dir(&self) -> std::path::PathBuf {
        let db = self.db_path();
        db.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(
                || std::path::PathBuf::from("."),
                std::path::Path::to_path_buf,
            )
    }

    /// The database, opened and migrated.
    fn store(&self) -> Result<Store> {
        let path = self.db_path();
        Store::open(&path).with_context(|| format!("cannot open the database {}", path.display()))
    }

    /// [`Ctx::store`] for a long-lived writer: the file is checked (`quick_check`) first.
    fn store_verified(&self) -> Result<Store> {
        let path = self.db_path();
        Store::open_verified(&path)
            .with_context(|| format!("cannot open the database {}", path.display()))
    }
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever the command reports: config errors with file:line:key, a missing task or
/// project, a decision that does not fit the task's state, database failures.
pub fn run(cli: Cli) -> Result<()> {
    out::set_raw(cli.raw);
    let ctx = Ctx {
        db: cli.db,
        config: cli.config,
        theme: cli.theme,
    };
    let Some(command) = cli.command else {
        return console(&ctx);
    };
    match command {
        Command::Init { path, force } => init::run(&path, force),
        Command::Config { json } => config::run(&ctx, json),
        Command::Project(c) => project::run(&ctx, c),
        Command::Task(c) => task::run(&ctx, c),
        Command::Approve { key, note } => decide::decide(&ctx, &key, |d| d.approve(&key, note)),
        Command::Reject { key, note } => decide::decide(&ctx, &key, |d| d.reject(&key, note)),
        Command::Queue(args) => queue::run(&ctx, args),
        Command::Answer { key, reply, wait } => control::answer(&ctx, &key, &reply, wait),
        Command::Send {
            key,
            text,
            when_idle: false,
            ..
        } => control::send(&ctx, &key, &text),
        Command::Send {
            key, text, role, ..
        } => control::queue_message(&ctx, &key, role.as_deref(), &text),
        Command::Inbox { key, json } => control::inbox(&ctx, key.as_deref(), json),
        Command::Providers { json, check, keep } => match check {
            Some(name) => providers::check(&ctx, &name, json, keep),
            None => providers::run(&ctx, json),
        },
        Command::Daemon { socket } => daemon::run(&ctx, socket),
        Command::Doctor { json } => doctor::run(&ctx, json),
        Command::Gc { dry_run, json } => gc::run(&ctx, dry_run, json),
        Command::Intake(crate::cli::IntakeCommand::Status { json }) => intake::status(&ctx, json),
        Command::Usage { by, since, json } => usage::run(&ctx, &by, since, json),
        Command::Budget {
            key,
            project,
            day,
            tokens,
            usd,
            note,
            json,
        } => budget::run(
            &ctx,
            budget::Target::new(key, project, day)?,
            budget::Raise { tokens, usd, note },
            json,
        ),
        Command::Demo {
            headless,
            auto_approve,
            keep,
            dir,
        } => {
            if headless {
                demo::run(auto_approve, keep, dir)
            } else {
                let theme = ctx.theme.clone();
                demo::console(keep, dir, theme)
            }
        }
        Command::Hook { run, token } => hook::run(&ctx, run, token),
        Command::Completions { shell } => complete::registration(shell),
        Command::Man => {
            let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Mcp(auth) => agent::mcp(&ctx, &auth),
        Command::Msg { to, text, auth } => agent::msg(&ctx, &to, &text, &auth),
        Command::Handoff { role, text, auth } => agent::handoff(&ctx, &role, &text, &auth),
        Command::Assign { role, text, auth } => agent::assign(&ctx, &role, &text, &auth),
        Command::Backup { to } => {
            let store = ctx.store()?;
            store
                .backup(&to)
                .with_context(|| format!("cannot back up to {}", to.display()))?;
            outln!("backed up {} to {}", store.path().display(), to.display());
            Ok(())
        }
        Command::AgentSim { scenario, settings } => {
            crate::sim::run(scenario.as_deref(), settings.as_deref())
        }
        Command::Log { task, limit, json } => log::run(&ctx, task.as_deref(), limit, json),
    }
}

/// `bosun` with no subcommand: the console.
fn console(ctx: &Ctx) -> Result<()> {
    let cfg = ctx.config()?;
    let theme = ctx.theme.clone().unwrap_or_else(|| cfg.ui.theme.clone());
    crate::tui::Console {
        cfg,
        db: ctx.db_path(),
        data_dir: ctx.data_dir(),
        theme,
        supervisor_error: Default::default(),
        hint: None,
        teardown: None,
    }
    .run()
}

/// Prints `value` as pretty JSON, safe for a terminal by construction: serde_json escapes
/// C0 controls; C1 controls (U+0080–U+009F), which JSON allows raw in strings and some
/// terminals obey, are escaped too (`\u009b`), which means the same JSON.
fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        if ('\u{80}'..='\u{9f}').contains(&c) {
            safe.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            safe.push(c);
        }
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = std::io::Write::write_all(&mut out, safe.as_bytes())
        .and_then(|()| std::io::Write::write_all(&mut out, b"\n"))
    {
        out::gone(&e);
    }
    Ok(())
}

/// A duration in milliseconds as a short human string, e.g. `3m 12s`.
fn human_ms(ms: i64) -> String {
    let secs = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
    if secs == 0 {
        return "0s".into();
    }
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

/// How long ago `ts` (ms since the epoch) was.
fn ago(ts: i64, now: i64) -> String {
    format!("{} ago", human_ms(now - ts))
}
