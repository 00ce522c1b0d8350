//! `bosun providers`: each provider profile, whether its CLI is installed, its version, and
//! whether the profile is proven against it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::{Ctx, print_json};
use crate::config::ProviderConfig;

/// How long a `--version` call may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

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
        println!(
            "{:<8} {:<12} {installed}; {proven}",
            r.name,
            format!("{:?}", r.mode).to_lowercase()
        );
        if !r.description.is_empty() {
            println!("         {}", r.description);
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
    let version = installed.as_ref().and_then(|_| {
        let argv: Vec<String> = p
            .version_command
            .iter()
            .map(|a| a.replace("{bosun}", exe))
            .collect();
        version(&argv)
    });
    let proven = (!p.proven.is_empty()).then(|| p.proven.clone());
    let proven_for_installed = match (&proven, &version) {
        (Some(pv), Some(v)) => Some(pv == "built-in" || mentions_version(v, pv)),
        _ => None,
    };
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

/// Whether the `--version` output `line` names `version` as a whole word (so that `2.1.1`
/// is not taken for `2.1.19`).
fn mentions_version(line: &str, version: &str) -> bool {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .any(|word| word == version || word.strip_prefix('v') == Some(version))
}

/// The first non-empty output line of `argv`, if it exits 0 within [`VERSION_TIMEOUT`].
fn version(argv: &[String]) -> Option<String> {
    let mut child = Command::new(argv.first()?)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().ok()? {
            break s;
        }
        if start.elapsed() > VERSION_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    status
        .success()
        .then(|| {
            out.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        })
        .flatten()
}
