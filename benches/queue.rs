//! Queue throughput on a file database: one job's full cycle is enqueue + claim + finish,
//! each its own `BEGIN IMMEDIATE` transaction with its event, as the supervisor does it.
//! Target (issue 2): at least 5,000 jobs/s on a 2-core machine.
//!
//! Run: `cargo bench --bench queue` (criterion prints `thrpt` in jobs/s).

use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::queue::{JobSpec, Queue};
use bosun::store::projects::{self, NewProject};
use bosun::store::{Store, StoreError, now_ms, tasks};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BATCH: u64 = 1_000;

fn setup(dir: &tempfile::TempDir) -> Store {
    let store = Store::open(&dir.path().join("bench.db")).expect("open");
    store
        .write(|tx| {
            let p = projects::insert(
                tx,
                &NewProject {
                    name: "bench",
                    path: "/tmp/bench",
                    key_prefix: "B",
                    default_branch: None,
                    test_command: None,
                },
                now_ms(),
            )?;
            tasks::insert(tx, "B-001", p.id, "bench", "", "analysis", 100, now_ms())?;
            Ok::<_, StoreError>(())
        })
        .expect("setup");
    store
}

fn cycle(store: &Store, q: &Queue, n: u64) {
    for _ in 0..n {
        let now = now_ms();
        store
            .write(|tx| {
                q.enqueue(
                    tx,
                    &JobSpec {
                        task_id: 1,
                        stage: "analysis",
                        role: "analyst",
                        provider: "claude",
                        priority: 100,
                        feedback: None,
                        helper: false,
                    },
                    "bench",
                    now,
                )
            })
            .expect("enqueue");
        let job = q.claim(store, now).expect("claim").expect("a job");
        store
            .write(|tx| q.complete(tx, job.id, now))
            .expect("complete");
    }
}

fn bench(c: &mut Criterion) {
    let cfg = Config::builtin().expect("config");
    let q = Queue::new(&cfg);
    let mut group = c.benchmark_group("queue");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("enqueue+claim+finish (file db, WAL)", |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = setup(&dir);
            let start = Instant::now();
            for _ in 0..iters {
                cycle(&store, &q, BATCH);
            }
            start.elapsed()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
