//! `bosun agent-sim`: the built-in scripted agent, for the demo and the tests.
//!
//! It behaves like an interactive CLI coding agent in a terminal — a `> ` prompt, a spinner
//! while working, permission dialogs, questions, API errors — but follows a script instead of
//! calling a model, so bosun's supervisor can be exercised without API keys.
//!
//! # Screen
//! The supervisor recognises the agent's state from these lines, so they are fixed:
//!
//! | When | Line |
//! |---|---|
//! | start | `✻ agent-sim — bosun's scripted agent`, `  cwd: <cwd>`, empty line |
//! | idle | `> ` followed by the input; a paste shows as `[Pasted text: N lines, M bytes]` |
//! | prompt taken | `● Received prompt (<M> bytes)` |
//! | working | `<glyph> Working… (<N>s · esc to interrupt)`, redrawn in place every 200 ms; glyph cycles `·✢✳✶✻✽`, N = whole seconds since the turn began |
//! | `say` | `● <text>` |
//! | `write` | `● Wrote <path> (<n> bytes)` |
//! | `ask` | `● Waiting for permission…` for 0.4 s (keys typed then go to the input line), then `Do you want to create <text>?` / `❯ 1. Yes` / `  2. No`, deaf to keys for 0.1 s (as Claude Code 2.1.332), then erased and replaced by `● Permission granted` or `● Permission denied` |
//! | denied | `✗ Cancelled: permission denied` |
//! | `question` | `? <text>` and `> ` for the answer, then erased and replaced by `● Answer: <text>` |
//! | Esc while working | `✗ Interrupted` |
//! | `fail` | `✗ API Error: <text>` (also for a bad `@sim` line, exit 2) |
//! | turn done | `✓ Done in <N>s: <summary>` (`wrote a.md, b.md`, else the `say` texts joined by `; `, else `nothing to do`) |
//! | `/exit` | `Bye` |
//!
//! After `✓ Done`, `✗ Interrupted` and `✗ Cancelled` come an empty line and the `> ` prompt.
//!
//! Keys: Enter submits (a bracketed paste is taken whole, its newlines are content); Backspace
//! deletes a typed character or a whole paste; Esc interrupts work (not `hang`); Ctrl-C exits
//! with code 130 at any time. Keys typed while working are kept for the next prompt, and an
//! Enter pressed while working submits it as soon as the turn ends. An empty input is not
//! submitted.
//!
//! # Environment
//! - `BOSUN_SIM_RECORD=<dir>`: each submitted input is saved byte-exact as
//!   `<dir>/prompt-<n>.txt` (n = 1, 2, …) before anything else happens; `{run}` in `<dir>`
//!   becomes `BOSUN_RUN_ID`, for one directory per run.
//! - `BOSUN_SIM_TRACE=<dir>`: each change of the drawn state (`busy`, `waiting`, `done`) is
//!   appended as `<unix ms> <BOSUN_RUN_ID> <state>` to `<dir>/trace-<pid>.txt`, right after
//!   it was drawn (the supervisor benchmark measures status latency from it).
//! - `BOSUN_SIM_SCENARIO=<file>`: the scenario file when `--scenario` is not given.
//! - `BOSUN_TASK`, `BOSUN_STAGE`, `BOSUN_RUN_ID`: what `{key}`, `{stage}` and `{run}` expand
//!   to (an unset variable leaves its placeholder as written); `BOSUN_STAGE` also picks the
//!   stage's steps and drives the `stage` condition.
//!
//! # Steps
//! Each turn runs a list of steps. A step is a TOML table with exactly one action:
//!
//! | Action | Effect |
//! |---|---|
//! | `spin = "2s"` | work that long (humantime duration), spinner running |
//! | `say = "text"` | print `● text` |
//! | `write = "path"`, `text = "…"` | write the file (relative to the cwd, parent directories created; `text` defaults to empty) |
//! | `ask = "text"` | permission dialog; `1`, `y` or Enter grants, `2`, `n` or Esc denies (denial skips the rest of the turn) |
//! | `question = "text"` | ask, wait for a typed line (Enter), show it as `● Answer: …` |
//! | `fail = "text"`, `code = 1` | print `✗ API Error: text` and exit with `code` (default 1) |
//! | `exit = N` | exit with code N at once, no message |
//! | `hang = true` | spin forever; `children = N` first starts N `sleep 100000` processes, `detached = N` N more with `setsid -f` (own session, re-parented away), `ignore_sigterm = true` then ignores SIGTERM |
//! | `flood = N` | print N lines `line <i> of <N>` as fast as possible, then go on |
//! | `merge = "main"` | merge that branch into the worktree's, keeping its own side where both changed a line (`git merge -X ours`), as an agent told its branch conflicts does |
//! | `tokens = N` | a model response that read N input tokens: appended to the session record (Claude Code's transcript shape, model `agent-sim`; see [`session`]), named from then on as every hook call's `transcript_path`, and the `PreToolUse` hook called; prints `● Used N tokens`. Without `--settings` (no hooks, no record) it only prints |
//!
//! and optional conditions, all evaluated at the start of the turn before any step runs (so a
//! step writing a file does not change which steps run in the same turn):
//! `stage = "review"` (env `BOSUN_STAGE` equals it), `if_exists = "path"`,
//! `unless_exists = "path"`. `{key}`, `{stage}` and `{run}` are expanded in every string of a
//! step. Unknown keys are errors.
//!
//! # Where a turn's steps come from
//! The first of these that has steps:
//! 1. `@sim ` lines in the submitted prompt: each line starting with `@sim ` followed by a
//!    TOML inline table is one step, in order. A malformed one prints
//!    `✗ API Error: bad @sim line <n>: <error>` (n = line number in the prompt) and exits 2.
//! 2. The scenario file: `[stages.<BOSUN_STAGE>]` `steps`, else the top-level `[[steps]]`.
//! 3. Nothing given: `spin = "1s"`, then `✓ Done in 1s: nothing to do`.
//!
//! A scenario file that cannot be read or parsed stops `agent-sim` before it starts, with
//! the file, line and column.
//!
//! # Example
//! A scenario where review requests changes the first time and approves the second:
//! ```toml
//! # Any stage without its own table: think, then say so.
//! [[steps]]
//! spin = "2s"
//!
//! [[steps]]
//! say = "nothing to change"
//!
//! [stages.develop]
//! steps = [
//!   { spin = "1s" },
//!   { ask = "src/{key}.rs" },
//!   { write = "src/{key}.rs", text = "// {key}, run {run}\n" },
//! ]
//!
//! [stages.review]
//! steps = [
//!   { spin = "1s" },
//!   { write = "docs/work-items/{key}/12-review.md", text = "REQUEST_CHANGES\nadd tests",
//!     unless_exists = "docs/work-items/{key}/12-review.md" },
//!   { write = "docs/work-items/{key}/12-review.md", text = "APPROVED\nfine",
//!     if_exists = "docs/work-items/{key}/12-review.md" },
//! ]
//! ```
//! The same steps can ride in a prompt instead:
//! ```text
//! Review the change.
//! @sim {spin = "1s"}
//! @sim {fail = "429 Too Many Requests · retry-after: 7", code = 3}
//! ```

mod agent;
pub mod forge;
pub mod homes;
mod hooks;
mod input;
pub mod model;
pub mod scenario;
pub mod session;
mod term;

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Reads and parses a scenario file.
///
/// # Errors
/// The file cannot be read, or is not a valid scenario (the message has line and column).
pub fn load_scenario(path: &Path) -> anyhow::Result<scenario::Scenario> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the scenario file {}", path.display()))?;
    scenario::Scenario::parse(&text)
        .map_err(|e| anyhow::anyhow!("bad scenario file {}: {e}", path.display()))
}

/// Runs the scripted agent on this terminal until it exits. The scenario is `scenario`, else
/// the file named by env `BOSUN_SIM_SCENARIO`, else none; `settings` is a Claude Code
/// settings file whose hooks it calls (see [`hooks`]).
///
/// Returns `Ok(())` when the agent exits with code 0 (`/exit`, stdin closed); any other exit
/// code (Ctrl-C 130, `fail`, `exit`, a bad `@sim` line 2) ends the process here with
/// [`std::process::exit`], after the terminal is restored.
///
/// # Errors
/// The scenario file cannot be read or parsed, the current directory is unknown, the
/// terminal cannot be written to, or a `hang` step cannot start its children.
pub fn run(scenario: Option<&Path>, settings: Option<&Path>) -> anyhow::Result<()> {
    let path = scenario.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("BOSUN_SIM_SCENARIO")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let scenario = path.as_deref().map(load_scenario).transpose()?;
    let hooks = settings
        .map(hooks::Hooks::from_settings)
        .transpose()?
        .unwrap_or_else(hooks::Hooks::none);
    let session = settings.map(session::Session::beside);
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut terminal = term::Terminal::enter().context("cannot set up the terminal")?;
    let mut agent = agent::Agent::new(term::Keys::from_stdin(), scenario, cwd, hooks);
    agent.session = session;
    let result = agent.run();
    terminal.restore();
    let code = result?;
    tracing::info!("agent-sim: exit {code}");
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}
