//! `bosun providers`: each provider profile, whether its CLI is installed, its version, and
//! whether the profile is proven against it.

use super::out::outln;
use anyhow::Result;
use serde::Serialize;

use super::{Ctx, print_json};
use crate::config::ProviderConfig;

#[derive(Serialize)]
struct Row {
    name: String,
    description: String,
    mode: crate::config::ProviderMode,
    command: String,
    installed: Option<String>,
    /// How to install the CLI, from the profile.
    install: String,
    version: Option<String>,
    proven: Option<String>,
    /// Whether `proven` names the installed version (`None` when not installed or unproven).
    proven_for_installed: Option<bool>,
}

pub(super) fn run(ctx: &Ctx, json: bool) -> Result<()> {
    let cfg = ctx.config()?;
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "bosun".into());
    let rows: Vec<Row> = cfg.providers.values().map(|p| row(p, &exe)).collect();
    if json {
        return print_json(&rows);
    }
    for r in rows {
        let installed = match (&r.installed, &r.version) {
            (Some(_), Some(v)) => format!("installed, {v}"),
            (Some(path), None) => format!("installed at {path}, version unknown"),
            (None, _) if r.install.is_empty() => {
                format!("not installed (`{}` is not on PATH)", r.command)
            }
            (None, _) => format!(
                "not installed (`{}` is not on PATH; install it with: {})",
                r.command, r.install
            ),
        };
        let proven = match (r.proven.as_deref(), r.proven_for_installed) {
            (None, _) => "not yet proven by a live test (best effort)".to_string(),
            (Some(v), Some(false)) => {
                format!("proven against {v}, not against the installed version")
            }
            (Some(v), _) => format!("proven against {v}"),
        };
        outln!(
            "{:<8} {:<12} {installed}; {proven}",
            r.name,
            format!("{:?}", r.mode).to_lowercase()
        );
        if !r.description.is_empty() {
            outln!("         {}", r.description);
        }
    }
    Ok(())
}

fn row(p: &ProviderConfig, exe: &str) -> Row {
    let command = p
        .command
        .first()
        .map_or_else(String::new, |c| c.replace("{bosun}", exe));
    let installed = crate::provider::find_executable(&command, None);
    let version = installed
        .as_ref()
        .and_then(|_| crate::provider::installed_version(p, exe));
    let proven = (!p.proven.is_empty()).then(|| p.proven.clone());
    let proven_for_installed = version
        .as_deref()
        .and_then(|v| crate::provider::proven_for(p, v));
    Row {
        name: p.name.clone(),
        description: p.description.clone(),
        mode: p.mode,
        installed: installed.map(|i| i.display().to_string()),
        install: p.install.clone(),
        version,
        proven,
        proven_for_installed,
        command,
    }
}

/// `bosun providers --check NAME`: runs the check and prints its report; exits 1 when a
/// status was misread.
pub(super) fn check(ctx: &Ctx, name: &str, json: bool, keep: bool) -> Result<()> {
    let cfg = ctx.config()?;
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "bosun".into());
    let report = crate::diagnostics::check::run(&cfg, name, &ctx.data_dir(), &exe, keep, |line| {
        if !json {
            eprintln!("  … {line}");
        }
    })?;
    if json {
        print_json(&report)?;
    } else {
        let proven = if report.proven.is_empty() {
            "best effort".to_string()
        } else {
            format!("proven against {}", report.proven)
        };
        outln!(
            "{}: {} ({proven})",
            report.provider,
            report.version.as_deref().unwrap_or("version unknown")
        );
        for item in &report.items {
            outln!(
                "  {:<8} {} {}",
                item.status,
                if item.ok { "ok  " } else { "MISS" },
                crate::text::clean(&item.detail)
            );
        }
        if report.passed() {
            outln!("every status was read right");
        } else {
            let missed: Vec<&str> = report
                .items
                .iter()
                .filter(|i| !i.ok)
                .map(|i| i.status)
                .collect();
            outln!(
                "misread: {} — the profile needs updating for this version (see `bosun providers`)",
                missed.join(", ")
            );
        }
    }
    if !report.passed() {
        std::process::exit(1);
    }
    Ok(())
}
