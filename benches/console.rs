//! Console benchmark, what an operator pays (issue 11's targets):
//! - first frame of a run's Log and Pane views on a 4 MB / 180k-line log and on a 100 MB
//!   log (open the log from its end, build the tail, draw): ≤ 100 ms;
//! - key press → frame p50/p99 on a database of 10,000 tasks, 100,000 jobs and 1,000,000
//!   events while a writer commits like a busy supervisor (the real loader thread reloads
//!   in the background): p99 ≤ 16 ms;
//! - first board frame, reload cost, and peak RSS (VmHWM) ≤ 80 MB.
//!
//! Run: `cargo bench --bench console`. The database is generated once per run (~1 min) by a
//! child process so its memory does not count.

use std::path::Path;
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::queue::Queue;
use bosun::status::{JobStatus, RunStatus, TaskState};
use bosun::store::events::{self, About, EventKind};
use bosun::store::jobs::{self, NewJob};
use bosun::store::projects::{self, NewProject};
use bosun::store::runs;
use bosun::store::tasks;
use bosun::store::{Store, StoreError, now_ms};
use bosun::tui::effect::Runner;
use bosun::tui::keymap::Keymap;
use bosun::tui::load;
use bosun::tui::state::{App, View};
use bosun::tui::tail::{Tail, read_end};
use bosun::tui::theme::Theme;
use bosun::tui::update::{Effect, Msg, update};
use bosun::tui::view;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
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
                events::record(
                    tx,
                    EventKind::RunStatus,
                    About::task(task),
                    "supervisor",
                    format!("B-{:05} run {e} is busy", task - 1),
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

/// (median, p99, max) of `v`.
fn spread(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    (at(0.5), at(0.99), v[v.len() - 1])
}

/// A log like Claude Code's: short lines with colours, cursor moves and redraws.
fn write_log(path: &Path, bytes: usize) -> usize {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("log"));
    let (mut written, mut lines, mut i) = (0usize, 0usize, 0usize);
    while written < bytes {
        // ~23 bytes a line on average, as in the 4 MB / 182k-line log of the issue.
        let line = match i % 4 {
            0 => format!(
                "\x1b[2K\x1b[1G\x1b[33m✻\x1b[39m Working… ({}s)\r\n",
                i % 1000
            ),
            1 => format!("\x1b[1C● Read src/f{}.rs\r\n", i % 1000),
            2 => "  ⎿ ok\r\n".to_string(),
            _ => format!("line {}\r\n", i % 100_000),
        };
        written += line.len();
        lines += 1;
        i += 1;
        f.write_all(line.as_bytes()).expect("write");
    }
    lines
}

/// Opening a run's log from its end and drawing the Log and Pane views, as the console
/// does when the operator selects the run: (log view, pane view) times.
fn first_frame(path: &Path, app: &mut App, theme: &Theme, keymap: &Keymap) -> (Duration, Duration) {
    let mut times = Vec::new();
    for view in [View::Log, View::Pane] {
        let mut term = Terminal::new(TestBackend::new(160, 45)).expect("terminal");
        let start = Instant::now();
        let (_, end, skipped) = read_end(path).expect("open");
        app.tail = Some(Tail::from_end(
            app.following.as_ref().map_or(1, |f| f.0),
            &end,
            skipped,
            50,
            200,
        ));
        app.view = view;
        term.draw(|f| view::draw(f, app, theme, keymap))
            .expect("draw");
        times.push(start.elapsed());
    }
    (times[0], times[1])
}

fn main() {
    let cfg = Config::builtin().expect("config");
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
    let theme = Theme::load_from("default", None).expect("theme");
    let keymap = Keymap::builtin().expect("keymap");
    let queue = Queue::new(&cfg);

    // First board frame: open the database, load a snapshot, draw.
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    let start = Instant::now();
    let store = Store::open(&db).expect("store");
    let mut app = App::new(&cfg, "bench".into());
    let snap = load::snapshot(&store, &queue, &app.want()).expect("snapshot");
    app.apply(snap);
    term.draw(|f| view::draw(f, &app, &theme, &keymap))
        .expect("draw");
    let board_first = start.elapsed();
    let mut reloads = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let snap = load::snapshot(&store, &queue, &app.want()).expect("snapshot");
        app.apply(snap);
        reloads.push(t.elapsed());
    }
    let (reload_p50, _, _) = spread(reloads);

    // Logs: 4 MB of short lines, and 100 MB.
    let mut logs = Vec::new();
    for mb in [4usize, 100] {
        let path = dir.path().join(format!("run-{mb}.log"));
        let lines = write_log(&path, mb * 1024 * 1024);
        let (log, pane) = first_frame(&path, &mut app, &theme, &keymap);
        logs.push(format!(
            "{mb} MB / {}k lines: log view {:.1?}, pane view {:.1?}",
            lines / 1000,
            log,
            pane
        ));
        let _ = std::fs::remove_file(&path);
    }
    app.tail = None;
    app.view = View::Board;

    // Key press → frame while a writer commits like a busy supervisor (a run status and an
    // event every 20 ms), with the real loader thread reloading in the background.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            let store = Store::open(&db).expect("writer store");
            let mut n = 0i64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                store
                    .write(|tx| {
                        runs::set_status(tx, 1 + n % 1000, RunStatus::Busy, now_ms())?;
                        events::record(
                            tx,
                            EventKind::RunStatus,
                            About::task(1 + n % 100),
                            "supervisor",
                            format!("run {n} is busy"),
                            now_ms(),
                        )?;
                        Ok::<_, StoreError>(())
                    })
                    .expect("write");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let (keys, snapshots, slow) = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut runner = Runner::new(
            cfg.clone(),
            db.clone(),
            dir.path().to_path_buf(),
            Store::open(&db).expect("store"),
            app.want(),
            tx,
        );
        let mut keys = Vec::new();
        let mut slow = Vec::new();
        let mut snapshots = Vec::new();
        for i in 0..1000 {
            // Whatever arrived meanwhile is taken in and drawn, as the event loop does.
            while let Ok(msg) = rx.try_recv() {
                let t = Instant::now();
                for e in update(&mut app, &keymap, msg) {
                    if !matches!(e, Effect::Quit | Effect::Ring { .. }) {
                        runner.run(e);
                    }
                }
                term.draw(|f| view::draw(f, &app, &theme, &keymap))
                    .expect("draw");
                snapshots.push(t.elapsed());
            }
            let code = match i % 10 {
                0..=3 => KeyCode::Char('j'),
                4..=6 => KeyCode::Char('k'),
                7 => KeyCode::Char('l'),
                8 => KeyCode::Char('h'),
                _ => KeyCode::Tab,
            };
            let t = Instant::now();
            for e in update(
                &mut app,
                &keymap,
                Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
            ) {
                if !matches!(
                    e,
                    Effect::Quit | Effect::Attach { .. } | Effect::Ring { .. }
                ) {
                    runner.run(e);
                }
            }
            let u = t.elapsed();
            term.draw(|f| view::draw(f, &app, &theme, &keymap))
                .expect("draw");
            keys.push(t.elapsed());
            if t.elapsed() > Duration::from_millis(10) {
                slow.push(format!(
                    "{code:?} in {:?}: update {u:?}, total {:?}",
                    app.view,
                    t.elapsed()
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        (keys, snapshots, slow)
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().expect("writer");
    runtime.shutdown_timeout(Duration::from_secs(1));
    let (k50, k99, kmax) = spread(keys);
    let (s50, s99, _) = if snapshots.is_empty() {
        (Duration::ZERO, Duration::ZERO, Duration::ZERO)
    } else {
        spread(snapshots.clone())
    };
    println!(
        "console, {TASKS} tasks / {} jobs / {EVENTS} events:",
        TASKS * JOBS_PER_TASK
    );
    println!(
        "  first board frame at 200×50 {board_first:.1?}; snapshot reload (off the UI thread) p50 {reload_p50:.1?}"
    );
    for l in &logs {
        println!("  first frame of a run, {l}");
    }
    println!(
        "  key press → frame with a supervisor writing: p50 {k50:.2?}, p99 {k99:.2?}, max {kmax:.2?} (1000 keys); \
         snapshot arrival → frame p50 {s50:.2?}, p99 {s99:.2?} ({} snapshots)",
        snapshots.len()
    );
    println!(
        "  peak RSS {:.1} MB ({before:.1} MB before the console loaded)",
        peak_rss_mb()
    );
    for s in slow.iter().take(5) {
        println!("  a key over 10 ms: {s}");
    }
}
