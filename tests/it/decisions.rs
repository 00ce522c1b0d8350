//! Operator decisions are compare-and-set: of approvals and rejections made at the same
//! moment by several processes (consoles, scripts), exactly one applies; the others fail
//! with exit status 3 and a message naming who decided what and when, and the database never
//! holds two open jobs for a task (schema v4's partial unique index).

use crate::support;

use std::process::{Command, Stdio};

use bosun::pipeline::Outcome;
use bosun::status::{JobStatus, TaskState};
use support::Fixture;

/// Processes deciding at once, per round.
const DECIDERS: usize = 8;
/// Rounds, one task each.
const ROUNDS: usize = 50;

#[test]
fn of_simultaneous_approvals_and_rejections_exactly_one_applies() {
    let fx = Fixture::new("true");
    let db = fx.db_path();
    let mut losers_named = 0;
    for round in 0..ROUNDS {
        let (task, _) = fx.add_task(&format!("Round {round}"));
        let out = fx.complete(&task, |f| {
            f.write(
                &format!("docs/work-items/{}/01-analysis.md", task.key),
                "analysis\n",
            )
        });
        assert!(matches!(out, Outcome::AwaitingApproval { .. }), "{out:?}");
        // Half approve, half reject, all at once.
        let children: Vec<_> = (0..DECIDERS)
            .map(|i| {
                let mut c = Command::new(env!("CARGO_BIN_EXE_bosun"));
                c.arg("--db").arg(&db).current_dir(fx.dir.path());
                if i % 2 == 0 {
                    c.args(["approve", &task.key]);
                } else {
                    c.args([
                        "reject",
                        &task.key,
                        "--note",
                        &format!("decider {i} says no"),
                    ]);
                }
                c.env_remove("BOSUN_CONFIG")
                    .env("XDG_CONFIG_HOME", fx.dir.path().join("xdg"))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("bosun")
            })
            .collect();
        let outputs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("output"))
            .collect();
        let winners = outputs.iter().filter(|o| o.status.success()).count();
        assert_eq!(
            winners,
            1,
            "round {round}: {winners} decisions applied:\n{}",
            outputs
                .iter()
                .map(|o| format!(
                    "{:?} {}",
                    o.status.code(),
                    String::from_utf8_lossy(&o.stderr)
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
        for o in outputs.iter().filter(|o| !o.status.success()) {
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(3), "round {round}: {err}");
            assert!(
                err.contains(&format!("{} was already ", task.key)) && err.contains(" by cli"),
                "round {round}: the loser is told who decided what: {err}"
            );
            losers_named += 1;
        }
        // Never two open jobs for the task; its state is the winner's.
        let open: i64 = fx
            .store
            .conn()
            .query_row(
                "SELECT count(*) FROM jobs WHERE task_id = ?1 AND status IN ('queued','running')",
                [task.id],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(open, 1, "round {round}: one open job");
        let t = fx.task(&task.key);
        assert_eq!(t.state, TaskState::Active, "round {round}");
        assert!(
            matches!(t.stage.as_str(), "analysis" | "architecture"),
            "{}",
            t.stage
        );
        // Leave the queue empty for the next round's claim.
        let job = fx.open_job(&t).expect("open job");
        assert_eq!(job.status, JobStatus::Queued);
        fx.engine().cancel_job(job.id).expect("cancel");
    }
    assert_eq!(losers_named, ROUNDS * (DECIDERS - 1));
}

#[test]
fn the_schema_refuses_a_second_open_job_for_a_task() {
    let fx = Fixture::new("true");
    let (task, job) = fx.add_task("One job at a time");
    let err = fx
        .store
        .conn()
        .execute(
            "INSERT INTO jobs (task_id, stage, role, provider, status, max_attempts,
                               max_transient_attempts, available_at, created_at, updated_at)
             SELECT task_id, stage, role, provider, 'queued', max_attempts,
                    max_transient_attempts, available_at, created_at, updated_at
             FROM jobs WHERE id = ?1",
            [job.id],
        )
        .expect_err("a duplicate open job");
    assert!(err.to_string().contains("UNIQUE"), "{err}");
    assert_eq!(fx.open_job(&task).expect("job").id, job.id);
}

#[test]
fn the_migration_to_v4_keeps_one_open_job_per_task_deterministically() {
    // A database as bosun left it at schema v3, with the duplicates concurrent decisions
    // could create: task 1 has a running job (id 3) and queued ones (2, 4); task 2 has two
    // queued ones (5, 6).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    {
        let conn = crate::support::database_at(&path, 3);
        conn.execute_batch(
            "INSERT INTO projects (name, path, key_prefix, created_at) VALUES ('p', '/p', 'ET', 0);
             INSERT INTO tasks (key, project_id, title, spec, stage, state, priority, created_at, updated_at)
                 VALUES ('ET-001', 1, 't', '', 'analysis', 'active', 100, 0, 0),
                        ('ET-002', 1, 't', '', 'analysis', 'active', 100, 0, 0);",
        )
        .expect("rows");
        for (id, task, status) in [
            (1, 1, "done"),
            (2, 1, "queued"),
            (3, 1, "running"),
            (4, 1, "queued"),
            (5, 2, "queued"),
            (6, 2, "queued"),
        ] {
            conn.execute(
                "INSERT INTO jobs (id, task_id, stage, role, provider, status, max_attempts,
                                   max_transient_attempts, available_at, created_at, updated_at)
                 VALUES (?1, ?2, 'analysis', 'analyst', 'claude', ?3, 3, 10, 0, 0, 0)",
                rusqlite::params![id, task, status],
            )
            .expect("job");
        }
    }
    let store = bosun::store::Store::open(&path).expect("migrates");
    let statuses: Vec<(i64, String)> = store
        .conn()
        .prepare("SELECT id, status FROM jobs ORDER BY id")
        .expect("query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    let statuses: Vec<(i64, &str)> = statuses.iter().map(|(i, s)| (*i, s.as_str())).collect();
    assert_eq!(
        statuses,
        [
            (1, "done"),
            (2, "cancelled"),
            (3, "running"),
            (4, "cancelled"),
            (5, "queued"),
            (6, "cancelled")
        ]
    );
    let why: String = store
        .conn()
        .query_row("SELECT last_error FROM jobs WHERE id = 2", [], |r| r.get(0))
        .expect("reason");
    assert!(why.contains("duplicate open job"), "{why}");
}

/// Twelve deciders approve at once a task that the winning approval blocks (its next gate
/// fails): the eleven losers still exit 3 naming the approval that won, not "blocked, not
/// awaiting approval".
#[test]
fn losers_of_a_decision_that_blocks_the_task_are_told_who_won() {
    let layer = "[[stages]]\nname = \"analysis\"\nrole = \"analyst\"\n\
        [[stages.gates]]\nkind = \"artifact\"\npath = \"docs/work-items/{key}/01-analysis.md\"\n\
        [[stages.gates]]\nkind = \"approval\"\n\
        [[stages.gates]]\nkind = \"command\"\ncommand = \"false\"\non_fail = \"block\"\n";
    let fx = Fixture::with_layer("true", layer);
    std::fs::write(fx.dir.path().join("bosun.toml"), layer).expect("config");
    let (task, _) = fx.add_task("Blocks when approved");
    let out = fx.complete(&task, |f| {
        f.write(
            &format!("docs/work-items/{}/01-analysis.md", task.key),
            "analysis\n",
        )
    });
    assert!(matches!(out, Outcome::AwaitingApproval { .. }), "{out:?}");
    let children: Vec<_> = (0..12)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_bosun"))
                .arg("--db")
                .arg(fx.db_path())
                .arg("--config")
                .arg(fx.dir.path().join("bosun.toml"))
                .args(["approve", &task.key])
                .current_dir(fx.dir.path())
                .env("XDG_CONFIG_HOME", fx.dir.path().join("xdg"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("bosun")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("output"))
        .collect();
    assert_eq!(outputs.iter().filter(|o| o.status.success()).count(), 1);
    for o in outputs.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(
            err.contains(&format!("{} was already approved", task.key))
                && err.contains("it is now blocked"),
            "{err}"
        );
    }
    assert_eq!(fx.task(&task.key).state, TaskState::Blocked);
}

/// The migration to schema v14 (hashed hook tokens).
#[test]
fn the_migration_to_v14_keeps_only_hashes_of_hook_tokens() {
    // A database as bosun left it at schema v13: a live run's hook token in clear.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    let token = "feedfacecafebeef0123456789abcdef";
    {
        let conn = crate::support::database_at(&path, 13);
        conn.execute_batch(
            "INSERT INTO projects (name, path, key_prefix, created_at) VALUES ('p', '/p', 'ET', 0);
             INSERT INTO tasks (key, project_id, title, spec, stage, state, priority, created_at, updated_at)
                 VALUES ('ET-001', 1, 't', '', 'analysis', 'active', 100, 0, 0);",
        )
        .expect("rows");
        conn.execute(
            "INSERT INTO runs (id, task_id, stage, role, provider, attempt, status, started_at,
                               status_at, hook_token)
             VALUES (7, 1, 'analysis', 'analyst', 'claude', 1, 'busy', 0, 0, ?1)",
            [token],
        )
        .expect("run");
    }
    let store = bosun::store::Store::open(&path).expect("migrates");
    // The live run still authenticates with the token its agent holds.
    let (hash, ended) = bosun::store::runs::hook_token_hash(store.conn(), 7)
        .expect("query")
        .expect("run");
    assert!(!ended);
    assert_eq!(
        hash.as_deref(),
        Some(bosun::secret::token_hash(token).as_str())
    );
    assert!(bosun::agent::authenticate(&store, 7, token).is_ok());
    assert!(bosun::agent::authenticate(&store, 7, "0000").is_err());
    // No clear column, and no clear token anywhere in the file or its WAL.
    let columns: Vec<String> = store
        .conn()
        .prepare("SELECT name FROM pragma_table_info('runs')")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(!columns.iter().any(|c| c == "hook_token"), "{columns:?}");
    drop(store);
    for file in ["old.db", "old.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "{file} holds the clear token"
        );
    }
}
