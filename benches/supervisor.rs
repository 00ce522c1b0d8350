//! Supervisor benchmark, driven the way `bosun daemon` drives it (`tick` then `sleep`: woken
//! by output, database writes and timers). For N = 0, 10, 50, 100 agent-sim runs:
//! - **idle**: the supervisor's CPU over 10 s while all N agents sit waiting for an answer
//!   (N = 0: no task at all), from getrusage(2): this process's user + system time plus its
//!   reaped children's (the `tmux` and `git` commands it runs), as % of one core;
//! - **busy**: the same while the N agents are answered (one per tick, as an operator's keys
//!   arrive), work 3 s with a spinner redrawing, and finish (commit, gate);
//! - **output → status**: from the agent drawing a state (agent-sim's trace,
//!   `BOSUN_SIM_TRACE`) to the run's status row in SQLite (its `run_status` event): p50, p99;
//!   0 when the status was already recorded (a hook came a moment before the drawing);
//! - **peak RSS** of the process so far (`VmHWM`).
//!
//! Targets (issue 13): idle ≤ 0.3 % with no agents and ≤ 2 % with 100; p99 ≤ 50 ms and peak
//! RSS ≤ 100 MB at N = 100. Run: `cargo bench --bench supervisor` (needs tmux and git).
//! Prints one line per N and the load average.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::status::RunStatus;
use bosun::store::events::{self, EventKind};
use bosun::store::projects::{self, NewProject};
use bosun::store::{Store, now_ms};
use bosun::supervisor::{Options, Supervisor};

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

fn config(n: usize, trace_dir: &Path) -> String {
    let n = n.max(1);
    format!(
        r#"
[supervisor]
max_concurrency = {n}
[roles.worker]
provider = "sim"
prompt = '''
@sim {{spin = "1s"}}
@sim {{ask = "bench.txt"}}
@sim {{spin = "3s"}}
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

/// CPU seconds of this process (all its threads) and its reaped children (the `tmux` and `git`
/// commands it runs), user + system, from getrusage(2) (µs resolution; `/proc/self/stat`
/// counts 10 ms ticks, too coarse for 0.3 % of a core over 10 s).
fn cpu_seconds() -> f64 {
    let secs = |who| {
        // SAFETY: getrusage writes one `rusage` into the zeroed value we own.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut r) };
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
        t(r.ru_utime) + t(r.ru_stime)
    };
    secs(libc::RUSAGE_SELF) + secs(libc::RUSAGE_CHILDREN)
}

/// Peak resident set of this process, MB (`VmHWM` in /proc/self/status).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// CPU % of one core over `f`'s run.
fn cpu_during(f: impl FnOnce()) -> f64 {
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    f();
    (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64() * 100.0
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
    let deadline = Instant::now() + Duration::from_secs(300);
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
        sup.sleep(t0);
    }
    // Phase 2: CPU with N idle agents over 10 s of supervision, after 2 s to settle (the
    // start's one-off work: the first tick reads everything, the launch thread opens its
    // connection).
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(2) {
        let t0 = Instant::now();
        sup.tick().expect("tick");
        sup.sleep(t0);
    }
    let idle_for = Duration::from_secs(10);
    let idle_pct = cpu_during(|| {
        let wall0 = Instant::now();
        while wall0.elapsed() < idle_for {
            let t0 = Instant::now();
            sup.tick().expect("tick");
            sup.sleep(t0);
        }
    });
    // Phase 3: answer them, one per tick as an operator's key presses would arrive; they go
    // busy (3 s of spinner output), then done (commit, gate).
    let mut to_answer: Vec<i64> = sup.run_statuses().iter().map(|(id, _, _)| *id).collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    // A cheap look (this process is the supervisor whose CPU is measured).
    let jobs_done = || {
        bosun::store::jobs::counts(store.conn())
            .expect("counts")
            .iter()
            .filter(|(s, _)| *s == bosun::status::JobStatus::Done)
            .map(|(_, c)| usize::try_from(*c).unwrap_or(0))
            .sum::<usize>()
    };
    let busy_pct = if n == 0 {
        0.0
    } else {
        cpu_during(|| {
            loop {
                let t0 = Instant::now();
                if let Some(id) = to_answer.pop() {
                    sup.answer(id, true).expect("answer");
                }
                sup.tick().expect("tick");
                if jobs_done() == n {
                    break;
                }
                assert!(Instant::now() < deadline, "runs never all finished");
                sup.sleep(t0);
            }
        })
    };

    // Each run's status events in order: (ts, state).
    let mut status_events: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for e in events::recent(store.conn(), None, 1_000_000).expect("events") {
        if e.kind == EventKind::RunStatus
            // "B-001 run 1 is busy", or "… is busy (agent hook)" when a hook said so.
            && let (Some(run), Some(state)) = (
                e.run_id,
                e.message
                    .trim_end_matches(" (agent hook)")
                    .rsplit(' ')
                    .next(),
            )
        {
            status_events
                .entry(run)
                .or_default()
                .push((e.ts, state.to_string()));
        }
    }
    for v in status_events.values_mut() {
        v.sort_by_key(|(ts, _)| *ts);
    }
    // The latency of an agent-drawn state (trace: "<ms> <run> <state>"): 0 when the run's
    // recorded status already was that state when the agent drew it (a hook can say "busy" a
    // few ms before the spinner is drawn), else until the first status event of that state
    // at or after the drawing.
    let latency = |run: i64, state: &str, ts: i64| -> Option<i64> {
        let events = status_events.get(&run)?;
        let before = events.iter().rev().find(|(t, _)| *t <= ts);
        if before.is_some_and(|(_, s)| s == state) {
            return Some(0);
        }
        events
            .iter()
            .find(|(t, s)| *t >= ts && s == state)
            .map(|(t, _)| t - ts)
    };
    let mut lat = Vec::new();
    let mut by_state: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
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
            if let Some(l) = latency(run, state, ts) {
                by_state.entry(state.to_string()).or_default().push(l);
                lat.push(l);
            }
        }
    }
    lat.sort_unstable();
    println!(
        "N = {n:>3}: idle {idle_pct:.2} %, busy {busy_pct:.1} % of one core; output -> status p50 {} ms, p99 {} ms, max {} ms ({} transitions); peak RSS {:.1} MB",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(-1),
        lat.len(),
        peak_rss_mb()
    );
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        for (state, mut v) in by_state {
            v.sort_unstable();
            println!(
                "  {state}: p50 {} ms, p99 {} ms ({} transitions)",
                percentile(&v, 0.5),
                percentile(&v, 0.99),
                v.len()
            );
        }
    }
    sup.release().expect("release");
    let _ = sup.tmux().stop_server(Duration::from_millis(500));
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        println!("  kept {}", dir.keep().display());
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run N = 1 only.
    let full = std::env::args().any(|a| a == "--bench");
    // `cargo bench --bench supervisor -- 100` measures the sizes given.
    let given: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let sizes: &[usize] = if !given.is_empty() {
        &given
    } else if full {
        &[0, 10, 50, 100]
    } else {
        &[1]
    };
    for &n in sizes {
        run(n);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average while measuring (1, 5, 15 min): {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
