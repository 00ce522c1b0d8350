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
    let rows: serde_json::Value = serde_json::from_str(&by_provider).expect("json");
    assert_eq!(rows[0]["key"], "claude", "{by_provider}");
    assert_eq!(rows[0]["usage"]["output"], 78, "{by_provider}");
    let shown = cli(&["task", "show", &task.key]);
    assert!(
        shown.contains("tokens 28917 in, 2000 cache read, 50 cache write, 78 out (0 reasoning)"),
        "{shown}"
    );
}
