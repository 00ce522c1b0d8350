//! The run machine's rules, driven by events at chosen instants: no tmux, no sleeps. The
//! screens are the built-in `sim` profile's (`src/config/providers.toml`), drawn through the
//! real terminal emulator.

use super::*;
use crate::config::{Config, HookStyle};
use crate::tmux::PaneState;

const READY: &str = ">";
const BUSY: &str = "● Reading the spec\n⠋ Working… (2s · esc to interrupt)";
const DONE: &str = "● Wrote out.md\n✓ Done in 4s\n>";
const DIALOG: &str = "● Write(a.txt)\nDo you want to create a.txt?\n❯ 1. Yes\n  2. No";
const ERROR: &str = "✗ API Error: 500 internal server error\n>";

fn timing() -> Timing {
    Timing {
        done_debounce: Duration::from_millis(800),
        quiet: Duration::from_millis(250),
        exit_grace: Duration::from_secs(3),
    }
}

/// The `sim` profile; `hooks` false for a profile that reads the screen alone.
fn sim(hooks: bool) -> ProviderConfig {
    let cfg = Config::from_layers(&[]).expect("built-in config");
    let mut p = cfg.providers["sim"].clone();
    if !hooks {
        p.hooks = HookStyle::None;
    }
    p
}

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

/// A run driven the way the loop drives it: output, then a look, then the timer.
struct Rig {
    m: RunMachine,
    t0: Instant,
}

impl Rig {
    fn launched(provider: ProviderConfig) -> Rig {
        let t0 = Instant::now();
        let m = RunMachine::launched(
            provider,
            (50, 200),
            "Read SPEC.md.\nWrite out.md.".into(),
            timing(),
            Duration::from_secs(600),
            t0,
        );
        Rig { m, t0 }
    }

    /// Draws `screen` (cleared first) at `at` ms and takes the tick's look and timer.
    fn draw(&mut self, screen: &str, at: u64) -> Vec<Command> {
        let bytes = format!("\x1b[2J\x1b[H{}", screen.replace('\n', "\r\n"));
        let now = ms(self.t0, at);
        self.m.on(Event::Output(bytes.as_bytes()), now);
        self.tick(at)
    }

    /// A tick at `at` ms with no output.
    fn tick(&mut self, at: u64) -> Vec<Command> {
        let now = ms(self.t0, at);
        self.m.on(Event::Look, now);
        self.m.on(Event::Timer, now)
    }

    fn on(&mut self, event: Event<'_>, at: u64) -> Vec<Command> {
        self.m.on(event, ms(self.t0, at))
    }

    /// Launch → ready → paste → submit → the agent busy, by 1 s.
    fn working(provider: ProviderConfig) -> Rig {
        let mut r = Rig::launched(provider);
        assert_eq!(
            r.draw(READY, 100),
            vec![Command::Paste("Read SPEC.md.\nWrite out.md.".into())]
        );
        assert_eq!(r.on(Event::Pasted, 120), vec![Command::PromptPasted]);
        assert_eq!(r.tick(150), vec![], "the submit keys wait for the delay");
        assert_eq!(r.tick(200), vec![Command::Submit(vec!["Enter".into()])]);
        assert_eq!(r.on(Event::Submitted, 210), vec![Command::PromptSubmitted]);
        assert_eq!(r.draw(BUSY, 400), vec![]);
        assert_eq!(r.m.phase(), Phase::Working);
        r
    }
}

#[test]
fn the_prompt_waits_for_the_ready_screen_then_for_the_paste() {
    let mut r = Rig::launched(sim(false));
    assert_eq!(r.draw("starting…", 50), vec![]);
    assert_eq!(r.m.phase(), Phase::WaitReady { since: r.t0 });
    assert!(matches!(r.draw(READY, 100).as_slice(), [Command::Paste(_)]));
    // Nothing more while the tmux lane pastes, however long it takes.
    assert_eq!(r.tick(5_000), vec![]);
    assert_eq!(r.on(Event::Submitted, 5_001), vec![], "not submitting");
    assert_eq!(r.on(Event::Pasted, 5_010), vec![Command::PromptPasted]);
    assert_eq!(r.tick(5_059), vec![]);
    assert_eq!(r.tick(5_060), vec![Command::Submit(vec!["Enter".into()])]);
}

#[test]
fn a_prompt_the_agent_did_not_take_is_submitted_once_more_then_left_to_work() {
    // An agent that ignores the first Enter.
    let mut r = Rig::launched(sim(false));
    r.draw(READY, 100);
    r.on(Event::Pasted, 110);
    r.tick(160);
    r.on(Event::Submitted, 170);
    assert_eq!(r.tick(3_169), vec![], "3 s to take it");
    assert_eq!(r.tick(3_170), vec![Command::Resubmit(vec!["Enter".into()])]);
    assert_eq!(r.tick(6_000), vec![], "pressed once more only");
    assert_eq!(r.tick(15_170), vec![]);
    assert_eq!(
        r.m.phase(),
        Phase::Working,
        "after 15 s it counts as working"
    );
}

#[test]
fn a_done_screen_completes_the_turn_only_once_it_stood_for_the_debounce() {
    let mut r = Rig::working(sim(false));
    assert_eq!(r.draw(DONE, 1_000), vec![]);
    assert_eq!(r.tick(1_500), vec![]);
    // Busy again within the debounce: the turn goes on.
    assert_eq!(r.draw(BUSY, 1_700), vec![]);
    assert_eq!(r.tick(2_600), vec![]);
    assert_eq!(r.m.status(), RunStatus::Busy);
    assert_eq!(r.draw(DONE, 3_000), vec![]);
    assert_eq!(r.tick(3_799), vec![]);
    assert_eq!(r.tick(3_800), vec![Command::EndOfTurn]);
    assert_eq!(
        r.on(Event::NothingToDeliver, 3_800),
        vec![Command::Complete {
            final_message: None
        }]
    );
    assert!(r.m.exiting());
    assert_eq!(r.tick(6_799), vec![]);
    assert_eq!(r.tick(6_800), vec![Command::Close], "after the exit grace");
}

#[test]
fn with_hooks_the_screen_never_completes_a_turn_and_stop_does_at_once() {
    let mut r = Rig::working(sim(true));
    assert!(
        r.on(
            Event::Hook {
                signal: HookSignal::Busy,
                detail: ""
            },
            500
        )
        .is_empty()
    );
    r.draw(DONE, 1_000);
    // Eight debounce periods and more of a finished-looking screen.
    for t in (1_000..8_000).step_by(25) {
        assert_eq!(r.tick(t), vec![], "at {t} ms");
    }
    assert_eq!(r.m.status(), RunStatus::Busy, "the hooks' word stands");
    assert_eq!(
        r.m.status_change(),
        Some((RunStatus::Busy, " (agent hook)".into()))
    );
    let stop = Event::Hook {
        signal: HookSignal::Done,
        detail: "Wrote out.md.",
    };
    assert!(r.on(stop, 8_000).is_empty());
    assert_eq!(r.tick(8_000), vec![Command::EndOfTurn]);
    assert_eq!(
        r.on(Event::NothingToDeliver, 8_000),
        vec![Command::Complete {
            final_message: Some("Wrote out.md.".into())
        }]
    );
}

#[test]
fn silent_hooks_fall_back_to_the_screen_after_the_grace_period() {
    let mut p = sim(true);
    p.hook_grace = Duration::from_secs(2);
    let mut r = Rig::working(p);
    // Submitted at 200 ms; no hook ever comes. Done on screen at once: held for the grace.
    r.draw(DONE, 500);
    for t in (500..2_200).step_by(25) {
        assert_eq!(r.tick(t), vec![], "at {t} ms, inside the grace period");
    }
    assert!(!r.m.take_fallback());
    r.tick(2_200);
    assert!(r.m.take_fallback(), "one hooks_silent event");
    assert!(!r.m.take_fallback());
    let mut ended = None;
    for t in (2_225..4_000).step_by(25) {
        if r.tick(t) == vec![Command::EndOfTurn] {
            ended = Some(t);
            break;
        }
    }
    let ended = ended.expect("the screen completes the turn");
    assert!(
        ended >= 2_200 + 800,
        "the debounce runs from the fallback: {ended}"
    );
    assert_eq!(r.m.status_change(), Some((RunStatus::Done, String::new())));
}

#[test]
fn an_answer_is_pressed_once_the_dialog_stood_and_again_when_it_was_dropped() {
    let mut r = Rig::working(sim(false));
    r.on(Event::AnswerAsked { yes: true }, 1_000);
    assert_eq!(r.tick(1_000), vec![], "no dialog yet");
    r.draw("● Write(a.txt)\n  Waiting for permission…\n>", 1_100);
    assert_eq!(r.tick(1_200), vec![], "the pre-dialog screen takes no keys");
    assert_eq!(r.draw(DIALOG, 1_300), vec![]);
    assert_eq!(r.tick(1_599), vec![], "the dialog must stand 300 ms");
    assert_eq!(r.tick(1_600), vec![Command::Press(vec!["1".into()])]);
    // The key was dropped: the same dialog is there 2 s later.
    assert_eq!(r.tick(3_599), vec![]);
    assert_eq!(r.tick(3_600), vec![Command::Press(vec!["1".into()])]);
    assert_eq!(
        r.draw(BUSY, 3_700),
        vec![Command::Answered {
            yes: true,
            presses: 2
        }]
    );
    assert_eq!(r.tick(3_800), vec![], "answered once");
}

#[test]
fn an_answer_no_dialog_takes_is_a_clear_failure() {
    let mut r = Rig::working(sim(false));
    r.on(Event::AnswerAsked { yes: false }, 1_000);
    r.draw(DIALOG, 1_000);
    assert_eq!(r.tick(1_300), vec![Command::Press(vec!["2".into()])]);
    r.tick(3_300);
    r.tick(5_300);
    match r.tick(7_300).as_slice() {
        [Command::AnswerFailed { why, screen }] => {
            assert!(why.contains("after 3 presses"), "{why}");
            assert!(screen.contains("❯ 1. Yes"), "{screen}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn messages_make_the_next_turn_and_the_run_completes_when_none_is_left() {
    let mut r = Rig::working(sim(true));
    let stop = |d| Event::Hook {
        signal: HookSignal::Done,
        detail: d,
    };
    r.on(stop("first"), 1_000);
    assert_eq!(r.tick(1_000), vec![Command::EndOfTurn]);
    let text = "> [bosun] message #7 from the operator:\nUse tabs.".to_string();
    assert_eq!(
        r.on(
            Event::Deliver {
                messages: vec![7],
                text: text.clone()
            },
            1_000
        ),
        vec![Command::Paste(text)]
    );
    assert_eq!(r.tick(1_020), vec![], "while it is pasted");
    assert_eq!(
        r.on(Event::Pasted, 1_030),
        vec![Command::MessagesPasted(vec![7])]
    );
    assert_eq!(r.tick(1_080), vec![Command::Submit(vec!["Enter".into()])]);
    assert_eq!(
        r.on(Event::Submitted, 1_090),
        vec![Command::MessagesSubmitted(vec![7])]
    );
    // A new turn: the first turn's Stop does not end it.
    r.on(
        Event::Hook {
            signal: HookSignal::Busy,
            detail: "",
        },
        1_200,
    );
    assert_eq!(r.draw(BUSY, 1_300), vec![]);
    assert_eq!(r.m.phase(), Phase::Working);
    assert_eq!(r.tick(5_000), vec![]);
    r.on(stop("second"), 5_100);
    assert_eq!(r.tick(5_100), vec![Command::EndOfTurn]);
    assert_eq!(
        r.on(Event::NothingToDeliver, 5_100),
        vec![Command::Complete {
            final_message: Some("second".into())
        }]
    );
}

#[test]
fn a_run_readopted_between_paste_and_submit_is_submitted_unless_the_agent_took_it() {
    let readopt = |capture: &str, hook: bool| {
        let t0 = Instant::now();
        let m = RunMachine::readopted(
            sim(true),
            (50, 200),
            capture,
            "prompt".into(),
            timing(),
            (Duration::from_secs(600), Duration::from_secs(1)),
            Resume {
                prompt_pasted: true,
                prompt_submitted: false,
                prompt_hook_seen: hook,
                status: RunStatus::Starting,
                ..Resume::default()
            },
            t0,
        );
        Rig { m, t0 }
    };
    let mut r = readopt("Read SPEC.md.\n>", false);
    assert_eq!(r.tick(0), vec![Command::Submit(vec!["Enter".into()])]);
    let mut r = readopt(BUSY, false);
    assert_eq!(r.tick(0), vec![], "its screen says it took the prompt");
    assert_eq!(r.m.phase(), Phase::Working);
    let mut r = readopt("Read SPEC.md.\n>", true);
    assert_eq!(r.tick(0), vec![], "a hook said it took the prompt");
    // Messages pasted but not submitted are submitted, and recorded as delivered.
    let t0 = Instant::now();
    let mut m = RunMachine::readopted(
        sim(true),
        (50, 200),
        DONE,
        "prompt".into(),
        timing(),
        (Duration::from_secs(600), Duration::ZERO),
        Resume {
            prompt_pasted: true,
            prompt_submitted: true,
            delivering: vec![3, 4],
            status: RunStatus::Done,
            ..Resume::default()
        },
        t0,
    );
    assert_eq!(
        m.on(Event::Timer, t0),
        vec![Command::Submit(vec!["Enter".into()])]
    );
    assert_eq!(
        m.on(Event::Submitted, t0),
        vec![Command::MessagesSubmitted(vec![3, 4])]
    );
}

#[test]
fn a_stop_hook_recorded_while_no_supervisor_ran_completes_the_readopted_run() {
    let t0 = Instant::now();
    let mut m = RunMachine::readopted(
        sim(true),
        (50, 200),
        BUSY,
        "prompt".into(),
        timing(),
        (Duration::from_secs(600), Duration::from_secs(30)),
        Resume {
            prompt_pasted: true,
            prompt_submitted: true,
            prompt_hook_seen: true,
            hooks: vec![
                (HookSignal::Busy, String::new()),
                (HookSignal::Done, "all done".into()),
            ],
            status: RunStatus::Busy,
            ..Resume::default()
        },
        t0,
    );
    assert_eq!(m.on(Event::Timer, t0), vec![Command::EndOfTurn]);
    assert_eq!(
        m.on(Event::NothingToDeliver, t0),
        vec![Command::Complete {
            final_message: Some("all done".into())
        }]
    );
}

#[test]
fn the_timeout_an_error_that_stands_and_a_failed_turn_fail_the_run() {
    let mut r = Rig::working(sim(false));
    match r.tick(600_000).as_slice() {
        [
            Command::Fail {
                reason,
                timed_out: true,
                ..
            },
        ] => {
            assert_eq!(reason, "timed out after 10m (the role's timeout)");
        }
        other => panic!("{other:?}"),
    }
    let mut r = Rig::working(sim(false));
    r.draw(ERROR, 1_000);
    assert_eq!(r.tick(3_999), vec![], "an error must stand 3 s");
    match r.tick(4_000).as_slice() {
        [
            Command::Fail {
                reason,
                tail: Tail::Screen(s),
                ..
            },
        ] => {
            assert_eq!(reason, "✗ API Error: 500 internal server error");
            assert!(s.contains("API Error"));
        }
        other => panic!("{other:?}"),
    }
    let mut r = Rig::working(sim(true));
    let failed = r.on(
        Event::Hook {
            signal: HookSignal::Failed,
            detail: "rate_limit: 429",
        },
        500,
    );
    assert_eq!(
        failed,
        vec![Command::Fail {
            reason: "the agent's turn failed: rate_limit: 429".into(),
            tail: Tail::LogAnd("rate_limit: 429".into()),
            exit_code: None,
            timed_out: false,
        }]
    );
}

fn pane(dead: bool, status: Option<i32>) -> PaneState {
    PaneState {
        pane_id: "%1".into(),
        window_id: "@1".into(),
        session: "bosun".into(),
        window_name: "ET-001-only-r1".into(),
        pid: 1,
        dead,
        dead_status: status,
        dead_signal: None,
        current_command: "sim".into(),
        in_mode: false,
        width: 200,
        height: 50,
    }
}

#[test]
fn a_dead_pane_fails_the_run_with_its_exit_status_once_tmux_has_it() {
    let mut r = Rig::working(sim(false));
    assert_eq!(r.on(Event::Pane(&pane(false, None)), 500), vec![]);
    assert_eq!(r.on(Event::Pane(&pane(true, None)), 1_000), vec![]);
    assert_eq!(r.on(Event::Pane(&pane(true, None)), 2_999), vec![]);
    match r.on(Event::Pane(&pane(true, Some(2))), 3_000).as_slice() {
        [
            Command::Fail {
                reason,
                exit_code: Some(2),
                ..
            },
        ] => {
            assert_eq!(reason, "agent exited with status 2");
        }
        other => panic!("{other:?}"),
    }
    let mut r = Rig::working(sim(false));
    assert_eq!(
        r.on(Event::Pane(&pane(true, None)), 3_000).len(),
        0,
        "waits for the status"
    );
    assert!(matches!(
        r.on(Event::Pane(&pane(true, None)), 5_000).as_slice(),
        [Command::Fail {
            exit_code: None,
            ..
        }]
    ));
    assert!(matches!(
        r.on(Event::PaneGone, 5_000).as_slice(),
        [Command::Lose(_)]
    ));
    assert_eq!(r.on(Event::JobGone, 5_000), vec![Command::Cancelled]);
    let mut resized = pane(false, None);
    resized.width = 120;
    assert_eq!(
        r.on(Event::Pane(&resized), 5_000),
        vec![Command::Resized {
            rows: 50,
            cols: 120
        }]
    );
}

mod limits;
