//! `bosun config`: validates the layered config and prints the pipeline.

use super::out::outln;
use anyhow::Result;
use serde::Serialize;

use super::{Ctx, print_json};
use crate::config::land::{LandConfig, LandMode, OnConflict};
use crate::config::{Action, Config, GateKind};

#[derive(Serialize)]
struct StageView {
    name: String,
    role: String,
    provider: String,
    /// The role's fallback providers while its provider is parked at a usage limit.
    fallback: Vec<String>,
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
                fallback: role.fallback.clone(),
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
    // Each project's landing, where a database exists (never made by this command).
    let mut projects = Vec::new();
    if ctx.db_path().exists() {
        let store = ctx.store()?;
        for p in crate::store::projects::list(store.conn())? {
            let land = cfg.land.for_project(p.land.as_deref()).map_err(|e| {
                anyhow::anyhow!("project {}'s stored landing settings: {e}", p.name)
            })?;
            projects.push((p.name, land));
        }
    }
    if json {
        return print_json(&serde_json::json!({
            "sources": cfg.sources,
            "max_concurrency": cfg.supervisor.max_concurrency,
            "stages": stages,
            "land": cfg.land,
            "server": cfg.server,
            "intake": cfg.intake,
            "budget": cfg.budget,
            "projects": projects
                .iter()
                .map(|(name, land)| serde_json::json!({ "name": name, "land": land }))
                .collect::<Vec<_>>(),
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
        let fallback = if s.fallback.is_empty() {
            String::new()
        } else {
            format!(", then {} at a usage limit", s.fallback.join(", "))
        };
        outln!(
            "{}. {} — {} via {}{fallback} (timeout {}s, max_retries {})",
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
    outln!("land: {}", land_line(&cfg.land));
    for (name, land) in &projects {
        if *land != cfg.land {
            outln!("  project {name}: {}", land_line(land));
        }
    }
    outln!("budget: {}", super::budget::config_line(&cfg.budget));
    match cfg.server.listen {
        Some(a) => outln!("server: webhooks at http://{a}/webhooks/<kind> (bosun daemon)"),
        None => outln!("server: off"),
    }
    if cfg.intake.is_empty() {
        outln!("intake: none (tasks come from `bosun task add`)");
    }
    for s in &cfg.intake {
        let labels = if s.labels.is_empty() {
            "every open issue".to_string()
        } else {
            format!("issues labelled {}", s.labels.join(" + "))
        };
        let ways = [
            s.webhook_secret_env
                .as_ref()
                .map(|e| format!("webhooks (secret ${e})")),
            s.poll
                .map(|p| format!("poll every {}", humantime::format_duration(p))),
        ];
        let ways: Vec<String> = ways.into_iter().flatten().collect();
        outln!(
            "intake: {} at {} → project {}: {labels}; {}; token ${}; allow {}",
            s.name,
            s.api_url,
            s.project,
            if ways.is_empty() {
                "never read".to_string()
            } else {
                ways.join(" + ")
            },
            s.token_env,
            if s.allow.is_empty() {
                "nobody".to_string()
            } else {
                s.allow.join(", ")
            }
        );
    }
    Ok(())
}

/// `merge (squash onto the default branch, branch deleted, verified; on conflict: rollback to
/// development)`.
fn land_line(land: &LandConfig) -> String {
    if land.mode == LandMode::None {
        return "none (tasks end done on their branch; `bosun task land KEY` lands one)".into();
    }
    let base = land
        .base
        .as_deref()
        .map_or("the default branch".to_string(), |b| format!("`{b}`"));
    let mut how = vec![format!("{} onto {base}", land.strategy.as_str())];
    if land.mode == LandMode::Pr {
        let f = &land.forge;
        let forge = f.kind.map_or("the forge of its URL", |k| k.as_str());
        let repo = f.repo.as_deref().map_or(String::new(), |r| format!(" {r}"));
        let api = f
            .api_url
            .as_deref()
            .map_or(String::new(), |u| format!(" at {u}"));
        let env = f.token_env.clone().unwrap_or_else(|| {
            f.kind
                .map_or("GITHUB_TOKEN", |k| k.default_token_env())
                .to_string()
        });
        how.push(format!(
            "pushed to {}, a pull request on {forge}{repo}{api} (token from ${env}), read \
             every {}",
            land.remote,
            humantime::format_duration(land.poll)
        ));
        let changes = match land.on_changes_requested {
            crate::config::land::OnChangesRequested::Rollback => {
                format!("rollback to {}", land.rollback_to)
            }
            crate::config::land::OnChangesRequested::Wait => "wait".into(),
        };
        how.push(format!("on changes requested: {changes}"));
    }
    if land.delete_branch {
        how.push("branch deleted".into());
    }
    if land.verify && land.mode == LandMode::Merge {
        how.push("verified by the test command first".into());
    }
    let conflict = match land.on_conflict {
        OnConflict::Rollback => format!("rollback to {}", land.rollback_to),
        OnConflict::Block => "block".into(),
    };
    format!(
        "{} ({}; on conflict: {conflict})",
        land.mode.as_str(),
        how.join(", ")
    )
}
