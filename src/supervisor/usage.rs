//! Recording what a run used (issue 22): its CLI's session record (the `transcript_path` its
//! hooks named, kept with the run) and, for Claude Code, its subagents' records beside it
//! ([`crate::provider::subagents`]), each read from where the last reading stopped, through
//! [`RunReader`], and the totals stored with the new offsets and reader state — so reading
//! the records again after a restart costs what is new since. Each reading also checks the
//! task's budgets: a `budget_warning` at `[budget] warn_at` and at 100 %, and with
//! `[budget] hard` a run whose task is past one is stopped (`stop`).

use std::path::Path;

use crate::config::Config;
use crate::config::budget::BudgetRules;
use crate::provider::subagents::{self, RECORDS_MAX, RunReader};
use crate::provider::transcript::TranscriptFormat;
use crate::provider::usage::UsageReader;
use crate::status::{JobStatus, RunStatus};
use crate::store::budgets::{self, Amount, Scope, Standing};
use crate::store::events::{self, About, EventKind};
use crate::store::usage::{self, Reading};
use crate::store::{Store, StoreError, now_ms, runs};

/// Bytes read from a record at one go.
const CHUNK: usize = 4 << 20;

/// Entries of a subagents' directory looked at, at most (each subagent has its record and a
/// `.meta.json` there).
const LIST_MAX: usize = 4 * RECORDS_MAX;

/// Reads run `run_id`'s session record (and its subagents') on from the saved offsets and
/// records its usage, then warns about its task's budgets and, under `[budget] hard`, stops
/// the run when its task is past one; nothing when the run's CLI names no record (aider,
/// agent-sim without `tokens` steps). A record that cannot be read is logged and left for
/// the next reading.
///
/// # Errors
/// Store failures.
pub fn record(cfg: &Config, store: &Store, run_id: i64) -> Result<(), StoreError> {
    let run = runs::get(store.conn(), run_id)?;
    let Some(path) = runs::transcript(store.conn(), run_id)? else {
        return Ok(());
    };
    let Some(format) = cfg
        .providers
        .get(&run.provider)
        .and_then(|p| TranscriptFormat::for_hooks(p.hooks))
    else {
        return Ok(());
    };
    let saved = usage::reading(store.conn(), run_id)?;
    let (mut offset, mut reader) = match saved {
        Some(Reading {
            record: Some(r),
            offset,
            reader: Some(state),
        }) if r == path => (offset, RunReader::load(&state)),
        _ => (0, RunReader::default()),
    };
    let record = Path::new(&path);
    loop {
        match read_on(record, offset, |b| reader.main.feed(format, b)) {
            Ok(Some(end)) => {
                offset = end;
                break;
            }
            Ok(None) => {
                // Truncated or replaced: read it again from the start.
                offset = 0;
                reader.main = UsageReader::default();
            }
            Err(e) => {
                tracing::warn!(run = run_id, error = %e, "cannot read the run's session record for its usage");
                return Ok(());
            }
        }
    }
    if format == TranscriptFormat::Claude {
        read_subagents(run_id, record, &mut reader);
    }
    let u = reader.usage();
    let model = reader.model().map(str::to_string);
    let at = Reading {
        record: Some(path),
        offset,
        reader: reader.save(),
    };
    store.write(|tx| {
        usage::record(
            tx,
            run_id,
            &run.provider,
            model.as_deref(),
            &u,
            &at,
            now_ms(),
        )?;
        let now = now_ms();
        let rules = BudgetRules::of(cfg);
        let standing = budgets::standing(tx, &rules, run.task_id, budgets::day_start(now))?;
        if standing.is_empty() {
            return Ok(());
        }
        let key = crate::store::tasks::get(tx, run.task_id)?.key;
        warn(tx, &key, run.task_id, cfg.budget.warn_at, &standing, now)?;
        if cfg.budget.hard
            && let Some(over) = standing.into_iter().find(Standing::is_over)
        {
            stop(tx, cfg, run_id, &key, over, now)?;
        }
        Ok(())
    })
}

/// Records a `budget_warning` event, once per budget and level, when task `task_id`'s runs
/// have used `warn_at` (a fraction) of a budget that applies to it, or all of it.
fn warn(
    conn: &rusqlite::Connection,
    key: &str,
    task_id: i64,
    warn_at: f64,
    standing: &[Standing],
    now: i64,
) -> Result<(), StoreError> {
    let said: Vec<String> = events::recent(conn, Some(task_id), 500)?
        .into_iter()
        .filter(|e| e.kind == EventKind::BudgetWarning)
        .map(|e| e.message)
        .collect();
    for s in standing {
        let share = s.used.value() / s.allowed.value().max(f64::MIN_POSITIVE);
        let level = if s.is_over() {
            "used up"
        } else if share >= warn_at {
            "nearly used"
        } else {
            continue;
        };
        let whose = match s.scope {
            Scope::Task => "its task",
            Scope::Project => "its project's",
            Scope::Day => "today's",
        };
        let head = format!("{key}: {whose} budget is {level}");
        // The budget's amount tells a token budget from a dollar one, and a raised budget
        // from the one it replaced (which warns again).
        let tail = format!("of {}", s.allowed.describe());
        if said
            .iter()
            .any(|m| m.starts_with(&head) && m.ends_with(&tail))
        {
            continue;
        }
        let used = match s.used {
            Amount::Tokens(t) => t.to_string(),
            Amount::Usd(_) => s.used.describe(),
        };
        let message = format!("{head}: {used} {tail}");
        events::record(
            conn,
            EventKind::BudgetWarning,
            About::task(task_id),
            "budget",
            message.as_str(),
            now,
        )?;
    }
    Ok(())
}

/// `[budget] hard`: run `run_id`, whose task is `over` a budget, is stopped — its job goes
/// back to the queue without spending an attempt (where the budget holds it until it is
/// raised), the run ends, and a `budget_stopped` event says why. The supervisor stops its
/// processes the way it stops a cancelled job's run: the run's job is no longer running
/// (`Event::JobGone`). Nothing happens to a run that ended or whose job is not running (a
/// reading at window close, a run cancelled meanwhile).
fn stop(
    tx: &rusqlite::Connection,
    cfg: &Config,
    run_id: i64,
    key: &str,
    over: Standing,
    now: i64,
) -> Result<(), StoreError> {
    let run = runs::get(tx, run_id)?;
    let Some(job_id) = run.job_id.filter(|_| run.ended_at.is_none()) else {
        return Ok(());
    };
    if crate::store::jobs::get(tx, job_id)?.status != JobStatus::Running {
        return Ok(());
    }
    let project =
        crate::store::projects::get(tx, crate::store::tasks::get(tx, run.task_id)?.project_id)?;
    let why = budgets::Over {
        task_id: run.task_id,
        standing: over,
    }
    .describe(key, &project.name);
    let reason = format!("run {run_id} stopped ([budget] hard): {why}");
    crate::queue::Queue::new(cfg).release(tx, job_id, &reason, now)?;
    runs::end(tx, run_id, RunStatus::Error, None, Some(&reason), None, now)?;
    events::record(
        tx,
        EventKind::BudgetStopped,
        About::task(run.task_id).job(job_id).run(run_id),
        "budget",
        format!("{key} run {run_id} stopped ([budget] hard), its job waits: {why}"),
        now,
    )?;
    tracing::info!(run = run_id, %why, "run stopped over budget");
    Ok(())
}

/// Feeds what the file at `path` holds from `offset` on to `feed`, a chunk at a time; the
/// offset after it, or `None` when the file is shorter than `offset` (truncated or replaced:
/// to be read again from the start). Read as [`crate::untrusted::read_from`] reads: a
/// regular file, its last component not followed if it is a symlink.
fn read_on(
    path: &Path,
    mut offset: u64,
    mut feed: impl FnMut(&[u8]),
) -> std::io::Result<Option<u64>> {
    loop {
        let (bytes, len) = crate::untrusted::read_from(path, offset, CHUNK)?;
        if len < offset {
            return Ok(None);
        }
        if bytes.is_empty() {
            return Ok(Some(offset));
        }
        feed(&bytes);
        offset += bytes.len() as u64;
    }
}

/// Reads the records of the Claude Code subagents of the session whose record is `record`
/// on into `reader` (the directory comes from that path, [`subagents::dir_of`]). No
/// directory means no subagents; a record that cannot be read is logged and left for the
/// next reading.
fn read_subagents(run_id: i64, record: &Path, reader: &mut RunReader) {
    let Some(dir) = subagents::dir_of(record) else {
        return;
    };
    let names = match list(&dir) {
        Ok(names) => names,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(run = run_id, error = %e, "cannot list the run's subagents' records for its usage");
            return;
        }
    };
    let mut left_out = 0;
    for name in names {
        let Some(sub) = reader.subagent(&name) else {
            left_out += 1;
            continue;
        };
        let path = dir.join(&name);
        for _ in 0..2 {
            match read_on(&path, sub.offset, |b| sub.feed(b)) {
                Ok(Some(_)) => break,
                Ok(None) => sub.restart(),
                Err(e) => {
                    tracing::warn!(run = run_id, record = %name, error = %e, "cannot read a subagent's record for the run's usage");
                    break;
                }
            }
        }
    }
    if left_out > 0 {
        tracing::warn!(
            run = run_id,
            left_out,
            "more than {RECORDS_MAX} subagents' records: the others are not counted"
        );
    }
}

/// The subagents' records in `dir`, by name ([`subagents::is_record`]), sorted; at most
/// [`LIST_MAX`] entries looked at. `dir` and the session's directory above it must be
/// directories, not symlinks to one (`lstat`); each record is then opened without following
/// a symlink ([`read_on`]).
///
/// # Errors
/// The I/O error of the `lstat` or the listing ([`std::io::ErrorKind::NotFound`]: no
/// subagents); [`std::io::ErrorKind::InvalidInput`] for something else than a directory.
fn list(dir: &Path) -> std::io::Result<Vec<String>> {
    for d in [dir.parent(), Some(dir)].into_iter().flatten() {
        if !std::fs::symlink_metadata(d)?.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a directory", d.display()),
            ));
        }
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .take(LIST_MAX)
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| subagents::is_record(n))
        .collect();
    names.sort();
    Ok(names)
}
