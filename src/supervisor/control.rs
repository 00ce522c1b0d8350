//! Talking to a task's running agent from outside the supervisor (the console, `bosun
//! answer`, `bosun send`): the agent's pane is on bosun's tmux server, so any process can
//! press keys there. The supervisor sees the effect on the screen like any other output, and
//! learns of an answer from its `answered` event.
//!
//! An answer is pressed only once the dialog's options are on screen and have stood there
//! for a moment, and is confirmed ([`press_verified`]): real CLIs draw a dialog some time
//! after they say they wait (Claude Code 2.1.332 shows `Waiting for permission…` with its
//! input box still live ~0.4 s before the dialog) and drop keys for ~0.1 s after it opens
//! (DESIGN.md §10), so one blind key press is typed into the input box or lost.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::{Config, ProviderConfig, ScreenStatus};
use crate::provider::{classify, screen_text};
use crate::store::events::{self, EventKind, NewEvent};
use crate::store::{Store, answers, now_ms, runs, tasks};
use crate::tmux::Tmux;

/// Why an agent could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The task or its run could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The task has no run that is still going.
    #[error("{0} has no running agent")]
    NoAgent(String),
    /// The run's provider is not in the config.
    #[error("no provider `{0}` in the config")]
    NoProvider(String),
    /// tmux failed.
    #[error(transparent)]
    Tmux(#[from] crate::tmux::TmuxError),
    /// Another console or CLI answered the dialog first; nothing was pressed for this one.
    #[error("{0}")]
    AlreadyAnswered(String),
    /// The answer could not be given: no dialog came, or it did not take the keys.
    #[error("cannot answer {key}: {why}; the agent's screen ends with:\n{screen}")]
    NotAnswered {
        /// The task.
        key: String,
        /// What went wrong, in words.
        why: String,
        /// The last lines of the agent's screen, safe to print.
        screen: String,
    },
}

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

/// Records that `actor` answered run `run_id` of task `key` (an `answered` event, which the
/// supervisor reads).
///
/// # Errors
/// Store failures.
pub fn record_answer(
    store: &Store,
    key: &str,
    run_id: i64,
    yes: bool,
    presses: u32,
    actor: &str,
) -> Result<(), crate::store::StoreError> {
    let word = if yes { "yes" } else { "no" };
    let plural = if presses == 1 { "" } else { "es" };
    store.write(|tx| {
        let task = tasks::by_key(tx, key)?;
        let job_id = runs::get(tx, run_id)?.job_id;
        events::append(
            tx,
            EventKind::Answered,
            NewEvent {
                task_id: Some(task.id),
                job_id,
                run_id: Some(run_id),
                actor,
                message: format!("{key} run {run_id} answered {word} ({presses} press{plural})"),
                data: Some(serde_json::json!({ "yes": yes }).to_string()),
            },
            now_ms(),
        )
    })?;
    Ok(())
}

/// Why an answer failed, in words, with the screen it left (see [`ControlError::NotAnswered`]).
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

/// [`ControlError::AlreadyAnswered`] naming who, when run `run_id` of task `key` was answered
/// after event `since`.
fn answered_since(
    store: &Store,
    key: &str,
    run_id: i64,
    since: i64,
) -> Result<Option<ControlError>, ControlError> {
    Ok(events::after(store.conn(), since)?
        .into_iter()
        .find(|e| e.kind == EventKind::Answered && e.run_id == Some(run_id))
        .map(|e| {
            ControlError::AlreadyAnswered(format!(
                "{key} was already answered by {}: {} (this answer was not pressed)",
                e.actor, e.message
            ))
        }))
}

/// A dialog's identity for [`answers::claim`]: SHA-256 of its text, hex.
fn dialog_hash(dialog: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(dialog.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The task's latest run if it has not ended: (run id, pane, provider, tmux socket — the
/// run's own, or `None` for a run recorded before runs knew their socket).
fn live_run(
    store: &Store,
    key: &str,
) -> Result<(i64, String, String, Option<String>), ControlError> {
    let task = tasks::by_key(store.conn(), key)?;
    // A task can have several live runs (its stage's agent and helpers it asked): the one
    // waiting for an answer, else the newest.
    let live: Vec<runs::Run> = runs::for_task(store.conn(), task.id)?
        .into_iter()
        .filter(|r| r.ended_at.is_none())
        .collect();
    let run = live
        .iter()
        .rev()
        .find(|r| r.status == runs::RunStatus::Waiting)
        .or(live.last())
        .cloned()
        .ok_or_else(|| ControlError::NoAgent(task.key.clone()))?;
    let pane = run
        .pane_id
        .ok_or_else(|| ControlError::NoAgent(task.key.clone()))?;
    Ok((run.id, pane, run.provider, run.socket))
}

/// The tmux server of a run: its recorded socket (a daemon may run on another socket than
/// the config's: `bosun daemon --socket NAME`, `bosun demo`), else the config's.
fn tmux(cfg: &Config, data_dir: &Path, socket: Option<&str>) -> Result<Tmux, ControlError> {
    let socket = socket.unwrap_or(&cfg.supervisor.tmux_socket);
    Ok(Tmux::new(socket, data_dir, 200, 50)?)
}

fn provider<'a>(cfg: &'a Config, name: &str) -> Result<&'a ProviderConfig, ControlError> {
    cfg.providers
        .get(name)
        .ok_or_else(|| ControlError::NoProvider(name.to_string()))
}

/// The last `n` non-blank lines of `screen`, safe for a terminal.
fn screen_tail(screen: &str, n: usize) -> String {
    let text = screen_text(screen);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(n)..].join("\n");
    crate::text::plain_lines(&tail)
}

/// Answers the task's waiting agent with its provider's yes (or no) keys, pressed only when
/// the dialog can take them and confirmed ([`press_verified`]), then records an `answered`
/// event by `actor` (so the supervisor knows a refused turn may end without a `Stop` hook).
///
/// # Errors
/// [`ControlError::NoAgent`] when the task has no running agent;
/// [`ControlError::NotAnswered`] (naming the task and quoting the screen) when no dialog came
/// within the wait or it did not take the keys; store and tmux failures.
pub fn answer_with(
    cfg: &Config,
    data_dir: &Path,
    store: &Store,
    key: &str,
    yes: bool,
    actor: &str,
    timing: AnswerTiming,
) -> Result<(), ControlError> {
    answer_inner(cfg, data_dir, store, key, yes, actor, timing).map_err(|e| gone(e, key))
}

/// A tmux refusal because the run's pane or server went away (the run ended as the operator
/// acted) is "no running agent", not tmux's own words ("can't find pane: %1").
fn gone(e: ControlError, key: &str) -> ControlError {
    match e {
        ControlError::Tmux(t) if t.target_gone() => ControlError::NoAgent(key.to_string()),
        e => e,
    }
}

fn answer_inner(
    cfg: &Config,
    data_dir: &Path,
    store: &Store,
    key: &str,
    yes: bool,
    actor: &str,
    timing: AnswerTiming,
) -> Result<(), ControlError> {
    let (run_id, pane, provider_name, socket) = live_run(store, key)?;
    let since = events::last_id(store.conn())?;
    let p = provider(cfg, &provider_name)?;
    let keys: Vec<&str> = if yes { &p.yes_keys } else { &p.no_keys }
        .iter()
        .map(String::as_str)
        .collect();
    let t = tmux(cfg, data_dir, socket.as_deref())?;
    let result = press_verified(
        p,
        timing,
        || {
            // Another console or CLI answered meanwhile: stop waiting for a dialog that is
            // gone, and say who.
            if let Some(first) = answered_since(store, key, run_id, since)? {
                return Err(first);
            }
            t.capture(&pane, false)
                .map(|s| screen_text(&s))
                .map_err(ControlError::from)
        },
        |n, dialog| {
            // Before the first press, claim this dialog: of answers given at the same moment
            // exactly one presses.
            if n == 1 {
                let hash = dialog_hash(dialog);
                if let Some((who, at)) =
                    store.write(|tx| answers::claim(tx, run_id, &hash, actor, now_ms()))?
                {
                    return Err(ControlError::AlreadyAnswered(format!(
                        "{key}'s question was already being answered by {who} ({} s ago); \
                         this answer was not pressed",
                        (now_ms() - at) / 1000
                    )));
                }
            }
            t.send_keys(&pane, &keys).map_err(ControlError::from)
        },
    );
    let presses = match result {
        Ok(n) => n,
        Err(Err(e)) => return Err(e),
        Err(Ok(failure)) => {
            if let Some(first) = answered_since(store, key, run_id, since)? {
                return Err(first);
            }
            let (why, screen) = failure_words(failure, timing);
            return Err(ControlError::NotAnswered {
                key: key.to_string(),
                why,
                screen,
            });
        }
    };
    record_answer(store, key, run_id, yes, presses, actor)?;
    Ok(())
}

/// Sends a line of text to the task's agent: pasted, then its provider's submit keys.
///
/// # Errors
/// [`ControlError::NoAgent`] when the task has no running agent; store and tmux failures.
pub fn send_text(
    cfg: &Config,
    data_dir: &Path,
    store: &Store,
    key: &str,
    text: &str,
) -> Result<(), ControlError> {
    let (_, pane, provider_name, socket) = live_run(store, key)?;
    let p = provider(cfg, &provider_name)?;
    let t = tmux(cfg, data_dir, socket.as_deref())?;
    t.paste(&pane, text).map_err(|e| gone(e.into(), key))?;
    std::thread::sleep(p.submit_delay.max(Duration::from_millis(50)));
    let keys: Vec<&str> = p.submit_keys.iter().map(String::as_str).collect();
    t.send_keys(&pane, &keys).map_err(|e| gone(e.into(), key))?;
    Ok(())
}

/// Queues a message for task `key`'s agent (in `role`, or any) from the operator, via `by`
/// (`cli`, `console`); returns its id. The supervisor delivers it when the agent's turn ends.
///
/// # Errors
/// [`ControlError`] when the task does not exist or the database fails.
pub fn queue_message(
    store: &Store,
    key: &str,
    role: Option<&str>,
    text: &str,
    by: &str,
) -> Result<i64, ControlError> {
    let task = tasks::by_key(store.conn(), key)?;
    let now = now_ms();
    let id = store.write(|tx| {
        let m = crate::store::messages::insert(tx, "operator", task.id, role, text, now)?;
        events::append(
            tx,
            EventKind::MessageQueued,
            NewEvent {
                task_id: Some(task.id),
                actor: by,
                message: format!("{key}: message #{} queued by the operator", m.id),
                ..Default::default()
            },
            now,
        )?;
        Ok::<_, crate::store::StoreError>(m.id)
    })?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn the_failure_message_quotes_the_screen_safely() {
        let e = ControlError::NotAnswered {
            key: "ET-001".into(),
            why: "no dialog".into(),
            screen: screen_tail("a\n\n\x1b]52;c;eA==\x07b\x1b[2Jc\n", 12),
        };
        let msg = e.to_string();
        assert!(msg.starts_with("cannot answer ET-001: no dialog"));
        assert!(msg.ends_with("a\nbc"), "{msg:?}");
    }
}
