//! The scenarios every agent CLI plays under bosun's supervisor, each written once and run
//! for every CLI of the table (`tests/support/cli.rs`) by [`common_scenarios!`], which each
//! `<cli>_supervised.rs` invokes with its CLI and its tests' names: the init prompt with a
//! slow model, the same turn read from the screen alone, a permission dialog answered with
//! `bosun answer`, a 429 requeued with backoff, a handoff over MCP, a lost `Stop` hook. What
//! differs between CLIs comes from the table; the macro makes every CLI play every scenario.

use std::time::{Duration, Instant};

use crate::support::cli::{OnRateLimit, spec};
use crate::support::supervised::{
    ARTIFACT, FINAL, Harness, Stage, asking_turn, with_a_reviewer, write_turn,
};

use bosun::sim::homes::{Cli, CodexApproval};
use bosun::sim::model::{Answer, Pace, Turn};
use bosun::status::{JobStatus, RunStatus, TaskState};
use bosun::store::events::{self, EventKind};
use bosun::store::hooks::{self, HookEvent};
use bosun::store::jobs;
use bosun::store::runs;

/// One `#[test]` per common scenario for `cli`, named as given (the names are the CLI's
/// tests' names, kept when they were written once per CLI). Every scenario must be named.
macro_rules! common_scenarios {
    (
        cli: $cli:expr,
        slow_model: $slow_model:ident,
        hooks_off: $hooks_off:ident,
        permission: $permission:ident,
        rate_limited: $rate_limited:ident,
        handoff: $handoff:ident,
        lost_stop_hook: $lost_stop_hook:ident $(,)?
    ) => {
        #[test]
        fn $slow_model() {
            $crate::scenarios::completes_a_stage_with_a_slow_model($cli, stringify!($slow_model));
        }

        #[test]
        fn $hooks_off() {
            $crate::scenarios::the_screen_alone_reads_the_same_turn($cli, stringify!($hooks_off));
        }

        #[test]
        fn $permission() {
            $crate::scenarios::waits_for_permission_until_bosun_answer_says_yes(
                $cli,
                stringify!($permission),
            );
        }

        #[test]
        fn $rate_limited() {
            $crate::scenarios::rate_limited_is_requeued_with_backoff_and_then_completes(
                $cli,
                stringify!($rate_limited),
            );
        }

        #[test]
        fn $handoff() {
            $crate::scenarios::hands_off_to_a_reviewer_over_mcp_and_carries_on(
                $cli,
                stringify!($handoff),
            );
        }

        #[test]
        fn $lost_stop_hook() {
            $crate::scenarios::a_lost_stop_hook_is_replaced_by_the_transcript(
                $cli,
                stringify!($lost_stop_hook),
            );
        }
    };
}
pub(crate) use common_scenarios;

/// The scenario every CLI plays first: the `bosun init` analyst prompt (a multi-line paste;
/// Claude Code 2.1.197 showed `paste again to expand` instead of its busy line for ~8 s
/// after it), a model that takes seconds, subagents where the table has them (Claude Code),
/// the artifact written with the CLI's file tool, a final text. Checks the stage finished,
/// the run read busy until the model's last byte and done within 2 s after it from the
/// `Stop` hook, the hooks seen (in order, for a CLI whose hooks bracket the turn), the final
/// message, the run's usage equal to the server's tally in every field (its subagents'
/// included), and the whole prompt reaching the model.
pub fn completes_a_stage_with_a_slow_model(cli: Cli, test: &'static str) {
    let subagents = spec(cli).subagents.as_ref();
    let mut turns = subagents.map_or_else(Vec::new, |s| (s.turns)());
    turns.extend([write_turn(cli), Turn::text(FINAL)]);
    let mut stage = Stage::new(cli, test, turns);
    if let Some(s) = subagents {
        stage.env = s
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.finish(Duration::from_secs(180));
    let run = h.runs().pop().expect("run");
    h.assert_busy_until_the_last_byte(run.id, true);
    let calls = h.hook_events(run.id);
    for want in [
        HookEvent::UserPromptSubmit,
        HookEvent::PreToolUse,
        HookEvent::Stop,
    ] {
        assert!(calls.contains(&want), "{want} hook received: {calls:?}");
    }
    if spec(cli).hooks.bracket_the_turn {
        // In order: prompt taken, the tool, the end of the turn.
        assert_eq!(
            calls.first(),
            Some(&HookEvent::UserPromptSubmit),
            "{calls:?}"
        );
        assert_eq!(calls.last(), Some(&HookEvent::Stop), "{calls:?}");
    }
    assert_eq!(run.final_message.as_deref(), Some(FINAL));
    // What the run used, read from the CLI's own session record, is what the model server
    // reported, field by field (issue 22).
    // A CLI may write its record's last lines after the closing hook: the reading at its
    // window's close has them.
    let tally = h.server.usage_tally();
    let deadline = Instant::now() + Duration::from_secs(30);
    let used = loop {
        let used = bosun::store::usage::for_task(h.store.conn(), run.task_id).expect("usage");
        if used == tally || Instant::now() > deadline {
            break used;
        }
        h.tick();
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(used, tally, "the run's usage against the server's tally");
    if let Some(s) = subagents {
        // The subagents' requests took the turns meant for them: the tally holds theirs.
        let requests = h.server.requests();
        for (i, by_subagent) in s.by_subagent.iter().enumerate() {
            let r = requests
                .iter()
                .find(|r| r.answer == Answer::Scripted(i))
                .unwrap_or_else(|| panic!("turn {i} answered:\n{}", h.requests()));
            assert_eq!(
                r.header(s.header).is_some(),
                *by_subagent,
                "turn {i} went to a subagent: {}",
                h.requests()
            );
        }
    }
    let sent = h.server.requests().iter().any(|r| {
        let body = String::from_utf8_lossy(&r.body);
        body.contains("You are the analyst for task ET-001: Explain the parser.")
            && body.contains("and what happens on invalid UTF-8.")
    });
    assert!(sent, "the rendered prompt was not in any model request");
    let rejected = events::recent(h.store.conn(), None, 500)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::HookRejected)
        .count();
    assert_eq!(rejected, 0, "every hook call had the run's token");
}

/// The same turn with `hooks = "none"`: the screen alone reads it right (busy until the
/// model's last byte, done within 2 s after it).
pub fn the_screen_alone_reads_the_same_turn(cli: Cli, test: &'static str) {
    let mut stage = Stage::new(cli, test, vec![write_turn(cli), Turn::text(FINAL)]);
    stage.hooks_off = true;
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.finish(Duration::from_secs(180));
    let run = h.runs().pop().expect("run");
    assert!(h.hook_events(run.id).is_empty(), "no hooks wired");
    h.assert_busy_until_the_last_byte(run.id, false);
}

/// A permission dialog ([`asking_turn`], with [`Cli::asking_args`] and, for Codex,
/// [`CodexApproval::OnEscalation`]; Claude Code 2.1.332 shows `Waiting for permission…`
/// before its dialog and drops keys just after it opens) reported waiting, in the database
/// too, nothing written before the answer, one `bosun answer` from another process
/// (recorded as an answered event), the same run going on, busy again and the stage
/// finished. A CLI whose `PermissionRequest` hook carries the model's justification has it
/// recorded, not taken as waiting (it comes before the dialog can take a key).
pub fn waits_for_permission_until_bosun_answer_says_yes(cli: Cli, test: &'static str) {
    let mut stage = Stage::new(cli, test, vec![asking_turn(cli), Turn::text(FINAL)]);
    stage
        .args
        .extend(cli.asking_args().iter().map(|a| a.to_string()));
    stage.approval = CodexApproval::OnEscalation;
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.tick_until(Duration::from_secs(120), "the agent to ask", |h| {
        h.sup
            .run_statuses()
            .iter()
            .any(|(_, _, s)| *s == RunStatus::Waiting)
    });
    let run = h.runs().pop().expect("run");
    assert_eq!(run.status, RunStatus::Waiting, "the runs row says waiting");
    assert!(
        !h.worktree.join(ARTIFACT).exists(),
        "nothing written before the answer"
    );
    h.answer_yes();
    h.finish(Duration::from_secs(120));
    assert_eq!(h.runs().len(), 1, "the same run went on after the answer");
    let seen = h.seen_of(run.id);
    let waiting = seen.iter().position(|s| *s == RunStatus::Waiting);
    assert!(
        waiting.is_some_and(|i| seen[i..].contains(&RunStatus::Busy)),
        "busy again after waiting: {seen:?}"
    );
    let answered = events::recent(h.store.conn(), Some(h.task.id), 200)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == EventKind::Answered)
        .expect("an answered event");
    eprintln!("{}", answered.message);
    let hooks = spec(cli).hooks;
    let calls = hooks::for_run(h.store.conn(), run.id).expect("hooks");
    if let Some(detail) = hooks.permission_detail {
        let ask = calls
            .iter()
            .find(|c| c.event == HookEvent::PermissionRequest)
            .unwrap_or_else(|| panic!("a PermissionRequest hook: {calls:?}"));
        assert_eq!(ask.detail, detail);
    }
    if hooks.bracket_the_turn {
        assert_eq!(calls.last().map(|c| c.event), Some(HookEvent::Stop));
    }
}

/// The first run meets a 429 (the table's turns; the CLI's own retries bounded) and fails:
/// an error naming the 429 where the CLI's screen names it, what its hooks say of it,
/// requeued as a transient failure (the transient budget only) after bosun's configured
/// backoff of 3 s — over the server's retry-after, which the CLIs do not print — and a fresh
/// CLI finishes the stage no sooner.
pub fn rate_limited_is_requeued_with_backoff_and_then_completes(cli: Cli, test: &'static str) {
    let table = &spec(cli).rate_limit;
    let mut turns = (table.turns)();
    turns.extend([write_turn(cli), Turn::text(FINAL)]);
    let mut stage = Stage::new(cli, test, turns);
    stage.env = table
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    stage.pace = Pace {
        first_token: Duration::from_millis(500),
        gap: Duration::from_millis(20),
    };
    stage.layer = "[queue]\nbackoff_base = \"3s\"\nbackoff_jitter = 0.0\n".into();
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.tick_until(Duration::from_secs(120), "the first run to fail", |h| {
        h.runs().first().is_some_and(|r| r.ended_at.is_some())
    });
    let first = h.runs().remove(0);
    assert_eq!(first.status, RunStatus::Error, "{first:?}");
    let reason = first.error.clone().unwrap_or_default();
    if table.names_the_status {
        assert!(
            reason.contains("429"),
            "the failure names the 429: {first:?}"
        );
    }
    match spec(cli).hooks.on_rate_limit {
        OnRateLimit::StopFailure => {
            let failure = hooks::for_run(h.store.conn(), first.id)
                .expect("hooks")
                .into_iter()
                .find(|c| c.event == HookEvent::StopFailure)
                .expect("a StopFailure hook");
            assert!(failure.detail.starts_with("rate_limit: "), "{failure:?}");
        }
        OnRateLimit::PromptOnly => {
            assert_eq!(h.hook_events(first.id), [HookEvent::UserPromptSubmit]);
        }
        OnRateLimit::Unchecked => {}
    }
    let job_id = first.job_id.expect("job");
    let job = jobs::get(h.store.conn(), job_id).expect("job");
    assert_eq!(job.status, JobStatus::Queued, "{job:?}");
    assert_eq!(
        (job.attempts, job.transient_attempts),
        (0, 1),
        "transient: {job:?}"
    );
    assert_eq!(
        job.available_at,
        first.ended_at.expect("ended") + 3_000,
        "the configured backoff: {job:?}"
    );
    assert_ne!(h.task().state, TaskState::Blocked);
    let requeued = events::recent(h.store.conn(), Some(h.task.id), 100)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == EventKind::JobRequeued && e.job_id == Some(job_id))
        .expect("a requeue event");
    assert!(
        requeued.message.contains("transient failure, retry in 3s"),
        "{}",
        requeued.message
    );
    if table.names_the_status {
        assert!(requeued.message.contains("429"), "{}", requeued.message);
    }
    h.finish(Duration::from_secs(180));
    let runs = h.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs[1].started_at >= job.available_at,
        "the retry waited for its backoff: {runs:?}"
    );
    assert_eq!(h.server.remaining(), 0, "{}", h.requests());
}

/// The model calls bosun's MCP `handoff` (as the CLI offers MCP tools, from the table): a
/// reviewer (agent-sim) starts in the task's worktree with the request, its final message
/// comes back as the tool's result in the very next request, and the CLI carries on to
/// finish the stage.
pub fn hands_off_to_a_reviewer_over_mcp_and_carries_on(cli: Cli, test: &'static str) {
    let answer = format!("{} review: two nits, otherwise fine", cli.provider());
    let request = format!("Check the parser analysis.\n@sim {{say = \"{answer}\"}}");
    let mut turns = (spec(cli).handoff)(&request);
    let after_the_call = turns.len();
    turns.extend([write_turn(cli), Turn::text(FINAL)]);
    let Some(h) = with_a_reviewer(Stage::new(cli, test, turns)) else {
        return;
    };
    let runs = h.runs();
    assert_eq!(runs.len(), 2, "the analyst and its reviewer: {runs:#?}");
    assert_eq!(runs[1].provider, "sim", "the reviewer role's own provider");
    let helper = bosun::store::helpers::of_job(h.store.conn(), runs[1].job_id.expect("job"))
        .expect("db")
        .expect("the second run is a helper");
    assert_eq!(helper.parent_run_id, runs[0].id);
    assert_eq!(helper.request, request);
    assert_eq!(helper.result.as_deref(), Some(answer.as_str()));
    // The reviewer's answer reached the model as the tool's result, and the analyst went on.
    let next = h
        .server
        .requests()
        .into_iter()
        .filter(|r| r.answer == Answer::Scripted(after_the_call))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .next()
        .expect("the request after the tool call");
    let result = spec(cli).wire.tool_result;
    assert!(
        next.contains(result) && next.contains(&answer),
        "the {result} in the next request:\n{next}"
    );
    assert_eq!(h.server.remaining(), 0, "{}", h.requests());
    assert_eq!(runs[0].status, RunStatus::Done, "{:?}", runs[0]);
}

/// The database is locked from the moment the CLI starts its tool until its `Stop` hook has
/// given up: the `Stop` never reaches bosun, and the CLI's own session record (at the path
/// its hooks named: Claude Code's `end_turn` line, Codex's `task_complete`, Gemini CLI's final
/// answer) ends the turn after the grace period; the status event names the transcript.
pub fn a_lost_stop_hook_is_replaced_by_the_transcript(cli: Cli, test: &'static str) {
    let mut stage = Stage::new(cli, test, vec![write_turn(cli), Turn::text(FINAL)]);
    stage.profile = "witness_grace = \"2s\"\n".into();
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    h.tick_until(Duration::from_secs(120), "the CLI's PreToolUse hook", |h| {
        h.runs().first().is_some_and(|r| {
            hooks::for_run(h.store.conn(), r.id)
                .expect("hooks")
                .iter()
                .any(|c| c.event == HookEvent::PreToolUse)
        })
    });
    let run_id = h.runs()[0].id;
    let transcript = runs::transcript(h.store.conn(), run_id)
        .expect("transcript")
        .expect("the CLI's hooks name its session record");
    assert!(transcript.ends_with(".jsonl"), "{transcript}");
    let locker = rusqlite::Connection::open(&h.db).expect("open");
    locker.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let log = h.db.with_file_name("runs").join(format!("{run_id}.log"));
    let deadline = Instant::now() + Duration::from_secs(90);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("[bosun] the agent's Stop hook was lost")
    {
        assert!(
            Instant::now() < deadline,
            "the Stop hook never gave up; screen:\n{}",
            h.screen()
        );
        // The supervisor's own writes fail while the database is locked.
        let _ = h.sup.tick();
        std::thread::sleep(Duration::from_millis(25));
    }
    locker.execute_batch("ROLLBACK").expect("unlock");
    drop(locker);
    h.finish(Duration::from_secs(60));
    assert!(
        !h.hook_events(run_id).contains(&HookEvent::Stop),
        "the Stop hook was lost"
    );
    assert_eq!(h.runs().len(), 1, "the stage ran once");
    let done = h
        .status_events(run_id)
        .into_iter()
        .rev()
        .find(|e| e.message.contains(" is done"))
        .expect("a done event");
    assert!(
        done.message
            .ends_with("is done (transcript, the Stop hook never came)"),
        "{}",
        done.message
    );
}
