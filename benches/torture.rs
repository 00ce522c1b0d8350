//! Torture: `kill -9` a real `bosun daemon` again and again while agent-sim tasks move
//! through a five-stage pipeline with a rollback, then let a last daemon finish, and count what broke the
//! "exactly once, nothing lost" promise.
//!
//! ```sh
//! cargo bench --bench torture                  # 100 kill cycles, 6 tasks
//! cargo bench --bench torture -- 20 3          # 20 cycles, 3 tasks
//! ```
//!
//! Each cycle starts a daemon, lets it work for a random 0.2–2.5 s, and kills it with SIGKILL.
//! The agents (6–10 s per stage, writing their artifacts) keep running in tmux meanwhile. Printed at the end, each of which must be 0 (the exit status is 1 otherwise):
//! - **lost**: tasks that ended neither done nor with work left (failed or blocked);
//! - **duplicated**: stages whose agent completed its turn more than once for one job;
//! - **stalled**: tasks not done when the last daemon has had 5 minutes;
//! - **orphaned**: windows of the tasks' runs, processes carrying a run's token, and runs not
//!   ended, left after the last daemon finished.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::status::TaskState;
use bosun::store::projects::{self, NewProject};
use bosun::store::runs;
use bosun::store::tasks;
use bosun::store::{Store, now_ms};

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

/// Five stages of agent-sim turns (6–10 s each, so the tasks are at work through most of the
/// kills), artifacts, a command gate, and a review that asks for changes once (a rollback).
const PIPELINE: &str = r#"
[supervisor]
max_concurrency = 4
kill_grace = "1s"
tmux_socket = "SOCKET"
[queue]
backoff_base = "1s"
backoff_cap = "3s"
[roles.analyst]
provider = "sim"
prompt = '''
@sim {spin = "8s"}
@sim {write = "docs/{key}-analysis.md", text = "analysis"}
'''
[roles.architect]
provider = "sim"
prompt = '''
@sim {spin = "8s"}
@sim {write = "docs/{key}-design.md", text = "design"}
'''
[roles.developer]
provider = "sim"
prompt = '''
@sim {spin = "10s"}
@sim {write = "src/{key}.txt", text = "code"}
'''
[roles.reviewer]
provider = "sim"
prompt = '''
@sim {spin = "6s"}
@sim {write = "docs/{key}-review.md", text = "REQUEST_CHANGES\nonce", unless_exists = "docs/{key}-reviewed"}
@sim {write = "docs/{key}-review.md", text = "APPROVED", if_exists = "docs/{key}-reviewed"}
@sim {write = "docs/{key}-reviewed", text = "x"}
'''
[roles.tester]
provider = "sim"
prompt = '''
@sim {spin = "6s"}
@sim {write = "docs/{key}-test.md", text = "PASS"}
'''
[[stages]]
name = "analysis"
role = "analyst"
[[stages.gates]]
kind = "artifact"
path = "docs/{key}-analysis.md"
[[stages]]
name = "architecture"
role = "architect"
[[stages.gates]]
kind = "artifact"
path = "docs/{key}-design.md"
[[stages]]
name = "development"
role = "developer"
[[stages.gates]]
kind = "artifact"
path = "src/{key}.txt"
[[stages.gates]]
kind = "command"
command = "true"
[[stages]]
name = "review"
role = "reviewer"
[[stages.gates]]
kind = "verdict"
path = "docs/{key}-review.md"
pass_words = ["APPROVED"]
fail_words = ["REQUEST_CHANGES"]
on_fail = "rollback"
to = "development"
max = 3
[[stages]]
name = "testing"
role = "tester"
[[stages.gates]]
kind = "verdict"
path = "docs/{key}-test.md"
pass_words = ["PASS"]
fail_words = ["FAIL"]
"#;

fn daemon(dir: &Path, db: &Path, config: &Path, socket: &str, n: usize) -> std::process::Child {
    Command::new(BOSUN)
        .arg("--db")
        .arg(db)
        .arg("--config")
        .arg(config)
        .arg("--log-file")
        .arg(dir.join(format!("daemon-{n}.log")))
        .args(["daemon", "--socket", socket])
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn daemon")
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let cycles = args.first().copied().unwrap_or(100);
    let task_count = args.get(1).copied().unwrap_or(6);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let dir = tmp.path();
    let repo = dir.join("repo");
    bosun::git::init_repo(&repo, "main").expect("repo");
    let socket = format!("bosun-torture-{}", std::process::id());
    let text = PIPELINE.replace("SOCKET", &socket);
    let config = dir.join("bosun.toml");
    std::fs::write(&config, &text).expect("config");
    let cfg = Config::from_layers(&[(config.as_path(), text.as_str())]).expect("config");
    let db = dir.join("bosun.db");
    let store = Store::open(&db).expect("store");
    let repo_s = repo.to_string_lossy().into_owned();
    store
        .write(|tx| {
            projects::insert(
                tx,
                &NewProject {
                    name: "torture",
                    path: &repo_s,
                    key_prefix: "TT",
                    default_branch: Some("main"),
                    test_command: None,
                },
                now_ms(),
            )
        })
        .expect("project");
    let engine = Engine::new(&cfg, &store);
    let keys: Vec<String> = (0..task_count)
        .map(|i| {
            engine
                .create_task("torture", &format!("Task {i}"), "", 100)
                .expect("task")
                .0
                .key
        })
        .collect();

    eprintln!(
        "torture: {cycles} kill -9 cycles over {task_count} tasks in {}",
        dir.display()
    );
    let started = Instant::now();
    for n in 0..cycles {
        let mut d = daemon(dir, &db, &config, &socket, n);
        std::thread::sleep(Duration::from_millis(200 + fastrand::u64(..2300)));
        let _ = d.kill();
        let _ = d.wait();
        if n % 10 == 9 {
            let done = keys
                .iter()
                .filter(|k| {
                    tasks::by_key(store.conn(), k).is_ok_and(|t| t.state == TaskState::Done)
                })
                .count();
            eprintln!("  after {} kills: {done}/{task_count} done", n + 1);
        }
    }
    let mut last = daemon(dir, &db, &config, &socket, cycles);
    let deadline = Instant::now() + Duration::from_secs(300);
    let all_done = || {
        keys.iter().all(|k| {
            tasks::by_key(store.conn(), k).is_ok_and(|t| {
                matches!(
                    t.state,
                    TaskState::Done | TaskState::Blocked | TaskState::Cancelled
                )
            })
        })
    };
    while !all_done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Windows close after the exit grace; give them, and the processes, time to go.
    std::thread::sleep(Duration::from_secs(8));

    let mut lost = 0;
    let mut stalled = 0;
    let mut duplicated = 0;
    let mut hashes: Vec<String> = Vec::new();
    let mut open_runs = 0;
    for k in &keys {
        let t = tasks::by_key(store.conn(), k).expect("task");
        match t.state {
            TaskState::Done => {}
            TaskState::Active => stalled += 1,
            _ => {
                eprintln!("  lost: {k} is {} ({:?})", t.state, t.state_reason);
                lost += 1;
            }
        }
        let all = runs::for_task(store.conn(), t.id).expect("runs");
        let mut by_job: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
        for r in &all {
            if r.turn_done_at.is_some() {
                *by_job.entry(r.job_id.unwrap_or(-1)).or_default() += 1;
            }
            if r.ended_at.is_none() {
                open_runs += 1;
            }
            if let Ok(Some((Some(hash), _))) = runs::hook_token_hash(store.conn(), r.id) {
                hashes.push(hash);
            }
        }
        for (job, n) in by_job {
            if n > 1 {
                eprintln!("  duplicated: {k} job {job} completed {n} turns");
                duplicated += n - 1;
            }
        }
    }
    let windows = Command::new("tmux")
        .args(["-L", &socket, "list-windows", "-a", "-F", "#{window_name}"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|w| w.starts_with("TT-"))
                .count()
        })
        .unwrap_or(0);
    let processes = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
        })
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0).any(|e| {
                    e.strip_prefix(b"BOSUN_HOOK_TOKEN=").is_some_and(|v| {
                        let v = String::from_utf8_lossy(v);
                        hashes.contains(&bosun::secret::token_hash(&v))
                    })
                })
            })
        })
        .count();
    let orphaned = windows + processes + open_runs;
    let _ = last.kill();
    let _ = last.wait();
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .status();
    println!(
        "torture: {cycles} kill -9 cycles, {task_count} tasks, {:.0} s: lost {lost}, duplicated {duplicated}, stalled {stalled}, orphaned {orphaned} ({windows} windows, {processes} processes, {open_runs} open runs)",
        started.elapsed().as_secs_f64()
    );
    if lost + duplicated + stalled + orphaned > 0 {
        std::process::exit(1);
    }
}
