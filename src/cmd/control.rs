//! `bosun answer`, `bosun send` and `bosun inbox`: talk to a task's agent without attaching,
//! now or when its turn ends.

use super::out::outln;
use anyhow::{Result, bail};

use super::Ctx;
use super::decide::with_decider;
use crate::control;
use crate::store::{messages, now_ms, tasks};

pub(super) fn answer(ctx: &Ctx, key: &str, reply: &str, wait: std::time::Duration) -> Result<()> {
    let yes = match reply.to_ascii_lowercase().as_str() {
        "yes" | "y" => true,
        "no" | "n" => false,
        other => bail!("answer `yes` or `no`, not `{other}`"),
    };
    let timing = control::AnswerTiming {
        wait,
        ..control::AnswerTiming::default()
    };
    with_decider(ctx, |d| d.answer(key, yes, timing))?;
    outln!("{key}: answered {}", if yes { "yes" } else { "no" });
    Ok(())
}

pub(super) fn send(ctx: &Ctx, key: &str, text: &str) -> Result<()> {
    with_decider(ctx, |d| d.send(key, text))?;
    outln!("{key}: sent");
    Ok(())
}

/// `bosun send KEY TEXT --when-idle [--role R]`: a message in the task's inbox.
pub(super) fn queue_message(ctx: &Ctx, key: &str, role: Option<&str>, text: &str) -> Result<()> {
    let id = with_decider(ctx, |d| d.message(key, role, text))?;
    outln!(
        "{key}: message #{id} queued; {} gets it when its turn ends",
        role.map_or("its agent".to_string(), |r| format!("its {r}"))
    );
    Ok(())
}

/// `bosun inbox [KEY] [--json]`.
pub(super) fn inbox(ctx: &Ctx, key: Option<&str>, json: bool) -> Result<()> {
    let store = ctx.store()?;
    // The messages and the task keys they name, as of one moment.
    let (list, tasks) = store.read(|c| -> Result<_> {
        let task_id = key.map(|k| tasks::by_key(c, k).map(|t| t.id)).transpose()?;
        Ok((messages::list(c, task_id, 500)?, tasks::list(c)?))
    })?;
    if json {
        return super::print_json(&list);
    }
    let keys: std::collections::HashMap<i64, String> =
        tasks.into_iter().map(|t| (t.id, t.key)).collect();
    if list.is_empty() {
        outln!("no messages");
        return Ok(());
    }
    let now = now_ms();
    for m in &list {
        let first = m.body.lines().next().unwrap_or("");
        outln!(
            "#{:<5} {:<9} {:<10} {:<9} {:>9}  {}{}",
            m.id,
            keys.get(&m.task_id).map_or("?", String::as_str),
            m.sender,
            m.state(),
            super::ago(m.created_at, now),
            first,
            if m.body.lines().count() > 1 {
                " …"
            } else {
                ""
            }
        );
    }
    Ok(())
}
