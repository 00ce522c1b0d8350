//! Named crash points, for proving that a supervisor killed at any step loses and repeats
//! nothing. `BOSUN_CRASH_AT=<point>` makes the process kill itself with SIGKILL (exactly what
//! `kill -9` does: no destructor, no flush, no lease release) the first time it reaches that
//! point; `<point>:<n>` the n-th time. Unset, a point costs one relaxed atomic load.
//!
//! The points, in the order a run meets them: `claim` (job claimed, no run yet), `worktree`
//! (worktree ready), `window` (tmux window made, before its pane is recorded), `paste`
//! (prompt pasted and recorded), `submit` (submit keys pressed and recorded), `busy` (the run
//! first recorded busy), `turn_done` (turn recorded done), `commit` (worktree committed),
//! `gate` (before each gate is checked), `decision` (the engine's decision applied),
//! `window_close` (process tree stopped, before the pane is killed). A message's delivery
//! ([`MESSAGE_POINTS`]): `message_claim` (claimed for a run, not pasted), `message_paste`
//! (pasted and recorded, not submitted), `message_submit` (submitted, before its record). A
//! landing's ([`LAND_POINTS`]): `land_merged`, `land_pushed`, `land_pr_opened`,
//! `land_pr_merged`, `land_cleanup`.
//!
//! `BOSUN_PAUSE_AT=<point>:<ms>` holds the process at a point instead, for that long each
//! time it arrives: a test's window to send a signal at exactly that step.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Every crash point's name.
pub const POINTS: &[&str] = &[
    "claim",
    "worktree",
    "window",
    "paste",
    "submit",
    "busy",
    "turn_done",
    "commit",
    "gate",
    "decision",
    "window_close",
];

/// The crash points of a landing (`src/supervisor/land.rs`): `land_merged` (the base branch
/// moved, not recorded), `land_cleanup` (landed and recorded, before the worktree and branch
/// are removed).
pub const LAND_POINTS: &[&str] = &[
    "land_merged",
    "land_pushed",
    "land_pr_opened",
    "land_pr_merged",
    "land_cleanup",
];

/// The crash points of taking a tracker's delivery (`src/supervisor/intake.rs`).
pub const INTAKE_POINTS: &[&str] = &["intake_create", "intake_created"];

/// The crash points of a message's delivery (`src/supervisor/inbox.rs`).
pub const MESSAGE_POINTS: &[&str] = &["message_claim", "message_paste", "message_submit"];

/// The armed point and on which arrival it fires, from `BOSUN_CRASH_AT`.
fn armed() -> Option<&'static (String, u32)> {
    static ARMED: OnceLock<Option<(String, u32)>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var("BOSUN_CRASH_AT").ok()?;
            let (name, n) = match spec.split_once(':') {
                Some((name, n)) => (name.to_string(), n.parse().ok()?),
                None => (spec, 1),
            };
            Some((name, n))
        })
        .as_ref()
}

/// The point to hold at and for how long (ms), from `BOSUN_PAUSE_AT`.
fn pause() -> Option<&'static (String, u64)> {
    static PAUSE: OnceLock<Option<(String, u64)>> = OnceLock::new();
    PAUSE
        .get_or_init(|| {
            let spec = std::env::var("BOSUN_PAUSE_AT").ok()?;
            let (name, ms) = spec.split_once(':')?;
            Some((name.to_string(), ms.parse().ok()?))
        })
        .as_ref()
}

/// Arrivals at the armed point so far.
static SEEN: AtomicU32 = AtomicU32::new(0);

/// A crash point: kills this process with SIGKILL when `BOSUN_CRASH_AT` names it (see the
/// module docs); otherwise does nothing.
pub fn point(name: &str) {
    if let Some((paused, ms)) = pause()
        && paused == name
    {
        tracing::warn!(point = name, ms, "BOSUN_PAUSE_AT: holding here");
        std::thread::sleep(std::time::Duration::from_millis(*ms));
    }
    let Some((armed, n)) = armed() else {
        return;
    };
    if armed != name || SEEN.fetch_add(1, Ordering::SeqCst) + 1 != *n {
        return;
    }
    tracing::warn!(point = name, "BOSUN_CRASH_AT: killing this process");
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    // SIGKILL cannot be caught; should raise fail, end anyway without cleanup.
    std::process::abort();
}
