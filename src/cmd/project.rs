//! `bosun project add|list`.

use super::out::outln;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{Ctx, print_json};
use crate::cli::ProjectCommand;
use crate::store::events::{self, About, EventKind};
use crate::store::now_ms;
use crate::store::projects::{self, NewProject};

pub(super) fn run(ctx: &Ctx, cmd: ProjectCommand) -> Result<()> {
    match cmd {
        ProjectCommand::Add {
            path,
            name,
            key,
            test_command,
            default_branch,
        } => {
            let path = path
                .canonicalize()
                .with_context(|| format!("cannot find {}", path.display()))?;
            if !path.join(".git").exists() {
                bail!(
                    "{} is not a git repository (no .git): run `git init` there first",
                    path.display()
                );
            }
            let name = match name {
                Some(n) => n,
                None => path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .context("the path has no directory name; pass --name")?,
            };
            let key = match key {
                Some(k) => k.to_ascii_uppercase(),
                None => key_prefix(&name),
            };
            if key.is_empty() || key.len() > 8 || !key.chars().all(|c| c.is_ascii_uppercase()) {
                bail!("key prefix `{key}` must be 1-8 letters (A-Z); pass --key");
            }
            let test_command = test_command.or_else(|| detect_test_command(&path));
            let store = ctx.store()?;
            let path_s = path.to_string_lossy();
            let now = now_ms();
            let project = store.write(|tx| {
                let p = projects::insert(
                    tx,
                    &NewProject {
                        name: &name,
                        path: &path_s,
                        key_prefix: &key,
                        default_branch: default_branch.as_deref(),
                        test_command: test_command.as_deref(),
                    },
                    now,
                )?;
                events::record(
                    tx,
                    EventKind::ProjectAdded,
                    About::NOTHING,
                    "cli",
                    format!("project {} added at {}", p.name, p.path),
                    now,
                )?;
                Ok::<_, crate::store::StoreError>(p)
            })?;
            outln!(
                "project {} ({}-NNN) at {}; test command: {}",
                project.name,
                project.key_prefix,
                project.path,
                project
                    .test_command
                    .as_deref()
                    .unwrap_or("none (command gates will block)")
            );
            Ok(())
        }
        ProjectCommand::List { json } => {
            let store = ctx.store()?;
            let list = projects::list(store.conn())?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                outln!("no projects; add one with `bosun project add PATH`");
            }
            for p in list {
                outln!(
                    "{:<20} {:<6} {}  test: {}",
                    p.name,
                    p.key_prefix,
                    p.path,
                    p.test_command.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
    }
}

/// A key prefix from a project name: the initials of its words (`example-tool` → `ET`), or
/// the first three letters of a single word (`bosun` → `BOS`).
pub(crate) fn key_prefix(name: &str) -> String {
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    let key: String = if words.len() > 1 {
        words
            .iter()
            .filter_map(|w| w.chars().next())
            .take(8)
            .collect()
    } else {
        words.first().map_or("P", |w| w).chars().take(3).collect()
    };
    key.to_ascii_uppercase()
}

/// The usual test command for the build files found at the repository root.
fn detect_test_command(path: &Path) -> Option<String> {
    [
        ("Cargo.toml", "cargo test"),
        ("package.json", "npm test"),
        ("go.mod", "go test ./..."),
        ("pyproject.toml", "pytest"),
        ("Makefile", "make test"),
    ]
    .iter()
    .find(|(file, _)| path.join(file).is_file())
    .map(|(_, cmd)| cmd.to_string())
}

#[cfg(test)]
mod tests {
    use super::key_prefix;

    #[test]
    fn key_prefix_from_names() {
        assert_eq!(key_prefix("example-tool"), "ET");
        assert_eq!(key_prefix("bosun"), "BOS");
        assert_eq!(key_prefix("my_big web app"), "MBWA");
        assert_eq!(key_prefix("42"), "P");
    }
}
