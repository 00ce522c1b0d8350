//! `bosun answer`, `bosun send` and `bosun inbox`: talk to a task's agent without attaching,
//! now or when its turn ends.

use super::out::outln;
use anyhow::{Result, bail};

use super::Ctx;
use crate::store::{messages, now_ms, tasks};
use crate::supervisor::control;

pub(super) fn answer(ctx: &Ctx, key: &str, reply: &str, wait: std::time::Duration) -> Result<()> {
    let yes = match reply.to_ascii_lowercase().as_str() {
        "yes" | "y" => true,
        "no" | "n" => false,
        other => bail!("answer `yes` or `no`, not `{other}`"),
    };
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    let timing = control::AnswerTiming {
        wait,
        ..control::AnswerTiming::default()
    };
    control::answer_with(&cfg, &ctx.data_dir(), &store, key, yes, "cli", timing)?;
    outln!("{key}: answered {}", if yes { "yes" } else { "no" });
    Ok(())
}

pub(super) fn send(ctx: &Ctx, key: &str, text: &str) -> Result<()> {
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    control::send_text(&cfg, &ctx.data_dir(), &store, key, text)?;
    outln!("{key}: sent");
    Ok(())
}

/// `bosun send KEY TEXT --when-idle [--role R]`: a message in the task's inbox.
pub(super) fn queue_message(ctx: &Ctx, key: &str, role: Option<&str>, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        bail!("the message is empty");
    }
    let cfg = ctx.config()?;
    if let Some(r) = role
        && !cfg.roles.contains_key(r)
    {
        let names: Vec<&str> = cfg.roles.keys().map(String::as_str).collect();
        bail!("no role `{r}` in the config; roles: {}", names.join(", "));
    }
    let store = ctx.store()?;
    let id = control::queue_message(&store, key, role, text, "cli")?;
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
