//! Codex's scratch home is the product's ([`bosun::sim::homes`]); what the Codex tests do to it
//! beyond that. Details: `tests/fixtures/codex-0.169.0/README.md`.
#![allow(dead_code)]

use std::path::Path;

use bosun::sim::homes;

/// Removes the migration notice ([`homes::codex_migration_notice`]) from
/// `<codex_home>/config.toml` (edited as TOML), so Codex offers the model migration again.
pub fn forget_migration_notice(codex_home: &Path) {
    let path = codex_home.join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config.toml");
    let mut config: toml::Table = toml::from_str(&text).expect("config.toml is TOML");
    let notice: toml::Table =
        toml::from_str(&homes::codex_migration_notice()).expect("the notice is TOML");
    if let Some(toml::Value::Table(mine)) = config.get_mut("notice") {
        for key in notice
            .get("notice")
            .and_then(|n| n.as_table())
            .into_iter()
            .flatten()
        {
            mine.remove(key.0);
        }
        if mine.is_empty() {
            config.remove("notice");
        }
    }
    std::fs::write(&path, toml::to_string(&config).expect("TOML")).expect("config.toml");
}
