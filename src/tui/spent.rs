//! What a task's runs used and cost, as the console shows it on a board card (issue 22):
//! `12.3k tok $0.42` — tokens in thousands or millions, and the cost as `bosun usage` prices
//! it: `$?` when a model has no price (unknown, never $0), `sub` when billed by a
//! subscription.

use crate::config::prices::{Cost, PriceConfig};
use crate::store::usage::Usage;

/// A task's tokens and their cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spent {
    /// Tokens: input, cache reads and writes, output.
    pub tokens: i64,
    /// Their cost (`None`: nothing used).
    pub cost: Option<Cost>,
}

impl Spent {
    /// Adds the `usage` of `provider`'s `model`, priced by `prices`.
    pub fn add(&mut self, prices: &PriceConfig, provider: &str, model: Option<&str>, u: &Usage) {
        self.tokens += u.total();
        let cost = prices.cost(provider, model, u);
        self.cost = Some(match self.cost.take() {
            Some(c) => c.plus(cost),
            None => cost,
        });
    }

    /// `12.3k tok $0.42`, `850 tok $?`, `1.2M tok sub`; empty when nothing was used.
    pub fn label(&self) -> String {
        if self.tokens <= 0 {
            return String::new();
        }
        let cost = match &self.cost {
            Some(Cost::Usd { usd }) => format!(" ${usd:.2}"),
            Some(Cost::Subscription) => " sub".into(),
            Some(Cost::Unpriced { .. }) => " $?".into(),
            None => String::new(),
        };
        format!("{} tok{cost}", compact(self.tokens))
    }
}

/// `850`, `12.3k`, `450k`, `1.2M`: at most four significant characters.
#[allow(clippy::cast_precision_loss)]
pub fn compact(n: i64) -> String {
    let f = n as f64;
    match n {
        ..=999 => n.to_string(),
        1_000..=99_949 => format!("{:.1}k", f / 1e3),
        99_950..=999_499 => format!("{:.0}k", f / 1e3),
        999_500..=99_949_999 => format!("{:.1}M", f / 1e6),
        _ => format!("{:.0}M", f / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_compact() {
        let cases = [
            (0, "0"),
            (850, "850"),
            (1_000, "1.0k"),
            (12_345, "12.3k"),
            (99_949, "99.9k"),
            (99_950, "100k"),
            (450_000, "450k"),
            (999_499, "999k"),
            (999_500, "1.0M"),
            (1_234_567, "1.2M"),
            (120_000_000, "120M"),
        ];
        for (n, text) in cases {
            assert_eq!(compact(n), text, "{n}");
        }
    }

    #[test]
    fn a_label_says_tokens_and_cost_and_never_calls_unpriced_free() {
        let mut prices = PriceConfig::default();
        prices.models.insert(
            "m".into(),
            crate::config::prices::Price {
                input: 10.0,
                output: 50.0,
                cache_read: None,
                cache_write: None,
            },
        );
        let u = Usage {
            input: 12_000,
            output: 300,
            ..Usage::default()
        };
        let mut s = Spent::default();
        assert_eq!(s.label(), "");
        s.add(&prices, "claude", Some("m-1"), &u);
        assert_eq!(s.label(), "12.3k tok $0.14");
        s.add(&prices, "codex", Some("gpt-x"), &u);
        assert_eq!(s.label(), "24.6k tok $?");
        prices.subscription.push("claude".into());
        let mut s = Spent::default();
        s.add(&prices, "claude", Some("m-1"), &u);
        assert_eq!(s.label(), "12.3k tok sub");
    }
}
