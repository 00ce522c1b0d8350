//! Intake latency (issue 21): from an issue labelled `bosun` being opened on the scripted
//! forge (which sends its signed webhook at once) to the first run of the task it becomes
//! being `busy` in its pane — the webhook delivered and recorded, the intake lane's pass,
//! the task and its job created, the claim, the launch in tmux, the agent drawing its
//! spinner. A `bosun daemon` otherwise idle; issues opened one at a time, 1.5 s apart.
//!
//! Target: p99 ≤ 1 s. Run: `cargo bench --bench intake [-- N]` (N issues, default 40; needs
//! tmux and git). Prints the median, p90, p99 and max, ms.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bosun::sandbox::{Project, Sandbox, TmuxServer};
use bosun::sim::forge::{Flavor, ForgeServer};
use bosun::store::{Store, intake};

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");
const SECRET: &str = "bench-secret";

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(40);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let dir = tmp.path().join("sandbox");
    let remote = tmp.path().join("remote.git");
    std::fs::create_dir_all(&remote).expect("dir");
    let forge = ForgeServer::start(Flavor::GitHub, &remote, "octo/app", "t").expect("forge");
    let tmux = TmuxServer::new("bosun-bench");
    let socket = tmux.socket().to_string();
    let config = format!(
        r#"
[supervisor]
max_concurrency = {cap}
tmux_socket = "{socket}"
[server]
listen = "127.0.0.1:0"
[[intake]]
project = "ET"
kind = "github"
repo = "octo/app"
api_url = "{api}"
token_env = "BOSUN_BENCH_TOKEN"
webhook_secret_env = "BOSUN_BENCH_SECRET"
labels = ["bosun"]
poll = "off"
report = false
[roles.worker]
provider = "sim"
prompt = '@sim {{spin = "120s"}}'
[[stages]]
name = "work"
role = "worker"
[[stages.gates]]
kind = "artifact"
path = "out.md"
"#,
        cap = n + 1,
        api = forge.api_url()
    );
    let project = Project {
        name: "example-tool",
        key_prefix: "ET",
        test_command: None,
        readme: "demo\n",
    };
    let sandbox = Sandbox::create(&dir, &project, &config, tmux).expect("sandbox");
    let mut daemon = Command::new(BOSUN)
        .arg("--db")
        .arg(&sandbox.db)
        .arg("--config")
        .arg(&sandbox.config_file)
        .arg("--log-file")
        .arg(dir.join("daemon.log"))
        .args(["daemon", "--socket", &socket])
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("BOSUN_BENCH_TOKEN", "t")
        .env("BOSUN_BENCH_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon");
    let stderr = daemon.stderr.take().expect("stderr");
    let mut base = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if let Some(rest) = line.split("webhooks at ").nth(1) {
            base = rest.split("/webhooks/").next().unwrap_or("").to_string();
            break;
        }
    }
    forge.hook(&format!("{base}/webhooks/github"), SECRET);
    std::thread::sleep(Duration::from_secs(2));
    let store = Store::open(&sandbox.db).expect("store");
    let mut ms = Vec::new();
    for i in 0..n {
        let began = Instant::now();
        let number = forge.open_issue("alice", &format!("Issue {i}"), "steps", &["bosun"]);
        loop {
            if busy(&store, i64::try_from(number).unwrap_or(0)) {
                break;
            }
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "issue {i} never ran"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        ms.push(began.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(1500));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "intake delivery → first run busy, {n} issues: median {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        at(0.5),
        at(0.9),
        at(0.99),
        ms[ms.len() - 1]
    );
}

/// Whether issue `number`'s task has a busy run.
fn busy(store: &Store, number: i64) -> bool {
    let Ok(Some(entry)) = intake::issue(store.conn(), "github:octo/app", "octo/app", number) else {
        return false;
    };
    bosun::store::runs::for_task(store.conn(), entry.task_id)
        .map(|runs| {
            runs.iter()
                .any(|r| r.status == bosun::status::RunStatus::Busy)
        })
        .unwrap_or(false)
}
