//! `bosun doctor [--json]`: prints the findings of [`crate::diagnostics::doctor`], each with
//! its fix; exits 1 when something blocks work.

use anyhow::Result;

use super::out::outln;
use super::{Ctx, print_json};
use crate::diagnostics::doctor::{Level, Setup, findings};

pub(super) fn run(ctx: &Ctx, json: bool) -> Result<()> {
    let (db, data_dir) = (ctx.db_path(), ctx.data_dir());
    let all = findings(&Setup {
        db: &db,
        data_dir: &data_dir,
        config_file: ctx.config.as_deref(),
        load_config: &|| ctx.config(),
    });
    let blocked = all.iter().any(|f| f.level == Level::Fail);
    if json {
        print_json(&all)?;
    } else {
        for f in &all {
            let tag = match f.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            outln!("{tag}  {:<18} {}", f.check, f.detail);
            if let Some(fix) = &f.fix {
                outln!("      {:<18} fix: {fix}", "");
            }
        }
        if blocked {
            outln!("\nsomething blocks work: see the FAIL lines");
        }
    }
    if blocked {
        std::process::exit(1);
    }
    Ok(())
}
