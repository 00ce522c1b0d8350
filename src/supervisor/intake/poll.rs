//! A poll of one intake source: its open issues with the source's labels (conditionally),
//! each taken as it stands — a new one becomes a task, at most `max_new` per poll — and the
//! issues of its live tasks that are no longer in that list read one by one (closed or
//! unlabelled); then the comments of its live tasks' issues, newer than the last one taken,
//! are taken as commands.

use std::collections::HashSet;

use crate::config::intake::IntakeSource;
use crate::forge::ForgeError;
use crate::forge::tracker::{Listed, Tracker};
use crate::intake::apply::{Applied, Intake, matches};
use crate::store::{Store, StoreError, intake, now_ms, tasks};

use super::Replies;

/// Polls `source` with `tracker`; what the poll ran into is recorded on the source.
///
/// # Errors
/// Store failures.
pub(super) fn poll(
    intake: &Intake<'_>,
    source: &IntakeSource,
    tracker: &Tracker,
    replies: &mut Replies,
) -> Result<(), StoreError> {
    let store = intake.store;
    let status = intake::status(store.conn(), &source.name)?;
    let (listed, limit) = match tracker.list_open(&source.labels, status.etag.as_deref()) {
        Ok(r) => r,
        Err(e) => return failed(store, source, &e),
    };
    let mut etag_to_keep = None;
    let mut open_now: Option<HashSet<i64>> = None;
    if let Listed::Changed { issues, etag } = listed {
        let mut created = 0;
        let mut more = false;
        for issue in &issues {
            let known = intake::issue(store.conn(), &source.name, &source.repo, issue.number)?;
            if known.is_none() && matches(source, issue) && created >= source.max_new {
                more = true;
                continue;
            }
            match intake.issue(source, issue) {
                Ok(Applied::Created(key)) => {
                    created += 1;
                    tracing::info!(source = %source.name, issue = issue.number, %key, "task created by poll");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(source = %source.name, issue = issue.number, error = %e, "issue not taken")
                }
            }
        }
        // A capped first poll of a backlog reads the list again next time.
        etag_to_keep = if more { None } else { etag };
        open_now = Some(issues.iter().map(|i| i.number).collect());
    }
    for entry in intake::issues_of(store.conn(), &source.name)? {
        let task = tasks::get(store.conn(), entry.task_id)?;
        let listed_open = open_now.as_ref().is_some_and(|o| o.contains(&entry.number));
        // Gone from the open list: closed, or its label taken off. Read it.
        if open_now.is_some() && !listed_open && !task.state.finished() {
            match tracker.issue(entry.issue_ref()) {
                Ok(issue) => {
                    if let Err(e) = intake.issue(source, &issue) {
                        tracing::warn!(source = %source.name, issue = entry.number, error = %e, "issue not taken");
                    }
                }
                Err(e) => return failed(store, source, &e),
            }
        }
        if tasks::get(store.conn(), entry.task_id)?.state.finished() {
            continue;
        }
        let comments = match tracker.comments(entry.issue_ref()) {
            Ok(c) => c,
            Err(e) => return failed(store, source, &e),
        };
        let seen: i64 = entry
            .seen_comment
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        for c in comments {
            let at = crate::intake::apply::order(&c.comment).unwrap_or(0);
            if at <= seen || c.created_at < entry.created_at {
                continue;
            }
            let issue = crate::intake::events::TrackerIssue::known(
                entry.number,
                entry.issue_id.clone(),
                entry.url.clone(),
            );
            let mut comment = c.comment.clone();
            comment.created_at = Some(crate::intake::apply::written_by(c.created_at));
            match intake.comment(source, &issue, &comment) {
                Ok(Applied::Lost(who)) => replies.push((
                    source.name.clone(),
                    entry.number,
                    format!(
                        "`{}` by {} was not applied: {who}",
                        crate::text::plain(c.comment.body.lines().next().unwrap_or("")),
                        crate::text::plain(&c.comment.user)
                    ),
                )),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(source = %source.name, issue = entry.number, error = %e, "comment not taken")
                }
            }
        }
    }
    store.write(|tx| intake::polled(tx, &source.name, etag_to_keep.as_deref(), limit, now_ms()))
}

fn failed(store: &Store, source: &IntakeSource, e: &ForgeError) -> Result<(), StoreError> {
    tracing::warn!(source = %source.name, error = %e, "poll failed; tried again after its backoff");
    let error = crate::text::plain(&e.to_string());
    let until = e.limited_until();
    store.write(|tx| intake::poll_failed(tx, &source.name, &error, until, now_ms()))
}
