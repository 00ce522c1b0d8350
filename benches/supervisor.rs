//! Supervisor benchmark: N agent-sim runs (N = 1, 10, 50) change state; reports the latency
//! from the agent drawing a state (agent-sim's trace, `BOSUN_SIM_TRACE`) to the run's status
//! row in SQLite (the `run_status` event written with it), p50 and p99, and the supervisor's
//! CPU use while all N agents sit idle waiting for an answer.
//!
//! Targets (issue 3): p99 under 100 ms at N = 50; under 5 % of one core with 50 idle agents.
//! Run: `cargo bench --bench supervisor` (needs tmux and git). Prints one line per N.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::store::events::{self, EventKind};
use bosun::store::projects::{self, NewProject};
use bosun::store::runs::RunStatus;
use bosun::store::{Store, now_ms, runs};
use bosun::supervisor::{Options, Supervisor};

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

fn config(n: usize, trace_dir: &Path) -> String {
    format!(
        r#"
[supervisor]
max_concurrency = {n}
[roles.worker]
provider = "sim"
prompt = '''
@sim {{spin = "1s"}}
@sim {{ask = "bench.txt"}}
@sim {{spin = "1s"}}
@sim {{write = "out.md", text = "ok"}}
'''
[providers.sim]
env = {{ BOSUN_SIM_TRACE = "{}" }}
[[stages]]
name = "work"
role = "worker"
[[stages.gates]]
kind = "artifact"
path = "out.md"
"#,
        trace_dir.display()
    )
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (fields 14 and 15 of /proc/self/stat).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// Sleeps out the rest of the supervisor's tick (25 ms), as `Supervisor::run_until` does.
fn pace(tick_start: Instant) {
    std::thread::sleep(Duration::from_millis(25).saturating_sub(tick_start.elapsed()));
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run(n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .output()
            .expect("git")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "bench\n").expect("write");
    git(&["add", "."]);
    git(&[
        "-c",
        "user.name=b",
        "-c",
        "user.email=b@b",
        "commit",
        "-qm",
        "init",
    ]);
    let trace = dir.path().join("trace");
    std::fs::create_dir_all(&trace).expect("mkdir");
    let text = config(n, &trace);
    let cfg = Config::from_layers(&[(Path::new("bench.toml"), text.as_str())]).expect("config");
    let db = dir.path().join("bosun.db");
    let store = Store::open(&db).expect("store");
    let repo_s = repo.to_string_lossy().into_owned();
    store
        .write(|tx| {
            projects::insert(
                tx,
                &NewProject {
                    name: "bench",
                    path: &repo_s,
                    key_prefix: "B",
                    default_branch: Some("main"),
                    test_command: None,
                },
                now_ms(),
            )
        })
        .expect("project");
    let engine = Engine::new(&cfg, &store);
    for i in 0..n {
        engine
            .create_task("bench", &format!("task {i}"), "", 100)
            .expect("task");
    }
    let socket = format!("bosun-bench-{}-{n}", std::process::id());
    let mut opts = Options::new(dir.path().to_path_buf(), &socket);
    opts.bosun_exe = BOSUN.to_string();
    opts.owner = "bench".into();
    let mut sup =
        Supervisor::start(cfg.clone(), Store::open(&db).expect("store"), opts).expect("supervisor");

    // Phase 1: launch everything and wait until all N are waiting for an answer (idle).
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let t0 = Instant::now();
        sup.tick().expect("tick");
        let waiting = sup
            .run_statuses()
            .iter()
            .filter(|(_, _, s)| *s == RunStatus::Waiting)
            .count();
        if waiting == n {
            break;
        }
        assert!(Instant::now() < deadline, "runs never all reached waiting");
        pace(t0);
    }
    // Phase 2: CPU with N idle agents over 10 s of supervision.
    let idle_for = Duration::from_secs(10);
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    while wall0.elapsed() < idle_for {
        let t0 = Instant::now();
        sup.tick().expect("tick");
        pace(t0);
    }
    let cpu_pct = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64() * 100.0;
    // Phase 3: answer them, one per tick as an operator's key presses would arrive; they go
    // busy, then done.
    let mut to_answer: Vec<i64> = sup.run_statuses().iter().map(|(id, _, _)| *id).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let t0 = Instant::now();
        if let Some(id) = to_answer.pop() {
            sup.answer(id, true).expect("answer");
        }
        sup.tick().expect("tick");
        let done = runs::for_task(store.conn(), 1).map(|_| ()).is_ok()
            && events::recent(store.conn(), None, 100_000)
                .expect("events")
                .iter()
                .filter(|e| e.kind == EventKind::JobDone)
                .count()
                == n;
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "runs never all finished");
        pace(t0);
    }

    // Match each agent-drawn state (trace: "<ms> <run> <state>") with the first status
    // event for that run and state at or after it.
    let mut status_events: HashMap<(i64, String), Vec<i64>> = HashMap::new();
    for e in events::recent(store.conn(), None, 1_000_000).expect("events") {
        if e.kind == EventKind::RunStatus
            && let (Some(run), Some(state)) = (e.run_id, e.message.rsplit(' ').next())
        {
            status_events
                .entry((run, state.to_string()))
                .or_default()
                .push(e.ts);
        }
    }
    let mut lat = Vec::new();
    for entry in std::fs::read_dir(&trace).expect("trace dir").flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(ts), Some(run), Some(state)) = (
                f.first().and_then(|v| v.parse::<i64>().ok()),
                f.get(1).and_then(|v| v.parse::<i64>().ok()),
                f.get(2),
            ) else {
                continue;
            };
            if let Some(seen) = status_events
                .get(&(run, (*state).to_string()))
                .and_then(|v| v.iter().copied().find(|t| *t >= ts))
            {
                lat.push(seen - ts);
            }
        }
    }
    lat.sort_unstable();
    println!(
        "N = {n:>2}: status latency p50 {} ms, p99 {} ms, max {} ms ({} transitions); supervisor CPU with {n} idle agents: {cpu_pct:.2} % of one core",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(-1),
        lat.len()
    );
    sup.release().expect("release");
    let _ = sup.tmux().kill_server();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run N = 1 only.
    let full = std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if full { &[1, 10, 50] } else { &[1] };
    for &n in sizes {
        run(n);
    }
}
