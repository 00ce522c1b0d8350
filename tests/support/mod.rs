//! Shared test fixtures: a real SQLite file, a real git repository as the project, and the
//! engine over them. Each fixture lives in its own temporary directory, removed on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use bosun::config::Config;
use bosun::pipeline::{Engine, Input, Outcome, RunResult};
use bosun::status::JobStatus;
use bosun::store::jobs::{self, Job};
use bosun::store::projects::{self, NewProject};
use bosun::store::runs::Run;
use bosun::store::tasks::{self, Task};
use bosun::store::{Store, now_ms};

pub mod agents;
pub mod cli;
pub mod codex;
pub mod config;
pub mod rig;
pub mod supervised;
pub mod terminal;

/// The one tmux-server guard of the kit: a private socket, its panes' processes stopped and
/// the server killed on drop ([`bosun::sandbox::TmuxServer`]).
pub use bosun::sandbox::TmuxServer;

/// The one way tests wait: polls `f` every 20 ms until it gives `Some`, for at most `limit`,
/// and panics naming `what` and what `show()` says about the world at that moment (a screen,
/// the tasks' states). Every waiting helper of the kit is this with another shape.
pub fn eventually_showing<T>(
    limit: std::time::Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
    show: impl Fn() -> String,
) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() >= limit {
            panic!("timed out after {limit:?} waiting for {what}\n{}", show());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// [`eventually_showing`] with nothing more to show than `what`.
pub fn eventually<T>(limit: std::time::Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    eventually_showing(limit, what, f, String::new)
}

/// A database, a project repository and a config.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub cfg: Config,
    pub repo: PathBuf,
}

impl Fixture {
    /// The built-in pipeline; the project's test command is `test_command`.
    pub fn new(test_command: &str) -> Fixture {
        Fixture::with_config(test_command, &[])
    }

    /// The built-in pipeline with `layer` (TOML text) on top.
    pub fn with_layer(test_command: &str, layer: &str) -> Fixture {
        Fixture::with_config(test_command, &[layer])
    }

    fn with_config(test_command: &str, layers: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = init_repo(dir.path());
        let file = PathBuf::from("test-layer.toml");
        let layer_list: Vec<(&Path, &str)> = layers.iter().map(|l| (file.as_path(), *l)).collect();
        let cfg = Config::from_layers(&layer_list).expect("config");
        let store = open_with_project(&dir.path().join("bosun.db"), &repo, test_command);
        Fixture {
            dir,
            store,
            cfg,
            repo,
        }
    }

    pub fn engine(&self) -> Engine<'_> {
        Engine::new(&self.cfg, &self.store)
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("bosun.db")
    }

    /// Adds a task; returns it and its first job.
    pub fn add_task(&self, title: &str) -> (Task, Job) {
        self.engine()
            .create_task("example-tool", title, "spec text", 100)
            .expect("create task")
    }

    pub fn task(&self, key: &str) -> Task {
        tasks::by_key(self.store.conn(), key).expect("task")
    }

    /// The task's open (queued or running) job.
    pub fn open_job(&self, task: &Task) -> Option<Job> {
        jobs::open_for_task(self.store.conn(), task.id).expect("open job")
    }

    /// Writes `text` to `rel` under the project repository (the worktree in these tests).
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.repo.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    /// Claims the task's queued job (making it available now), starts a run for it.
    pub fn claim_and_start(&self, task: &Task) -> (Job, Run) {
        let job = self.open_job(task).expect("a queued job");
        assert_eq!(
            job.status,
            JobStatus::Queued,
            "job {} should be queued",
            job.id
        );
        // Make it claimable now, whatever its backoff.
        let engine = self.engine();
        let claimed = engine
            .queue
            .claim(&self.store, job.available_at.max(now_ms()))
            .expect("claim")
            .expect("a job to claim");
        assert_eq!(claimed.id, job.id, "the task's job is the one claimed");
        let run = engine.start_run(claimed.id).expect("start run");
        (claimed, run)
    }

    /// Gives run `run_id` the Claude Code fixture's session record
    /// (`tests/fixtures/claude-2.1.332/transcript.jsonl`, ~29,000 tokens) as its transcript and
    /// records its usage, as a completed turn does; returns the record's path.
    pub fn spend_fixture_transcript(&self, run_id: i64) -> PathBuf {
        let record = self.dir.path().join(format!("session-{run_id}.jsonl"));
        std::fs::write(
            &record,
            include_str!("../fixtures/claude-2.1.332/transcript.jsonl"),
        )
        .expect("record");
        let path = record.to_string_lossy().into_owned();
        self.store
            .write(|tx| bosun::store::runs::set_transcript(tx, run_id, &path))
            .expect("transcript");
        bosun::supervisor::usage::record(&self.cfg, &self.store, run_id).expect("usage");
        record
    }

    /// Claims, starts and completes a run of the task's job after `work` has written files.
    pub fn complete(&self, task: &Task, work: impl FnOnce(&Fixture)) -> Outcome {
        let (_job, run) = self.claim_and_start(task);
        work(self);
        self.finish_run(run.id)
    }

    /// Run `run_id` completed (its turn done, no final message): the engine judges it.
    pub fn finish_run(&self, run_id: i64) -> Outcome {
        self.engine()
            .handle(Input::RunFinished {
                run_id,
                result: RunResult::Completed {
                    final_message: None,
                },
            })
            .expect("run finished")
    }

    /// Drives a task from its current stage to the start of `stage` along the happy path of
    /// the built-in pipeline (artifacts written, approvals given, verdicts passing).
    pub fn drive_to(&self, key: &str, stage: &str) {
        let artifact = |name: &str, text: &str| {
            self.write(&format!("docs/work-items/{key}/{name}"), text);
        };
        loop {
            let task = self.task(key);
            if task.stage == stage {
                return;
            }
            match task.stage.as_str() {
                "analysis" => {
                    self.complete(&task, |_| artifact("01-analysis.md", "analysis"));
                    self.engine()
                        .handle(Input::Decide {
                            task: key.into(),
                            decision: bosun::pipeline::Decision::Approve { note: None },
                            by: "test".into(),
                        })
                        .expect("approve");
                }
                "architecture" => {
                    self.complete(&task, |_| artifact("02-architecture.md", "design"));
                }
                "development" => {
                    self.complete(&task, |_| {});
                }
                "review" => {
                    self.complete(&task, |_| artifact("12-review.md", "APPROVED\nlooks good"));
                }
                "testing" => {
                    self.complete(&task, |_| artifact("13-test-report.md", "PASS\nall green"));
                }
                other => panic!("cannot drive past {other}"),
            }
        }
    }

    /// Claims, starts and fails a run of the task's job.
    pub fn fail(&self, task: &Task, log_tail: &str, timed_out: bool) -> Outcome {
        let (_job, run) = self.claim_and_start(task);
        self.engine()
            .handle(Input::RunFinished {
                run_id: run.id,
                result: RunResult::Failed {
                    reason: "agent exited with status 1".into(),
                    log_tail: log_tail.into(),
                    exit_code: Some(1),
                    timed_out,
                },
            })
            .expect("run finished")
    }
}

/// Creates `<parent>/repo`: a git repository on `main` with one commit.
pub fn init_repo(parent: &Path) -> PathBuf {
    let repo = parent.join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir repo");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "demo\n").expect("write");
    git(&repo, &["add", "."]);
    git(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "init",
        ],
    );
    repo
}

/// Opens the database at `db` and registers `repo` as project `example-tool` (key `ET`).
pub fn open_with_project(db: &Path, repo: &Path, test_command: &str) -> Store {
    let store = Store::open(db).expect("open store");
    let repo_s = repo.to_string_lossy().into_owned();
    store
        .write(|tx| {
            projects::insert(
                tx,
                &NewProject {
                    name: "example-tool",
                    path: &repo_s,
                    key_prefix: "ET",
                    default_branch: Some("main"),
                    test_command: Some(test_command),
                },
                now_ms(),
            )
        })
        .expect("project");
    store
}

/// Runs git in `dir` for set-up and checks; panics on failure; returns trimmed stdout.
pub fn git_output(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs git in `dir`, panicking on failure.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The clear hook token of run `run_id` (the database keeps only its hash): read from the
/// environment of a live process of the run, whose `BOSUN_HOOK_TOKEN` hashes to the stored
/// hash. `None` when the run has none or no process carries it.
pub fn run_token(store: &Store, run_id: i64) -> Option<String> {
    let hash = bosun::store::runs::hook_token_hash(store.conn(), run_id)
        .ok()??
        .0?;
    token_carriers(&[hash]).into_iter().next().map(|(_, t)| t)
}

/// The live processes (pid, token) whose `BOSUN_HOOK_TOKEN` hashes to one of `hashes`.
pub fn token_carriers(hashes: &[String]) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for pid in dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if zombie {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        for entry in env.split(|b| *b == 0) {
            if let Some(v) = entry.strip_prefix(b"BOSUN_HOOK_TOKEN=") {
                let v = String::from_utf8_lossy(v).into_owned();
                if hashes.contains(&bosun::secret::token_hash(&v)) {
                    out.push((pid, v));
                }
            }
        }
    }
    out
}

/// Every process's command line, sampled about every millisecond until `stop`: how many
/// times each distinct command line was seen.
pub fn sample_command_lines(
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<std::collections::HashMap<Vec<u8>, u32>> {
    std::thread::spawn(move || {
        let mut seen: std::collections::HashMap<Vec<u8>, u32> = std::collections::HashMap::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
                if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
                    && !cmd.is_empty()
                {
                    *seen.entry(cmd).or_default() += 1;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        seen
    })
}

/// The command lines in `seen` (NULs as spaces) that contain `secret`.
pub fn lines_with(seen: &std::collections::HashMap<Vec<u8>, u32>, secret: &str) -> Vec<String> {
    seen.keys()
        .map(|c| String::from_utf8_lossy(c).replace('\0', " "))
        .filter(|c| c.contains(secret))
        .collect()
}

/// How many times a `bosun … hook --run …` command line was caught in `seen`.
pub fn hook_calls_caught(seen: &std::collections::HashMap<Vec<u8>, u32>) -> u32 {
    seen.iter()
        .filter(|(c, _)| String::from_utf8_lossy(c).contains("\0hook\0--run\0"))
        .map(|(_, n)| n)
        .sum()
}

/// A database at `path` as bosun left it at schema `version`: the first `version`
/// migrations applied by hand (foreign keys on, as bosun opens it), its `user_version` set.
/// Opening it with `Store::open` migrates it from there.
pub fn database_at(path: &Path, version: usize) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.pragma_update(None, "foreign_keys", "ON").expect("fk");
    for sql in &bosun::store::MIGRATIONS[..version] {
        conn.execute_batch(sql).expect("old schema");
    }
    conn.pragma_update(None, "user_version", version as i64)
        .expect("version");
    conn
}
