//! The report's items, from the runs, their status events and hook calls, against the ground
//! truth of what the model (or agent-sim) did.

use super::session::Truth;
use super::{CheckError, Item};
use crate::config::{HookStyle, ProviderConfig};
use crate::store::Store;
use crate::store::events::{Event, EventKind};
use crate::store::hooks::{self as hook_rows, HookEvent};
use crate::store::runs::Run;

/// The run's status events, oldest first: (ms, status word, from a hook).
fn statuses(all: &[Event], run: &Run) -> Vec<(i64, String, bool)> {
    all.iter()
        .filter(|e| e.kind == EventKind::RunStatus && e.run_id == Some(run.id))
        .filter_map(|e| {
            let word = e.message.split(" is ").nth(1)?.split_whitespace().next()?;
            Some((e.ts, word.to_string(), e.message.ends_with("(agent hook)")))
        })
        .collect()
}

fn secs(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// ready, busy, waiting, answer and done, from the first task's run.
pub(super) fn read_first(
    p: &ProviderConfig,
    run: &Run,
    all: &[Event],
    truth: &Truth,
    asked: bool,
    answer: Option<&Result<(), String>>,
) -> Vec<Item> {
    let mut items = vec![];
    let seen = statuses(all, run);
    let sent = run.prompt_sent_at;
    let ready_in = sent.map(|s| s - run.started_at);
    let timeout_ms = i64::try_from(p.ready_timeout.as_millis()).unwrap_or(i64::MAX);
    items.push(match ready_in {
        Some(ms) if ms + 250 < timeout_ms => Item {
            status: "ready",
            ok: true,
            detail: format!("its prompt box read ready {} after launch", secs(ms)),
            ms: Some(ms),
        },
        Some(ms) => Item {
            status: "ready",
            ok: false,
            detail: format!(
                "never read ready: the prompt went in when ready_timeout ({}) ran out",
                secs(ms)
            ),
            ms: None,
        },
        None => Item {
            status: "ready",
            ok: false,
            detail: "never read ready; no prompt was delivered".into(),
            ms: None,
        },
    });
    let busy_at = seen
        .iter()
        .find(|(_, s, _)| s == "busy")
        .map(|(t, _, _)| *t);
    let premature = seen.iter().find(|(t, s, _)| {
        (s == "done" || s == "idle")
            && truth.last_byte.is_some_and(|lb| *t < lb)
            && busy_at.is_some_and(|b| *t > b)
    });
    items.push(match (busy_at, sent, premature) {
        (Some(b), Some(s), None) => Item {
            status: "busy",
            ok: true,
            detail: format!(
                "{} ms after the prompt was submitted, and busy while the model answered",
                b - s
            ),
            ms: Some(b - s),
        },
        (Some(_), _, Some((t, s, _))) => Item {
            status: "busy",
            ok: false,
            detail: format!(
                "read as {s} {} before the model had finished its answer",
                secs(truth.last_byte.unwrap_or(*t) - t)
            ),
            ms: None,
        },
        _ => Item {
            status: "busy",
            ok: false,
            detail: "never read busy".into(),
            ms: None,
        },
    });
    let waiting_at = seen
        .iter()
        .find(|(_, s, _)| s == "waiting")
        .map(|(t, _, _)| *t);
    items.push(match (waiting_at, truth.asked) {
        (Some(w), Some(a)) => Item {
            status: "waiting",
            ok: true,
            detail: format!("{} ms after the model asked for the tool", w - a),
            ms: Some(w - a),
        },
        (Some(_), None) => Item {
            status: "waiting",
            ok: true,
            detail: "read waiting".into(),
            ms: None,
        },
        (None, _) => Item {
            status: "waiting",
            ok: false,
            detail: "never read waiting while the agent asked for permission".into(),
            ms: None,
        },
    });
    let answered = all
        .iter()
        .find(|e| e.kind == EventKind::Answered && e.run_id == Some(run.id));
    items.push(match (asked, answer, answered) {
        (true, Some(Ok(())), Some(e)) => Item {
            status: "answer",
            ok: true,
            detail: format!(
                "taken: {}",
                e.message.split(" answered ").nth(1).unwrap_or("yes")
            ),
            ms: waiting_at.map(|w| e.ts - w),
        },
        (true, Some(Err(e)), _) => Item {
            status: "answer",
            ok: false,
            detail: crate::text::clean(&e.lines().collect::<Vec<_>>().join(" │ ")),
            ms: None,
        },
        (true, _, _) => Item {
            status: "answer",
            ok: false,
            detail: "the answer did not finish".into(),
            ms: None,
        },
        (false, _, _) => Item {
            status: "answer",
            ok: false,
            detail: "nothing to answer: waiting was never read".into(),
            ms: None,
        },
    });
    let done = seen.iter().find(|(_, s, _)| s == "done");
    items.push(match (done, truth.last_byte) {
        (Some((t, _, hook)), Some(lb)) if *t >= lb => Item {
            status: "done",
            ok: true,
            detail: format!(
                "{} ms after the model's last byte ({})",
                t - lb,
                if *hook { "Stop hook" } else { "screen" }
            ),
            ms: Some(t - lb),
        },
        (Some((t, _, _)), Some(lb)) => Item {
            status: "done",
            ok: false,
            detail: format!("read done {} ms before the model's last byte", lb - t),
            ms: None,
        },
        (Some((_, _, hook)), None) => Item {
            status: "done",
            ok: true,
            detail: format!("read done ({})", if *hook { "Stop hook" } else { "screen" }),
            ms: None,
        },
        (None, _) => Item {
            status: "done",
            ok: false,
            detail: "the turn was never read done".into(),
            ms: None,
        },
    });
    items
}

/// error, from the second task's run.
pub(super) fn read_error(run: Option<&Run>, all: &[Event], truth: &Truth) -> Item {
    let Some(run) = run else {
        return Item {
            status: "error",
            ok: false,
            detail: "the second run never started".into(),
            ms: None,
        };
    };
    let seen = statuses(all, run);
    // A failure hook fails the run at once, before an `error` status is written: the run's
    // own row then says error.
    let by_hook = seen.iter().all(|(_, s, _)| s != "error")
        && run.status == crate::status::RunStatus::Error
        && run.ended_at.is_some();
    let error = seen
        .iter()
        .find(|(_, s, _)| s == "error")
        .map(|(t, _, h)| (*t, *h))
        .or_else(|| by_hook.then(|| (run.ended_at.unwrap_or_default(), true)));
    let from = truth.error.or(run.prompt_sent_at);
    match (error, run.ended_at) {
        (Some((t, hook)), _) => Item {
            status: "error",
            ok: true,
            detail: format!(
                "{} after the model's error ({})",
                from.map_or_else(|| "read".into(), |f| secs(t - f)),
                if hook { "failure hook" } else { "screen" },
            ),
            ms: from.map(|f| t - f),
        },
        (None, Some(_)) => Item {
            status: "error",
            ok: false,
            detail: format!(
                "the run ended ({}) but its status never read error",
                run.error.as_deref().unwrap_or("no reason")
            ),
            ms: None,
        },
        (None, None) => Item {
            status: "error",
            ok: false,
            detail: "the error was never read".into(),
            ms: None,
        },
    }
}

/// hooks: which of the CLI's hook calls reached bosun.
pub(super) fn hooks(
    p: &ProviderConfig,
    store: &Store,
    a: &Run,
    b: Option<&Run>,
) -> Result<Item, CheckError> {
    if p.hooks == HookStyle::None {
        return Ok(Item {
            status: "hooks",
            ok: true,
            detail: "not wired (hooks = \"none\"): the screen decides".into(),
            ms: None,
        });
    }
    let mut calls: Vec<HookEvent> = hook_rows::for_run(store.conn(), a.id)?
        .iter()
        .map(|h| h.event)
        .collect();
    if let Some(b) = b {
        calls.extend(
            hook_rows::for_run(store.conn(), b.id)?
                .iter()
                .map(|h| h.event),
        );
    }
    let mut names: Vec<&str> = calls.iter().map(|e| e.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let ok = calls.contains(&HookEvent::UserPromptSubmit) && calls.contains(&HookEvent::Stop);
    Ok(Item {
        status: "hooks",
        ok,
        detail: if names.is_empty() {
            "no hook call arrived: the CLI's hooks are broken or ignored (its turns fall back to \
             the screen after hook_grace)"
                .into()
        } else if ok {
            format!("received {}", names.join(", "))
        } else {
            format!(
                "only {} arrived (a prompt and a Stop hook are needed)",
                names.join(", ")
            )
        },
        ms: None,
    })
}
