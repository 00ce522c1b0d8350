//! The usage-limit error of each API ([`super::Turn::UsageLimit`]): HTTP 429 with the reset
//! time where each service puts it.
//!
//! - Anthropic (a Claude subscription's "unified" limit): `rate_limit_error` with the
//!   `anthropic-ratelimit-unified-*` headers Claude Code reads (`-status: rejected`,
//!   `-reset` in Unix seconds, `-representative-claim: five_hour`, the 5-hour window's own
//!   status, reset and utilisation), names taken from Claude Code 2.1.332's binary.
//! - OpenAI (a ChatGPT plan under Codex): error type `usage_limit_reached` with
//!   `plan_type`, `resets_at` (Unix seconds) and `resets_in_seconds`, and the
//!   `x-codex-primary-*` headers (used percent, window minutes, reset).
//! - Gemini: `RESOURCE_EXHAUSTED` with a `QuotaFailure` (a per-minute quota) and a
//!   `RetryInfo` `retryDelay`, the details Gemini CLI 0.61.0 classifies
//!   (`classifyGoogleError`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{Api, Plan};

/// The usage-limit answer of `api` for a limit that resets at `until`.
pub(super) fn plan(api: Api, until: SystemTime) -> Plan {
    let reset = until
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let left = until
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        .as_secs()
        .max(1);
    let h = |k: &str, v: String| (k.to_string(), v);
    let (headers, body) = match api {
        Api::Anthropic => (
            vec![
                h("anthropic-ratelimit-unified-status", "rejected".into()),
                h("anthropic-ratelimit-unified-reset", reset.to_string()),
                h(
                    "anthropic-ratelimit-unified-representative-claim",
                    "five_hour".into(),
                ),
                h("anthropic-ratelimit-unified-5h-status", "rejected".into()),
                h("anthropic-ratelimit-unified-5h-reset", reset.to_string()),
                h("anthropic-ratelimit-unified-5h-utilization", "1.0".into()),
                h("anthropic-ratelimit-unified-fallback", "unavailable".into()),
                h("retry-after", left.to_string()),
            ],
            json!({ "type": "error", "error": {
                "type": "rate_limit_error",
                "message": "This request would exceed your account's rate limit. Please try again later.",
            }}),
        ),
        Api::OpenAi => (
            vec![
                h("x-codex-primary-used-percent", "100.0".into()),
                h("x-codex-primary-window-minutes", "300".into()),
                h("x-codex-primary-reset-at", reset.to_string()),
                h("x-codex-primary-reset-after-seconds", left.to_string()),
                h("x-codex-secondary-used-percent", "41.0".into()),
                h("x-codex-secondary-window-minutes", "10080".into()),
            ],
            json!({ "error": {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "plan_type": "plus",
                "resets_at": reset,
                "resets_in_seconds": left,
            }}),
        ),
        Api::Gemini => (
            vec![],
            json!({ "error": {
                "code": 429,
                "message": format!(
                    "You exceeded your current quota, please check your plan and billing details. Please retry in {left}s."
                ),
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    { "@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count",
                        "quotaId": "GenerateContentPaidTierInputTokensPerModelPerMinute",
                        "quotaValue": "1000000",
                    }]},
                    { "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{left}s") },
                ],
            }}),
        ),
    };
    Plan::Json {
        status: 429,
        headers,
        body,
    }
}
