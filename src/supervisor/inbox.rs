//! Delivering messages to agents: when a run's turn ends and its task has messages for it,
//! the next turn is the messages (up to `supervisor.message_batch`), pasted with the same
//! byte-exact paste and submit-verify as the prompt; the run completes only once a turn ends
//! with nothing left to deliver. Delivery hangs off the run's status truth (hooks, then the
//! screen): a message never interrupts a turn.
//!
//! Each step is recorded before the next action (see [`crate::store::messages`]): claimed →
//! pasted → submitted (delivered) → acknowledged when that turn ends. A restart resumes from the
//! last record ([`Supervisor::resume_delivery`]): a claim never pasted goes back to the queue,
//! a paste never submitted is submitted. The one window left is a crash between the paste and
//! its record (one SQLite write), the same as for the prompt: that message is delivered again.

use super::{Result, Supervisor};
use crate::store::events::{self, About, EventKind};
use crate::store::{jobs, messages, now_ms};

impl Supervisor {
    /// At the end of run `id`'s turn: acknowledges the messages that turn answered, then
    /// claims the next messages for it, if any: their ids and the text that makes the next
    /// turn (pasted by the `tmux` lane), or `None` when there is nothing to deliver (the run
    /// is complete).
    pub(super) fn deliver(&mut self, id: i64) -> Result<Option<(Vec<i64>, String)>> {
        let Some(run) = self.runs.get(&id) else {
            return Ok(None);
        };
        let job = jobs::get(self.store.conn(), run.job_id)?;
        if !messages::any_at_turn_end(self.store.conn(), id, job.task_id, &job.role)? {
            return Ok(None);
        }
        let batch = self.cfg.supervisor.message_batch as usize;
        let when = now_ms();
        let claimed = self.store.write(|tx| {
            messages::acked(tx, id, when)?;
            let mut claimed = Vec::new();
            for m in messages::pending_for(tx, job.task_id, &job.role, batch)? {
                if messages::claim(tx, m.id, id, when)? {
                    claimed.push(m);
                }
            }
            Ok::<_, crate::store::StoreError>(claimed)
        })?;
        if claimed.is_empty() {
            return Ok(None);
        }
        crate::crash::point("message_claim");
        let text = claimed
            .iter()
            .map(messages::Message::delivery_text)
            .collect::<Vec<_>>()
            .join("\n\n");
        Ok(Some((claimed.iter().map(|m| m.id).collect(), text)))
    }

    /// After the `tmux` lane pasted messages `ids` into run `id`'s pane: records them pasted,
    /// with an event.
    pub(super) fn pasted(&mut self, id: i64, ids: &[i64]) -> Result<()> {
        let Some(run) = self.runs.get(&id) else {
            return Ok(());
        };
        let job = jobs::get(self.store.conn(), run.job_id)?;
        let (task_id, key) = (job.task_id, run.task_key.clone());
        let when = now_ms();
        self.store.write(|tx| {
            for m in ids {
                messages::pasted(tx, *m, when)?;
            }
            events::record(
                tx,
                EventKind::MessageDelivered,
                About::task(task_id).run(id),
                "supervisor",
                format!(
                    "{key}: message{} {} handed to its agent",
                    if ids.len() == 1 { "" } else { "s" },
                    ids.iter()
                        .map(|m| format!("#{m}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                when,
            )?;
            Ok::<_, crate::store::StoreError>(())
        })?;
        crate::crash::point("message_paste");
        Ok(())
    }

    /// After the submit keys of a message turn: records messages `ids` delivered.
    pub(super) fn delivered(&mut self, ids: &[i64]) -> Result<()> {
        let when = now_ms();
        self.store.write(|tx| {
            for m in ids {
                messages::delivered(tx, *m, when)?;
            }
            Ok::<_, crate::store::StoreError>(())
        })?;
        crate::crash::point("message_submit");
        Ok(())
    }

    /// On re-adopting run `id`: its messages resume from their last record. Claimed but not
    /// pasted: back to the queue. Pasted but not submitted: submitted now (returns their ids,
    /// for the run's phase). Delivered: the turn they started is the run's turn.
    pub(super) fn resume_delivery(&mut self, id: i64) -> Result<Vec<i64>> {
        let open = messages::open_for_run(self.store.conn(), id)?;
        let mut submit = Vec::new();
        self.store.write(|tx| {
            for m in &open {
                match (m.pasted_at, m.delivered_at) {
                    (None, _) => {
                        messages::unclaim(tx, m.id)?;
                    }
                    (Some(_), None) => submit.push(m.id),
                    _ => {}
                }
            }
            Ok::<_, crate::store::StoreError>(())
        })?;
        if !submit.is_empty() {
            tracing::info!(run = id, messages = ?submit, "re-adopted between a message's paste and submit; submitting");
        }
        Ok(submit)
    }

    /// Messages claimed by runs that have ended: unpasted ones go back to the queue (the
    /// task's next run takes them); pasted ones count as delivered (their run may have shown
    /// them to its agent before it ended, and a message is never shown twice).
    pub(super) fn release_ended_claims(&self) -> Result<()> {
        let when = now_ms();
        self.store.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE messages SET run_id = NULL, claimed_at = NULL
                     WHERE pasted_at IS NULL AND run_id IN
                       (SELECT id FROM runs WHERE ended_at IS NOT NULL)",
                )?
                .execute([])?;
            let m = tx
                .prepare_cached(
                    "UPDATE messages SET delivered_at = ?1
                     WHERE pasted_at IS NOT NULL AND delivered_at IS NULL AND run_id IN
                       (SELECT id FROM runs WHERE ended_at IS NOT NULL)",
                )?
                .execute([when])?;
            if n + m > 0 {
                tracing::info!(
                    released = n,
                    settled = m,
                    "messages of ended runs reconciled"
                );
            }
            Ok::<_, crate::store::StoreError>(())
        })?;
        Ok(())
    }
}
