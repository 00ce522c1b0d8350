//! The real `bosun` binary as a process, on a real database file and git repository.

use crate::support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("example-tool");
        std::fs::create_dir_all(&repo).expect("mkdir");
        support::git(&repo, &["init", "-q"]);
        std::fs::write(repo.join("Cargo.toml"), "[package]\n").expect("write");
        Env { dir }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bosun"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("BOSUN_DB", self.dir.path().join("bosun.db"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env_remove("BOSUN_CONFIG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("bosun runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "bosun {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("valid JSON")
    }

    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).to_string_lossy().into_owned()
    }
}

#[test]
fn init_project_task_queue_and_decisions_from_the_command_line() {
    let env = Env::new();
    assert!(env.ok(&["init"]).contains("wrote bosun.toml"));
    assert!(Path::new(&env.path("bosun.toml")).is_file());
    let again = env.run(&["init"]);
    assert!(
        !again.status.success(),
        "init does not overwrite without --force"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(env.ok(&["config"]).contains("6. deploy"));

    let out = env.ok(&["project", "add", &env.path("example-tool")]);
    assert!(
        out.contains("ET-NNN") && out.contains("cargo test"),
        "{out}"
    );

    // The spec comes from standard input with `--spec -`.
    let mut child = env
        .cmd(&[
            "task",
            "add",
            "Add a --verbose flag",
            "--spec",
            "-",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"Print every step; -v is short.")
        .expect("write spec");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(created["task"]["key"], "ET-001");
    assert_eq!(created["task"]["spec"], "Print every step; -v is short.");
    assert_eq!(created["job"]["role"], "analyst");

    let tasks = env.json(&["task", "list", "--json"]);
    assert_eq!(tasks.as_array().map(Vec::len), Some(1));
    assert_eq!(tasks[0]["state"], "active");

    let queue = env.json(&["queue", "--json"]);
    assert_eq!(queue["counts"]["queued"], 1);
    assert_eq!(queue["queued"][0]["task"], "ET-001");

    // Approving a task that waits for nothing says why, and changes nothing.
    let out = env.run(&["approve", "ET-001"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not awaiting approval"));

    // Cancel the job: the task is blocked for the operator; retry it: active again.
    let job = queue["queued"][0]["job"]["id"]
        .as_i64()
        .expect("job id")
        .to_string();
    assert!(env.ok(&["queue", "cancel", &job]).contains("blocked"));
    assert_eq!(
        env.json(&["task", "show", "ET-001", "--json"])["task"]["state"],
        "blocked"
    );
    env.ok(&["queue", "retry", &job, "--note", "go on"]);
    let shown = env.json(&["task", "show", "ET-001", "--json"]);
    assert_eq!(shown["task"]["state"], "active");
    assert_eq!(shown["jobs"][0]["feedback"], "The operator says:\ngo on");

    let log = env.ok(&["log", "--task", "ET-001"]);
    for kind in [
        "task_created",
        "stage_entered",
        "job_enqueued",
        "job_cancelled",
        "blocked",
        "resumed",
    ] {
        assert!(log.contains(kind), "log lacks {kind}:\n{log}");
    }
    env.ok(&["task", "cancel", "ET-001"]);
    assert!(env.ok(&["task", "list"]).contains("cancelled"));
}

#[test]
fn bad_config_names_file_line_and_key_and_touches_nothing() {
    let env = Env::new();
    std::fs::write(env.path("bosun.toml"), "[queue]\nmax_atempts = 3\n").expect("write");
    let out = env.run(&["task", "list"]);
    assert!(out.status.success(), "reads do not need the config");
    let out = env.run(&["config"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bosun.toml:2:1: queue.max_atempts: unknown field"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_second_project_needs_an_explicit_choice() {
    let env = Env::new();
    let other = env.dir.path().join("other-repo");
    std::fs::create_dir_all(&other).expect("mkdir");
    support::git(&other, &["init", "-q"]);
    env.ok(&["project", "add", &env.path("example-tool")]);
    env.ok(&["project", "add", &other.to_string_lossy(), "--key", "OR"]);
    let out = env.run(&["task", "add", "x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --project"));
    assert!(
        env.ok(&["task", "add", "x", "--project", "OR"])
            .contains("OR-001")
    );
    let dup = env.run(&["project", "add", &other.to_string_lossy()]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already has"));
    let not_git = env.run(&["project", "add", &env.path("config")]);
    assert!(!not_git.status.success());
}

#[test]
fn providers_lists_installed_versions_and_proof() {
    let env = Env::new();
    // A provider whose CLI exists (a script that prints a version) and one that does not.
    let bin = env.dir.path().join("fake-agent");
    std::fs::write(&bin, "#!/bin/sh\necho 'fake-agent 2.1.0 (test)'\n").expect("write");
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    std::fs::write(
        env.path("bosun.toml"),
        format!(
            "[providers.fake]\ncommand = [\"{0}\"]\nready = \">\"\n\
             [providers.fake-proven]\ncommand = [\"{0}\"]\nready = \">\"\nproven = \"2.1.0\"\n\
             [providers.fake-stale]\ncommand = [\"{0}\"]\nready = \">\"\nproven = \"2.1.01\"\n\
             [providers.ghost]\ncommand = [\"no-such-agent-cli\"]\nready = \">\"\n",
            bin.display()
        ),
    )
    .expect("config");
    let rows = env.json(&["providers", "--json"]);
    let by = |name: &str| {
        rows.as_array()
            .expect("array")
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .expect(name)
    };
    assert_eq!(by("fake")["version"], "fake-agent 2.1.0 (test)");
    assert!(by("fake")["proven"].is_null());
    assert_eq!(by("fake-proven")["proven_for_installed"], true);
    assert_eq!(by("fake-stale")["proven_for_installed"], false);
    assert!(by("ghost")["proven_for_installed"].is_null());
    assert!(by("ghost")["installed"].is_null());
    assert_eq!(by("sim")["proven"], "built-in");
    assert!(
        by("sim")["version"]
            .as_str()
            .unwrap_or("")
            .starts_with("bosun ")
    );
    let text = env.ok(&["providers"]);
    assert!(
        text.contains("not installed (`no-such-agent-cli` is not on PATH)"),
        "{text}"
    );
    assert!(
        text.contains("gemini") && text.contains("not yet proven by a live test (best effort)"),
        "{text}"
    );
    assert!(
        text.contains("proven against 2.1.0;") || text.contains("proven against 2.1.0\n"),
        "{text}"
    );
    assert!(
        text.contains("proven against 2.1.01, not against the installed version"),
        "{text}"
    );
}

/// A bosun database with three tasks, closed (its WAL checkpointed into the file).
fn bosun_db(env: &Env) -> std::path::PathBuf {
    env.ok(&["project", "add", &env.path("example-tool")]);
    for t in ["One", "Two", "Three"] {
        env.ok(&["task", "add", t]);
    }
    env.dir.path().join("bosun.db")
}

#[test]
fn a_corrupt_a_foreign_and_a_newer_database_are_refused_untouched() {
    // Corrupt: four pages of table data zeroed. The daemon checks the file before it writes.
    let env = Env::new();
    let db = bosun_db(&env);
    let mut bytes = std::fs::read(&db).expect("db");
    let page = 4096;
    assert!(bytes.len() >= 6 * page, "{} bytes", bytes.len());
    bytes[2 * page..6 * page].fill(0);
    std::fs::write(&db, &bytes).expect("corrupt");
    let out = env.run(&[
        "daemon",
        "--socket",
        &format!("bosun-corrupt-{}", std::process::id()),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is malformed") && err.contains("bosun will not write to it"),
        "{err}"
    );
    assert!(err.contains("bosun backup"), "says how to recover: {err}");
    assert_eq!(
        std::fs::read(&db).expect("db"),
        bytes,
        "the corrupt file is unchanged"
    );

    // Foreign: some other program's SQLite file, even for a read-only command.
    let env = Env::new();
    let db = env.dir.path().join("bosun.db");
    {
        let c = rusqlite::Connection::open(&db).expect("sqlite");
        c.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('mine');")
            .expect("foreign");
    }
    let before = std::fs::read(&db).expect("db");
    let out = env.run(&["task", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not a bosun database (tables notes)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&db).expect("db"),
        before,
        "the foreign file is unchanged"
    );

    // Newer: written by a future bosun.
    let env = Env::new();
    let db = bosun_db(&env);
    {
        let c = rusqlite::Connection::open(&db).expect("sqlite");
        c.pragma_update(None, "user_version", 99).expect("bump");
        c.pragma_update(None, "journal_mode", "DELETE")
            .expect("no wal");
    }
    let before = std::fs::read(&db).expect("db");
    let out = env.run(&["task", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schema version 99") && err.contains("newer bosun"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&db).expect("db"),
        before,
        "the newer file is unchanged"
    );
}

#[test]
fn bosun_backup_copies_the_database_while_it_is_open() {
    let env = Env::new();
    let db = bosun_db(&env);
    let copy = env.dir.path().join("backup.db");
    // Held open by another connection meanwhile, as a daemon would.
    let _held = rusqlite::Connection::open(&db).expect("open");
    let out = env.ok(&["backup", &copy.to_string_lossy()]);
    assert!(out.contains("backed up"), "{out}");
    let c = rusqlite::Connection::open(&copy).expect("copy");
    let n: i64 = c
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .expect("tasks");
    assert_eq!(n, 3);
    let app: i64 = c
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("id");
    assert_eq!(app, bosun::store::APPLICATION_ID);
    // Never over an existing file.
    let out = env.run(&["backup", &copy.to_string_lossy()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
}

/// `bosun ARGS` on a fixture's database, in its directory, with its own XDG dirs.
fn on_fixture(fx: &support::Fixture, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bosun"))
        .arg("--db")
        .arg(fx.db_path())
        .args(args)
        .current_dir(fx.dir.path())
        .env("XDG_CONFIG_HOME", fx.dir.path().join("config"))
        .env("XDG_STATE_HOME", fx.dir.path().join("state"))
        .env_remove("BOSUN_CONFIG")
        .output()
        .expect("bosun runs")
}

/// A task blocked by its review after the rollbacks: `task show` prints what the review
/// said, and `task override` passes the stage with a note (refused without one).
#[test]
fn task_show_prints_the_failed_review_and_task_override_passes_it() {
    let fx = support::Fixture::new("true");
    fx.add_task("Pedantic reviewer");
    for round in 1..=4 {
        fx.drive_to("ET-001", "review");
        let t = fx.task("ET-001");
        fx.complete(&t, |f| {
            f.write(
                "docs/work-items/ET-001/12-review.md",
                &format!(
                    "# Review\n\nREQUEST_CHANGES\n\n- rename `x` to `count` (round {round})\n"
                ),
            )
        });
        if round <= 3 {
            std::fs::remove_file(fx.repo.join("docs/work-items/ET-001/12-review.md")).expect("rm");
        }
    }
    let bosun = |args: &[&str]| on_fixture(&fx, args);
    let show = bosun(&["task", "show", "ET-001"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("blocked"), "{text}");
    assert!(
        text.contains("what the verdict gate at review saw"),
        "{text}"
    );
    assert!(text.contains("rename `x` to `count` (round 4)"), "{text}");
    let refused = bosun(&["task", "override", "ET-001", "--note", "  "]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("needs a note"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let ok = bosun(&["task", "override", "ET-001", "--note", "naming is fine"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(
        said.contains("ET-001") && said.contains("testing"),
        "{said}"
    );
    let show = bosun(&["task", "show", "ET-001"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("override") && text.contains("naming is fine"),
        "{text}"
    );
}

/// `task show` is truthful: it lists the stage's artifacts that exist and marks a missing one
/// a gate needs (never the analyst's questions file that was not written), shows each gate's
/// current outcome only (no `approval pending` next to the `approval pass` that replaced it),
/// and `task resume --stage` says whether the stage runs for the first time.
#[test]
fn task_show_lists_existing_artifacts_and_current_gate_outcomes() {
    let fx = support::Fixture::new("true");
    fx.add_task("Truthful views");
    let bosun = |args: &[&str]| {
        let out = on_fixture(&fx, args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Analysis done, its approval pending.
    let t = fx.task("ET-001");
    fx.complete(&t, |f| {
        f.write("docs/work-items/ET-001/01-analysis.md", "analysis")
    });
    let (_, text, _) = bosun(&["task", "show", "ET-001"]);
    assert!(
        text.contains("artifacts docs/work-items/ET-001/01-analysis.md"),
        "{text}"
    );
    assert!(!text.contains("01-questions.md"), "never written: {text}");
    assert!(text.contains("pending"), "{text}");
    // Approved: the approval's current outcome is pass, the pending row is history.
    let (ok, said, err) = bosun(&["approve", "ET-001"]);
    assert!(ok, "{err}");
    assert!(said.contains("architecture"), "{said}");
    let (_, text, _) = bosun(&["task", "show", "ET-001"]);
    let gates: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "gates:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(
        gates
            .iter()
            .any(|l| l.contains("approval") && l.contains("pass")),
        "{gates:?}"
    );
    assert!(
        !gates.iter().any(|l| l.contains("pending")),
        "only the current outcome: {gates:?}"
    );
    // At architecture nothing is written yet: the gate's file is missing, not listed.
    assert!(
        text.contains("missing   docs/work-items/ET-001/02-architecture.md"),
        "{text}"
    );
    assert!(
        !text.contains("artifacts docs/work-items/ET-001/02"),
        "{text}"
    );
    // Blocked at architecture (its job given up), then resumed at a stage that never ran,
    // and at one that did: each says what will run.
    let q = bosun::queue::Queue::new(&fx.cfg);
    let block = || {
        let t = fx.task("ET-001");
        let job = fx.open_job(&t).expect("the stage's job");
        fx.store
            .write(|tx| {
                q.cancel(tx, job.id, "test", bosun::store::now_ms())?;
                bosun::store::tasks::set_stage(
                    tx,
                    t.id,
                    &t.stage,
                    bosun::status::TaskState::Blocked,
                    Some("test"),
                    bosun::store::now_ms(),
                )
            })
            .expect("block");
    };
    block();
    let (ok, said, err) = bosun(&["task", "resume", "ET-001", "--stage", "testing"]);
    assert!(ok, "{err}");
    assert!(
        said.contains("testing will run for the first time"),
        "{said}"
    );
    block();
    let (ok, said, err) = bosun(&["task", "resume", "ET-001", "--stage", "analysis"]);
    assert!(ok, "{err}");
    assert!(said.contains("analysis runs again"), "{said}");
}

/// A config layer in the test's directory that gives every role the built-in scripted
/// agent, so no real agent CLI needs to be on PATH.
fn every_role_on_sim(env: &Env) {
    let cfg = bosun::config::Config::builtin().expect("config");
    let text: String = cfg
        .roles
        .keys()
        .map(|r| format!("[roles.{r}]\nprovider = \"sim\"\n"))
        .collect();
    std::fs::write(env.path("bosun.toml"), text).expect("config");
}

#[test]
fn doctor_on_a_healthy_setup_says_ok_and_exits_0() {
    let env = Env::new();
    bosun_db(&env);
    every_role_on_sim(&env);
    let out = env.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for check in [
        "tmux",
        "git",
        "database",
        "config",
        "provider sim",
        "supervisor",
        "disk",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("ok") && l.contains(check)),
            "{check} is ok: {text}"
        );
    }
    assert!(text.contains("sound, schema v"), "{text}");
    assert!(
        text.contains("then bosun.toml"),
        "names the config layers: {text}"
    );
    let json = env.json(&["doctor", "--json"]);
    assert!(
        json.as_array()
            .expect("a list")
            .iter()
            .all(|f| f["level"] != "fail"),
        "{json}"
    );
}

#[test]
fn doctor_without_tmux_says_what_to_install_and_exits_1() {
    let env = Env::new();
    every_role_on_sim(&env);
    // A PATH with git but no tmux.
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let git = Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .expect("sh");
    let git = String::from_utf8_lossy(&git.stdout).trim().to_string();
    std::os::unix::fs::symlink(&git, Path::new(&bin).join("git")).expect("link");
    let out = env
        .cmd(&["doctor"])
        .env("PATH", &bin)
        .output()
        .expect("bosun");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("tmux"))
        .expect("a tmux line");
    assert!(line.starts_with("FAIL"), "{text}");
    assert!(
        text.contains("apt-get install tmux"),
        "says what to install: {text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok") && l.contains("git")),
        "{text}"
    );
}

#[test]
fn doctor_on_a_corrupt_database_says_how_to_recover_and_writes_nothing() {
    let env = Env::new();
    every_role_on_sim(&env);
    let db = bosun_db(&env);
    let mut bytes = std::fs::read(&db).expect("db");
    bytes[2 * 4096..6 * 4096].fill(0);
    std::fs::write(&db, &bytes).expect("corrupt");
    let out = env.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("database"))
        .expect("a database line");
    assert!(
        line.starts_with("FAIL") && line.contains("malformed"),
        "{text}"
    );
    assert!(text.contains("restore the latest backup"), "{text}");
    assert_eq!(std::fs::read(&db).expect("db"), bytes, "read-only");
}

#[test]
fn version_names_the_commit_and_completions_and_man_page_work() {
    let env = Env::new();
    let version = env.ok(&["--version"]);
    assert!(
        version.starts_with(&format!("bosun {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    // Built from this checkout: the commit is named.
    let head = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short=12",
            "HEAD",
        ])
        .output()
        .expect("git");
    if head.status.success() {
        let sha = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert!(
            version.contains(&format!("({sha}")),
            "{version} lacks {sha}"
        );
    }
    // A bash that sources the completion script completes a subcommand, and a task key from
    // the database (bosun answers the shell: `COMPLETE=bash bosun -- …`).
    env.ok(&["project", "add", &env.path("example-tool")]);
    env.ok(&["task", "add", "Complete me"]);
    let script = env.ok(&["completions", "bash"]);
    let path = env.path("bosun.bash");
    std::fs::write(&path, script).expect("script");
    let complete = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{path}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; \
                 COMP_POINT={}; _clap_complete_bosun bosun '{}' '{}'; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                words
                    .iter()
                    .map(|w| format!("'{w}'"))
                    .collect::<Vec<_>>()
                    .join(" "),
                words.len() - 1,
                line.len(),
                words[words.len() - 1],
                words[words.len() - 2],
            ))
            .env("BOSUN_DB", env.dir.path().join("bosun.db"))
            .current_dir(env.dir.path())
            .output()
            .expect("bash");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    assert_eq!(complete("bosun tas"), ["task"]);
    let keys = complete("bosun task show ");
    assert!(keys.iter().any(|k| k == "ET-001"), "{keys:?}");
    let providers = complete("bosun providers --check ");
    assert!(
        ["claude", "codex", "gemini", "sim"]
            .iter()
            .all(|p| providers.iter().any(|c| c == p)),
        "{providers:?}"
    );
    // The man page renders with man.
    let roff = env.run(&["man"]);
    assert!(roff.status.success());
    let man = Command::new("man")
        .args(["-l", "-"])
        .env("MANWIDTH", "80")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    match man {
        Ok(mut child) => {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(&roff.stdout)
                .expect("write");
            let out = child.wait_with_output().expect("man");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("NAME") && text.contains("bosun"), "{text}");
            assert!(text.contains("completions"), "{text}");
        }
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "man is missing under CI ({e}); .ci/run installs man-db"
            );
            eprintln!("SKIPPED rendering: no `man` here ({e})");
        }
    }
}

/// `bosun answer` and `bosun send` on a run whose pane went away (the run ended as the
/// operator acted) say the task has no running agent, not tmux's "can't find pane: %1".
#[test]
fn acting_on_a_vanished_pane_says_there_is_no_running_agent() {
    let fx = support::Fixture::new("true");
    let (task, _) = fx.add_task("Ends as you answer");
    let (_, run) = fx.claim_and_start(&task);
    let socket = format!("bosun-cli-gone-{}", std::process::id());
    let _guard = support::TmuxServer::named(socket.clone());
    let up = Command::new("tmux")
        .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
        .status()
        .expect("tmux");
    assert!(up.success());
    fx.store
        .write(|tx| {
            bosun::store::runs::set_pane(
                tx,
                run.id,
                &bosun::store::runs::PaneRecord {
                    pane_id: "%4242",
                    window: "gone",
                    log_path: "/dev/null",
                    socket: &socket,
                    rows: 50,
                    cols: 200,
                },
            )
        })
        .expect("pane");
    for args in [
        &["answer", task.key.as_str(), "yes", "--wait", "1s"][..],
        &["send", task.key.as_str(), "hello"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_bosun"))
            .arg("--db")
            .arg(fx.db_path())
            .args(args)
            .env("XDG_CONFIG_HOME", fx.dir.path().join("xdg"))
            .output()
            .expect("bosun");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains(&format!("{} has no running agent", task.key))
                && !err.contains("can't find"),
            "{args:?}: {err}"
        );
    }
}

/// Every path the build script names in `rerun-if-changed` exists: cargo takes a missing one
/// as always stale and rebuilt the crate on every build (a checkout without
/// `.git/packed-refs`, as every `git init` repository before its first gc).
#[test]
fn the_build_script_names_only_paths_that_exist() {
    let output = Path::new(env!("OUT_DIR")).with_file_name("output");
    let text = std::fs::read_to_string(&output).expect("the build script's output");
    let named: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("cargo:rerun-if-changed="))
        .collect();
    assert!(!named.is_empty(), "{text}");
    for path in named {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        assert!(
            full.exists(),
            "{path} does not exist: every build would rebuild bosun"
        );
    }
}

/// `bosun demo --headless --dir DIR`, which must refuse DIR before writing anything.
fn demo_refuses(env: &Env, dir: &Path, why: &str) {
    let out = env
        .cmd(&["demo", "--headless", "--auto-approve", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("bosun demo");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{dir:?} was accepted");
    assert!(err.contains("refusing --dir"), "{err}");
    assert!(err.contains(&dir.display().to_string()), "names it: {err}");
    assert!(err.contains(why), "says why ({why}): {err}");
}

#[test]
fn demo_refuses_a_directory_another_user_owns_or_can_write_or_a_planted_symlink() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    // Owned by another user (tests run as root: `nobody` is uid 65534).
    let theirs = env.dir.path().join("theirs");
    std::fs::create_dir(&theirs).expect("mkdir");
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).expect("chown nobody");
    demo_refuses(&env, &theirs, "owned by uid 65534");
    assert_eq!(
        std::fs::read_dir(&theirs).expect("ls").count(),
        0,
        "nothing written"
    );
    // Writable by group or others, like /tmp.
    let shared = env.dir.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    demo_refuses(&env, &shared, "writable by group or others");
    // Ours and private, but with a symlink where the demo would write: refused, the link's
    // target untouched.
    let planted = env.dir.path().join("planted");
    std::fs::create_dir(&planted).expect("mkdir");
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let target = env.dir.path().join("victim");
    std::fs::write(&target, "untouched").expect("write");
    for name in ["tmux.conf", "bosun.toml", "bosun.db"] {
        let link = planted.join(name);
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        demo_refuses(&env, &planted, "symbolic link");
        std::fs::remove_file(&link).expect("rm");
    }
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "untouched");
}

#[test]
fn doctor_checks_only_the_providers_stages_use_and_names_files_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.ok(&["project", "add", &env.path("example-tool")]);
    every_role_on_sim(&env);
    // A role no stage uses names a provider whose CLI is missing: nothing blocks.
    let mut text = std::fs::read_to_string(env.path("bosun.toml")).expect("config");
    text.push_str(
        "[roles.unused]\nprovider = \"claude\"\nprompt = \"never\"\n\
         [providers.claude]\ncommand = [\"/nonexistent/claude\"]\n",
    );
    std::fs::write(env.path("bosun.toml"), text).expect("config");
    let db = env.dir.path().join("bosun.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = env.run(&["doctor"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("provider claude"), "{said}");
    assert!(
        said.lines()
            .any(|l| l.contains("not checked (no stage uses them)") && l.contains("claude")),
        "{said}"
    );
    // The database others can read: a warning with the chmod that fixes it; doctor itself
    // changes nothing.
    assert!(
        said.lines()
            .any(|l| l.starts_with("warn") && l.contains("file modes") && l.contains("644")),
        "{said}"
    );
    assert!(
        said.contains(&format!("chmod 600 {}", db.display())),
        "{said}"
    );
    let mode = std::fs::metadata(&db).expect("db").permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "doctor only reads");
}

#[test]
fn doctor_reads_the_heartbeat_after_slow_provider_checks() {
    let env = Env::new();
    env.ok(&["project", "add", &env.path("example-tool")]);
    every_role_on_sim(&env);
    // The stages' provider's version command marks the lease as it runs: a supervisor line
    // that shows the mark was read after the provider checks (the heartbeat's age printed is
    // then the one measured when printed, not seconds of slow `--version`s older).
    let mut text = std::fs::read_to_string(env.path("bosun.toml")).expect("config");
    text.push_str(&format!(
        "[providers.sim]\nversion_command = [\"sh\", \"-c\", \"sqlite3 -cmd '.timeout 5000' '{}' \\\"UPDATE lease SET owner = 'read-after-the-provider-check'\\\" && echo sim 1.0\"]\n",
        env.path("bosun.db")
    ));
    std::fs::write(env.path("bosun.toml"), text).expect("config");
    let socket = format!("bosun-doctor-{}", std::process::id());
    let _guard = support::TmuxServer::named(socket.clone());
    let mut daemon = env
        .cmd(&["daemon", "--socket", &socket])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("daemon");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !env.ok(&["doctor", "--json"]).contains("last heartbeat") {
        assert!(std::time::Instant::now() < deadline, "no lease taken");
    }
    // The waits above ran the version command too: take the mark off before the doctor run
    // that counts.
    rusqlite::Connection::open(env.path("bosun.db"))
        .and_then(|c| {
            c.busy_timeout(std::time::Duration::from_secs(5))?;
            c.execute("UPDATE lease SET owner = 'daemon'", [])
        })
        .expect("unmark the lease");
    let out = env.run(&["doctor"]);
    let _ = daemon.kill();
    let _ = daemon.wait();
    let said = String::from_utf8_lossy(&out.stdout);
    let line = said
        .lines()
        .find(|l| l.contains("last heartbeat"))
        .expect("a supervisor line");
    assert!(
        line.starts_with("ok"),
        "a healthy daemon is not stale: {said}"
    );
    assert!(
        line.contains("read-after-the-provider-check"),
        "the lease was read before the provider checks: {said}"
    );
}

#[test]
fn doctor_says_where_gemini_clis_layer_goes_and_checks_the_users_settings() {
    let env = Env::new();
    env.ok(&["project", "add", &env.path("example-tool")]);
    let cfg = bosun::config::Config::builtin().expect("config");
    let mut text: String = cfg
        .roles
        .keys()
        .map(|r| format!("[roles.{r}]\nprovider = \"gemini\"\n"))
        .collect();
    text.push_str(
        "[providers.gemini]\ncommand = [\"true\"]\nversion_command = [\"echo\", \"0.61.0\"]\n",
    );
    std::fs::write(env.path("bosun.toml"), text).expect("config");
    let home = std::path::PathBuf::from(env.path("home"));
    std::fs::create_dir_all(home.join(".gemini")).expect("home");
    let doctor = || {
        let out = env
            .cmd(&["doctor"])
            .env("HOME", &home)
            .env_remove("GEMINI_CLI_HOME")
            .output()
            .expect("doctor");
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = said
            .lines()
            .find(|l| l.contains("provider gemini"))
            .expect("a gemini line")
            .to_string();
        (line, said)
    };
    // The data dir is under /tmp: no matter, the layer goes through a per-run home.
    std::fs::write(
        home.join(".gemini/settings.json"),
        "{ // mine\n \"ui\": { \"theme\": \"GitHub\" } }",
    )
    .expect("settings");
    let (line, said) = doctor();
    assert!(line.starts_with("ok"), "{said}");
    assert!(line.contains("hooks wired"), "{said}");
    assert!(line.contains(".gemini-home"), "{said}");
    assert!(
        line.contains(&format!(
            "the user's {}/.gemini/settings.json",
            home.display()
        )),
        "{said}"
    );
    assert!(!said.contains("root"), "{said}");
    // A settings file Gemini CLI cannot parse is named, with its fix.
    std::fs::write(home.join(".gemini/settings.json"), "{ \"ui\": ").expect("settings");
    let (line, said) = doctor();
    assert!(line.starts_with("warn"), "{said}");
    assert!(line.contains("is not valid JSON"), "{said}");
    assert!(said.contains("fix the Gemini CLI settings file"), "{said}");
}
