//! `bosun doctor`: checks what bosun needs and explains each finding with its fix.
//!
//! Checks, in order: tmux (installed, version ≥ [`crate::tmux::MIN_VERSION`]), git, the
//! database (bosun's, sound by `PRAGMA quick_check`, schema version, size and WAL; read-only),
//! the config (valid, and which files it is layered from), the CLI of each provider a stage
//! uses (installed, version, proven, hooks — also whether Gemini CLI will read bosun's settings
//! layer), the supervisor lease (who holds it, heartbeat age, read after the slow checks), the
//! free disk space where run logs go, and files of bosun's that others can read (with the
//! `chmod` that fixes each). A `fail` blocks work (exit 1); a `warn` does not.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use serde::Serialize;

use crate::config::{Config, HookStyle};
use crate::store::{self, Inspection, StoreError, now_ms};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Nothing to do.
    Ok,
    /// Worth fixing; work goes on.
    Warn,
    /// Work is blocked until it is fixed.
    Fail,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What was checked (`tmux`, `database`, `provider claude`, …).
    pub check: String,
    /// How it came out.
    pub level: Level,
    /// What was found.
    pub detail: String,
    /// What to do about it (`None` when nothing needs doing).
    pub fix: Option<String>,
}

/// Where to look: the database file, bosun's data directory, the config files layered (as
/// `--config` names them), and how the config loads.
pub struct Setup<'a> {
    /// The database file (need not exist).
    pub db: &'a Path,
    /// bosun's data directory (run logs, worktrees).
    pub data_dir: &'a Path,
    /// The project config named on the command line, if any.
    pub config_file: Option<&'a Path>,
    /// Loads the layered config (the CLI's own loader, so doctor reads what bosun reads).
    pub load_config: &'a dyn Fn() -> anyhow::Result<Config>,
}

fn found(check: &str, level: Level, detail: String, fix: Option<String>) -> Finding {
    Finding {
        check: check.to_string(),
        level,
        detail,
        fix,
    }
}

/// Free disk space below which run logs may not fit (warn), and below which work stops
/// (fail), bytes.
const DISK_WARN: u64 = 1 << 30;
const DISK_FAIL: u64 = 100 << 20;

/// Every finding, in the order they are printed. Slow checks (each provider's `--version`)
/// come before the lease, so the heartbeat's age is measured when it is printed.
pub fn findings(setup: &Setup<'_>) -> Vec<Finding> {
    let db = setup.db;
    let inspection = db.exists().then(|| store::inspect(db));
    let mut all = vec![tmux(), git(), database(db, inspection.as_ref())];
    let cfg = config(setup, &mut all);
    if let Some(cfg) = &cfg {
        all.extend(providers(cfg, &setup.data_dir.join("runs")));
    }
    // Read now, after the slow provider checks: the heartbeat's age is the one printed.
    let lease = inspection.as_ref().map(|i| {
        i.as_ref()
            .map_err(|_| ())
            .and_then(|_| store::read_lease(db).map_err(|_| ()))
    });
    all.push(lease_holder(lease));
    all.push(disk(setup.data_dir));
    all.extend(modes(db, setup.data_dir));
    all
}

fn tmux() -> Finding {
    match crate::tmux::version("tmux") {
        Ok(v) => found("tmux", Level::Ok, v, None),
        Err(e) => found(
            "tmux",
            Level::Fail,
            e.to_string(),
            Some(format!(
                "install tmux {}.{} or newer: apt-get install tmux (Debian, Ubuntu), \
                 dnf install tmux (Fedora), brew install tmux (macOS)",
                crate::tmux::MIN_VERSION.0,
                crate::tmux::MIN_VERSION.1
            )),
        ),
    }
}

fn git() -> Finding {
    match Command::new("git").arg("--version").output() {
        Ok(o) if o.status.success() => found(
            "git",
            Level::Ok,
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
            None,
        ),
        Ok(o) => found(
            "git",
            Level::Fail,
            format!(
                "`git --version` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Some("reinstall git".into()),
        ),
        Err(_) => found(
            "git",
            Level::Fail,
            "git is not installed (not on PATH)".into(),
            Some("install git: apt-get install git (Debian, Ubuntu), brew install git".into()),
        ),
    }
}

fn database(path: &Path, inspection: Option<&Result<Inspection, StoreError>>) -> Finding {
    let shown = path.display();
    let Some(inspection) = inspection else {
        return found(
            "database",
            Level::Ok,
            format!("{shown} does not exist yet (made on first use)"),
            None,
        );
    };
    match inspection {
        Ok(i) => {
            let mb = |b: u64| b as f64 / 1_048_576.0;
            let detail = format!(
                "{shown}: sound, schema v{} of v{}, {:.1} MB, WAL {:.1} MB",
                i.schema,
                i.latest,
                mb(i.bytes),
                mb(i.wal_bytes)
            );
            if i.schema < i.latest {
                found(
                    "database",
                    Level::Ok,
                    detail,
                    Some(format!(
                        "migrated to v{} the next time bosun writes to it (`bosun backup` first \
                         if you want to keep the old form)",
                        i.latest
                    )),
                )
            } else {
                found("database", Level::Ok, detail, None)
            }
        }
        Err(e @ StoreError::Malformed { .. }) => found(
            "database",
            Level::Fail,
            e.to_string(),
            Some(format!(
                "move {shown} aside and restore the latest backup (`bosun backup FILE` makes \
                 them), or start afresh without it; the agents in tmux keep running"
            )),
        ),
        Err(e) => found(
            "database",
            Level::Fail,
            e.to_string(),
            Some("point --db (or $BOSUN_DB) at a bosun database".into()),
        ),
    }
}

fn config(setup: &Setup<'_>, all: &mut Vec<Finding>) -> Option<Config> {
    let files = Config::layer_files(setup.config_file);
    let layers = if files.is_empty() {
        "built-in defaults only".to_string()
    } else {
        let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        format!("built-in defaults, then {}", shown.join(", then "))
    };
    match (setup.load_config)() {
        Ok(cfg) => {
            all.push(found("config", Level::Ok, format!("valid: {layers}"), None));
            Some(cfg)
        }
        Err(e) => {
            all.push(found(
                "config",
                Level::Fail,
                format!("{e:#}"),
                Some(format!(
                    "fix the file and key named above ({layers}); `bosun config` shows the result"
                )),
            ));
            None
        }
    }
}

/// The providers of the roles the pipeline's stages use, checked (installed, version,
/// proven, hooks); the others are only named: a provider no stage uses blocks nothing, and its
/// `--version` can take seconds.
fn providers(cfg: &Config, runs_dir: &Path) -> Vec<Finding> {
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "bosun".into());
    let used: std::collections::BTreeSet<&String> = cfg
        .stages
        .iter()
        .filter_map(|s| cfg.roles.get(&s.role))
        .map(|r| &r.provider)
        .collect();
    let mut out = Vec::new();
    for name in &used {
        let Some(p) = cfg.providers.get(*name) else {
            continue;
        };
        let check = format!("provider {name}");
        if let Some(missing) = crate::provider::missing_cli(p, &exe) {
            out.push(found(
                &check,
                Level::Fail,
                format!("{missing} (a stage of the pipeline uses it)"),
                None,
            ));
            continue;
        }
        let version = crate::provider::installed_version(p, &exe);
        let builtin = p.proven == "built-in";
        let proven = match (p.proven.as_str(), version.as_deref()) {
            ("", _) => "not proven by a live test (best effort)".to_string(),
            ("built-in", _) => "built into bosun".to_string(),
            (v, Some(installed)) if installed.contains(v) => format!("proven against {v}"),
            (v, _) => format!("proven against {v}, not against the installed version"),
        };
        // Gemini CLI gets bosun's layer merged into the user's settings in a per-run home:
        // a settings file it cannot parse is the one thing that loses the user's settings.
        let gemini_home = (p.hooks == HookStyle::Gemini).then(|| {
            let real = crate::provider::wiring::layer::real_home(&p.env);
            let problem = match &real {
                Some(real) => crate::provider::wiring::layer::user_settings(real).err(),
                None => Some("no home directory (HOME) for Gemini CLI".to_string()),
            };
            (real, problem)
        });
        let layer_problem = gemini_home.as_ref().and_then(|(_, p)| p.clone());
        let hooks = match (&gemini_home, p.hooks) {
            (_, HookStyle::None) => "screen only (no hooks)".to_string(),
            (Some((real, problem)), _) => format!(
                "hooks wired: each run's GEMINI_CLI_HOME is {}/<run>.gemini-home, its \
                 settings.json {} with bosun's hooks, MCP server and errorVerbosity merged in",
                runs_dir.display(),
                match (real, problem) {
                    (_, Some(problem)) => format!("bosun's alone ({problem})"),
                    (Some(real), None) => format!(
                        "the user's {}",
                        crate::provider::wiring::layer::user_settings_path(real).display()
                    ),
                    (None, None) => "bosun's alone".to_string(),
                },
            ),
            (None, _) => "hooks wired".to_string(),
        };
        let level = if layer_problem.is_none()
            && (builtin
                || p.proven.is_empty()
                || version.as_deref().is_some_and(|v| v.contains(&p.proven)))
        {
            Level::Ok
        } else {
            Level::Warn
        };
        let fix = if layer_problem.is_some() {
            Some(
                "fix the Gemini CLI settings file named above (Gemini CLI refuses to start on \
                 it outside bosun too); until then bosun's runs get its settings without yours"
                    .to_string(),
            )
        } else {
            (level == Level::Warn).then(|| {
                format!("`bosun providers --check {name}` shows whether this version reads right")
            })
        };
        out.push(found(
            &check,
            level,
            format!(
                "{}; {proven}; {hooks}",
                crate::text::clean(version.as_deref().unwrap_or("version unknown"))
            ),
            fix,
        ));
    }
    let mut unused: Vec<&String> = cfg.providers.keys().filter(|n| !used.contains(n)).collect();
    unused.sort();
    if !unused.is_empty() {
        let names: Vec<&str> = unused.iter().map(|n| n.as_str()).collect();
        out.push(found(
            "providers",
            Level::Ok,
            format!("not checked (no stage uses them): {}", names.join(", ")),
            None,
        ));
    }
    out
}

/// Files and directories bosun keeps that group or others can read (made by an older bosun,
/// or by hand): the database and its WAL, the run logs and settings, the tmux config and the
/// log in the state directory.
fn modes(db: &Path, data_dir: &Path) -> Vec<Finding> {
    let mut roots: Vec<std::path::PathBuf> = vec![
        db.to_path_buf(),
        store::sidecar(db, "-wal"),
        store::sidecar(db, "-shm"),
        data_dir.join("runs"),
        data_dir.join("tmux.conf"),
        crate::config::paths::state_dir(),
    ];
    if data_dir == crate::config::paths::data_dir() {
        roots.push(data_dir.to_path_buf());
    }
    const SHOWN: usize = 20;
    let loose = crate::private::looser_than(&roots, 1, SHOWN + 1);
    if loose.is_empty() {
        return vec![found(
            "file modes",
            Level::Ok,
            "the database, run logs and settings are yours alone".into(),
            None,
        )];
    }
    loose
        .iter()
        .take(SHOWN)
        .map(|l| {
            found(
                "file modes",
                Level::Warn,
                format!(
                    "{} is {:o}: others on this machine can read it (it may hold task text, \
                     run output or secrets)",
                    l.path.display(),
                    l.mode
                ),
                Some(l.fix()),
            )
        })
        .collect()
}

fn lease_holder(lease: Option<Result<Option<store::lease::Lease>, ()>>) -> Finding {
    match lease {
        None | Some(Ok(None)) => found(
            "supervisor",
            Level::Ok,
            "none running (start one: `bosun` or `bosun daemon`)".into(),
            None,
        ),
        Some(Ok(Some(l))) => {
            let age = (now_ms() - l.heartbeat_at).max(0);
            let alive = crate::tmux::process::holder_alive(l.pid, l.acquired_at);
            let detail = format!(
                "{} (pid {} on {}), last heartbeat {:.1} s ago",
                crate::text::clean(&l.owner),
                l.pid,
                crate::text::clean(&l.host),
                age as f64 / 1000.0
            );
            if age > 10_000 || !alive {
                found(
                    "supervisor",
                    Level::Warn,
                    format!("{detail}: stale"),
                    Some("the next `bosun` or `bosun daemon` takes the lease over".into()),
                )
            } else {
                found("supervisor", Level::Ok, detail, None)
            }
        }
        Some(Err(())) => found(
            "supervisor",
            Level::Warn,
            "unknown: the database cannot be read".into(),
            None,
        ),
    }
}

fn disk(dir: &Path) -> Finding {
    // The nearest existing ancestor: the data directory may not exist yet.
    let mut at = dir.to_path_buf();
    while !at.exists() {
        if !at.pop() {
            break;
        }
    }
    let out = Command::new("df").arg("-Pk").arg(&at).output();
    let free = out.ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let Some(free) = free else {
        return found(
            "disk",
            Level::Warn,
            format!("cannot tell the free space of {}", at.display()),
            None,
        );
    };
    let detail = format!(
        "{:.1} GB free for run logs in {}",
        free as f64 / 1_073_741_824.0,
        dir.display()
    );
    let fix = Some("free space there, or move the database (--db) to a larger disk".into());
    if free < DISK_FAIL {
        found("disk", Level::Fail, detail, fix)
    } else if free < DISK_WARN {
        found("disk", Level::Warn, detail, fix)
    } else {
        found("disk", Level::Ok, detail, None)
    }
}
