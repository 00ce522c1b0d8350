//! Status back on the issues of one intake source (`[[intake]] report = true`): for each of
//! its tasks whose state changed since it was last reported, bosun's one comment is written
//! (or edited in place) and the `bosun:*` label set. A failure is recorded on the issue's
//! ledger entry and tried again after 5 s doubling to 5 min; it never holds up anything else.

use std::path::Path;

use crate::config::Config;
use crate::config::intake::IntakeSource;
use crate::forge::tracker::Tracker;
use crate::intake::report::{self, Facts, LABELS};
use crate::store::{Store, StoreError, intake, landings, now_ms, tasks};

/// Reports what changed on `source`'s issues.
///
/// # Errors
/// Store failures.
pub(super) fn report(
    cfg: &Config,
    store: &Store,
    source: &IntakeSource,
    tracker: &Tracker,
) -> Result<(), StoreError> {
    let now = now_ms();
    for entry in intake::issues_of(store.conn(), &source.name)? {
        if entry.report_after > now {
            continue;
        }
        let task = tasks::get(store.conn(), entry.task_id)?;
        // Nothing new to say: no artifact read, no landing looked up (a pass runs after
        // every write).
        if entry.reported.as_deref() == Some(report::key(task.state, &task.stage).as_str()) {
            continue;
        }
        let landing = landings::latest_for(store.conn(), task.id)?.map(|l| l.describe());
        let artifact = artifact(cfg, &task);
        let facts = Facts {
            key: &task.key,
            stage: &task.stage,
            state: Some(task.state),
            reason: task.state_reason.as_deref(),
            artifact: artifact.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
            landing: landing.as_deref(),
        };
        let status = report::status(&facts);
        match send(tracker, &entry, &status) {
            Ok(comment) => store.write(|tx| {
                intake::reported(tx, entry.id, &status.key, comment.as_deref(), now_ms())
            })?,
            Err(e) => {
                let shift = u32::try_from(entry.report_attempts.clamp(0, 6)).unwrap_or(0);
                let after = now_ms() + (5_000_i64 << shift).min(300_000);
                tracing::warn!(source = %source.name, issue = entry.number, error = %e, "report failed; tried again later");
                let e = crate::text::plain(&e.to_string());
                store.write(|tx| intake::report_failed(tx, entry.id, &e, after, now_ms()))?;
            }
        }
    }
    Ok(())
}

/// Writes `status` on the issue: the comment (a new one only when there is something worth
/// one), then the label. The new comment's id.
fn send(
    tracker: &Tracker,
    entry: &intake::Issue,
    status: &report::Status,
) -> Result<Option<String>, crate::forge::ForgeError> {
    let mut made = None;
    match (&entry.comment_id, &status.comment) {
        (Some(id), text) => {
            tracker.edit_comment(
                entry.issue_ref(),
                id,
                text.as_deref().unwrap_or(&status.line),
            )?;
        }
        (None, Some(text)) => made = Some(tracker.comment(entry.issue_ref(), text)?),
        (None, None) => {}
    }
    let add: Vec<&str> = status.label.into_iter().collect();
    let remove: Vec<&str> = LABELS
        .iter()
        .copied()
        .filter(|l| Some(*l) != status.label)
        .collect();
    tracker.labels(entry.issue_ref(), &add, &remove)?;
    Ok(made)
}

/// For a task awaiting approval: its stage's first artifact that exists, and its first
/// bytes.
fn artifact(cfg: &Config, task: &tasks::Task) -> Option<(String, String)> {
    if task.state != crate::status::TaskState::AwaitingApproval {
        return None;
    }
    let stage = cfg.stages.iter().find(|s| s.name == task.stage)?;
    let root = Path::new(task.worktree.as_deref()?);
    crate::supervisor::prompt::artifacts(stage, &task.key)
        .into_iter()
        .find_map(|p| {
            let c = crate::untrusted::read(root, &p, report::QUOTE_MAX).ok()?;
            Some((p, c.text))
        })
}
