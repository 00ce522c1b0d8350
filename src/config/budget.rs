//! `[budget]`: how many tokens a task, a project and a day may use (issue 22). At 100 % no
//! new run starts in that scope (its queued jobs wait); `bosun budget` raises one, as an
//! operator decision with a note. Later layers override key by key.

use serde::{Deserialize, Serialize};

/// `[budget]`, resolved: `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BudgetConfig {
    /// Tokens one task may use (all its runs).
    pub task_tokens: Option<i64>,
    /// Tokens one project's tasks may use together.
    pub project_tokens: Option<i64>,
    /// Tokens all runs started on one UTC day may use together.
    pub day_tokens: Option<i64>,
    /// The fraction of a budget at which the operator is warned (default 0.8).
    pub warn_at: f64,
}

impl Default for BudgetConfig {
    fn default() -> BudgetConfig {
        BudgetConfig {
            task_tokens: None,
            project_tokens: None,
            day_tokens: None,
            warn_at: 0.8,
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
    warn_at: Option<f64>,
}

/// The layers' `[budget]` sections (oldest first) over the defaults; a negative count is no
/// limit's opposite and is taken as 0.
pub(super) fn resolve<'a>(layers: impl Iterator<Item = &'a RawBudget>) -> BudgetConfig {
    layers.fold(BudgetConfig::default(), |mut b, raw| {
        if let Some(v) = raw.task_tokens {
            b.task_tokens = Some(v.max(0));
        }
        if let Some(v) = raw.project_tokens {
            b.project_tokens = Some(v.max(0));
        }
        if let Some(v) = raw.day_tokens {
            b.day_tokens = Some(v.max(0));
        }
        if let Some(v) = raw.warn_at {
            b.warn_at = v.clamp(0.0, 1.0);
        }
        b
    })
}
