//! `[notify]`: telling the operator when they are needed — a desktop notification, a
//! terminal notification from the console, and a command run with the event as JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A task awaits the operator's approval.
    Approval,
    /// A task's agent asked questions only the operator can answer.
    NeedsInput,
    /// A task is blocked.
    Blocked,
    /// An agent has waited for an answer longer than `waiting_after`.
    Waiting,
    /// A task is done.
    Done,
    /// A job failed for good.
    Failed,
    /// A budget is nearly used (`[budget] warn_at`) or used up.
    Budget,
    /// A provider reported a usage limit and is parked until it resets.
    Limit,
}

impl NoticeKind {
    /// Every kind.
    pub const ALL: [NoticeKind; 8] = [
        NoticeKind::Approval,
        NoticeKind::NeedsInput,
        NoticeKind::Blocked,
        NoticeKind::Waiting,
        NoticeKind::Done,
        NoticeKind::Failed,
        NoticeKind::Budget,
        NoticeKind::Limit,
    ];

    /// The snake_case name (as in the config and the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Approval => "approval",
            NoticeKind::NeedsInput => "needs_input",
            NoticeKind::Blocked => "blocked",
            NoticeKind::Waiting => "waiting",
            NoticeKind::Done => "done",
            NoticeKind::Failed => "failed",
            NoticeKind::Budget => "budget",
            NoticeKind::Limit => "limit",
        }
    }
}

/// How the console tells a terminal that a task needs the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminalNotice {
    /// The bell (BEL): most terminals flash, beep or mark the tab.
    Bell,
    /// OSC 9 (`ESC ] 9 ; text BEL`): a desktop notification from iTerm2, WezTerm, kitty, foot,
    /// Windows Terminal.
    Osc9,
    /// OSC 777 (`ESC ] 777 ; notify ; title ; text BEL`): urxvt, Ghostty, some VTE terminals.
    Osc777,
    /// Nothing.
    Off,
}

/// The resolved `[notify]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    /// Desktop notifications (freedesktop, through the session's notification daemon);
    /// skipped silently where none runs.
    pub desktop: bool,
    /// The console's terminal notification.
    pub terminal: TerminalNotice,
    /// A command run for each notification with the event as one JSON object on stdin
    /// (empty: none); for Slack, ntfy, Telegram. Killed after 10 s.
    pub command: Vec<String>,
    /// How long an agent must wait for an answer before it is worth a notification.
    pub waiting_after: Duration,
    /// The kinds that notify.
    pub kinds: Vec<NoticeKind>,
    /// At most one notification per task and kind within this window.
    pub min_interval: Duration,
}

impl Default for NotifyConfig {
    fn default() -> NotifyConfig {
        NotifyConfig {
            desktop: true,
            terminal: TerminalNotice::Bell,
            command: Vec::new(),
            waiting_after: Duration::from_secs(60),
            kinds: NoticeKind::ALL.to_vec(),
            min_interval: Duration::from_secs(300),
        }
    }
}

/// `[notify]` as written: every key optional, later layers override earlier ones key by key.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    desktop: Option<bool>,
    terminal: Option<TerminalNotice>,
    command: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::de_duration")]
    waiting_after: Option<Duration>,
    kinds: Option<Vec<NoticeKind>>,
    #[serde(default, deserialize_with = "super::de_duration")]
    min_interval: Option<Duration>,
}

/// Lays the `[notify]` sections of the layers (oldest first) over the defaults.
pub(super) fn resolve<'a>(layers: impl Iterator<Item = &'a RawNotify>) -> NotifyConfig {
    let mut n = NotifyConfig::default();
    for raw in layers {
        if let Some(v) = raw.desktop {
            n.desktop = v;
        }
        if let Some(v) = raw.terminal {
            n.terminal = v;
        }
        if let Some(v) = &raw.command {
            n.command = v.clone();
        }
        if let Some(v) = raw.waiting_after {
            n.waiting_after = v;
        }
        if let Some(v) = &raw.kinds {
            n.kinds = v.clone();
        }
        if let Some(v) = raw.min_interval {
            n.min_interval = v;
        }
    }
    n
}
