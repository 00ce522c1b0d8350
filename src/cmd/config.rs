//! `bosun config`: validates the layered config and prints the pipeline.

use super::out::outln;
use anyhow::Result;
use serde::Serialize;

use super::{Ctx, print_json};
use crate::config::{Action, Config, GateKind};

#[derive(Serialize)]
struct StageView {
    name: String,
    role: String,
    provider: String,
    timeout_s: u64,
    max_retries: u32,
    branches: Vec<String>,
    gates: Vec<String>,
}

fn action(cfg: &Config, a: &Action) -> String {
    match a {
        Action::Retry => "retry".into(),
        Action::Rollback { to, max } => format!("rollback to {} (max {max})", cfg.stages[*to].name),
        Action::NeedsInput => "needs_input".into(),
        Action::Block => "block".into(),
    }
}

pub(super) fn run(ctx: &Ctx, json: bool) -> Result<()> {
    let cfg = ctx.config()?;
    let stages: Vec<StageView> = cfg
        .stages
        .iter()
        .map(|s| {
            let role = cfg.role_of(s);
            StageView {
                name: s.name.clone(),
                role: role.name.clone(),
                provider: role.provider.clone(),
                timeout_s: cfg.timeout_of(role).as_secs(),
                max_retries: s.max_retries,
                branches: s
                    .branches
                    .iter()
                    .map(|b| format!("if {} exists: {}", b.when_exists, action(&cfg, &b.then)))
                    .collect(),
                gates: s
                    .gates
                    .iter()
                    .map(|g| {
                        let what = match &g.kind {
                            GateKind::Artifact { path } => format!("artifact {path}"),
                            GateKind::Command { command, .. } => {
                                format!(
                                    "command {}",
                                    command.as_deref().unwrap_or("<project test command>")
                                )
                            }
                            GateKind::Verdict { path, .. } => {
                                format!(
                                    "verdict in {}",
                                    path.as_deref().unwrap_or("<final message>")
                                )
                            }
                            GateKind::Approval => "approval".into(),
                        };
                        format!("{what}; on fail: {}", action(&cfg, &g.on_fail))
                    })
                    .collect(),
            }
        })
        .collect();
    if json {
        return print_json(&serde_json::json!({
            "sources": cfg.sources,
            "max_concurrency": cfg.supervisor.max_concurrency,
            "stages": stages,
        }));
    }
    let sources: Vec<String> = cfg
        .sources
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    outln!(
        "config OK (built-in{}{})",
        if sources.is_empty() { "" } else { " + " },
        sources.join(" + ")
    );
    for (i, s) in stages.iter().enumerate() {
        outln!(
            "{}. {} — {} via {} (timeout {}s, max_retries {})",
            i + 1,
            s.name,
            s.role,
            s.provider,
            s.timeout_s,
            s.max_retries
        );
        for b in &s.branches {
            outln!("     branch: {b}");
        }
        for g in &s.gates {
            outln!("     gate:   {g}");
        }
    }
    outln!("{}. done", stages.len() + 1);
    Ok(())
}
