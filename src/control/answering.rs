//! Giving an answer to an agent's dialog, as a pure state machine over screen readings
//! ([`Answering`]), driven by a blocking loop from outside the supervisor ([`press_verified`])
//! and by the supervisor's run machine.
//!
//! An answer is pressed only once the dialog's options are on screen and have stood there
//! for a moment, and is confirmed: real CLIs draw a dialog some time after they say they wait
//! (Claude Code 2.1.332 shows `Waiting for permission…` with its input box still live ~0.4 s
//! before the dialog) and drop keys for ~0.1 s after it opens, so one blind
//! key press is typed into the input box or lost.

use std::time::{Duration, Instant};

use crate::config::{ProviderConfig, ScreenStatus};
use crate::provider::{classify, screen_text};

/// How answers are pressed and verified ([`press_verified`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerTiming {
    /// How long to wait for the dialog's options to be on screen (10 s).
    pub wait: Duration,
    /// How long the options must have stood before a key is pressed (300 ms: Claude Code
    /// 2.1.332 drops keys for ~0.1 s after its dialog opens).
    pub settle: Duration,
    /// How long to wait, after a press, for the dialog to go away (2 s).
    pub confirm: Duration,
    /// Presses at most (3).
    pub presses: u32,
    /// Time between two looks at the screen (50 ms).
    pub poll: Duration,
}

impl Default for AnswerTiming {
    fn default() -> AnswerTiming {
        AnswerTiming {
            wait: Duration::from_secs(10),
            settle: Duration::from_millis(300),
            confirm: Duration::from_secs(2),
            presses: 3,
            poll: Duration::from_millis(50),
        }
    }
}

/// Why [`press_verified`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerFailure {
    /// No dialog that can take an answer was on screen within [`AnswerTiming::wait`].
    NoDialog {
        /// The last screen seen.
        screen: String,
    },
    /// The dialog was still there, unchanged, after every press.
    NotTaken {
        /// Presses made.
        presses: u32,
        /// The last screen seen.
        screen: String,
    },
}

/// The dialog on `screen` that can take an answer now, as the text from a few lines above
/// its options to the end of the screen (to tell one dialog from the next), or `None`. A
/// dialog is there when the profile's `answer_ready` matches, or, for a profile without one,
/// when the screen reads `waiting`.
pub fn dialog(provider: &ProviderConfig, screen: &str) -> Option<String> {
    /// Lines above the options kept as the dialog's text (its question, the file or command).
    const CONTEXT_LINES: usize = 8;
    let start = match &provider.answer_ready {
        Some(re) => re.find(screen)?.start(),
        None if classify(provider, screen) == Some(ScreenStatus::Waiting) => 0,
        None => return None,
    };
    let line = screen[..start].matches('\n').count();
    let lines: Vec<&str> = screen.lines().collect();
    Some(lines[line.saturating_sub(CONTEXT_LINES).min(lines.len())..].join("\n"))
}

/// What [`Answering::step`] wants done now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerStep {
    /// Look again later.
    Wait,
    /// Press the answer keys now.
    Press,
    /// The dialog took the answer after this many presses.
    Answered(u32),
    /// Gave up.
    Failed(AnswerFailure),
}

/// An answer being given, as a pure state machine over screen readings: it waits until
/// [`dialog`] finds one that has stood for [`AnswerTiming::settle`], asks for a press, then
/// watches for the dialog to go away (or give way to a different one), and asks for another
/// press when it is still there unchanged after [`AnswerTiming::confirm`], at most
/// [`AnswerTiming::presses`] times. [`press_verified`] drives it from a blocking loop; the
/// supervisor drives it from its tick.
#[derive(Debug, Clone)]
pub struct Answering {
    timing: AnswerTiming,
    started: Instant,
    ready_since: Option<Instant>,
    /// The dialog the answer is for (see [`dialog`]), once pressed.
    block: Option<String>,
    presses: u32,
    pressed_at: Option<Instant>,
}

impl Answering {
    /// An answer asked for at `now`.
    pub fn new(timing: AnswerTiming, now: Instant) -> Answering {
        Answering {
            timing,
            started: now,
            ready_since: None,
            block: None,
            presses: 0,
            pressed_at: None,
        }
    }

    /// Takes the screen as it is at `now`; says what to do.
    pub fn step(&mut self, provider: &ProviderConfig, screen: &str, now: Instant) -> AnswerStep {
        let seen = dialog(provider, screen);
        let (Some(block), Some(pressed_at)) = (&self.block, self.pressed_at) else {
            match seen {
                Some(b) => {
                    let since = *self.ready_since.get_or_insert(now);
                    if now.duration_since(since) >= self.timing.settle {
                        self.block = Some(b);
                        return self.press(now);
                    }
                }
                None => self.ready_since = None,
            }
            if now.duration_since(self.started) >= self.timing.wait {
                return AnswerStep::Failed(AnswerFailure::NoDialog {
                    screen: screen.to_string(),
                });
            }
            return AnswerStep::Wait;
        };
        match seen {
            None => AnswerStep::Answered(self.presses),
            // Another dialog came up: this one took its answer.
            Some(b) if &b != block => AnswerStep::Answered(self.presses),
            Some(_) if now.duration_since(pressed_at) < self.timing.confirm => AnswerStep::Wait,
            Some(_) if self.presses >= self.timing.presses.max(1) => {
                AnswerStep::Failed(AnswerFailure::NotTaken {
                    presses: self.presses,
                    screen: screen.to_string(),
                })
            }
            Some(_) => {
                tracing::info!(
                    presses = self.presses,
                    "the dialog did not take the answer; pressing again"
                );
                self.press(now)
            }
        }
    }

    fn press(&mut self, now: Instant) -> AnswerStep {
        self.presses += 1;
        self.pressed_at = Some(now);
        AnswerStep::Press
    }

    /// Presses so far (1 at the first [`AnswerStep::Press`]).
    pub fn presses(&self) -> u32 {
        self.presses
    }

    /// The dialog being answered (see [`dialog`]), once a press was asked for.
    pub fn dialog(&self) -> Option<&str> {
        self.block.as_deref()
    }
}

/// Presses an answer into a dialog and makes sure it was taken, looking at `screen` every
/// [`AnswerTiming::poll`] and calling `press(n, dialog)` when [`Answering`] says so (`n` = 1
/// for the first press; `dialog` its text). Returns the number of presses.
///
/// # Errors
/// [`AnswerFailure`] when no dialog came or the presses were not taken; `E` from `screen`
/// or `press` as `Err(Err(e))`.
pub fn press_verified<E>(
    provider: &ProviderConfig,
    timing: AnswerTiming,
    mut screen: impl FnMut() -> Result<String, E>,
    mut press: impl FnMut(u32, &str) -> Result<(), E>,
) -> Result<u32, Result<AnswerFailure, E>> {
    let mut answering = Answering::new(timing, Instant::now());
    loop {
        let s = screen().map_err(Err)?;
        match answering.step(provider, &s, Instant::now()) {
            AnswerStep::Wait => std::thread::sleep(timing.poll),
            AnswerStep::Press => {
                press(answering.presses(), answering.dialog().unwrap_or("")).map_err(Err)?;
                std::thread::sleep(timing.poll);
            }
            AnswerStep::Answered(n) => return Ok(n),
            AnswerStep::Failed(f) => return Err(Ok(f)),
        }
    }
}

/// Why an answer failed, in words, with the screen it left (see [`super::ControlError::NotAnswered`]).
pub fn failure_words(failure: AnswerFailure, timing: AnswerTiming) -> (String, String) {
    match failure {
        AnswerFailure::NoDialog { screen } => (
            format!(
                "no dialog that takes an answer appeared within {}",
                humantime::format_duration(timing.wait)
            ),
            screen_tail(&screen, 12),
        ),
        AnswerFailure::NotTaken { presses, screen } => (
            format!("the dialog did not take the answer after {presses} presses"),
            screen_tail(&screen, 12),
        ),
    }
}

/// The last `n` non-blank lines of `screen`, safe for a terminal.
pub(super) fn screen_tail(screen: &str, n: usize) -> String {
    let text = screen_text(screen);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(n)..].join("\n");
    crate::text::plain_lines(&tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use regex::Regex;
    use std::cell::RefCell;

    fn profile(answer_ready: Option<&str>) -> ProviderConfig {
        let cfg = Config::from_layers(&[]).expect("built-in config");
        let mut p = cfg.providers["sim"].clone();
        p.answer_ready = answer_ready.map(|r| Regex::new(r).expect("regex"));
        p
    }

    fn fast() -> AnswerTiming {
        AnswerTiming {
            wait: Duration::from_millis(300),
            settle: Duration::from_millis(20),
            confirm: Duration::from_millis(60),
            presses: 3,
            poll: Duration::from_millis(5),
        }
    }

    const DIALOG: &str = "● Write(a.txt)\nDo you want to create a.txt?\n❯ 1. Yes\n  2. No";
    const PRE_DIALOG: &str = "● Write(a.txt)\n  Waiting for permission…\n>";

    /// A screen that shows `screens[i]` on the i-th look (the last one from then on) and
    /// records when keys were pressed.
    struct Agent {
        screens: Vec<&'static str>,
        looks: usize,
        pressed_at: Vec<usize>,
        /// A press is taken (the screen moves on to `taken`) only from this look on.
        listens_from: usize,
        taken: Option<&'static str>,
    }

    impl Agent {
        fn screen(&mut self) -> Result<String, ()> {
            let i = self.looks.min(self.screens.len() - 1);
            self.looks += 1;
            Ok(self.taken.unwrap_or(self.screens[i]).to_string())
        }
        fn press(&mut self) -> Result<(), ()> {
            self.pressed_at.push(self.looks);
            if self.looks >= self.listens_from {
                self.taken = Some("● Wrote a.txt\n>");
            }
            Ok(())
        }
    }

    fn run(agent: &RefCell<Agent>, p: &ProviderConfig) -> Result<u32, Result<AnswerFailure, ()>> {
        press_verified(
            p,
            fast(),
            || agent.borrow_mut().screen(),
            |_, _| agent.borrow_mut().press(),
        )
    }

    #[test]
    fn no_key_is_pressed_while_only_the_pre_dialog_screen_shows() {
        let p = profile(Some(r"(?m)^❯ 1\. Yes"));
        let agent = RefCell::new(Agent {
            screens: vec![PRE_DIALOG; 10].into_iter().chain([DIALOG]).collect(),
            looks: 0,
            pressed_at: vec![],
            listens_from: 0,
            taken: None,
        });
        assert_eq!(run(&agent, &p), Ok(1));
        let a = agent.borrow();
        assert_eq!(a.pressed_at.len(), 1);
        assert!(
            a.pressed_at[0] > 10,
            "pressed only after the dialog stood: {:?}",
            a.pressed_at
        );
    }

    #[test]
    fn a_dropped_key_is_pressed_again_until_the_dialog_goes() {
        let p = profile(Some(r"(?m)^❯ 1\. Yes"));
        let agent = RefCell::new(Agent {
            screens: vec![DIALOG],
            looks: 0,
            pressed_at: vec![],
            // Drops the first press (as Claude Code 2.1.332 does for ~0.1 s).
            listens_from: 8,
            taken: None,
        });
        let presses = run(&agent, &p).expect("answered");
        assert!(presses >= 2, "pressed {presses} times");
    }

    #[test]
    fn no_dialog_and_a_dialog_that_never_takes_keys_are_clear_failures() {
        let p = profile(Some(r"(?m)^❯ 1\. Yes"));
        let agent = RefCell::new(Agent {
            screens: vec![PRE_DIALOG],
            looks: 0,
            pressed_at: vec![],
            listens_from: 0,
            taken: None,
        });
        assert!(matches!(
            run(&agent, &p),
            Err(Ok(AnswerFailure::NoDialog { .. }))
        ));
        assert!(agent.borrow().pressed_at.is_empty());
        let agent = RefCell::new(Agent {
            screens: vec![DIALOG],
            looks: 0,
            pressed_at: vec![],
            listens_from: usize::MAX,
            taken: None,
        });
        match run(&agent, &p) {
            Err(Ok(AnswerFailure::NotTaken { presses, screen })) => {
                assert_eq!(presses, 3);
                assert!(screen.contains("❯ 1. Yes"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_answer_ready_the_waiting_status_is_the_dialog() {
        let p = profile(None);
        assert!(dialog(&p, DIALOG).is_some());
        assert!(dialog(&p, "● Wrote a.txt\n>").is_none());
    }
}
