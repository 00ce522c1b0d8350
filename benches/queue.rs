//! Queue throughput on a file database (WAL): one job's full cycle is enqueue + claim +
//! finish, each with its event. Two ways:
//! - `one transaction per step`: each step its own `BEGIN IMMEDIATE` transaction, as a
//!   single CLI call or a claim by an otherwise idle supervisor does it;
//! - `batched`: [`BATCH_TX`] jobs per transaction for each step (`Queue::claim_many`), as
//!   the supervisor claims when several slots are free and as a script enqueues many.
//!
//! Target (issue 13): at least 10,000 jobs/s batched on a 2-core machine.
//! Run: `cargo bench --bench queue` (criterion prints `thrpt` in jobs/s).

use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::queue::{JobSpec, Queue};
use bosun::store::projects::{self, NewProject};
use bosun::store::{Store, StoreError, now_ms, tasks};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BATCH: u64 = 1_000;
/// Jobs per transaction in the batched cycle.
const BATCH_TX: u64 = 100;

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
            // A task has one open job at most: a batch needs a task per job.
            for i in 1..=BATCH_TX {
                let key = format!("B-{i:03}");
                tasks::insert(tx, &key, p.id, "bench", "", "analysis", 100, now_ms())?;
            }
            Ok::<_, StoreError>(())
        })
        .expect("setup");
    store
}

fn cycle(store: &Store, q: &Queue, n: u64) {
    for _ in 0..n {
        let now = now_ms();
        store
            .write(|tx| q.enqueue(tx, &spec(), "bench", now))
            .expect("enqueue");
        let job = q.claim(store, now).expect("claim").expect("a job");
        store
            .write(|tx| q.complete(tx, job.id, now))
            .expect("complete");
    }
}

/// [`BATCH_TX`] jobs enqueued in one transaction, claimed in one, finished in one.
fn batched(store: &Store, q: &Queue, n: u64) {
    for _ in 0..n / BATCH_TX {
        let now = now_ms();
        store
            .write(|tx| {
                for task_id in 1..=BATCH_TX {
                    let task_id = i64::try_from(task_id).expect("small");
                    q.enqueue(tx, &JobSpec { task_id, ..spec() }, "bench", now)?;
                }
                Ok::<_, StoreError>(())
            })
            .expect("enqueue");
        let jobs = store
            .write(|tx| q.claim_many(tx, now, BATCH_TX as usize))
            .expect("claim");
        assert_eq!(jobs.len() as u64, BATCH_TX);
        store
            .write(|tx| {
                for job in &jobs {
                    q.complete(tx, job.id, now)?;
                }
                Ok::<_, StoreError>(())
            })
            .expect("complete");
    }
}

fn spec() -> JobSpec<'static> {
    JobSpec {
        task_id: 1,
        stage: "analysis",
        role: "analyst",
        provider: "claude",
        priority: 100,
        feedback: None,
        helper: false,
    }
}

fn bench(c: &mut Criterion) {
    let cfg = Config::builtin().expect("config");
    let mut cfg = cfg;
    // Room for a whole batch to run at once (the built-in config allows 4).
    cfg.supervisor.max_concurrency = u32::try_from(BATCH_TX).expect("small");
    let q = Queue::new(&cfg);
    let mut group = c.benchmark_group("queue");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    type Way = fn(&Store, &Queue, u64);
    let ways: [(&str, Way); 2] = [
        ("enqueue+claim+finish, one transaction per step", cycle),
        ("enqueue+claim+finish, batched 100 per transaction", batched),
    ];
    for (name, way) in ways {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = setup(&dir);
                let start = Instant::now();
                for _ in 0..iters {
                    way(&store, &q, BATCH);
                }
                start.elapsed()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
