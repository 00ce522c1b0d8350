//! `bosun hook` benchmark: Claude Code waits for each hook command (a `PreToolUse` hook runs
//! before every tool call), so its cost is added to every step the agent takes. Times 200
//! calls of the real binary with a `PreToolUse` payload for a running run (start the
//! process, open the database, check the token, insert the row) and prints the median, p90
//! and max in ms.
//!
//! Run: `cargo bench --bench hook`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::queue::Queue;
use bosun::store::projects::{self, NewProject};
use bosun::store::{Store, hooks, now_ms, runs};

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");
const CALLS: usize = 200;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bosun.db");
    let store = Store::open(&db).expect("store");
    let cfg = Config::builtin().expect("config");
    let path = dir.path().to_string_lossy().into_owned();
    store
        .write(|tx| {
            projects::insert(
                tx,
                &NewProject {
                    name: "bench",
                    path: &path,
                    key_prefix: "B",
                    default_branch: Some("main"),
                    test_command: None,
                },
                now_ms(),
            )
        })
        .expect("project");
    let engine = Engine::new(&cfg, &store);
    engine
        .create_task("bench", "hooked", "", 100)
        .expect("task");
    let job = Queue::new(&cfg)
        .claim(&store, now_ms())
        .expect("claim")
        .expect("a job");
    let run = engine.start_run(job.id).expect("run");
    let token = "0123456789abcdef0123456789abcdef";
    store
        .write(|tx| runs::set_hook_token_hash(tx, run.id, &bosun::secret::token_hash(token)))
        .expect("token");

    let payload = br#"{"hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{"file_path":"out.md","content":"x"}}"#;
    let state = dir.path().join("state");
    let mut ms: Vec<f64> = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let began = Instant::now();
        let mut child = Command::new(BOSUN)
            .arg("--db")
            .arg(&db)
            .args(["hook", "--run", &run.id.to_string()])
            .env("BOSUN_HOOK_TOKEN", token)
            .env("XDG_STATE_HOME", &state)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bosun hook");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(payload)
            .expect("payload");
        let status = child.wait().expect("wait");
        ms.push(began.elapsed().as_secs_f64() * 1000.0);
        assert!(status.success(), "bosun hook failed");
    }
    let rows = hooks::for_run(store.conn(), run.id).expect("hooks").len();
    assert_eq!(rows, CALLS, "every call recorded");
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "bosun hook ({} calls, {}): median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        CALLS,
        Path::new(BOSUN)
            .parent()
            .and_then(|p| p.file_name())
            .map_or_else(String::new, |p| p.to_string_lossy().into_owned()),
        at(0.5),
        at(0.9),
        ms[ms.len() - 1]
    );
}
