//! `bosun init`: writes the commented default config.

use super::out::outln;
use std::path::Path;

use anyhow::{Result, bail};

use crate::config::DEFAULT_TOML;

pub(super) fn run(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        );
    }
    std::fs::write(path, DEFAULT_TOML)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    outln!("wrote {}", path.display());
    Ok(())
}
