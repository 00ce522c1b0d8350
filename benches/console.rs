//! Console benchmark on a generated database of 10,000 tasks, 100,000 jobs (with a run
//! each) and 1,000,000 events: time to first frame (open + load + draw), median frame time
//! (draw only, and reload + draw after a change), and peak memory (VmHWM).
//!
//! Targets (issue 4): first frame under 200 ms, frame under 5 ms, under 80 MB RSS.
//! Run: `cargo bench --bench console`. The database is generated once per run (~1 min).

use std::path::Path;
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::queue::Queue;
use bosun::store::events::{self, EventKind, NewEvent};
use bosun::store::jobs::{self, JobStatus, NewJob};
use bosun::store::projects::{self, NewProject};
use bosun::store::runs::{self, RunStatus};
use bosun::store::tasks::{self, TaskState};
use bosun::store::{Store, StoreError, now_ms};
use bosun::tui::keymap::Keymap;
use bosun::tui::state::{App, View};
use bosun::tui::theme::Theme;
use bosun::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const TASKS: usize = 10_000;
const JOBS_PER_TASK: usize = 10;
const EVENTS: usize = 1_000_000;

fn generate(path: &Path, cfg: &Config) {
    let store = Store::open(path).expect("store");
    let stages: Vec<&str> = cfg.stages.iter().map(|s| s.name.as_str()).collect();
    let now = now_ms();
    store
        .write(|tx| {
            let p = projects::insert(
                tx,
                &NewProject {
                    name: "bench",
                    path: "/tmp/bench-repo",
                    key_prefix: "B",
                    default_branch: None,
                    test_command: None,
                },
                now,
            )?;
            for i in 0..TASKS {
                let stage = stages[i % stages.len()];
                let t = tasks::insert(
                    tx,
                    &format!("B-{i:05}"),
                    p.id,
                    &format!("Task number {i} with a title"),
                    "spec",
                    stage,
                    100,
                    now,
                )?;
                let state = match i % 50 {
                    0 => TaskState::AwaitingApproval,
                    1 => TaskState::Blocked,
                    2..=20 => TaskState::Done,
                    _ => TaskState::Active,
                };
                tasks::set_stage(
                    tx,
                    t.id,
                    if state == TaskState::Done {
                        "done"
                    } else {
                        stage
                    },
                    state,
                    None,
                    now,
                )?;
                for j in 0..JOBS_PER_TASK {
                    let job = jobs::insert(
                        tx,
                        &NewJob {
                            task_id: t.id,
                            stage,
                            role: "developer",
                            provider: "claude",
                            priority: 100,
                            max_attempts: 3,
                            max_transient_attempts: 10,
                            max_infra_attempts: 10,
                            feedback: None,
                            available_at: now,
                        },
                        now,
                    )?;
                    let last = j == JOBS_PER_TASK - 1;
                    if !last || state != TaskState::Active {
                        jobs::finish(tx, job.id, JobStatus::Done, None, now)?;
                    }
                    let run = runs::start(tx, job.id, now)?;
                    let status = if last && state == TaskState::Active {
                        RunStatus::Busy
                    } else {
                        RunStatus::Done
                    };
                    runs::set_status(tx, run.id, status, now)?;
                }
            }
            for e in 0..EVENTS {
                let task = (e % TASKS) as i64 + 1;
                events::append(
                    tx,
                    EventKind::RunStatus,
                    NewEvent {
                        task_id: Some(task),
                        actor: "supervisor",
                        message: format!("B-{:05} run {e} is busy", task - 1),
                        ..Default::default()
                    },
                    now - (EVENTS - e) as i64,
                )?;
            }
            Ok::<_, StoreError>(())
        })
        .expect("generate");
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(-1.0, |kb| kb / 1024.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let cfg = Config::builtin().expect("config");
    // The generator runs as a child process so its memory does not count in the peak.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--generate") {
        generate(Path::new(&args[i + 1]), &cfg);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bosun.db");
    let t = Instant::now();
    let ok = std::process::Command::new(std::env::current_exe().expect("exe"))
        .arg("--generate")
        .arg(&db)
        .status()
        .expect("generator")
        .success();
    assert!(ok, "generating the database failed");
    eprintln!(
        "generated {TASKS} tasks, {} jobs, {EVENTS} events in {:.1?}",
        TASKS * JOBS_PER_TASK,
        t.elapsed()
    );
    let before = peak_rss_mb();

    let theme = Theme::load("default").expect("theme");
    let keymap = Keymap::load().expect("keymap");
    let queue = Queue::new(&cfg);
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("terminal");

    // First frame: open the database, load the state, draw.
    let start = Instant::now();
    let store = Store::open(&db).expect("store");
    let mut app = App::new(&cfg, "bench".into());
    app.refresh(&store, &queue).expect("refresh");
    term.draw(|f| view::draw(f, &app, &theme, &keymap))
        .expect("draw");
    let first = start.elapsed();

    // Frames: draw only (every view), and reload + draw (what a data change costs).
    let mut draws = Vec::new();
    let mut reloads = Vec::new();
    for i in 0..60 {
        app.view = View::ALL[i % View::ALL.len()];
        let t = Instant::now();
        term.draw(|f| view::draw(f, &app, &theme, &keymap))
            .expect("draw");
        draws.push(t.elapsed());
        app.view = View::Board;
        app.move_selection(1);
        let t = Instant::now();
        app.refresh(&store, &queue).expect("refresh");
        term.draw(|f| view::draw(f, &app, &theme, &keymap))
            .expect("draw");
        reloads.push(t.elapsed());
    }
    println!(
        "console, {TASKS} tasks / {} jobs / {EVENTS} events at 200×50: first frame {:.1?}; \
         median frame (draw) {:.2?}; median reload + draw {:.1?}; peak RSS {:.1} MB ({:.1} MB before the console loaded)",
        TASKS * JOBS_PER_TASK,
        first,
        median(draws),
        median(reloads),
        peak_rss_mb(),
        before
    );
}
