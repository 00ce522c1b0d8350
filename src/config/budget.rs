//! `[budget]`: how many tokens, and how many US dollars, a task, a project and a day may use
//! (issue 22). At 100 % no new run starts in that scope (its queued jobs wait); with
//! `hard = true` a running run that crosses one is stopped too. `bosun budget` raises one, as
//! an operator decision with a note. Later layers override key by key.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::ConfigError;
use super::prices::PriceConfig;
use super::raw::Source;

/// `[budget]`, resolved: `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BudgetConfig {
    /// Tokens one task may use (all its runs).
    pub task_tokens: Option<i64>,
    /// Tokens one project's tasks may use together.
    pub project_tokens: Option<i64>,
    /// Tokens all runs started on one UTC day may use together.
    pub day_tokens: Option<i64>,
    /// US dollars one task's runs may cost, priced by `[prices]`.
    pub task_usd: Option<f64>,
    /// US dollars one project's tasks may cost together.
    pub project_usd: Option<f64>,
    /// US dollars all runs started on one UTC day may cost together.
    pub day_usd: Option<f64>,
    /// A running run whose task crosses a budget is stopped (its job waits in the queue)
    /// instead of finishing its turn (default false).
    pub hard: bool,
    /// The fraction of a budget at which the operator is warned (default 0.8).
    pub warn_at: f64,
}

impl Default for BudgetConfig {
    fn default() -> BudgetConfig {
        BudgetConfig {
            task_tokens: None,
            project_tokens: None,
            day_tokens: None,
            task_usd: None,
            project_usd: None,
            day_usd: None,
            hard: false,
            warn_at: 0.8,
        }
    }
}

impl BudgetConfig {
    /// True when the config sets any budget.
    pub fn any(&self) -> bool {
        self.task_tokens.is_some()
            || self.project_tokens.is_some()
            || self.day_tokens.is_some()
            || self.task_usd.is_some()
            || self.project_usd.is_some()
            || self.day_usd.is_some()
    }
}

/// What budgets are checked with: `[budget]`, and the `[prices]` that turn tokens into the
/// dollars money budgets count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetRules {
    /// `[budget]`.
    pub limits: BudgetConfig,
    /// `[prices]`.
    pub prices: PriceConfig,
}

impl BudgetRules {
    /// The rules of `cfg`.
    pub fn of(cfg: &super::Config) -> BudgetRules {
        BudgetRules {
            limits: cfg.budget,
            prices: cfg.prices.clone(),
        }
    }
}

/// `[budget]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudget {
    task_tokens: Option<i64>,
    project_tokens: Option<i64>,
    day_tokens: Option<i64>,
    task_usd: Option<Spanned<f64>>,
    project_usd: Option<Spanned<f64>>,
    day_usd: Option<Spanned<f64>>,
    hard: Option<bool>,
    warn_at: Option<f64>,
}

/// The layers' `[budget]` sections (oldest first) over the defaults; a negative token count
/// is no limit's opposite and is taken as 0.
///
/// # Errors
/// A dollar amount that is negative or not finite, named by file, line and key.
pub(super) fn resolve(sources: &[Source<'_>]) -> Result<BudgetConfig, ConfigError> {
    let mut b = BudgetConfig::default();
    for s in sources {
        let Some(raw) = &s.layer.budget else { continue };
        if let Some(v) = raw.task_tokens {
            b.task_tokens = Some(v.max(0));
        }
        if let Some(v) = raw.project_tokens {
            b.project_tokens = Some(v.max(0));
        }
        if let Some(v) = raw.day_tokens {
            b.day_tokens = Some(v.max(0));
        }
        for (raw, slot, key) in [
            (&raw.task_usd, &mut b.task_usd, "budget.task_usd"),
            (&raw.project_usd, &mut b.project_usd, "budget.project_usd"),
            (&raw.day_usd, &mut b.day_usd, "budget.day_usd"),
        ] {
            if let Some(v) = raw {
                *slot = Some(dollars(s, v, key)?);
            }
        }
        if let Some(v) = raw.hard {
            b.hard = v;
        }
        if let Some(v) = raw.warn_at {
            b.warn_at = v.clamp(0.0, 1.0);
        }
    }
    Ok(b)
}

/// A dollar budget as written: 0 or more, finite.
fn dollars(s: &Source<'_>, v: &Spanned<f64>, key: &str) -> Result<f64, ConfigError> {
    let usd = *v.get_ref();
    if usd.is_finite() && usd >= 0.0 {
        Ok(usd)
    } else {
        Err(s.err(
            v.span().start,
            key,
            format!("{usd} is not a budget: write US dollars, 0 or more (e.g. 2.5)"),
        ))
    }
}
