//! Telling the operator when they are needed (`[notify]`): the supervisor turns events into
//! [`Notice`]s — a task awaiting approval, needing input, blocked, done, a job failed for good,
//! an agent waiting for an answer longer than `waiting_after` — and sends each as a desktop
//! notification and to the configured command (the event as JSON on stdin). The console rings
//! the terminal itself (`tui`). This module owns both external things.
//!
//! Exactly once per cause: each is recorded in `notifications` (unique cause) in the same
//! transaction that moves the notifier's cursor over the event log, before anything is sent,
//! so a restarted supervisor never repeats one (a crash between the record and the send loses
//! that notification: a missed ping is better than a storm). At most one notification per
//! task and kind within `min_interval`; the others are recorded as held back.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::notify::{NoticeKind, NotifyConfig};
use crate::store::events::{self, Event, EventKind};
use crate::store::{Store, StoreError, notifications, now_ms, runs, tasks};

/// How long the notify command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the supervisor looks for something to notify.
pub const EVERY: Duration = Duration::from_secs(1);

/// One notification, as the command receives it (one JSON object on stdin).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// What it is about.
    pub kind: &'static str,
    /// The task's key, when it is about a task.
    pub task: Option<String>,
    /// The task's title.
    pub title: Option<String>,
    /// The task's stage.
    pub stage: Option<String>,
    /// A sentence for a person.
    pub message: String,
    /// When it happened, ms since the epoch.
    pub at: i64,
    /// For `done` and `failed`: the tokens the task's runs used so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::store::usage::Usage>,
    /// For `done` and `failed`: what they cost, priced as `bosun usage` prices them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::config::prices::Cost>,
}

/// The kind of notice an event is, if any.
pub fn kind_of(e: &Event) -> Option<NoticeKind> {
    Some(match e.kind {
        EventKind::ApprovalRequested => NoticeKind::Approval,
        EventKind::NeedsInput => NoticeKind::NeedsInput,
        EventKind::Blocked => NoticeKind::Blocked,
        EventKind::TaskDone => NoticeKind::Done,
        EventKind::JobFailed => NoticeKind::Failed,
        EventKind::BudgetWarning | EventKind::BudgetStopped => NoticeKind::Budget,
        EventKind::ProviderParked => NoticeKind::Limit,
        _ => return None,
    })
}

/// The supervisor's notifier.
pub struct Notifier {
    cfg: NotifyConfig,
    next: Instant,
    /// Prices the cost `done` and `failed` notices carry.
    prices: crate::config::prices::PriceConfig,
}

impl Notifier {
    /// A notifier with `cfg`; `BOSUN_NOTIFY_DESKTOP=0` in the environment turns desktop
    /// notifications off (set for `cargo test` and `cargo run` in `.cargo/config.toml`).
    pub fn new(mut cfg: NotifyConfig) -> Notifier {
        if std::env::var("BOSUN_NOTIFY_DESKTOP").is_ok_and(|v| v == "0") {
            cfg.desktop = false;
        }
        Notifier {
            cfg,
            next: Instant::now(),
            prices: crate::config::prices::PriceConfig::default(),
        }
    }

    /// The same, pricing the cost of `done` and `failed` notices with `prices`.
    #[must_use]
    pub fn with_prices(mut self, prices: crate::config::prices::PriceConfig) -> Notifier {
        self.prices = prices;
        self
    }

    /// Every [`EVERY`]: records and sends what happened since the last look. The first look
    /// on a database starts at its newest event (history is not news).
    ///
    /// # Errors
    /// [`StoreError`] when the database cannot be read or written.
    pub fn tick(&mut self, store: &Store, now: Instant) -> Result<Vec<Notice>, StoreError> {
        if now < self.next || !self.enabled() {
            return Ok(Vec::new());
        }
        self.next = now + EVERY;
        let notices = self.collect(store)?;
        for n in &notices {
            self.send(n);
        }
        Ok(notices)
    }

    /// When the notifier next wants to look; `None` when it sends nothing (no desktop
    /// notifications, no command), so that it never wakes the supervisor. (It returned its
    /// stale time instead, and a supervisor without notifications ticked every 25 ms at rest:
    /// 0.38 % of a core with no agents, `cargo bench --bench supervisor -- 0`.)
    pub fn next_due(&self) -> Option<Instant> {
        self.enabled().then_some(self.next)
    }

    /// True when there is somewhere to send notifications.
    fn enabled(&self) -> bool {
        self.cfg.desktop || !self.cfg.command.is_empty()
    }

    /// Records what to notify (moving the cursor in the same transaction); returns the
    /// notices to send. Reads first: with no new event and no agent waiting, no transaction.
    fn collect(&self, store: &Store) -> Result<Vec<Notice>, StoreError> {
        let at = now_ms();
        let waiting_ms = i64::try_from(self.cfg.waiting_after.as_millis()).unwrap_or(i64::MAX);
        let c = store.conn();
        if notifications::cursor(c)?.is_some_and(|cur| cur >= events::last_id(c).unwrap_or(0))
            && runs::waiting_since(c, at - waiting_ms)?.is_empty()
        {
            return Ok(Vec::new());
        }
        let interval_ms = i64::try_from(self.cfg.min_interval.as_millis()).unwrap_or(i64::MAX);
        store.write(|tx| {
            let cursor = match notifications::cursor(tx)? {
                Some(c) => c,
                None => {
                    notifications::set_cursor(tx, events::last_id(tx)?)?;
                    return Ok(Vec::new());
                }
            };
            let mut candidates: Vec<(String, Option<i64>, NoticeKind, String, i64)> = Vec::new();
            let new = events::after(tx, cursor)?;
            if let Some(last) = new.last() {
                notifications::set_cursor(tx, last.id)?;
            }
            for e in &new {
                if let Some(kind) = kind_of(e) {
                    candidates.push((
                        format!("event:{}", e.id),
                        e.task_id,
                        kind,
                        e.message.clone(),
                        e.ts,
                    ));
                }
            }
            for (run, task_id, since) in runs::waiting_since(tx, at - waiting_ms)? {
                candidates.push((
                    format!("waiting:run:{run}:{since}"),
                    Some(task_id),
                    NoticeKind::Waiting,
                    format!(
                        "its agent has waited for an answer since {}",
                        ago(at - since)
                    ),
                    since,
                ));
            }
            let mut out = Vec::new();
            for (cause, task_id, kind, message, ts) in candidates {
                let wanted = self.cfg.kinds.contains(&kind);
                let recent = notifications::last_sent(tx, task_id, kind.as_str())?
                    .is_some_and(|t| at - t < interval_ms);
                let send = wanted && !recent;
                if !notifications::record(tx, &cause, task_id, kind.as_str(), send, at)? || !send {
                    continue;
                }
                let task = task_id.map(|id| tasks::get(tx, id)).transpose()?;
                let message = match &task {
                    Some(t) if !message.starts_with(&t.key) => format!("{}: {message}", t.key),
                    _ => message,
                };
                let (usage, cost) = match (kind, &task) {
                    (NoticeKind::Done | NoticeKind::Failed, Some(t)) => {
                        let mut cost: Option<crate::config::prices::Cost> = None;
                        for (provider, model, u) in crate::store::usage::parts_of_task(tx, t.id)? {
                            let c = self.prices.cost(&provider, model.as_deref(), &u);
                            cost = Some(match cost {
                                Some(sum) => sum.plus(c),
                                None => c,
                            });
                        }
                        (Some(crate::store::usage::for_task(tx, t.id)?), cost)
                    }
                    _ => (None, None),
                };
                out.push(Notice {
                    usage,
                    cost,
                    kind: kind.as_str(),
                    task: task.as_ref().map(|t| t.key.clone()),
                    title: task.as_ref().map(|t| t.title.clone()),
                    stage: task.as_ref().map(|t| t.stage.clone()),
                    message,
                    at: ts,
                });
            }
            Ok(out)
        })
    }

    /// Sends one notice, on threads of its own (a desktop daemon or a command may be slow).
    fn send(&self, n: &Notice) {
        if self.cfg.desktop {
            let (summary, body) = (
                format!("bosun: {}", summary(n)),
                crate::tui::sanitize::plain(&n.message),
            );
            std::thread::spawn(move || {
                if let Err(e) = notify_rust::Notification::new()
                    .appname("bosun")
                    .summary(&summary)
                    .body(&body)
                    .show()
                {
                    tracing::debug!(error = %e, "no desktop notification (no notification daemon?)");
                }
            });
        }
        if let Some((program, args)) = self.cfg.command.split_first() {
            let (program, args) = (program.clone(), args.to_vec());
            let json = serde_json::to_string(n).unwrap_or_default();
            std::thread::spawn(move || run_command(&program, &args, &json));
        }
    }
}

/// "ET-001 awaits approval" and the like.
fn summary(n: &Notice) -> String {
    let what = match n.kind {
        "approval" => "awaits your approval",
        "needs_input" => "needs your answers",
        "blocked" => "is blocked",
        "waiting" => "waits for an answer",
        "done" => "is done",
        "budget" => "is near or past a budget",
        _ => "failed for good",
    };
    format!("{} {what}", n.task.as_deref().unwrap_or("a job"))
}

fn ago(ms: i64) -> String {
    humantime::format_duration(Duration::from_secs(u64::try_from(ms / 1000).unwrap_or(0)))
        .to_string()
        + " ago"
}

/// Runs the notify command with `json` on stdin; kills it after [`COMMAND_TIMEOUT`].
fn run_command(program: &str, args: &[String], json: &str) {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(program, error = %e, "cannot run the notify command");
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(json.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return,
            Ok(Some(status)) => {
                tracing::warn!(program, %status, "the notify command failed");
                return;
            }
            Ok(None) if Instant::now() >= deadline => {
                tracing::warn!(program, "the notify command took over 10 s; killed");
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                tracing::warn!(program, error = %e, "cannot wait for the notify command");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notifier_with_nowhere_to_send_never_asks_to_wake_the_supervisor() {
        let off = NotifyConfig {
            desktop: false,
            command: Vec::new(),
            ..NotifyConfig::default()
        };
        assert_eq!(Notifier::new(off).next_due(), None);
        let command = NotifyConfig {
            desktop: false,
            command: vec!["true".into()],
            ..NotifyConfig::default()
        };
        assert!(Notifier::new(command).next_due().is_some());
    }
}
