//! [`Tracker`] on scripted readings and hook signals: debounce, latch, and which witness
//! decides a turn.

use super::*;

const D: Duration = Duration::from_millis(500);

#[test]
fn busy_then_done_completes_after_the_debounce_and_latches() {
    let t0 = Instant::now();
    let mut t = Tracker::new(D, HookMode::Off);
    t.input_sent("> ", t0);
    assert_eq!(
        t.observe(Some(ScreenStatus::Busy), "working", t0).status,
        RunStatus::Busy
    );
    let o = t.observe(
        Some(ScreenStatus::Done),
        "done",
        t0 + Duration::from_millis(10),
    );
    assert_eq!((o.status, o.completed), (RunStatus::Done, false));
    let o = t.observe(
        Some(ScreenStatus::Done),
        "done",
        t0 + Duration::from_millis(600),
    );
    assert_eq!((o.status, o.completed), (RunStatus::Done, true));
    // Latched: a redraw that looks busy does not flip it, and completion is reported once.
    let o = t.observe(
        Some(ScreenStatus::Busy),
        "busy again",
        t0 + Duration::from_millis(700),
    );
    assert_eq!((o.status, o.completed), (RunStatus::Done, false));
    // New input unlatches.
    t.input_sent("done", t0);
    assert_eq!(
        t.observe(Some(ScreenStatus::Busy), "w", t0 + D * 3).status,
        RunStatus::Busy
    );
}

#[test]
fn idle_after_busy_is_pending_until_the_debounce_passes() {
    let t0 = Instant::now();
    let mut t = Tracker::new(D, HookMode::Off);
    t.input_sent("> ", t0);
    t.observe(Some(ScreenStatus::Busy), "working", t0);
    assert!(!t.completion_pending());
    let o = t.observe(
        Some(ScreenStatus::Idle),
        "> ",
        t0 + Duration::from_millis(10),
    );
    assert_eq!((o.status, o.completed), (RunStatus::Busy, false));
    assert!(t.completion_pending(), "a quiet agent must be re-checked");
    let o = t.observe(
        Some(ScreenStatus::Idle),
        "> ",
        t0 + Duration::from_millis(600),
    );
    assert!(o.completed);
    assert!(!t.completion_pending());
}

#[test]
fn a_busy_reading_inside_the_debounce_restarts_it() {
    let t0 = Instant::now();
    let mut t = Tracker::new(D, HookMode::Off);
    t.input_sent("> ", t0);
    t.observe(Some(ScreenStatus::Busy), "a", t0);
    t.observe(
        Some(ScreenStatus::Idle),
        "b",
        t0 + Duration::from_millis(100),
    );
    t.observe(
        Some(ScreenStatus::Busy),
        "c",
        t0 + Duration::from_millis(400),
    );
    let o = t.observe(
        Some(ScreenStatus::Idle),
        "d",
        t0 + Duration::from_millis(700),
    );
    assert!(!o.completed, "only 300 ms idle since the last busy");
    let o = t.observe(
        Some(ScreenStatus::Idle),
        "d",
        t0 + Duration::from_millis(1300),
    );
    assert!(o.completed);
}

#[test]
fn the_previous_turns_summary_does_not_complete_the_next_turn() {
    let t0 = Instant::now();
    let mut t = Tracker::new(Duration::ZERO, HookMode::Off);
    t.input_sent("✓ Done in 1s\n>", t0);
    let o = t.observe(Some(ScreenStatus::Done), "✓ Done in 1s\n>", t0);
    assert!(!o.completed, "unchanged screen: still the old summary");
    assert!(!t.started());
    let o = t.observe(
        Some(ScreenStatus::Done),
        "✓ Done in 1s\n✓ Done in 0s\n>",
        t0,
    );
    assert!(o.completed, "a new summary after the screen changed");
}

#[test]
fn a_stop_hook_completes_at_once_even_while_the_screen_looks_busy() {
    let t0 = Instant::now();
    let mut t = Tracker::new(Duration::from_secs(10), HookMode::Off);
    t.input_sent("> ", t0);
    t.hook(HookSignal::Busy);
    assert!(t.started() && t.from_hook());
    assert_eq!(t.status(), RunStatus::Busy);
    t.observe(Some(ScreenStatus::Waiting), "❯ 1. Yes", t0);
    assert_eq!(t.status(), RunStatus::Waiting);
    assert!(!t.from_hook(), "the screen changed the status");
    t.observe(Some(ScreenStatus::Busy), "working", t0);
    t.hook(HookSignal::Done);
    assert!(t.is_complete(), "no debounce after Stop");
    assert_eq!(t.status(), RunStatus::Done);
    let o = t.observe(Some(ScreenStatus::Busy), "still drawing", t0);
    assert_eq!((o.status, o.completed), (RunStatus::Done, false));
    t.hook(HookSignal::Failed);
    assert_eq!(t.status(), RunStatus::Done, "latched until new input");
}

#[test]
fn idle_after_a_refused_permission_prompt_completes_the_turn() {
    let t0 = Instant::now();
    let mut t = Tracker::new(Duration::ZERO, HookMode::Off);
    t.input_sent("> ", t0);
    t.observe(Some(ScreenStatus::Waiting), "❯ 1. Yes", t0);
    t.answer_sent("❯ 1. Yes", false, t0);
    let o = t.observe(Some(ScreenStatus::Idle), "Interrupted\n> ", t0);
    assert!(o.completed, "told no, the agent is idle: the turn is over");
}

#[test]
fn hook_waiting_and_failure_set_the_status() {
    let t0 = Instant::now();
    let mut t = Tracker::new(D, HookMode::Off);
    t.input_sent("> ", t0);
    t.hook(HookSignal::Waiting);
    assert_eq!(t.status(), RunStatus::Waiting);
    assert!(t.started());
    t.hook(HookSignal::Failed);
    assert_eq!(t.status(), RunStatus::Error);
    assert!(!t.is_complete());
}

#[test]
fn idle_without_busy_is_not_done_and_waiting_is_reported() {
    let t0 = Instant::now();
    let mut t = Tracker::new(Duration::ZERO, HookMode::Off);
    assert_eq!(t.status(), RunStatus::Starting);
    t.input_sent("", t0);
    let o = t.observe(Some(ScreenStatus::Idle), "> text", t0);
    assert_eq!((o.status, o.completed), (RunStatus::Idle, false));
    let o = t.observe(Some(ScreenStatus::Waiting), "❯ 1. Yes", t0);
    assert_eq!(o.status, RunStatus::Waiting);
    assert!(t.started());
}

const GRACE: Duration = Duration::from_secs(10);

fn hooked() -> Tracker {
    Tracker::new(D, HookMode::Expected { grace: GRACE })
}

#[test]
fn a_screen_that_reads_idle_while_the_hooks_say_busy_never_completes_the_turn() {
    // Claude Code 2.1.197 after a multi-line paste: `paste again to expand` in the
    // footer (no `esc to interrupt`) for ~8 s while the model works.
    let t0 = Instant::now();
    let mut t = hooked();
    t.input_sent("❯ [Pasted text #1 +14 lines]", t0);
    t.hook(HookSignal::Busy);
    for ms in (0..60_000).step_by(250) {
        let o = t.observe(
            Some(ScreenStatus::Idle),
            "❯ \npaste again to expand",
            t0 + Duration::from_millis(ms),
        );
        assert_eq!(
            (o.status, o.completed),
            (RunStatus::Busy, false),
            "at {ms} ms"
        );
        let o = t.observe(
            Some(ScreenStatus::Done),
            "✻ Worked for 3s",
            t0 + Duration::from_millis(ms),
        );
        assert!(
            !o.completed && !t.is_complete(),
            "a done-looking screen at {ms} ms"
        );
    }
    assert_eq!(t.hook_mode(), HookMode::Active);
    t.hook(HookSignal::Done);
    assert!(t.is_complete());
}

#[test]
fn the_screen_reports_waiting_and_errors_in_a_hook_turn_and_busy_after_them() {
    let t0 = Instant::now();
    let mut t = hooked();
    t.input_sent("> ", t0);
    t.hook(HookSignal::Busy);
    assert_eq!(
        t.observe(Some(ScreenStatus::Waiting), "❯ 1. Yes", t0)
            .status,
        RunStatus::Waiting
    );
    t.answer_sent("❯ 1. Yes", true, t0);
    assert_eq!(
        t.observe(Some(ScreenStatus::Idle), "❯ ", t0).status,
        RunStatus::Busy
    );
    assert_eq!(
        t.observe(Some(ScreenStatus::Error), "● API Error", t0)
            .status,
        RunStatus::Error
    );
    assert_eq!(
        t.observe(None, "??", t0).status,
        RunStatus::Error,
        "unreadable: no change"
    );
    assert!(!t.is_complete());
}

#[test]
fn before_the_first_hook_the_screen_completes_nothing_until_the_grace_period_ends() {
    let t0 = Instant::now();
    let mut t = hooked();
    t.input_sent("> ", t0);
    t.observe(Some(ScreenStatus::Busy), "working", t0);
    let at = |ms| t0 + Duration::from_millis(ms);
    let o = t.observe(Some(ScreenStatus::Idle), "> ", at(1000));
    assert_eq!((o.status, o.completed), (RunStatus::Busy, false));
    assert!(t.completion_pending(), "the grace period must be watched");
    let o = t.observe(Some(ScreenStatus::Idle), "> ", at(9_000));
    assert!(!o.completed);
    assert!(!t.take_fallback());
    // Hooks silent for the whole grace period: the screen decides from now on.
    let o = t.observe(Some(ScreenStatus::Idle), "> ", at(10_000));
    assert!(!o.completed, "the debounce starts now");
    assert_eq!(t.hook_mode(), HookMode::FellBack);
    assert!(t.take_fallback(), "reported once");
    assert!(!t.take_fallback());
    let o = t.observe(Some(ScreenStatus::Idle), "> ", at(10_600));
    assert!(o.completed, "idle after busy, held through the debounce");
}

#[test]
fn a_hook_after_the_fallback_makes_hooks_the_authority_again() {
    let t0 = Instant::now();
    let mut t = hooked();
    t.input_sent("> ", t0);
    t.observe(Some(ScreenStatus::Busy), "working", t0 + GRACE);
    assert_eq!(t.hook_mode(), HookMode::FellBack);
    t.hook(HookSignal::Busy);
    assert_eq!(t.hook_mode(), HookMode::Active);
    assert!(!t.take_fallback(), "no fallback to report any more");
    let o = t.observe(Some(ScreenStatus::Idle), "> ", t0 + GRACE * 3);
    assert!(!o.completed);
}

#[test]
fn with_hooks_off_the_screen_reads_the_same_turn_right() {
    let t0 = Instant::now();
    let mut t = Tracker::new(D, HookMode::for_provider(None));
    t.input_sent("> ", t0);
    t.observe(Some(ScreenStatus::Busy), "working", t0);
    t.observe(Some(ScreenStatus::Idle), "> ", t0 + D);
    let o = t.observe(Some(ScreenStatus::Idle), "> ", t0 + D * 2);
    assert!(o.completed);
}

#[test]
fn a_refusal_lets_the_screen_end_a_hook_turn() {
    // An interrupted turn gets no Stop hook (Claude Code, Codex).
    let t0 = Instant::now();
    let mut t = hooked();
    t.input_sent("> ", t0);
    t.hook(HookSignal::Busy);
    t.observe(Some(ScreenStatus::Waiting), "❯ 1. Yes", t0);
    t.answer_sent("❯ 1. Yes", false, t0);
    t.observe(Some(ScreenStatus::Idle), "Interrupted\n> ", t0);
    let o = t.observe(Some(ScreenStatus::Idle), "Interrupted\n> ", t0 + D);
    assert!(o.completed);
}

#[test]
fn a_second_witness_ends_only_an_open_hook_turn() {
    let t0 = Instant::now();
    let mut t = hooked();
    t.input_sent("> ", t0);
    assert!(
        !t.hook_turn_open(),
        "no hook yet: the screen falls back by itself"
    );
    t.hook(HookSignal::Busy);
    assert!(t.hook_turn_open());
    t.observe(Some(ScreenStatus::Waiting), "❯ 1. Yes", t0);
    assert!(!t.hook_turn_open(), "waiting for the operator");
    t.witness_done();
    assert!(!t.is_complete());
    t.observe(Some(ScreenStatus::Busy), "working", t0);
    t.witness_done();
    assert!(t.is_complete());
    assert_eq!(t.status(), RunStatus::Done);
    assert!(!t.from_hook());
    let o = t.observe(Some(ScreenStatus::Busy), "redraw", t0);
    assert_eq!((o.status, o.completed), (RunStatus::Done, false), "latched");
    // Without hooks the screen completes turns itself: no second witness.
    let mut t = Tracker::new(D, HookMode::Off);
    t.input_sent("> ", t0);
    t.observe(Some(ScreenStatus::Busy), "working", t0);
    assert!(!t.hook_turn_open());
}

#[test]
fn a_resumed_run_keeps_the_hook_rule() {
    let t0 = Instant::now();
    let mut t = Tracker::resumed(D, RunStatus::Busy, HookMode::Active, t0);
    let o = t.observe(Some(ScreenStatus::Idle), "> ", t0 + GRACE * 2);
    assert_eq!((o.status, o.completed), (RunStatus::Busy, false));
    t.hook(HookSignal::Done);
    assert!(t.is_complete());
    let mut t = Tracker::resumed(D, RunStatus::Busy, HookMode::Expected { grace: GRACE }, t0);
    assert!(
        !t.observe(Some(ScreenStatus::Idle), "> ", t0 + D * 3)
            .completed
    );
    t.observe(Some(ScreenStatus::Idle), "> ", t0 + GRACE);
    assert!(
        t.observe(Some(ScreenStatus::Idle), "> ", t0 + GRACE + D)
            .completed
    );
}
