//! Budgets in US dollars (issue 22): counted from the cost `bosun usage` shows, a model with no
//! price unknown (never $0), a subscription provider $0 (and said so); a task past one runs no
//! more until `bosun budget … --usd N` raises it. `[budget] hard`: the run that crosses a
//! budget is stopped, not failed, and its job waits for the raise.

use crate::support::Fixture;
use crate::support::rig::BOSUN;

use bosun::status::{JobStatus, RunStatus};
use bosun::store::events::{self, EventKind};
use bosun::store::runs::{self, Run};
use bosun::store::tasks::Task;

/// The scripted model of the Claude Code fixture, priced: the fixture's transcript (28817
/// input and 71 output tokens) costs $0.29.
const PRICED: &str = "[prices.models.\"claude-opus-5\"]\ninput = 10.0\noutput = 50.0\n";

/// A fixture whose config is `layer`, also written as `bosun.toml` for the CLI.
fn fixture(layer: &str) -> Fixture {
    let fx = Fixture::with_layer("true", layer);
    std::fs::write(fx.dir.path().join("bosun.toml"), layer).expect("config");
    fx
}

/// Starts a run of `task`'s job whose session record is the Claude Code fixture's, and
/// records its usage (as a completed turn does).
fn spend(fx: &Fixture, task: &Task) -> Run {
    let (_, run) = fx.claim_and_start(task);
    fx.spend_fixture_transcript(run.id);
    run
}

/// `bosun ARGS` on the fixture's database and config: (success, stdout and stderr).
fn cli(fx: &Fixture, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(BOSUN)
        .args(args)
        .arg("--db")
        .arg(fx.db_path())
        .arg("--config")
        .arg(fx.dir.path().join("bosun.toml"))
        .env("XDG_CONFIG_HOME", fx.dir.path().join("xdg"))
        .output()
        .expect("bosun");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn warnings(fx: &Fixture, task: &Task) -> Vec<String> {
    events::recent(fx.store.conn(), Some(task.id), 100)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::BudgetWarning)
        .map(|e| e.message)
        .collect()
}

#[test]
fn a_task_past_its_dollar_budget_runs_no_more_until_the_budget_is_raised() {
    let fx = fixture(&format!("[budget]\ntask_usd = 0.2\n{PRICED}"));
    let (task, _) = fx.add_task("Spend dollars");
    let run = spend(&fx, &task);
    fx.finish_run(run.id);
    // The run that crossed the budget finished; the stage's next job waits.
    let next = fx.open_job(&task).expect("a next job queued");
    let queue = &fx.engine().queue;
    let now = bosun::store::now_ms().max(next.available_at);
    assert!(queue.claim(&fx.store, now).expect("claim").is_none());
    assert_eq!(
        warnings(&fx, &task),
        [format!(
            "{}: its task budget is used up: $0.29 of $0.20",
            task.key
        )]
    );
    let (_, shown) = cli(&fx, &["task", "show", &task.key]);
    assert!(
        shown.contains("budget task: $0.29 of $0.20")
            && shown.contains(&format!(
                "over budget: the task used $0.29 of $0.20; `bosun budget {} --usd N --note WHY` \
                 raises it",
                task.key
            )),
        "{shown}"
    );
    let (refused, said) = cli(&fx, &["budget", &task.key, "--usd=-1", "--note", "x"]);
    assert!(!refused && said.contains("0 or more US dollars"), "{said}");
    let (raised, said) = cli(
        &fx,
        &["budget", &task.key, "--usd", "1", "--note", "worth it"],
    );
    assert!(raised, "{said}");
    assert!(
        said.contains(&format!(
            "budget of task {} set to $1.00: worth it",
            task.key
        )),
        "{said}"
    );
    // The raise is a decision on record, and the token budgets stay the config's (none).
    let (_, listed) = cli(&fx, &["budget", &task.key]);
    assert!(
        listed.contains(&format!("task {}: $1.00", task.key))
            && listed.contains("used of task: $0.29 of $1.00")
            && listed.contains("no task is over a budget"),
        "{listed}"
    );
    let claimed = queue
        .claim(&fx.store, now)
        .expect("claim")
        .expect("claimed");
    assert_eq!(claimed.id, next.id);
    // `bosun config` says which budgets the config sets.
    let (_, config) = cli(&fx, &["config"]);
    assert!(
        config.contains(
            "budget: task $0.20; project no limit; day no limit; a running run finishes its \
             turn; warn at 80 %"
        ),
        "{config}"
    );
    let (_, json) = cli(&fx, &["config", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(
        (
            v["budget"]["task_usd"].as_f64(),
            v["budget"]["hard"].as_bool()
        ),
        (Some(0.2), Some(false)),
        "{json}"
    );
}

#[test]
fn unpriced_runs_are_unknown_and_subscription_runs_cost_nothing_and_both_are_said() {
    // No price for the scripted model: its cost is not $0, it is unknown, and said so.
    let fx = fixture("[budget]\ntask_usd = 0.2\n");
    let (task, _) = fx.add_task("Unpriced");
    spend(&fx, &task);
    let (_, shown) = cli(&fx, &["task", "show", &task.key]);
    assert!(
        shown.contains(
            "budget task: $0.00 of $0.20; no price for claude-opus-5-5 (its runs' cost is \
             unknown and not counted: add it to [prices.models])"
        ) && !shown.contains("over budget"),
        "{shown}"
    );
    let (_, json) = cli(&fx, &["budget", &task.key, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["standing"][0]["unpriced"][0], "claude-opus-5-5", "{json}");
    // Billed by a plan: $0 in money budgets, said so; token budgets still count its tokens.
    let fx = fixture(&format!(
        "[budget]\ntask_usd = 0.2\ntask_tokens = 1000\n{PRICED}[prices]\nsubscription = [\"claude\"]\n"
    ));
    let (task, _) = fx.add_task("Subscribed");
    spend(&fx, &task);
    let (_, shown) = cli(&fx, &["task", "show", &task.key]);
    assert!(
        shown.contains("budget task: 28888 of 1000 tokens")
            && shown
                .contains("budget task: $0.00 of $0.20; claude billed by subscription ($0 here)"),
        "{shown}"
    );
}

/// The migration to schema v22 keeps version 20's raises (as token raises) and notices, lets
/// a dollar raise sit next to a token raise, refuses what is not a budget, and lets budget
/// notices in (version 12's kinds dropped them without a word).
#[test]
fn the_migration_to_v22_keeps_the_raises_and_lets_budget_and_limit_notices_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    {
        let conn = crate::support::database_at(&path, 20);
        conn.execute_batch(
            "INSERT INTO budgets (scope, key, tokens, note, decided_by, at)
                 VALUES ('task', 'ET-001', 5000, 'worth it', 'cli', 7);
             INSERT INTO notifications (cause, task_id, kind, sent, at)
                 VALUES ('event:3', NULL, 'done', 1, 9);",
        )
        .expect("rows");
    }
    let store = bosun::store::Store::open(&path).expect("migrates");
    let conn = store.conn();
    let raise: (String, String, i64, String) = conn
        .query_row(
            "SELECT key, measure, amount, note FROM budgets WHERE scope = 'task'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("raise kept");
    assert_eq!(
        raise,
        ("ET-001".into(), "tokens".into(), 5000, "worth it".into())
    );
    use bosun::store::budgets::{self, Amount, Scope};
    budgets::set(
        conn,
        Scope::Task,
        "ET-001",
        Amount::Usd(2.5),
        "and money",
        "cli",
        8,
    )
    .expect("a dollar raise beside it");
    let rules = bosun::config::budget::BudgetRules::default();
    let tokens = budgets::allowed(
        conn,
        &rules,
        Scope::Task,
        "ET-001",
        budgets::Measure::Tokens,
    );
    let usd = budgets::allowed(conn, &rules, Scope::Task, "ET-001", budgets::Measure::Usd);
    assert_eq!(
        (tokens.expect("tokens"), usd.expect("usd")),
        (Some(Amount::Tokens(5000)), Some(Amount::Usd(2.5)))
    );
    for bad in ["-1", "0.5", "'lots'", "NULL"] {
        let sql = format!(
            "INSERT INTO budgets (scope, key, measure, amount, note, decided_by, at)
             VALUES ('day', '', 'tokens', {bad}, 'n', 'cli', 0)"
        );
        assert!(conn.execute(&sql, []).is_err(), "{bad} tokens accepted");
    }
    for bad in ["-0.5", "1e300", "NULL"] {
        let sql = format!(
            "INSERT INTO budgets (scope, key, measure, amount, note, decided_by, at)
             VALUES ('day', '', 'usd', {bad}, 'n', 'cli', 0)"
        );
        assert!(conn.execute(&sql, []).is_err(), "${bad} accepted");
    }
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM notifications WHERE cause = 'event:3'",
            [],
            |r| r.get(0),
        )
        .expect("notice kept");
    assert_eq!(kept, 1);
    assert!(
        bosun::store::notifications::record(conn, "event:4", None, "budget", true, 10)
            .expect("record"),
        "a budget notice is recorded"
    );
    assert!(
        bosun::store::notifications::record(conn, "event:5", None, "limit", true, 11)
            .expect("record"),
        "a usage-limit notice is recorded"
    );
}

/// `[budget] hard`, at the reading of a turn that completed (or one taken while it works):
/// the run ends instead of finishing, its job goes back to the queue with no attempt spent,
/// held by the budget, and a `budget_stopped` event says why; a reading of a run that already
/// ended (at its window's close) stops nothing.
#[test]
fn a_hard_budget_stops_a_running_run_without_spending_an_attempt() {
    let fx = fixture("[budget]\ntask_tokens = 1000\nhard = true\n");
    let (task, job) = fx.add_task("Spend hard");
    let run = spend(&fx, &task);
    let ended = runs::get(fx.store.conn(), run.id).expect("run");
    assert_eq!(ended.status, RunStatus::Error);
    let reason = ended.error.expect("why");
    assert!(
        reason.starts_with(&format!(
            "run {} stopped ([budget] hard): over budget",
            run.id
        )) && reason.contains("the task used 28888 of 1000 tokens"),
        "{reason}"
    );
    let again = bosun::store::jobs::get(fx.store.conn(), job.id).expect("job");
    assert_eq!(again.status, JobStatus::Queued);
    assert_eq!(
        (
            again.attempts,
            again.transient_attempts,
            again.infra_attempts
        ),
        (0, 0, 0)
    );
    let stopped: Vec<String> = events::recent(fx.store.conn(), Some(task.id), 100)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::BudgetStopped)
        .map(|e| e.message)
        .collect();
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    // The engine takes the run's end as late (the completion that follows a reading).
    let outcome = fx.finish_run(run.id);
    assert!(
        matches!(outcome, bosun::pipeline::Outcome::Ignored { .. }),
        "{outcome:?}"
    );
    // Held: not claimed while the budget stands.
    let now = bosun::store::now_ms();
    assert!(
        fx.engine()
            .queue
            .claim(&fx.store, now)
            .expect("claim")
            .is_none()
    );
    // A second reading (the window's close) changes nothing more.
    bosun::supervisor::usage::record(&fx.cfg, &fx.store, run.id).expect("usage");
    assert_eq!(
        bosun::store::jobs::get(fx.store.conn(), job.id)
            .expect("job")
            .status,
        JobStatus::Queued
    );
    let (_, shown) = cli(&fx, &["task", "show", &task.key]);
    assert!(
        shown.contains("over budget: the task used 28888 of 1000 tokens"),
        "{shown}"
    );
}
