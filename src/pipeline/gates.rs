//! Gate evaluation: reads the worktree and runs gate commands; writes nothing to the store.
//! The engine records what this returns and acts on it in one transaction.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::verdict::Found;
use crate::config::{Action, Branch, GateKind, Stage};
use crate::status::GateOutcome as Outcome;

/// Most bytes of command output or file text kept as evidence with a gate result.
pub const EVIDENCE_BYTES: usize = 16 * 1024;

/// Most bytes of an agent-written file (verdict, branch) a gate reads; the rest is never
/// read (a 3 GB sparse file costs 1 MiB).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Everything gate evaluation needs about the task.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// Task key, substituted for `{key}` in paths.
    pub key: &'a str,
    /// Stage name (exported to gate commands as `BOSUN_STAGE`).
    pub stage: &'a str,
    /// The worktree the paths are relative to and commands run in.
    pub worktree: &'a Path,
    /// The project's test command, for command gates without their own.
    pub test_command: Option<&'a str>,
    /// The judged run's final message, for verdict gates without a file.
    pub final_message: Option<&'a str>,
    /// The judged run's id, used to archive a fired branch's file.
    pub run_id: Option<i64>,
}

/// One evaluated check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Gate index, or `-1 - i` for branch `i`.
    pub index: i64,
    /// `artifact`, `command`, `verdict`, `approval` or `branch`.
    pub kind: &'static str,
    /// Passed, failed, or pending (approval).
    pub outcome: Outcome,
    /// One line: why.
    pub reason: String,
    /// Evidence: command output tail or file text, at most [`EVIDENCE_BYTES`].
    pub output: Option<String>,
}

/// What the stage's checks decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every gate from the starting one passed.
    Passed,
    /// A branch fired (or a gate failed): take `action` with `feedback`.
    Act {
        /// What to do.
        action: Action,
        /// Text for the next run's prompt or the operator.
        feedback: String,
        /// Counter that caps this edge (`retry:STAGE`, `rollback:FROM>TO`).
        counter: String,
    },
    /// Gate `gate` needs the operator's approval.
    Approval {
        /// Index of the approval gate.
        gate: usize,
    },
}

/// The checks run, in order, and their verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Every check made, in order.
    pub checks: Vec<Check>,
    /// The decision.
    pub verdict: Verdict,
}

/// Name of the counter that caps `action` taken from `stage`.
pub fn counter_name(stages: &[Stage], here: usize, action: &Action) -> String {
    match action {
        Action::Rollback { to, .. } => {
            format!("rollback:{}>{}", stages[here].name, stages[*to].name)
        }
        _ => format!("retry:{}", stages[here].name),
    }
}

/// Evaluates stage `here` for `subject`: the branches first (only when `from_gate` is 0),
/// then the gates from `from_gate` on, stopping at the first that fails or needs approval.
pub fn evaluate(
    stages: &[Stage],
    here: usize,
    subject: &Subject<'_>,
    from_gate: usize,
) -> Evaluation {
    let stage = &stages[here];
    let mut checks = Vec::new();
    if from_gate == 0 {
        for (i, branch) in stage.branches.iter().enumerate() {
            if let Some((check, text)) = check_branch(branch, i, subject) {
                checks.push(check);
                let action = branch.then.clone();
                let counter = counter_name(stages, here, &action);
                return Evaluation {
                    checks,
                    verdict: Verdict::Act {
                        action,
                        feedback: text,
                        counter,
                    },
                };
            }
        }
    }
    for (i, gate) in stage.gates.iter().enumerate().skip(from_gate) {
        if let GateKind::Approval = gate.kind {
            checks.push(Check {
                index: i as i64,
                kind: "approval",
                outcome: Outcome::Pending,
                reason: "waiting for the operator's approval".into(),
                output: None,
            });
            return Evaluation {
                checks,
                verdict: Verdict::Approval { gate: i },
            };
        }
        crate::crash::point("gate");
        let outcome = check_gate(&gate.kind, subject);
        checks.push(Check {
            index: i as i64,
            kind: gate.kind.name(),
            outcome: if outcome.failure.is_none() {
                Outcome::Pass
            } else {
                Outcome::Fail
            },
            reason: outcome.reason.clone(),
            output: outcome.output.clone(),
        });
        if let Some(failure) = outcome.failure {
            let action = match failure {
                FailureMode::Gate => gate.on_fail.clone(),
                FailureMode::Rerun => Action::Retry,
                FailureMode::Operator => Action::Block,
            };
            let counter = counter_name(stages, here, &action);
            let mut feedback = outcome.reason;
            if let Some(out) = outcome.output.filter(|o| !o.trim().is_empty()) {
                feedback.push_str("\n\n");
                feedback.push_str(&out);
            }
            return Evaluation {
                checks,
                verdict: Verdict::Act {
                    action,
                    feedback,
                    counter,
                },
            };
        }
    }
    Evaluation {
        checks,
        verdict: Verdict::Passed,
    }
}

/// Expands `{key}` in a configured path.
pub fn expand(path: &str, key: &str) -> String {
    path.replace("{key}", key)
}

fn check_branch(branch: &Branch, i: usize, s: &Subject<'_>) -> Option<(Check, String)> {
    let rel = expand(&branch.when_exists, s.key);
    // Something the agent left at the branch's path fires it; only a regular file inside the
    // worktree is read (at most MAX_FILE_BYTES), anything else is named, never opened.
    let (text, refused) = match crate::untrusted::read(s.worktree, &rel, MAX_FILE_BYTES) {
        Ok(c) => (c.with_note(), None),
        Err(e) if e.is_missing() => return None,
        Err(e) => (format!("({e}: not read)"), Some(e)),
    };
    let path = s.worktree.join(&rel);
    let archived = archive(&path, s.run_id);
    let what = match branch.then {
        Action::NeedsInput => "the agent asks the operator",
        Action::Rollback { .. } => "the agent asks to go back",
        _ => "the agent stopped the stage",
    };
    let mut reason = match &archived {
        Some(to) => format!("{rel} exists: {what} (moved to {})", to.display()),
        None => format!("{rel} exists: {what}"),
    };
    if let Some(e) = refused {
        reason.push_str(&format!("; {e}: not read"));
    }
    let evidence = bounded(&text);
    Some((
        Check {
            index: -1 - i as i64,
            kind: "branch",
            outcome: Outcome::Fail,
            reason,
            output: Some(evidence.clone()),
        },
        format!("{rel}:\n{evidence}"),
    ))
}

/// Moves a fired branch's file aside (`x.md` → `x.run-12.md`) so the next run of the stage
/// does not fire it again; its text lives on in the gate result and the feedback.
fn archive(path: &Path, run_id: Option<i64>) -> Option<PathBuf> {
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    let tag = run_id.map_or_else(
        || format!("at-{}", crate::store::now_ms()),
        |r| format!("run-{r}"),
    );
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{tag}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{tag}"),
    };
    let to = path.with_file_name(name);
    match std::fs::rename(path, &to) {
        Ok(()) => Some(to),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot archive branch file");
            None
        }
    }
}

enum FailureMode {
    /// The gate's own `on_fail` applies.
    Gate,
    /// The stage produced nothing to judge: run it again.
    Rerun,
    /// Only the operator can fix it (e.g. no test command configured).
    Operator,
}

struct GateOutcome {
    failure: Option<FailureMode>,
    reason: String,
    output: Option<String>,
}

fn pass(reason: String, output: Option<String>) -> GateOutcome {
    GateOutcome {
        failure: None,
        reason,
        output,
    }
}

fn fail(mode: FailureMode, reason: String, output: Option<String>) -> GateOutcome {
    GateOutcome {
        failure: Some(mode),
        reason,
        output,
    }
}

fn check_gate(kind: &GateKind, s: &Subject<'_>) -> GateOutcome {
    match kind {
        GateKind::Artifact { path } => {
            let rel = expand(path, s.key);
            match find_artifact(s.worktree, &rel) {
                Ok(found) => pass(format!("artifact {found} exists"), None),
                Err(Some(refusal)) => fail(
                    FailureMode::Gate,
                    format!("artifact {refusal}: write the artifact as a plain file"),
                    None,
                ),
                Err(None) => fail(
                    FailureMode::Gate,
                    format!("artifact {rel} is missing or empty: write it before finishing"),
                    None,
                ),
            }
        }
        GateKind::Command { command, timeout } => {
            let Some(cmd) = command.as_deref().or(s.test_command) else {
                return fail(
                    FailureMode::Operator,
                    "no command to run: the project has no test command (set one with \
                     `bosun project add PATH --test-command CMD`) and the gate gives no `command`"
                        .into(),
                    None,
                );
            };
            match run_command(cmd, s, *timeout) {
                Ok(r) if r.timed_out => fail(
                    FailureMode::Gate,
                    format!(
                        "`{cmd}` did not finish within {}",
                        humantime::format_duration(*timeout)
                    ),
                    Some(r.output),
                ),
                Ok(r) if r.code == Some(0) => pass(format!("`{cmd}` passed"), Some(r.output)),
                Ok(r) => fail(
                    FailureMode::Gate,
                    format!(
                        "`{cmd}` failed with {}",
                        r.code
                            .map_or("a signal".to_string(), |c| format!("exit status {c}"))
                    ),
                    Some(r.output),
                ),
                Err(e) => fail(
                    FailureMode::Operator,
                    format!("cannot run `{cmd}`: {e}"),
                    None,
                ),
            }
        }
        GateKind::Verdict { path, rule } => {
            let (source, text) = match path {
                Some(p) => {
                    let rel = expand(p, s.key);
                    match crate::untrusted::read(s.worktree, &rel, MAX_FILE_BYTES) {
                        Ok(c) => (rel, c.text),
                        Err(e) if e.is_missing() => {
                            return fail(
                                FailureMode::Rerun,
                                format!("no verdict: {rel} was not written"),
                                None,
                            );
                        }
                        Err(e) => {
                            return fail(
                                FailureMode::Rerun,
                                format!("no verdict: {e}; write the verdict as a plain file"),
                                None,
                            );
                        }
                    }
                }
                None => match s.final_message {
                    Some(m) => ("the final message".to_string(), m.to_string()),
                    None => {
                        return fail(
                            FailureMode::Rerun,
                            "no verdict: the run left no final message".into(),
                            None,
                        );
                    }
                },
            };
            let evidence = Some(bounded(&text));
            match super::verdict::find(rule, &text) {
                Found::Fail(word) => fail(
                    FailureMode::Gate,
                    format!("verdict in {source} is a fail ({word})"),
                    evidence,
                ),
                Found::Pass(word) => {
                    pass(format!("verdict in {source} is a pass ({word})"), evidence)
                }
                Found::Ambiguous {
                    pass: (p, pl),
                    fail: (f, fl),
                } => fail(
                    FailureMode::Rerun,
                    format!(
                        "ambiguous verdict in {source}: {p} (line {pl}) and {f} (line {fl}); {}, \
                         and only one of them",
                        super::verdict::expected(rule, &source)
                    ),
                    evidence,
                ),
                Found::Nothing => fail(
                    FailureMode::Rerun,
                    format!(
                        "no verdict in {source}: {}",
                        super::verdict::expected(rule, &source)
                    ),
                    evidence,
                ),
            }
        }
        GateKind::Approval => fail(
            FailureMode::Operator,
            "approval is decided by the operator".into(),
            None,
        ),
    }
}

/// The first non-empty regular file matching `rel` (a path or glob) inside `worktree`,
/// relative. `Err(Some(refusal))` when nothing qualifies but something hostile matched (a
/// symlink, FIFO, device, or a path leading out of the worktree), `Err(None)` when nothing
/// matched.
fn find_artifact(worktree: &Path, rel: &str) -> Result<String, Option<crate::untrusted::Refusal>> {
    let pattern = format!(
        "{}/{rel}",
        glob::Pattern::escape(&worktree.to_string_lossy())
    );
    let entries = glob::glob(&pattern).map_err(|_| None)?;
    let mut refused = None;
    for p in entries.flatten() {
        let found = p
            .strip_prefix(worktree)
            .map_or_else(|_| p.display().to_string(), |r| r.display().to_string());
        match crate::untrusted::inspect(worktree, &found) {
            Ok(len) if len > 0 => return Ok(found),
            Ok(_) => {}
            Err(e) if e.is_missing() => {}
            Err(e) => refused = refused.or(Some(e)),
        }
    }
    Err(refused)
}

/// The last [`EVIDENCE_BYTES`] of `text`, on a char boundary.
pub fn bounded(text: &str) -> String {
    let mut start = text.len().saturating_sub(EVIDENCE_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

struct CommandResult {
    code: Option<i32>,
    timed_out: bool,
    output: String,
}

/// Runs `cmd` with `sh -c` in the worktree, in its own process group, stdout and stderr
/// captured together; on timeout the whole group gets SIGTERM, then SIGKILL two seconds later.
fn run_command(cmd: &str, s: &Subject<'_>, timeout: Duration) -> std::io::Result<CommandResult> {
    use std::os::unix::process::CommandExt;
    // `exec 2>&1` first, so stdout and stderr interleave in one pipe as in a terminal.
    let mut child = crate::priority::lower(&mut Command::new("sh"))
        .arg("-c")
        .arg(format!("exec 2>&1\n{cmd}"))
        .current_dir(s.worktree)
        .env("BOSUN_TASK", s.key)
        .env("BOSUN_STAGE", s.stage)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    let pgid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let mut pipe = child.stdout.take();
    // Only the last EVIDENCE_BYTES are kept while the command runs: a test printing
    // gigabytes costs no more memory than one printing a page.
    let out = std::thread::spawn(move || {
        let mut tail = crate::untrusted::Tail::new(EVIDENCE_BYTES);
        if let Some(p) = pipe.as_mut() {
            let _ = tail.read_from(p);
        }
        tail
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if !timed_out && start.elapsed() >= timeout {
            timed_out = true;
            let _ = killpg(pgid, Signal::SIGTERM);
            let grace = Instant::now();
            while grace.elapsed() < Duration::from_secs(2) {
                if child.try_wait()?.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Children that outlived the shell would keep the pipes open: end the group.
    let _ = killpg(pgid, Signal::SIGKILL);
    let output = out
        .join()
        .map(crate::untrusted::Tail::into_text)
        .unwrap_or_default();
    Ok(CommandResult {
        code: status.code(),
        timed_out,
        output,
    })
}
