//! The schema that holds landing (issue 20).

/// The migration to schema v16 rebuilds the tasks table (new states in its CHECK) with every
/// row, its children's references, its index and its version trigger intact.
#[test]
fn the_migration_to_v16_keeps_every_task_and_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    {
        let conn = crate::support::database_at(&path, 15);
        conn.execute_batch(
            "INSERT INTO projects (name, path, key_prefix, created_at) VALUES ('p', '/p', 'ET', 0);
             INSERT INTO tasks (id, key, project_id, title, spec, stage, state, priority, created_at, updated_at)
                 VALUES (4, 'ET-004', 1, 'four', 's', 'review', 'active', 50, 1, 2),
                        (9, 'ET-009', 1, 'nine', '', 'done', 'done', 100, 3, 4);
             UPDATE tasks SET title = 'four!' WHERE id = 4;
             INSERT INTO jobs (id, task_id, stage, role, provider, status, max_attempts,
                               max_transient_attempts, available_at, created_at, updated_at)
                 VALUES (1, 4, 'review', 'reviewer', 'sim', 'running', 3, 10, 0, 0, 0);
             INSERT INTO runs (id, task_id, job_id, stage, role, provider, attempt, status,
                               started_at, status_at)
                 VALUES (7, 4, 1, 'review', 'reviewer', 'sim', 1, 'busy', 0, 0);",
        )
        .expect("rows");
    }
    let store = bosun::store::Store::open(&path).expect("migrates");
    let conn = store.conn();
    let rows: Vec<(i64, String, String, i64, i64)> = conn
        .prepare("SELECT id, key, title, priority, version FROM tasks ORDER BY id")
        .expect("query")
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        [
            (4, "ET-004".into(), "four!".into(), 50, 1),
            (9, "ET-009".into(), "nine".into(), 100, 0)
        ]
    );
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("fk check");
    assert_eq!(dangling, 0);
    // The version trigger is back; the new states are allowed, unknown ones still refused.
    conn.execute("UPDATE tasks SET state = 'landing' WHERE id = 9", [])
        .expect("landing is a state");
    let v: i64 = conn
        .query_row("SELECT version FROM tasks WHERE id = 9", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, 1);
    assert!(
        conn.execute("UPDATE tasks SET state = 'merged' WHERE id = 9", [])
            .is_err()
    );
    // A run still finds its task; a task with children still cannot vanish.
    assert!(conn.execute("DELETE FROM tasks WHERE id = 4", []).is_err());
    // One open landing per task.
    let land = "INSERT INTO landings (task_id, mode, strategy, base, branch, state, decided_by,
                                      created_at, updated_at)
                VALUES (9, 'merge', 'squash', 'main', 'bosun/ET-009', 'landing', ?1, 0, 0)";
    conn.execute(land, ["engine"]).expect("a landing");
    let err = conn
        .execute(land, ["console"])
        .expect_err("a second open landing");
    assert!(err.to_string().contains("UNIQUE"), "{err}");
    // A merge is landed only with its commit.
    assert!(
        conn.execute("UPDATE landings SET state = 'landed' WHERE task_id = 9", [])
            .is_err()
    );
}
