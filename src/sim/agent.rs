//! The interactive loop: the prompt, turns, steps, and the screen they draw. The screen
//! strings here are a contract with the provider patterns that detect the agent's state; see
//! the module doc of [`crate::sim`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{SigHandler, Signal};

use super::hooks::Hooks;
use super::input::{Editor, Key};
use super::scenario::{self, Action, Scenario, Step, Vars};
use super::term::{self, Event, Keys};

/// The spinner's glyphs, one per redraw.
const GLYPHS: [char; 6] = ['·', '✢', '✳', '✶', '✻', '✽'];
/// How often the spinner line is redrawn (the contract says at least every 250 ms).
const TICK: Duration = Duration::from_millis(200);
/// How long `● Waiting for permission…` shows before the dialog, keys still going to the
/// input line (Claude Code 2.1.332: ~0.4 s).
const PRE_DIALOG: Duration = Duration::from_millis(400);
/// How long a new dialog drops keys (Claude Code 2.1.332: ~0.1 s).
const DEAF: Duration = Duration::from_millis(100);
/// Carriage return + clear line: erases the spinner line in place.
const ERASE_LINE: &str = "\r\x1b[K";

/// The scripted agent's state between turns.
pub struct Agent {
    out: std::io::Stdout,
    keys: Keys,
    /// The input line; keys typed while working land here too, for the next prompt.
    editor: Editor,
    /// Enter was pressed while working: submit the input as soon as the prompt is back.
    queued_submit: bool,
    /// Prompts submitted so far (numbers the recorded files).
    prompts: usize,
    record: Option<PathBuf>,
    scenario: Option<Scenario>,
    vars: Vars,
    cwd: PathBuf,
    /// `hang.children` processes still running; reaped when they exit, never killed by us.
    children: Vec<Child>,
    /// `BOSUN_SIM_TRACE`: where state changes are logged with their time, for benchmarks.
    trace: Option<std::fs::File>,
    /// The state last traced (`busy`, `waiting`, `done`).
    traced: &'static str,
    /// A state to trace once the prompt is drawn.
    pending_trace: Option<&'static str>,
    /// Claude-style hooks from `--settings`.
    hooks: Hooks,
    /// The last turn's summary, for the `Stop` hook fired once the prompt is drawn again.
    pending_stop: Option<String>,
    /// The session record `tokens` steps write (with `--settings` only).
    pub session: Option<super::session::Session>,
}

/// What the prompt loop got.
enum Prompt {
    Submitted(Vec<u8>),
    Exit(i32),
}

/// How a turn ended.
enum Flow {
    Continue,
    Exit(i32),
}

/// How a step ended.
enum StepEnd {
    Next,
    Interrupted,
    Denied,
    Exit(i32),
}

/// One turn's progress.
struct Turn {
    started: Instant,
    glyph: usize,
    last_draw: Option<Instant>,
    wrote: Vec<String>,
    said: Vec<String>,
}

impl Turn {
    fn new() -> Turn {
        Turn {
            started: Instant::now(),
            glyph: 0,
            last_draw: None,
            wrote: Vec::new(),
            said: Vec::new(),
        }
    }

    /// `wrote a.md, b.md`, else the `say` texts, else `nothing to do`.
    fn summary(&self) -> String {
        if !self.wrote.is_empty() {
            format!("wrote {}", self.wrote.join(", "))
        } else if !self.said.is_empty() {
            self.said
                .iter()
                .map(|s| one_line(s))
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            "nothing to do".into()
        }
    }
}

/// `s` with control characters (newlines, tabs) as spaces, to fit on one screen line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Redraws an input line `> <display>` whose previous content was `old_width` characters
/// wide, with the cursor at its end; returns the new width.
fn redraw_input(out: &mut impl Write, old_width: usize, display: &str) -> std::io::Result<usize> {
    let up = (2 + old_width - 1) / term::columns();
    out.write_all(b"\r")?;
    if up > 0 {
        write!(out, "\x1b[{up}A")?;
    }
    write!(out, "\x1b[J> {display}")?;
    Ok(display.chars().count())
}

/// Writes a submitted prompt to `<dir>/prompt-<n>.txt`, byte-exact.
fn record(dir: &Path, n: usize, prompt: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(format!("prompt-{n}.txt")), prompt)
}

impl Agent {
    /// An agent reading `keys`, with steps from `scenario` when a prompt has no `@sim` lines,
    /// working in `cwd`. Reads `BOSUN_SIM_RECORD`, `BOSUN_TASK`, `BOSUN_STAGE` and
    /// `BOSUN_RUN_ID` from the environment.
    pub fn new(keys: Keys, scenario: Option<Scenario>, cwd: PathBuf, hooks: Hooks) -> Agent {
        Agent {
            out: std::io::stdout(),
            keys,
            editor: Editor::new(),
            queued_submit: false,
            prompts: 0,
            // `{run}` in the directory becomes BOSUN_RUN_ID: one directory per run.
            record: std::env::var("BOSUN_SIM_RECORD")
                .ok()
                .filter(|d| !d.is_empty())
                .map(|d| {
                    let run = std::env::var("BOSUN_RUN_ID").unwrap_or_else(|_| "0".into());
                    PathBuf::from(d.replace("{run}", &run))
                }),
            scenario,
            vars: Vars::from_env(),
            cwd,
            children: Vec::new(),
            trace: std::env::var_os("BOSUN_SIM_TRACE")
                .filter(|d| !d.is_empty())
                .and_then(|d| {
                    let path = PathBuf::from(d).join(format!("trace-{}.txt", std::process::id()));
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .ok()
                }),
            traced: "",
            pending_trace: None,
            hooks,
            pending_stop: None,
            session: None,
        }
    }

    /// Appends `<unix ms> <BOSUN_RUN_ID> <state>` to the trace when the drawn state changes.
    /// Called right after the state's screen was flushed, so the time is when it was drawn.
    fn trace(&mut self, state: &'static str) {
        if self.traced == state {
            return;
        }
        self.traced = state;
        if let Some(f) = self.trace.as_mut() {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let run = std::env::var("BOSUN_RUN_ID").unwrap_or_else(|_| "0".into());
            let _ = writeln!(f, "{ms} {run} {state}");
        }
    }

    fn put(&mut self, s: &str) -> Result<()> {
        self.out
            .write_all(s.as_bytes())
            .context("cannot write to the terminal")
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().context("cannot write to the terminal")
    }

    /// Prints `s` (its newlines as CR LF, the terminal being raw) and ends the line.
    fn line(&mut self, s: &str) -> Result<()> {
        self.put(&s.replace('\n', "\r\n"))?;
        self.put("\r\n")
    }

    /// Shows the banner, then takes prompts and runs turns until one ends the process.
    /// Returns the exit code.
    ///
    /// # Errors
    /// The terminal cannot be written to, or `hang.children` cannot be started.
    pub fn run(&mut self) -> Result<i32> {
        self.line("✻ agent-sim — bosun's scripted agent")?;
        let cwd = self.cwd.display().to_string();
        self.line(&format!("  cwd: {cwd}"))?;
        self.line("")?;
        loop {
            let prompt = match self.read_prompt()? {
                Prompt::Submitted(p) => p,
                Prompt::Exit(code) => return Ok(code),
            };
            if let Flow::Exit(code) = self.turn(&prompt)? {
                self.flush()?;
                return Ok(code);
            }
        }
    }

    /// Shows `> ` and edits the input until Enter submits something.
    fn read_prompt(&mut self) -> Result<Prompt> {
        let shown = self.editor.display();
        let mut width = shown.chars().count();
        self.put(&format!("> {shown}"))?;
        self.flush()?;
        if let Some(state) = self.pending_trace.take() {
            self.trace(state);
        }
        if let Some(summary) = self.pending_stop.take() {
            self.hooks.fire(
                "Stop",
                serde_json::json!({ "stop_hook_active": false, "last_assistant_message": summary }),
                &self.cwd,
            );
        }
        if std::mem::take(&mut self.queued_submit) && !self.editor.is_empty() {
            return Ok(Prompt::Submitted(self.editor.take()));
        }
        loop {
            let mut event = self.keys.next(None);
            // Handle every key already decoded before flushing the echo once.
            while let Some(ev) = event {
                match ev {
                    Event::Eof => return Ok(Prompt::Exit(0)),
                    Event::Key(Key::CtrlC) => return Ok(Prompt::Exit(130)),
                    Event::Key(Key::Enter) => {
                        if !self.editor.is_empty() {
                            return Ok(Prompt::Submitted(self.editor.take()));
                        }
                    }
                    Event::Key(Key::Char(c)) => {
                        let echo = self.editor.push_char(c);
                        width += echo.chars().count();
                        self.put(&echo)?;
                    }
                    Event::Key(Key::Paste(p)) => {
                        let echo = self.editor.push_paste(p);
                        width += echo.chars().count();
                        self.put(&echo)?;
                    }
                    Event::Key(Key::Backspace) => {
                        self.editor.backspace();
                        width = redraw_input(&mut self.out, width, &self.editor.display())?;
                    }
                    Event::Key(Key::Esc) => {}
                }
                event = self.keys.next(Some(Instant::now()));
            }
            self.flush()?;
        }
    }

    /// One turn: record, acknowledge, pick the steps, run them, conclude.
    fn turn(&mut self, prompt: &[u8]) -> Result<Flow> {
        self.prompts += 1;
        if let Some(dir) = self.record.clone()
            && let Err(e) = record(&dir, self.prompts, prompt)
        {
            tracing::error!("agent-sim: cannot record prompt in {}: {e}", dir.display());
            self.put("\r\n")?;
            self.line(&format!(
                "✗ API Error: cannot record the prompt in {}: {e}",
                dir.display()
            ))?;
            return Ok(Flow::Exit(2));
        }
        self.put("\r\n")?;
        let text = String::from_utf8_lossy(prompt);
        if text.trim() == "/exit" {
            self.line("Bye")?;
            return Ok(Flow::Exit(0));
        }
        self.hooks.fire(
            "UserPromptSubmit",
            serde_json::json!({ "prompt": text }),
            &self.cwd,
        );
        self.line(&format!("● Received prompt ({} bytes)", prompt.len()))?;
        let steps = match scenario::parse_sim_lines(&text) {
            Ok(Some(steps)) => steps,
            Ok(None) => self
                .scenario
                .as_ref()
                .and_then(|s| s.steps_for(self.vars.stage.as_deref()))
                .map_or_else(scenario::default_steps, <[Step]>::to_vec),
            Err(e) => {
                self.line(&format!("✗ API Error: {e}"))?;
                return Ok(Flow::Exit(2));
            }
        };
        let steps = scenario::select(&steps, &self.vars, &self.cwd);
        tracing::debug!(
            "agent-sim: turn {} runs {} steps",
            self.prompts,
            steps.len()
        );
        let mut turn = Turn::new();
        self.draw_spinner(&mut turn)?;
        for step in &steps {
            match self.step(&step.action, &mut turn)? {
                StepEnd::Next => self.draw_spinner(&mut turn)?,
                StepEnd::Interrupted => {
                    self.put(ERASE_LINE)?;
                    self.line("✗ Interrupted")?;
                    self.line("")?;
                    return Ok(Flow::Continue);
                }
                StepEnd::Denied => {
                    self.put(ERASE_LINE)?;
                    self.line("✗ Cancelled: permission denied")?;
                    self.line("")?;
                    return Ok(Flow::Continue);
                }
                StepEnd::Exit(code) => return Ok(Flow::Exit(code)),
            }
        }
        self.put(ERASE_LINE)?;
        if let Some(s) = self.session.as_mut()
            && let Err(e) = s.end_turn()
        {
            tracing::error!("agent-sim: cannot write the session record: {e}");
        }
        let summary = turn.summary();
        self.line(&format!(
            "✓ Done in {}s: {summary}",
            turn.started.elapsed().as_secs(),
        ))?;
        // The Stop hook fires once the prompt is back (see `read_prompt`), after the done
        // screen is complete and traced.
        self.pending_stop = Some(summary);
        self.line("")?;
        // The done screen is complete once the prompt loop has drawn `> ` under it.
        self.pending_trace = Some("done");
        Ok(Flow::Continue)
    }

    /// Draws the spinner line in place.
    fn draw_spinner(&mut self, turn: &mut Turn) -> Result<()> {
        let glyph = GLYPHS[turn.glyph % GLYPHS.len()];
        turn.glyph += 1;
        let secs = turn.started.elapsed().as_secs();
        self.put(&format!(
            "{ERASE_LINE}{glyph} Working… ({secs}s · esc to interrupt)"
        ))?;
        self.flush()?;
        self.trace("busy");
        turn.last_draw = Some(Instant::now());
        Ok(())
    }

    fn step(&mut self, action: &Action, turn: &mut Turn) -> Result<StepEnd> {
        match action {
            Action::Spin(d) => self.work(turn, Some(Instant::now() + *d), true),
            Action::Say(t) => {
                let t = self.vars.expand(t);
                self.put(ERASE_LINE)?;
                self.line(&format!("● {t}"))?;
                turn.said.push(t);
                Ok(StepEnd::Next)
            }
            Action::Merge(branch) => {
                let branch = self.vars.expand(branch);
                self.put(ERASE_LINE)?;
                match crate::git::merge_keeping_ours(&self.cwd, &branch) {
                    Ok(()) => self.line(&format!("● Merged {branch}"))?,
                    Err(e) => {
                        let e = crate::text::plain(&e.to_string());
                        self.line(&format!("● Could not merge {branch}: {e}"))?;
                    }
                }
                Ok(StepEnd::Next)
            }
            Action::Write { path, text } => {
                self.hooks.fire(
                    "PreToolUse",
                    serde_json::json!({ "tool_name": "Write" }),
                    &self.cwd,
                );
                let path = self.vars.expand(path);
                let text = self.vars.expand(text);
                let full = self.cwd.join(&path);
                let written = full
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::write(&full, text.as_bytes()));
                self.put(ERASE_LINE)?;
                match written {
                    Ok(()) => {
                        self.line(&format!("● Wrote {path} ({} bytes)", text.len()))?;
                        turn.wrote.push(path);
                        Ok(StepEnd::Next)
                    }
                    Err(e) => {
                        tracing::error!("agent-sim: cannot write {}: {e}", full.display());
                        self.line(&format!("✗ API Error: cannot write {path}: {e}"))?;
                        Ok(StepEnd::Exit(1))
                    }
                }
            }
            Action::Ask(t) => {
                let t = self.vars.expand(t);
                self.hooks.fire(
                    "PreToolUse",
                    serde_json::json!({ "tool_name": "Write" }),
                    &self.cwd,
                );
                self.ask(&t)
            }
            Action::Question(q) => {
                let q = self.vars.expand(q);
                self.question(&q)
            }
            Action::Fail { text, code } => {
                let text = self.vars.expand(text);
                self.put(ERASE_LINE)?;
                self.line(&format!("✗ API Error: {text}"))?;
                self.flush()?;
                let error = if text.contains("429") {
                    "rate_limit"
                } else {
                    "server_error"
                };
                self.hooks.fire(
                    "StopFailure",
                    serde_json::json!({ "error": error, "last_assistant_message": format!("API Error: {text}") }),
                    &self.cwd,
                );
                Ok(StepEnd::Exit(*code))
            }
            Action::Exit(code) => Ok(StepEnd::Exit(*code)),
            Action::Hang {
                ignore_sigterm,
                children,
                detached,
            } => self.hang(turn, *ignore_sigterm, *children, *detached),
            Action::Flood(n) => self.flood(*n),
            Action::Tokens(n) => self.tokens(*n),
        }
    }

    /// Works with the spinner running until `until` (forever when `None`). Esc interrupts
    /// when `interruptible`; Ctrl-C exits 130; other keys are kept for the next prompt.
    fn work(
        &mut self,
        turn: &mut Turn,
        until: Option<Instant>,
        interruptible: bool,
    ) -> Result<StepEnd> {
        loop {
            let now = Instant::now();
            if until.is_some_and(|u| now >= u) {
                return Ok(StepEnd::Next);
            }
            let next_draw = turn.last_draw.map_or(now, |t| t + TICK);
            if now >= next_draw {
                self.draw_spinner(turn)?;
                self.reap_children();
                continue;
            }
            let deadline = until.map_or(next_draw, |u| u.min(next_draw));
            let Some(Event::Key(key)) = self.keys.next(Some(deadline)) else {
                continue;
            };
            match key {
                Key::Esc if interruptible => return Ok(StepEnd::Interrupted),
                Key::Esc => {}
                Key::CtrlC => return Ok(StepEnd::Exit(130)),
                Key::Enter => self.queued_submit = true,
                Key::Char(c) => {
                    self.editor.push_char(c);
                }
                Key::Paste(p) => {
                    self.editor.push_paste(p);
                }
                Key::Backspace => self.editor.backspace(),
            }
        }
    }

    /// The permission dialog; erased once answered. Drawn the way Claude Code 2.1.332 draws
    /// its own, so answers are tested against real timing: first
    /// `● Waiting for permission…` for [`PRE_DIALOG`] while keys still go to the input line,
    /// then the dialog, deaf to keys for [`DEAF`].
    fn ask(&mut self, text: &str) -> Result<StepEnd> {
        let first = format!("Do you want to create {}?", one_line(text));
        self.put(ERASE_LINE)?;
        self.put("● Waiting for permission…")?;
        self.flush()?;
        // Waiting shows from here (the profile reads this line as waiting).
        self.trace("waiting");
        let until = Instant::now() + PRE_DIALOG;
        while let Some(ev) = self.keys.next(Some(until)) {
            match ev {
                Event::Key(Key::CtrlC) => return Ok(StepEnd::Exit(130)),
                Event::Key(Key::Char(c)) => {
                    self.editor.push_char(c);
                }
                Event::Key(Key::Paste(p)) => {
                    self.editor.push_paste(p);
                }
                Event::Key(Key::Enter) => self.queued_submit = true,
                _ => {}
            }
        }
        self.put(ERASE_LINE)?;
        self.line(&first)?;
        self.line("❯ 1. Yes")?;
        self.line("  2. No")?;
        self.flush()?;
        let deaf_until = Instant::now() + DEAF;
        while let Some(ev) = self.keys.next(Some(deaf_until)) {
            if ev == Event::Key(Key::CtrlC) {
                return Ok(StepEnd::Exit(130));
            }
        }
        let yes = loop {
            match self.keys.next(None) {
                Some(Event::Key(Key::Char('1' | 'y' | 'Y') | Key::Enter)) => break true,
                Some(Event::Key(Key::Char('2' | 'n' | 'N') | Key::Esc)) => break false,
                Some(Event::Key(Key::CtrlC)) => return Ok(StepEnd::Exit(130)),
                Some(Event::Eof) => return Ok(StepEnd::Exit(0)),
                _ => {}
            }
        };
        let up = term::rows(first.chars().count(), term::columns()) + 2;
        self.put(&format!("\x1b[{up}A\r\x1b[J"))?;
        if yes {
            self.line("● Permission granted")?;
            Ok(StepEnd::Next)
        } else {
            self.line("● Permission denied")?;
            Ok(StepEnd::Denied)
        }
    }

    /// A question answered by a typed line; the question is erased once answered.
    fn question(&mut self, question: &str) -> Result<StepEnd> {
        let first = format!("? {}", one_line(question));
        self.put(ERASE_LINE)?;
        self.line(&first)?;
        self.put("> ")?;
        self.flush()?;
        self.trace("waiting");
        let mut answer = Editor::new();
        let mut width = 0;
        let interrupted = loop {
            match self.keys.next(None) {
                Some(Event::Key(Key::Enter)) => break false,
                Some(Event::Key(Key::Esc)) => break true,
                Some(Event::Key(Key::CtrlC)) => return Ok(StepEnd::Exit(130)),
                Some(Event::Eof) => return Ok(StepEnd::Exit(0)),
                Some(Event::Key(Key::Char(c))) => {
                    let echo = answer.push_char(c);
                    width += echo.chars().count();
                    self.put(&echo)?;
                }
                Some(Event::Key(Key::Paste(p))) => {
                    let echo = answer.push_paste(p);
                    width += echo.chars().count();
                    self.put(&echo)?;
                }
                Some(Event::Key(Key::Backspace)) => {
                    answer.backspace();
                    width = redraw_input(&mut self.out, width, &answer.display())?;
                }
                None => {}
            }
            self.flush()?;
        };
        let cols = term::columns();
        let up = term::rows(first.chars().count(), cols) + (2 + width - 1) / cols;
        self.put(&format!("\r\x1b[{up}A\x1b[J"))?;
        if interrupted {
            return Ok(StepEnd::Interrupted);
        }
        let text = String::from_utf8_lossy(&answer.take()).into_owned();
        self.line(&format!("● Answer: {text}"))?;
        Ok(StepEnd::Next)
    }

    /// Spins forever, after starting `children` sleepers and maybe ignoring SIGTERM. Only
    /// Ctrl-C (exit 130) or a signal ends it; Esc does not.
    fn hang(
        &mut self,
        turn: &mut Turn,
        ignore_sigterm: bool,
        children: u32,
        detached: u32,
    ) -> Result<StepEnd> {
        for _ in 0..detached {
            let status = Command::new("setsid")
                .args(["-f", "sleep", "100000"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .context("cannot start `setsid -f sleep 100000` for a hang step")?;
            anyhow::ensure!(status.success(), "setsid -f sleep exited with {status}");
        }
        for _ in 0..children {
            let child = Command::new("sleep")
                .arg("100000")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start `sleep 100000` for a hang step's children")?;
            tracing::debug!("agent-sim: hang child {}", child.id());
            self.children.push(child);
        }
        if ignore_sigterm {
            // SAFETY: SIG_IGN runs no handler code, and nothing else in this process installs
            // a SIGTERM disposition. Set after the children exist so they do not inherit it.
            unsafe { nix::sys::signal::signal(Signal::SIGTERM, SigHandler::SigIgn) }
                .context("cannot ignore SIGTERM")?;
        }
        loop {
            if let StepEnd::Exit(code) = self.work(turn, None, false)? {
                return Ok(StepEnd::Exit(code));
            }
        }
    }

    /// A model response of `n` input tokens: recorded in the session record (then named by
    /// every hook call), followed by the `PreToolUse` hook of the tool it calls.
    fn tokens(&mut self, n: u64) -> Result<StepEnd> {
        if let Some(s) = self.session.as_mut() {
            if let Err(e) = s.respond(n) {
                tracing::error!("agent-sim: cannot write the session record: {e}");
                self.put(ERASE_LINE)?;
                self.line(&format!(
                    "✗ API Error: cannot write the session record: {e}"
                ))?;
                return Ok(StepEnd::Exit(1));
            }
            self.hooks.transcript = Some(s.path().display().to_string());
            self.hooks.fire(
                "PreToolUse",
                serde_json::json!({ "tool_name": "Bash" }),
                &self.cwd,
            );
        }
        self.put(ERASE_LINE)?;
        self.line(&format!("● Used {n} tokens"))?;
        Ok(StepEnd::Next)
    }

    /// Collects `hang` children that have exited, so none stays a zombie.
    fn reap_children(&mut self) {
        self.children
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
    }

    /// Prints `line <i> of <n>` for i in 1..=n, in big writes.
    fn flood(&mut self, n: u64) -> Result<StepEnd> {
        use std::fmt::Write as _;
        self.put(ERASE_LINE)?;
        let mut buf = String::with_capacity(64 * 1024);
        for i in 1..=n {
            write!(buf, "line {i} of {n}\r\n")?;
            if buf.len() >= 60 * 1024 {
                self.put(&buf)?;
                buf.clear();
            }
        }
        self.put(&buf)?;
        self.flush()?;
        Ok(StepEnd::Next)
    }
}
