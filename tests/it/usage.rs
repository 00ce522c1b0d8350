//! What runs used, read from their CLIs' session records (issue 22): a run's totals from a
//! Claude Code transcript as the pinned version writes it, read again after more was written
//! from where the last reading stopped; `bosun usage` and `task show` print them.

use std::io::Write;

use crate::support::Fixture;
use crate::support::rig::BOSUN;

use bosun::store::{runs, usage};

#[test]
fn a_runs_usage_comes_from_its_session_record_and_a_second_reading_takes_only_what_is_new() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Count tokens");
    let (_, run) = fx.claim_and_start(&task);
    let record = fx.dir.path().join("session.jsonl");
    let fixture = include_str!("../fixtures/claude-2.1.332/transcript.jsonl");
    std::fs::write(&record, fixture).expect("record");
    let path = record.to_string_lossy().into_owned();
    fx.store
        .write(|tx| runs::set_transcript(tx, run.id, &path))
        .expect("transcript");
    bosun::supervisor::usage::record(&fx.cfg, &fx.store, run.id).expect("usage");
    let u = usage::for_task(fx.store.conn(), task.id).expect("usage");
    assert_eq!((u.input, u.output), (14353 + 14464, 50 + 21));
    // The agent writes on: one response in three lines (one per content block), each with
    // the usage so far; counted once, at its largest.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&record)
        .expect("open");
    for out in [3, 7, 7] {
        writeln!(
            f,
            r#"{{"type":"assistant","requestId":"req_9","message":{{"id":"msg_9","model":"claude-opus-5-5","usage":{{"input_tokens":100,"output_tokens":{out},"cache_read_input_tokens":2000,"cache_creation_input_tokens":50}}}}}}"#
        )
        .expect("append");
    }
    drop(f);
    bosun::supervisor::usage::record(&fx.cfg, &fx.store, run.id).expect("usage");
    let u = usage::for_task(fx.store.conn(), task.id).expect("usage");
    assert_eq!(
        (u.input, u.output, u.cache_read, u.cache_write),
        (14353 + 14464 + 100, 50 + 21 + 7, 2000, 50)
    );
    let at = usage::reading(fx.store.conn(), run.id)
        .expect("reading")
        .expect("a reading");
    assert_eq!(at.offset, std::fs::metadata(&record).expect("len").len());
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(BOSUN)
            .args(args)
            .arg("--db")
            .arg(fx.db_path())
            .env("XDG_CONFIG_HOME", fx.dir.path().join("xdg"))
            .output()
            .expect("bosun");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let by_provider = cli(&["usage", "--by", "provider", "--json"]);
    let out: serde_json::Value = serde_json::from_str(&by_provider).expect("json");
    let rows = &out["rows"];
    assert_eq!(rows[0]["key"], "claude", "{by_provider}");
    assert_eq!(rows[0]["usage"]["output"], 78, "{by_provider}");
    // The scripted model is in no price table: unpriced, not $0.
    assert_eq!(rows[0]["cost"]["kind"], "unpriced", "{by_provider}");
    // Priced by the config (cache tokens at the input price when none is given).
    let config = fx.dir.path().join("prices.toml");
    std::fs::write(
        &config,
        "[prices.models.\"claude-opus-5\"]\ninput = 10.0\noutput = 50.0\n",
    )
    .expect("config");
    let priced = cli(&["usage", "--config", &config.to_string_lossy()]);
    assert!(priced.contains("$0.31"), "{priced}");
    let shown = cli(&["task", "show", &task.key]);
    assert!(
        shown.contains("tokens 28917 in, 2000 cache read, 50 cache write, 78 out (0 reasoning)"),
        "{shown}"
    );
}

#[test]
fn a_task_past_its_token_budget_runs_no_more_until_the_budget_is_raised() {
    let fx = Fixture::with_layer("true", "[budget]\ntask_tokens = 1000\n");
    let (task, _) = fx.add_task("Spend tokens");
    // Its first run starts (nothing used yet) and uses ~29,000 tokens.
    let (_, run) = fx.claim_and_start(&task);
    fx.spend_fixture_transcript(run.id);
    // The run that crossed the budget finishes; its stage runs again (no artifact)...
    fx.finish_run(run.id);
    let next = fx.open_job(&task).expect("a next job queued");
    // The operator is told (a `budget` notice), once.
    let warnings: Vec<String> = bosun::store::events::recent(fx.store.conn(), Some(task.id), 100)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == bosun::store::events::EventKind::BudgetWarning)
        .map(|e| e.message)
        .collect();
    assert_eq!(
        warnings,
        [format!(
            "{}: its task budget is used up: 28888 of 1000 tokens",
            task.key
        )]
    );
    // ...but no next run starts: the job waits.
    let queue = &fx.engine().queue;
    let now = bosun::store::now_ms().max(next.available_at);
    assert!(queue.claim(&fx.store, now).expect("claim").is_none());
    let cli = |args: &[&str]| {
        std::process::Command::new(BOSUN)
            .args(args)
            .arg("--db")
            .arg(fx.db_path())
            .arg("--config")
            .arg(fx.dir.path().join("bosun.toml"))
            .env("XDG_CONFIG_HOME", fx.dir.path().join("xdg"))
            .output()
            .expect("bosun")
    };
    std::fs::write(
        fx.dir.path().join("bosun.toml"),
        "[budget]\ntask_tokens = 1000\n",
    )
    .expect("config");
    let shown = cli(&["task", "show", &task.key]);
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(
        shown.contains("over budget: the task used 28888 of 1000 tokens")
            && shown.contains(&format!(
                "`bosun budget {} --tokens N --note WHY`",
                task.key
            )),
        "{shown}"
    );
    // Raising it is a decision with a note.
    let refused = cli(&["budget", &task.key, "--tokens", "100000"]);
    assert!(!refused.status.success());
    let raised = cli(&[
        "budget", &task.key, "--tokens", "100000", "--note", "worth it",
    ]);
    assert!(raised.status.success(), "{raised:?}");
    let claimed = queue
        .claim(&fx.store, now)
        .expect("claim")
        .expect("claimed");
    assert_eq!(claimed.id, next.id);
}

/// Copies Claude Code 2.1.332's records of a session with two subagents (a `general-purpose`
/// one and a `fork`) where the CLI writes them: `<session>.jsonl` and
/// `<session>/subagents/agent-<id>.jsonl`; the session record's path.
fn session_with_subagents(dir: &std::path::Path) -> std::path::PathBuf {
    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/claude-2.1.332/session-with-subagents"
    );
    let session = dir.join("projects/-p/dd2de81e-df84-41c4-98e3-ec45eb15e8e1");
    std::fs::create_dir_all(session.join("subagents")).expect("dirs");
    let record = session.with_extension("jsonl");
    std::fs::copy(format!("{FIXTURE}.jsonl"), &record).expect("session record");
    for entry in std::fs::read_dir(format!("{FIXTURE}/subagents")).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(
            entry.path(),
            session.join("subagents").join(entry.file_name()),
        )
        .expect("subagent record");
    }
    record
}

#[test]
fn a_claude_runs_usage_counts_its_subagents_records_once_each_and_reads_them_on() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Delegate");
    let (_, run) = fx.claim_and_start(&task);
    let record = session_with_subagents(fx.dir.path());
    let subagents = record.with_extension("").join("subagents");
    // A record that is a symlink is not followed, whatever it points at.
    let elsewhere = fx.dir.path().join("elsewhere.jsonl");
    std::fs::write(
        &elsewhere,
        "{\"type\":\"user\"}\n{\"type\":\"assistant\",\"message\":{\"id\":\"x\",\"usage\":{\"input_tokens\":999999,\"output_tokens\":1}}}\n",
    )
    .expect("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, subagents.join("agent-alink.jsonl")).expect("link");
    let path = record.to_string_lossy().into_owned();
    fx.store
        .write(|tx| runs::set_transcript(tx, run.id, &path))
        .expect("transcript");
    bosun::supervisor::usage::record(&fx.cfg, &fx.store, run.id).expect("usage");
    // What the scripted model server reported for the session's six requests.
    let tally = usage::Usage {
        input: 73825,
        output: 144,
        cache_read: 36912,
        cache_write: 384,
        reasoning: 0,
    };
    assert_eq!(
        usage::for_task(fx.store.conn(), task.id).expect("usage"),
        tally
    );
    // The general-purpose subagent is resumed (one more response) and a third one starts;
    // the next reading adds those alone.
    let response = |id: &str, out: i64| {
        format!(
            "{{\"type\":\"assistant\",\"isSidechain\":true,\"message\":{{\"id\":\"{id}\",\"usage\":{{\"input_tokens\":100,\"output_tokens\":{out},\"cache_read_input_tokens\":10,\"cache_creation_input_tokens\":1}}}}}}\n"
        )
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(subagents.join("agent-adb89cbbb618840b1.jsonl"))
        .expect("open");
    write!(
        f,
        "{{\"type\":\"user\",\"isSidechain\":true}}\n{}",
        response("msg_r", 4)
    )
    .expect("append");
    drop(f);
    std::fs::write(
        subagents.join("agent-anew.jsonl"),
        format!(
            "{{\"type\":\"user\"}}\n{}{}",
            response("msg_n", 2),
            response("msg_n", 6)
        ),
    )
    .expect("new subagent");
    bosun::supervisor::usage::record(&fx.cfg, &fx.store, run.id).expect("usage");
    let more = usage::Usage {
        input: 200,
        output: 10,
        cache_read: 20,
        cache_write: 2,
        reasoning: 0,
    };
    assert_eq!(
        usage::for_task(fx.store.conn(), task.id).expect("usage"),
        tally.plus(more)
    );
    // Nothing new, nothing more.
    bosun::supervisor::usage::record(&fx.cfg, &fx.store, run.id).expect("usage");
    assert_eq!(
        usage::for_task(fx.store.conn(), task.id).expect("usage"),
        tally.plus(more)
    );
    let state = usage::reading(fx.store.conn(), run.id)
        .expect("reading")
        .and_then(|r| r.reader)
        .expect("state");
    let saved = bosun::provider::subagents::RunReader::load(&state);
    let mut read: Vec<(&str, u64)> = saved
        .subagents
        .iter()
        .map(|s| (s.name.as_str(), s.offset))
        .collect();
    read.sort();
    let len = |name: &str| std::fs::metadata(subagents.join(name)).expect("len").len();
    assert_eq!(
        read,
        [
            (
                "agent-a26114e08c6060904.jsonl",
                len("agent-a26114e08c6060904.jsonl")
            ),
            (
                "agent-adb89cbbb618840b1.jsonl",
                len("agent-adb89cbbb618840b1.jsonl")
            ),
            ("agent-alink.jsonl", 0),
            ("agent-anew.jsonl", len("agent-anew.jsonl")),
        ]
    );
}

#[test]
fn a_symlinked_subagents_directory_is_not_read() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Delegate");
    let (_, run) = fx.claim_and_start(&task);
    let record = session_with_subagents(fx.dir.path());
    let session = record.with_extension("");
    let moved = fx.dir.path().join("moved");
    std::fs::rename(&session, &moved).expect("move");
    std::os::unix::fs::symlink(&moved, &session).expect("link");
    let path = record.to_string_lossy().into_owned();
    fx.store
        .write(|tx| runs::set_transcript(tx, run.id, &path))
        .expect("transcript");
    bosun::supervisor::usage::record(&fx.cfg, &fx.store, run.id).expect("usage");
    let u = usage::for_task(fx.store.conn(), task.id).expect("usage");
    assert_eq!(u.input, 13842 + 14110 + 14368, "the session's record alone");
}
