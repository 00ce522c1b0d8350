//! `bosun mcp`, `bosun msg`, `bosun handoff`, `bosun assign`: what an agent may ask of bosun
//! (see [`crate::agent`]), authenticated by its run's id and hook token.

use anyhow::{Context, Result, bail};

use super::Ctx;
use super::out::outln;
use crate::agent as help;
use crate::cli::AgentAuth;
use crate::store::runs::Run;

/// The run id and token: the options, else the agent's environment.
fn credentials(auth: &AgentAuth) -> Result<(i64, String)> {
    let run = match auth.run {
        Some(r) => r,
        None => std::env::var("BOSUN_RUN_ID")
            .ok()
            .and_then(|v| v.parse().ok())
            .context(
                "no run: pass --run, or run this from an agent bosun started ($BOSUN_RUN_ID)",
            )?,
    };
    let token = match &auth.token {
        Some(t) => t.clone(),
        None => std::env::var("BOSUN_HOOK_TOKEN").context(
            "no token: pass --token, or run this from an agent bosun started ($BOSUN_HOOK_TOKEN)",
        )?,
    };
    Ok((run, token))
}

fn caller(ctx: &Ctx, auth: &AgentAuth) -> Result<(crate::store::Store, Run)> {
    let (run, token) = credentials(auth)?;
    let store = ctx.store()?;
    let run = help::authenticate(&store, run, &token)?;
    Ok((store, run))
}

pub(super) fn mcp(ctx: &Ctx, auth: &AgentAuth) -> Result<()> {
    let (run, token) = credentials(auth)?;
    let cfg = ctx.config()?;
    // Checked once up front so a misconfigured agent hears it at start; every call checks
    // again (the run may end).
    let store = ctx.store()?;
    help::authenticate(&store, run, &token)?;
    drop(store);
    crate::agent::mcp::serve_stdio(crate::agent::mcp::BosunMcp::new(
        cfg,
        ctx.db_path(),
        run,
        token,
    ))
}

pub(super) fn msg(ctx: &Ctx, to: &str, text: &str, auth: &AgentAuth) -> Result<()> {
    let cfg = ctx.config()?;
    let (store, run) = caller(ctx, auth)?;
    outln!("{}", help::send_message(&cfg, &store, &run, to, text)?);
    Ok(())
}

pub(super) fn handoff(ctx: &Ctx, role: &str, text: &str, auth: &AgentAuth) -> Result<()> {
    let cfg = ctx.config()?;
    let (store, run) = caller(ctx, auth)?;
    let Some(r) = cfg.roles.get(role) else {
        bail!("no role `{role}` in the config");
    };
    let wait = cfg.timeout_of(r);
    outln!("{}", help::handoff(&cfg, &store, &run, role, text, wait)?);
    Ok(())
}

pub(super) fn assign(ctx: &Ctx, role: &str, text: &str, auth: &AgentAuth) -> Result<()> {
    let cfg = ctx.config()?;
    let (store, run) = caller(ctx, auth)?;
    let id = help::assign(&cfg, &store, &run, role, text)?;
    outln!("assigned as job #{id}; the answer will come to you as a message");
    Ok(())
}
