//! `bosun answer` and `bosun send`: talk to a task's running agent without attaching.

use super::out::outln;
use anyhow::{Result, bail};

use super::Ctx;
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
