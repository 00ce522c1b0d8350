use super::*;
use crate::config::Config;

fn fixture(path: &str) -> String {
    let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// 2026-12-07 05:30:00 UTC, the hour the fixtures were captured.
fn at_utc(h: i8, m: i8, s: i8) -> Zoned {
    jiff::civil::date(2026, 12, 7)
        .at(h, m, s, 0)
        .to_zoned(TimeZone::UTC)
        .expect("zoned")
}

fn limits(provider: &str) -> Vec<LimitPattern> {
    Config::builtin().expect("config").providers[provider]
        .limits
        .clone()
}

fn ms(z: &Zoned) -> i64 {
    z.timestamp().as_millisecond()
}

#[test]
fn claude_waits_out_a_limit_that_resets_soon() {
    let now = at_utc(5, 29, 38);
    let screen = fixture("claude-2.1.332/limit-waits.txt");
    let seen = seen(&limits("claude"), &screen, &now).expect("the limit");
    assert!(seen.waits);
    assert_eq!(seen.resets_at, ms(&now) + 41_000);
    assert!(
        seen.words.contains("5-hour limit reached"),
        "{}",
        seen.words
    );
}

#[test]
fn claude_with_api_billing_reports_no_reset_so_no_limit_is_read() {
    let screen = fixture("claude-2.1.332/limit-api-billing.txt");
    assert_eq!(seen(&limits("claude"), &screen, &at_utc(5, 30, 0)), None);
}

#[test]
fn a_claude_subscription_limit_resets_at_its_zone_s_clock_time() {
    // As users report it (anthropics/claude-code #79136), the last message above the box.
    let screen = "❯ continue\n  ⎿  You've hit your session limit · resets 10:30pm (Europe/Berlin)\n     /login to switch to an API usage-billed account.\n\n✻ Cogitated for 0s\n\n────────────────────────────────────────\n❯ \n────────────────────────────────────────\n";
    let now = at_utc(19, 0, 0);
    let seen = seen(&limits("claude"), screen, &now).expect("the limit");
    assert!(!seen.waits);
    // 22:30 in Berlin (UTC+1 in December) is 21:30 UTC, plus the minute of slack.
    assert_eq!(seen.resets_at, ms(&at_utc(21, 31, 0)));
    // An hour-only time in the local zone.
    let screen = screen.replace("10:30pm (Europe/Berlin)", "8pm");
    let seen = super::seen(&limits("claude"), &screen, &now).expect("the limit");
    assert_eq!(seen.resets_at, ms(&at_utc(20, 1, 0)));
}

#[test]
fn codex_ends_the_turn_at_its_limit_and_its_rollout_has_the_exact_reset() {
    let screen = fixture("codex-0.171.0/limit-1.txt");
    let now = at_utc(5, 33, 47);
    let seen = seen(&limits("codex"), &screen, &now).expect("the limit");
    assert!(!seen.waits);
    assert_eq!(seen.resets_at, ms(&at_utc(7, 34, 0)));
    let l = &limits("codex")[seen.pattern];
    assert!(l.dialog.as_ref().is_some_and(|d| d.is_match(&screen)));
    let rollout = fixture("codex-0.171.0/limit-rollout.jsonl");
    let r = reported(rollout.as_bytes()).expect("rate limits");
    assert_eq!(r.used_percent, 100.0);
    assert_eq!(
        r.resets_at,
        Some(1_796_628_828_000),
        "a second after, rounded down"
    );
    // In an 80-column pane the message wraps, the time too.
    let narrow = "■ You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro),\n  visit https://chatgpt.com/settings/usage to purchase more credits or try again at 7:33\n  AM.\n\n› Ask Codex to do anything\n";
    let seen_narrow = super::seen(&limits("codex"), narrow, &now).expect("the wrapped limit");
    assert_eq!(seen_narrow.resets_at, ms(&at_utc(7, 34, 0)));
    // No window reported (an API key): nothing, not 0 %.
    let none =
        r#"{"type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":null}}"#;
    assert_eq!(reported(none.as_bytes()), None);
    // Once the agent answers below it, the old limit is not the last message.
    let later = screen.replace("  Approaching rate limits", "› continue\n• Resumed.");
    assert_eq!(super::seen(&limits("codex"), &later, &now), None);
}

#[test]
fn gemini_opens_a_dialog_for_a_far_limit() {
    let screen = fixture("gemini-0.61.0/limit-1.txt");
    let now = at_utc(5, 33, 47);
    let seen = seen(&limits("gemini"), &screen, &now).expect("the limit");
    assert_eq!(seen.resets_at, ms(&at_utc(7, 34, 0)));
    let l = &limits("gemini")[seen.pattern];
    assert!(!l.prompt);
    assert_eq!(l.keys, vec!["Enter".to_string()]);
}

#[test]
fn a_clock_time_just_past_is_now_and_one_long_past_is_tomorrow() {
    let l = limits("codex");
    let screen = "■ You’ve hit your usage limit. Try again at 5:00 AM.\n";
    let now = at_utc(5, 20, 0);
    assert_eq!(seen(&l, screen, &now).map(|s| s.resets_at), Some(ms(&now)));
    let now = at_utc(7, 0, 0);
    let tomorrow = jiff::civil::date(2026, 12, 8)
        .at(5, 1, 0, 0)
        .to_zoned(TimeZone::UTC)
        .expect("zoned");
    assert_eq!(
        seen(&l, screen, &now).map(|s| s.resets_at),
        Some(ms(&tomorrow))
    );
}

#[test]
fn clock_times() {
    let t = |h, m| Time::new(h, m, 0, 0).expect("time");
    assert_eq!(clock("5:31 AM"), Some(t(5, 31)));
    assert_eq!(clock("12:05am"), Some(t(0, 5)));
    assert_eq!(clock("12pm"), Some(t(12, 0)));
    assert_eq!(clock("8pm"), Some(t(20, 0)));
    assert_eq!(clock("17:05"), Some(t(17, 5)));
    assert_eq!(clock("13pm"), None);
    assert_eq!(clock("soon"), None);
}
