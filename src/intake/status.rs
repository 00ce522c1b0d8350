//! Each intake source and what it did, for `bosun intake status` and the console's queue
//! view: one line per source.

use serde::Serialize;

use crate::config::Config;
use crate::config::intake::IntakeSource;
use crate::store::intake::{self, SourceStatus};
use crate::store::{Store, StoreError};

/// A source and its status.
#[derive(Debug, Serialize)]
pub struct Row {
    /// The source as configured (no secret: only the variables' names).
    pub source: IntakeSource,
    /// Its webhook secret is set where this command runs.
    pub webhook_secret_set: bool,
    /// Its token is set where this command runs.
    pub token_set: bool,
    /// What it did.
    pub status: SourceStatus,
}

/// The rows of `cfg`'s sources, read in one transaction.
///
/// # Errors
/// Store failures.
pub fn rows(cfg: &Config, store: &Store) -> Result<Vec<Row>, StoreError> {
    let set = |env: &str| std::env::var(env).is_ok_and(|v| !v.is_empty());
    store.read(|tx| {
        cfg.intake
            .iter()
            .map(|s| {
                Ok(Row {
                    webhook_secret_set: s.webhook_secret_env.as_deref().is_some_and(set),
                    token_set: set(&s.token_env),
                    status: intake::status(tx, &s.name)?,
                    source: s.clone(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
    })
}

/// One line about a source: `github:octo/app → ET · webhooks + poll 1m · polled 12s ago · 3
/// tasks · 1 bad signature`.
pub fn line(r: &Row, now: i64) -> String {
    let s = &r.status;
    let mut ways = Vec::new();
    if r.source.webhook_secret_env.is_some() {
        ways.push("webhooks".to_string());
    }
    if let Some(p) = r.source.poll {
        ways.push(format!("poll {}", humantime::format_duration(p)));
    }
    let mut parts = vec![
        format!("{} → {}", r.source.name, r.source.project),
        if ways.is_empty() {
            "nothing".into()
        } else {
            ways.join(" + ")
        },
    ];
    if let Some(t) = s.last_delivery_at {
        parts.push(format!("delivery {} ago", span(t, now)));
    }
    if let Some(t) = s.last_poll_at {
        parts.push(format!("polled {} ago", span(t, now)));
    }
    parts.push(format!(
        "{} task{}",
        s.tasks_created,
        if s.tasks_created == 1 { "" } else { "s" }
    ));
    if s.bad_signatures > 0 {
        parts.push(format!("{} bad signatures", s.bad_signatures));
    }
    if s.ignored_comments > 0 {
        parts.push(format!("{} commands ignored", s.ignored_comments));
    }
    if let Some(until) = s.limited_until.filter(|u| *u > now) {
        parts.push(format!("rate limited for {}", span(now, until)));
    }
    if let Some(e) = &s.error {
        parts.push(format!("error: {}", crate::text::plain(e)));
    }
    parts.join(" · ")
}

/// `to - from` (ms) in whole seconds, as humantime writes it (`1m 12s`).
fn span(from: i64, to: i64) -> String {
    let secs = u64::try_from((to - from).max(0) / 1000).unwrap_or(0);
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}
