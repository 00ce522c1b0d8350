//! `bosun task add|list|show|resume|cancel`.

use super::out::outln;
use std::io::Read;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::{Ctx, ago, print_json};
use crate::cli::TaskCommand;
use crate::pipeline::Engine;
use crate::status::{GateOutcome, RunStatus, TaskState};
use crate::store::events::{self, Event};
use crate::store::gates::{self, GateResult};
use crate::store::jobs::{self, Job};
use crate::store::now_ms;
use crate::store::projects::{self, Project};
use crate::store::runs::{self, Run};
use crate::store::tasks::{self, Task};

/// Lines of a failed gate's evidence `task show` prints.
const REPORT_LINES: usize = 60;

pub(super) fn run(ctx: &Ctx, cmd: TaskCommand) -> Result<()> {
    match cmd {
        TaskCommand::Add {
            title,
            spec,
            project,
            priority,
            json,
        } => add(ctx, &title, spec.as_deref(), project, priority, json),
        TaskCommand::List { json } => list(ctx, json),
        TaskCommand::Show { key, json } => show(ctx, &key, json),
        TaskCommand::Resume { key, note, stage } => {
            super::decide::decide(ctx, &key, |d| d.resume(&key, note, stage))
        }
        TaskCommand::Override { key, note } => {
            super::decide::decide(ctx, &key, |d| d.override_gate(&key, note))
        }
        TaskCommand::Cancel { key } => super::decide::decide(ctx, &key, |d| d.cancel(&key)),
        TaskCommand::Land { key, mode } => {
            use crate::config::land::LandMode;
            let mode = match mode.as_deref() {
                Some("merge") => Some(LandMode::Merge),
                Some("pr") => Some(LandMode::Pr),
                _ => None,
            };
            super::decide::decide(ctx, &key, |d| d.land(&key, mode))
        }
    }
}

fn add(
    ctx: &Ctx,
    title: &str,
    spec: Option<&str>,
    project: Option<String>,
    priority: i64,
    json: bool,
) -> Result<()> {
    if title.trim().is_empty() {
        bail!("a task needs a title");
    }
    let spec = match spec {
        None => String::new(),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the spec from standard input")?;
            s
        }
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read the spec {path}"))?
        }
    };
    let cfg = ctx.config()?;
    let store = ctx.store()?;
    let project = match project {
        Some(p) => p,
        None => {
            let all = projects::list(store.conn())?;
            match all.as_slice() {
                [only] => only.name.clone(),
                [] => bail!("no projects yet; add one with `bosun project add PATH`"),
                many => {
                    let names: Vec<&str> = many.iter().map(|p| p.name.as_str()).collect();
                    bail!(
                        "several projects exist; pass --project (one of: {})",
                        names.join(", ")
                    )
                }
            }
        }
    };
    let engine = Engine::new(&cfg, &store);
    let (task, job) = engine.create_task(&project, title, &spec, priority)?;
    if json {
        return print_json(&serde_json::json!({ "task": task, "job": job }));
    }
    outln!(
        "{} created at {} ({} job {} queued)",
        task.key,
        task.stage,
        job.role,
        job.id
    );
    Ok(())
}

/// A `task list` row: the task, what its latest run's agent is doing, and whether the
/// operator is needed.
#[derive(Serialize)]
struct ListRow {
    #[serde(flatten)]
    task: Task,
    /// The latest run's status while it has not ended (`waiting` = asks for an answer).
    agent: Option<RunStatus>,
    /// Awaiting approval, needs input, blocked, or the agent waits for an answer.
    needs_operator: bool,
}

fn list(ctx: &Ctx, json: bool) -> Result<()> {
    let store = ctx.store()?;
    // Tasks and their latest runs as of one moment.
    let (latest, tasks) =
        store.read(|c| -> Result<_> { Ok((runs::latest_by_task(c)?, tasks::list(c)?)) })?;
    let mut rows: Vec<ListRow> = tasks
        .into_iter()
        .map(|task| {
            let agent = latest
                .get(&task.id)
                .map(|(_, status, _)| *status)
                .filter(|s| !matches!(s, RunStatus::Done | RunStatus::Exited | RunStatus::Error));
            ListRow {
                needs_operator: task.needs_operator(agent),
                agent,
                task,
            }
        })
        .collect();
    // Those needing the operator first (an agent waiting for an answer counts), stable.
    rows.sort_by_key(|r| !r.needs_operator);
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("no tasks; add one with `bosun task add TITLE`");
    }
    for r in rows {
        let flag = if r.needs_operator { "!" } else { " " };
        let state = match r.agent {
            Some(RunStatus::Waiting) if r.task.state == TaskState::Active => {
                "agent waiting".to_string()
            }
            _ => r.task.state.as_str().to_string(),
        };
        outln!(
            "{flag} {:<9} {:<13} {:<18} {}",
            r.task.key,
            r.task.stage,
            state,
            crate::text::clean(&r.task.title)
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct TaskDetail {
    task: Task,
    project: Project,
    gate_results: Vec<GateResult>,
    runs: Vec<Run>,
    jobs: Vec<Job>,
    events: Vec<Event>,
    /// The files the task's stage looks at, as they stand in its worktree.
    artifacts: Vec<crate::supervisor::prompt::ArtifactFile>,
    /// Its latest landing, if it has one.
    landing: Option<crate::store::landings::Landing>,
    /// The tracker issue it came from, if any.
    issue: Option<crate::store::intake::Issue>,
    /// The tokens its runs used.
    usage: crate::store::usage::Usage,
    /// What they cost (`[prices]`).
    cost: Option<crate::config::prices::Cost>,
    /// Where it stands against each budget that applies to it.
    budgets: Vec<crate::store::budgets::Standing>,
    /// The budget it is past, if any (its queued job waits).
    over_budget: Option<String>,
    /// What its branch conflicts with, by the conflict radar.
    conflicts: Vec<ConflictView>,
}

/// One conflict the radar found for the task's branch.
#[derive(Serialize)]
struct ConflictView {
    /// The base branch's name, or the other task's key.
    with: String,
    /// The conflicting paths.
    files: Vec<String>,
}

fn show(ctx: &Ctx, key: &str, json: bool) -> Result<()> {
    let store = ctx.store()?;
    // The config says which files the stage looks at; a config that does not load (or no
    // longer has the stage) leaves them out rather than failing a read command.
    let cfg = ctx.config().ok();
    let rules = cfg
        .as_ref()
        .map(crate::config::budget::BudgetRules::of)
        .unwrap_or_default();
    let today = crate::store::budgets::day_start(now_ms());
    // One read transaction: the task, its runs and jobs as of one moment (separate reads once
    // showed stage development next to the review run).
    let detail = store.read(|c| -> Result<TaskDetail> {
        let task = tasks::by_key(c, key)?;
        let artifacts = cfg
            .as_ref()
            .and_then(|cfg| {
                let stage = cfg.stages.iter().find(|s| s.name == task.stage)?;
                Some(crate::supervisor::prompt::artifact_files(stage, &task.key))
            })
            .unwrap_or_default();
        let pairs = match task.branch.as_deref() {
            Some(branch) => crate::store::radar::conflicts_of(c, task.project_id, branch)?,
            None => Vec::new(),
        };
        // The other side's task key, from its branch in the same project (read once).
        let others = if pairs.is_empty() {
            Vec::new()
        } else {
            tasks::list(c)?
                .into_iter()
                .filter(|t| t.project_id == task.project_id)
                .collect()
        };
        let conflicts = pairs
            .into_iter()
            .map(|p| {
                let other = if Some(p.a.as_str()) == task.branch.as_deref() {
                    p.b
                } else {
                    p.a
                };
                let with = others
                    .iter()
                    .find(|t| t.branch.as_deref() == Some(other.as_str()))
                    .map_or(other.clone(), |t| t.key.clone());
                ConflictView {
                    with,
                    files: p.files,
                }
            })
            .collect();
        Ok(TaskDetail {
            artifacts,
            landing: crate::store::landings::latest_for(c, task.id)?,
            issue: crate::store::intake::for_task(c, task.id)?,
            usage: crate::store::usage::for_task(c, task.id)?,
            cost: match &cfg {
                Some(cfg) => crate::store::usage::rollup(c, crate::store::usage::By::Task, 0)?
                    .into_iter()
                    .filter(|r| r.key == task.key)
                    .map(|r| cfg.prices.cost(&r.provider, r.model.as_deref(), &r.usage))
                    .reduce(crate::config::prices::Cost::plus),
                None => None,
            },
            budgets: crate::store::budgets::standing(c, &rules, task.id, today)?,
            over_budget: {
                let project = projects::get(c, task.project_id)?;
                crate::store::budgets::over(c, &rules, today)?
                    .into_iter()
                    .find(|o| o.task_id == task.id)
                    .map(|o| o.describe(&task.key, &project.name))
            },
            conflicts,
            project: projects::get(c, task.project_id)?,
            gate_results: gates::for_task(c, task.id)?,
            runs: runs::for_task(c, task.id)?,
            jobs: jobs::for_task(c, task.id)?,
            events: events::recent(c, Some(task.id), 200)?,
            task,
        })
    })?;
    let mut detail = detail;
    // Where the gates look: the worktree, or the project before the task has one.
    let dir = detail
        .task
        .worktree
        .clone()
        .unwrap_or_else(|| detail.project.path.clone());
    crate::supervisor::prompt::look_up(&mut detail.artifacts, Some(std::path::Path::new(&dir)));
    if json {
        return print_json(&detail);
    }
    let now = now_ms();
    let t = &detail.task;
    outln!("{}  {}", t.key, t.title);
    outln!(
        "project {}  stage {}  state {}",
        detail.project.name,
        t.stage,
        t.state
    );
    if let Some(reason) = &t.state_reason {
        outln!("why: {reason}");
    }
    if let Some(wt) = &t.worktree {
        outln!(
            "worktree {wt} (branch {})",
            t.branch.as_deref().unwrap_or("?")
        );
    }
    let u = &detail.usage;
    if u.total() > 0 {
        outln!(
            "tokens {} in, {} cache read, {} cache write, {} out ({} reasoning){}",
            u.input,
            u.cache_read,
            u.cache_write,
            u.output,
            u.reasoning,
            detail
                .cost
                .as_ref()
                .map(|c| format!("; cost {}", crate::text::plain(&c.describe())))
                .unwrap_or_default()
        );
    }
    for s in &detail.budgets {
        outln!("budget {}", crate::text::plain(&s.describe()));
    }
    if let Some(why) = &detail.over_budget {
        outln!("{why}");
    }
    if let Some(i) = &detail.issue {
        outln!("issue {} {}", i.short(), crate::text::plain(&i.url));
    }
    if let Some(l) = &detail.landing {
        outln!("landing {}", l.describe());
    }
    for c in &detail.conflicts {
        outln!("conflicts with {}: {}", c.with, c.files.join(", "));
    }
    if !t.spec.trim().is_empty() {
        outln!("\nspec:\n{}", t.spec.trim_end());
    }
    if let Some(fb) = detail.jobs.first().and_then(|j| j.feedback.as_deref()) {
        outln!("\nfeedback for the latest job:\n{}", fb.trim_end());
    }
    let (present, missing) = crate::supervisor::prompt::present_and_missing(&detail.artifacts);
    if !present.is_empty() {
        outln!("artifacts {}", present.join(", "));
    }
    if !missing.is_empty() {
        outln!("missing   {}", missing.join(", "));
    }
    outln!("\ngates:");
    for g in &gates::current(&detail.gate_results) {
        outln!(
            "  {:<13} {:<9} {:<7} {}",
            g.stage,
            g.kind,
            g.outcome.as_str(),
            g.reason
        );
    }
    // What the last failing gate saw (a review's findings, a test report, command output):
    // the operator judges a block or an override by it.
    if let Some(g) = detail
        .gate_results
        .iter()
        .rev()
        .find(|g| g.outcome == GateOutcome::Fail && g.output.is_some())
    {
        outln!(
            "\nwhat the {} gate at {} saw ({}):",
            g.kind,
            g.stage,
            ago(g.created_at, now)
        );
        let text = g.output.as_deref().unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for l in lines.iter().take(REPORT_LINES) {
            outln!("  {l}");
        }
        if lines.len() > REPORT_LINES {
            outln!("  … {} more lines", lines.len() - REPORT_LINES);
        }
    }
    outln!("\nruns:");
    for r in &detail.runs {
        outln!(
            "  #{:<5} {:<13} {:<10} attempt {} {:<8} {}{}",
            r.id,
            r.stage,
            r.provider,
            r.attempt,
            r.status.as_str(),
            ago(r.started_at, now),
            r.error
                .as_deref()
                .map(|e| format!("  {e}"))
                .unwrap_or_default()
        );
    }
    outln!("\nevents:");
    for e in detail
        .events
        .iter()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        outln!("  {:>10}  {}", ago(e.ts, now), e.message);
    }
    Ok(())
}
