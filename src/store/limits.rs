//! `provider_limits`: providers parked at a usage limit until it resets (issue 22).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::Result;
use super::events::{self, About, EventKind};

/// A provider's usage limit as last reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    /// Provider name.
    pub provider: String,
    /// When the provider said the limit resets, ms since the epoch.
    pub resets_at: i64,
    /// No job of the provider is claimed before this, ms since the epoch: the reset, plus
    /// the stagger of the runs that resume first.
    pub until_at: i64,
    /// What the agent's screen said (agent text: sanitise before printing).
    pub words: String,
    /// The highest share of a limit window used, 0–100, where the CLI reports one.
    pub used_percent: Option<f64>,
    /// The run that reported it last.
    pub run_id: Option<i64>,
    /// When it was last reported, ms since the epoch.
    pub updated_at: i64,
}

impl Limit {
    /// True while its jobs wait.
    pub fn parks(&self, now: i64) -> bool {
        self.until_at > now
    }

    /// One line for the operator at `now`: `codex parked until 07:34:00 UTC (in 1h 3m) ·
    /// 100% used`, or `codex ok · 41% used` once it reset; the share where the CLI reported
    /// one. Plain text: the screen's words are not in it.
    pub fn describe(&self, now: i64) -> String {
        let mut s = if self.parks(now) {
            let left = std::time::Duration::from_secs(
                u64::try_from((self.until_at - now) / 1000).unwrap_or(0),
            );
            format!(
                "{} parked until {} (in {})",
                crate::text::plain(&self.provider),
                crate::provider::limit::clock_time(self.until_at),
                humantime::format_duration(left)
            )
        } else {
            format!("{} ok", crate::text::plain(&self.provider))
        };
        if let Some(p) = self.used_percent {
            s.push_str(&format!(" · {p:.0}% used"));
        }
        s
    }
}

const COLS: &str = "provider, resets_at, until_at, words, used_percent, run_id, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Limit> {
    Ok(Limit {
        provider: r.get(0)?,
        resets_at: r.get(1)?,
        until_at: r.get(2)?,
        words: r.get(3)?,
        used_percent: r.get(4)?,
        run_id: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// Every provider's last reported limit (past ones too), by provider.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn list(conn: &Connection) -> Result<Vec<Limit>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM provider_limits ORDER BY provider"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The providers parked at `now`.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn parked(conn: &Connection, now: i64) -> Result<Vec<Limit>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM provider_limits WHERE until_at > ?1 ORDER BY provider"
    ))?;
    let rows = stmt.query_map([now], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What a run reported of its provider's limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Report<'a> {
    /// Provider name.
    pub provider: &'a str,
    /// The run that met the limit, if a run did.
    pub run_id: Option<i64>,
    /// Its task and job, for the event.
    pub about: About,
    /// When the limit resets, ms since the epoch.
    pub resets_at: i64,
    /// When this run resumes (the reset plus its place in the stagger), ms since the epoch.
    pub resumes_at: i64,
    /// What the screen said.
    pub words: &'a str,
    /// Share of the limit used, where reported.
    pub used_percent: Option<f64>,
}

/// Parks `r.provider` until `r.resumes_at` (or later, if another parked run resumes later
/// already): one `provider_parked` event when it was not parked or its reset moved. Returns
/// whether the event was written.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn park(conn: &Connection, r: &Report<'_>, now: i64) -> Result<bool> {
    let before: Option<Limit> = conn
        .query_row(
            &format!("SELECT {COLS} FROM provider_limits WHERE provider = ?1"),
            [r.provider],
            from_row,
        )
        .optional()?;
    let live = before.as_ref().filter(|b| b.parks(now));
    let until = live.map_or(r.resumes_at, |b| b.until_at.max(r.resumes_at));
    let until = until.max(r.resets_at);
    conn.execute(
        "INSERT INTO provider_limits (provider, resets_at, until_at, words, used_percent,
                                      run_id, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (provider) DO UPDATE SET resets_at = ?2, until_at = ?3, words = ?4,
             used_percent = coalesce(?5, used_percent), run_id = ?6, updated_at = ?7",
        params![
            r.provider,
            r.resets_at,
            until,
            r.words,
            r.used_percent,
            r.run_id,
            now
        ],
    )?;
    let news = live.is_none_or(|b| b.resets_at != r.resets_at);
    if news {
        let at = crate::provider::limit::clock_time(r.resets_at);
        events::record(
            conn,
            EventKind::ProviderParked,
            r.about,
            "supervisor",
            format!(
                "{} parked until its usage limit resets at {at}: no job of it is claimed \
                 until then, and the runs that met it wait in their panes",
                r.provider
            ),
            now,
        )?;
    }
    Ok(news)
}

/// Records the share of `provider`'s limit used, as its CLI last reported it (Codex's
/// rollout, at the end of each turn), without parking it.
///
/// # Errors
/// [`super::StoreError::Sqlite`] on database failure.
pub fn utilisation(conn: &Connection, provider: &str, used_percent: f64, now: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO provider_limits (provider, resets_at, until_at, words, used_percent,
                                      updated_at)
         VALUES (?1, 0, 0, '', ?2, ?3)
         ON CONFLICT (provider) DO UPDATE SET used_percent = ?2, updated_at = ?3",
        params![provider, used_percent, now],
    )?;
    Ok(())
}
