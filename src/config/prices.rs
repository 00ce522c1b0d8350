//! `[prices]`: what tokens cost, per model (issue 22), in US dollars per million tokens. The
//! built-in table is dated (`as_of`) and any layer overrides or adds models; a model's price
//! is the entry with the longest name its recorded model starts with. A provider listed in
//! `subscription` is billed by a plan, not by token: its runs' cost reads as such, not as $0.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::provider::usage::Usage;

/// One model's prices, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input tokens not read from a cache.
    pub input: f64,
    /// Output tokens (reasoning included).
    pub output: f64,
    /// Input tokens read from the prompt cache (default: the input price).
    #[serde(default)]
    pub cache_read: Option<f64>,
    /// Input tokens written to the prompt cache (default: the input price).
    #[serde(default)]
    pub cache_write: Option<f64>,
}

/// `[prices]`, resolved.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PriceConfig {
    /// The date the built-in table was taken from the providers' price pages.
    pub as_of: String,
    /// Prices by model name (a prefix of the recorded model).
    pub models: BTreeMap<String, Price>,
    /// Providers billed by a subscription.
    pub subscription: Vec<String>,
}

/// `[prices]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrices {
    as_of: Option<String>,
    #[serde(default)]
    models: BTreeMap<String, Price>,
    subscription: Option<Vec<String>>,
}

/// The layers' `[prices]` (oldest first): models merged by name, the rest replaced.
pub(super) fn resolve<'a>(layers: impl Iterator<Item = &'a RawPrices>) -> PriceConfig {
    layers.fold(PriceConfig::default(), |mut p, raw| {
        if let Some(d) = &raw.as_of {
            p.as_of = d.clone();
        }
        p.models
            .extend(raw.models.iter().map(|(k, v)| (k.clone(), *v)));
        if let Some(s) = &raw.subscription {
            p.subscription = s.clone();
        }
        p
    })
}

/// What runs cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Cost {
    /// Priced, USD.
    Usd {
        /// The amount.
        usd: f64,
    },
    /// Billed by a subscription plan.
    Subscription,
    /// No price for these models (add them to `[prices.models]`).
    Unpriced {
        /// The models without a price.
        models: Vec<String>,
    },
}

impl Cost {
    /// `$1.23`, `subscription`, `no price for gpt-x`.
    pub fn describe(&self) -> String {
        match self {
            Cost::Usd { usd } => format!("${usd:.2}"),
            Cost::Subscription => "subscription".into(),
            Cost::Unpriced { models } => format!("no price for {}", models.join(", ")),
        }
    }

    /// `self` and `other` together: unpriced wins (the sum would be wrong), then USD.
    #[must_use]
    pub fn plus(self, other: Cost) -> Cost {
        match (self, other) {
            (Cost::Unpriced { mut models }, Cost::Unpriced { models: m }) => {
                for x in m {
                    if !models.contains(&x) {
                        models.push(x);
                    }
                }
                Cost::Unpriced { models }
            }
            (u @ Cost::Unpriced { .. }, _) | (_, u @ Cost::Unpriced { .. }) => u,
            (Cost::Usd { usd: a }, Cost::Usd { usd: b }) => Cost::Usd { usd: a + b },
            (u @ Cost::Usd { .. }, Cost::Subscription)
            | (Cost::Subscription, u @ Cost::Usd { .. }) => u,
            (Cost::Subscription, Cost::Subscription) => Cost::Subscription,
        }
    }
}

impl PriceConfig {
    /// The price of `model`: the entry with the longest name it starts with.
    pub fn price(&self, model: &str) -> Option<Price> {
        self.models
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
    }

    /// What `usage` of `model` by `provider` cost.
    pub fn cost(&self, provider: &str, model: Option<&str>, usage: &Usage) -> Cost {
        if self.subscription.iter().any(|s| s == provider) {
            return Cost::Subscription;
        }
        if usage.total() == 0 {
            return Cost::Usd { usd: 0.0 };
        }
        let model = model.unwrap_or("(unknown model)");
        let Some(p) = self.price(model) else {
            return Cost::Unpriced {
                models: vec![model.to_string()],
            };
        };
        let per = |tokens: i64, price: f64| tokens as f64 * price / 1_000_000.0;
        Cost::Usd {
            usd: per(usage.input, p.input)
                + per(usage.output, p.output)
                + per(usage.cache_read, p.cache_read.unwrap_or(p.input))
                + per(usage.cache_write, p.cache_write.unwrap_or(p.input)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_name_prices_a_model() {
        let mut p = PriceConfig::default();
        p.models.insert(
            "claude-opus".into(),
            Price {
                input: 15.0,
                output: 75.0,
                cache_read: Some(1.5),
                cache_write: Some(18.75),
            },
        );
        p.models.insert(
            "claude".into(),
            Price {
                input: 3.0,
                output: 15.0,
                cache_read: None,
                cache_write: None,
            },
        );
        let u = Usage {
            input: 1_000_000,
            output: 100_000,
            cache_read: 2_000_000,
            cache_write: 0,
            reasoning: 0,
        };
        assert_eq!(
            p.cost("claude", Some("claude-opus-4-1"), &u),
            Cost::Usd {
                usd: 15.0 + 7.5 + 3.0
            }
        );
        assert_eq!(
            p.cost("claude", Some("claude-sonnet-4"), &u),
            Cost::Usd {
                usd: 3.0 + 1.5 + 6.0
            }
        );
        assert_eq!(
            p.cost("codex", Some("gpt-9"), &u).describe(),
            "no price for gpt-9"
        );
        p.subscription.push("claude".into());
        assert_eq!(
            p.cost("claude", Some("claude-opus-4"), &u).describe(),
            "subscription"
        );
    }
}
