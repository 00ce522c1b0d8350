//! Usage limits: the run waits in its pane (no failure, no attempt), then resumes.

use super::*;
use crate::config::LimitPattern;
use regex::Regex;

const LIMIT: &str = "✗ API Error: usage limit · resets in 20s\nSwitch model?\n>";
const LIMIT_NO_DIALOG: &str = "✗ API Error: usage limit · resets in 20s\n>";

/// The `sim` profile with a limit screen that leaves a dialog (`Escape` closes it).
fn limited(hooks: bool, waits: bool) -> ProviderConfig {
    let mut p = sim(hooks);
    p.limits = vec![LimitPattern {
        pattern: Regex::new(r"usage limit · resets in (?P<in>\d+s)").expect("regex"),
        waits,
        dialog: Some(Regex::new(r"Switch model\?").expect("regex")),
        keys: vec!["Escape".into()],
        prompt: true,
    }];
    p
}

fn limit(waits: bool, resets_at: i64, resume_in: u64) -> Event<'static> {
    Event::Limit(Limit {
        pattern: 0,
        waits,
        resets_at,
        resume_in: Duration::from_millis(resume_in),
        prompt: "Continue.".into(),
        words: "usage limit".into(),
        used_percent: Some(100.0),
    })
}

#[test]
fn a_run_at_a_usage_limit_waits_in_its_pane_and_resumes_in_the_same_session() {
    let mut r = Rig::working(limited(false, false));
    assert_eq!(r.draw(LIMIT, 1_000), vec![]);
    assert!(
        r.m.take_limit_screen()
            .is_some_and(|s| s.contains("usage limit · resets in 20s")),
        "the loop reads the changed screen"
    );
    assert_eq!(
        r.on(limit(false, 99_000, 20_000), 1_000),
        vec![Command::Park {
            resets_at: 99_000,
            resume_in: Some(Duration::from_secs(20)),
            words: "usage limit".into(),
            used_percent: Some(100.0),
        }]
    );
    assert_eq!(r.m.status(), RunStatus::Parked);
    assert_eq!(
        r.m.take_limit_screen(),
        None,
        "a parked run is not read again"
    );
    // The error stands far past its debounce, and the time passes the role's timeout: the
    // run neither fails nor times out.
    assert_eq!(r.tick(10_000), vec![]);
    assert_eq!(r.m.wakes_at(), Some(ms(r.t0, 21_000)));
    assert!(!r.m.hot(), "the loop sleeps until the resume");
    // At the resume the dialog is closed first, pressed again a second later if it stays.
    assert_eq!(r.tick(21_000), vec![Command::Press(vec!["Escape".into()])]);
    assert_eq!(r.tick(21_500), vec![]);
    assert_eq!(r.tick(22_000), vec![Command::Press(vec!["Escape".into()])]);
    assert_eq!(
        r.draw(LIMIT_NO_DIALOG, 22_500),
        vec![
            Command::Resumed {
                parked_for: Duration::from_millis(21_500)
            },
            Command::Paste("Continue.".into()),
        ]
    );
    // The resume prompt is a new turn, not the task's prompt: nothing recorded as it.
    assert_eq!(r.on(Event::Pasted, 22_600), vec![]);
    assert_eq!(r.tick(22_700), vec![Command::Submit(vec!["Enter".into()])]);
    assert_eq!(r.on(Event::Submitted, 22_710), vec![]);
    assert_eq!(r.draw(BUSY, 23_000), vec![]);
    assert_eq!(r.draw(DONE, 24_000), vec![]);
    assert_eq!(r.tick(24_800), vec![Command::EndOfTurn]);
}

#[test]
fn a_cli_that_waits_out_its_limit_parks_the_provider_once_and_keeps_its_timeout() {
    let mut r = Rig::working(limited(false, true));
    r.draw(BUSY, 1_000);
    assert!(matches!(
        r.on(limit(true, 700_000, 699_000), 1_000).as_slice(),
        [Command::Park {
            resume_in: None,
            ..
        }]
    ));
    // The CLI counts down: the same reset, a second off, is not reported again.
    assert_eq!(r.on(limit(true, 701_000, 699_000), 2_000), vec![]);
    assert_eq!(r.m.status(), RunStatus::Busy, "the CLI works on");
    // The role's timeout (600 s) runs again only after the reset.
    assert_eq!(r.tick(650_000), vec![]);
    assert!(matches!(
        r.tick(1_400_000).as_slice(),
        [Command::Fail {
            timed_out: true,
            ..
        }]
    ));
}

#[test]
fn a_failure_hook_for_a_rate_limit_waits_for_the_screen_to_show_a_usage_limit() {
    let failed = |r: &mut Rig, at| {
        r.on(
            Event::Hook {
                signal: HookSignal::Failed,
                detail: "rate_limit: You've hit your limit",
            },
            at,
        )
    };
    // No limit on the screen: it fails once the debounce has passed.
    let mut r = Rig::working(limited(true, false));
    assert_eq!(failed(&mut r, 1_000), vec![]);
    assert_eq!(r.tick(3_999), vec![]);
    assert!(matches!(r.tick(4_000).as_slice(), [Command::Fail { .. }]));
    // The limit drawn meanwhile parks it instead.
    let mut r = Rig::working(limited(true, false));
    assert_eq!(failed(&mut r, 1_000), vec![]);
    r.draw(LIMIT, 1_500);
    assert!(matches!(
        r.on(limit(false, 99_000, 20_000), 1_500).as_slice(),
        [Command::Park { .. }]
    ));
    assert_eq!(r.tick(5_000), vec![]);
    assert_eq!(r.m.status(), RunStatus::Parked);
}
