//! `bosun daemon`: the headless supervisor.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};

use super::Ctx;
use crate::supervisor::{Options, Supervisor};

pub(super) fn run(ctx: &Ctx, socket: Option<String>) -> Result<()> {
    let cfg = ctx.config()?;
    let store = ctx.store_verified()?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install signal handlers")?;
    }
    let socket = socket.unwrap_or_else(|| cfg.supervisor.tmux_socket.clone());
    let mut opts = Options::new(ctx.data_dir(), &socket);
    opts.owner = "daemon".into();
    let db = store.path().display().to_string();
    let server = crate::server::Server::start(&cfg, store.path()).with_context(|| {
        format!(
            "cannot serve webhooks on [server] listen = {:?}",
            cfg.server.listen.map(|a| a.to_string()).unwrap_or_default()
        )
    })?;
    let mut sup = Supervisor::start(cfg, store, opts)?;
    if let Some(s) = &server {
        eprintln!(
            "bosun daemon: webhooks at http://{}/webhooks/<kind>",
            s.addr()
        );
    }
    eprintln!(
        "bosun daemon: supervising {db} (pid {}); agents in `tmux -L {socket} attach`; stop with SIGTERM or Ctrl-C (agents keep running)",
        std::process::id()
    );
    sup.run_until(&stop)?;
    drop(server);
    eprintln!("bosun daemon: stopped; agents left running in tmux socket {socket}");
    Ok(())
}
