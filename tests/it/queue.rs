//! The job queue on real SQLite files: classification, backoff, the circuit breaker, claims
//! under concurrency, cancel, retry and prune.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use bosun::config::Config;
use bosun::queue::backoff;
use bosun::queue::{Classifier, Disposition, Failure, FailureKind, JobSpec, Queue};
use bosun::status::{JobStatus, RunStatus};
use bosun::store::breakers::{self, BreakerState};
use bosun::store::hooks::{self, HookEvent};
use bosun::store::jobs;
use bosun::store::{Store, now_ms, runs};
use support::Fixture;

fn transient(reason: &str, retry_after: Option<Duration>) -> Failure {
    Failure {
        kind: FailureKind::Transient,
        reason: reason.into(),
        retry_after,
    }
}

#[test]
fn classification_of_sample_logs() {
    let c = Classifier::default();
    let transient_logs = [
        ("Error: 429 Too Many Requests … retry-after: 7", Some(7.0)),
        (
            "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}",
            None,
        ),
        ("upstream said: 503 Service Unavailable", None),
        ("HTTP 502 Bad Gateway from proxy", None),
        (
            "error: You exceeded your current quota (insufficient_quota)",
            None,
        ),
        ("RESOURCE_EXHAUSTED: quota exhausted for model", None),
        ("Error: connect ECONNREFUSED 127.0.0.1:443", None),
        ("stream error: read ECONNRESET", None),
        ("Connection reset by peer", None),
        ("Request timed out.", None),
        (
            "⎿ API Error: Rate limit reached. Please try again in 20s",
            Some(20.0),
        ),
        ("rate_limit_error: retry after 1500ms", Some(1.5)),
    ];
    for (log, retry) in transient_logs {
        let f = c.classify(
            &format!("working...\n{log}\n"),
            "agent exited with status 1",
            false,
        );
        assert_eq!(f.kind, FailureKind::Transient, "{log}");
        assert_eq!(f.retry_after.map(|d| d.as_secs_f64()), retry, "{log}");
        assert!(
            f.reason.starts_with("agent exited with status 1: "),
            "{}",
            f.reason
        );
    }
    let permanent_logs = [
        "error[E0308]: mismatched types",
        "panic: runtime error: invalid memory address",
        "Permission denied (publickey)",
        "Traceback (most recent call last):\n  KeyError: 'x'",
        "",
    ];
    for log in permanent_logs {
        let f = c.classify(log, "agent exited with status 2", false);
        assert_eq!(f.kind, FailureKind::Permanent, "{log}");
        assert_eq!(f.reason, "agent exited with status 2");
    }
    // A reason that is the matching line already (an error left on an agent's screen) is
    // not repeated.
    let line = "● API Error: Request rejected (429) · Number of request tokens has exceeded";
    let f = c.classify(&format!("❯ Say hi\n\n{line}\n\n❯\n"), line, false);
    assert_eq!((f.kind, f.reason.as_str()), (FailureKind::Transient, line));
    // A watchdog kill is permanent whatever the log says.
    assert_eq!(
        c.classify("429 Too Many Requests", "timeout", true).kind,
        FailureKind::Permanent
    );
    // Only the tail counts: an old 429 followed by plenty of ordinary output is not transient.
    let long = format!(
        "429 Too Many Requests\n{}",
        "compiling crate...\n".repeat(1000)
    );
    assert_eq!(
        c.classify(&long, "exit 1", false).kind,
        FailureKind::Permanent
    );
    // Extra patterns (a provider's own) are honoured.
    let custom = Classifier::new(&["model is warming up".to_string()]).expect("compiles");
    assert_eq!(
        custom.classify("the model is warming up", "x", false).kind,
        FailureKind::Transient
    );
}

fn queue_cfg(jitter: f64) -> bosun::config::QueueConfig {
    let mut q = Config::builtin().expect("builtin").queue;
    q.backoff_base = Duration::from_secs(10);
    q.backoff_cap = Duration::from_secs(600);
    q.backoff_jitter = jitter;
    q
}

#[test]
fn backoff_grows_doubles_caps_and_respects_retry_after() {
    let q = queue_cfg(0.0);
    let secs: Vec<u64> = (0..10)
        .map(|n| backoff::delay(&q, n, None, 0.5).as_secs())
        .collect();
    assert_eq!(secs, vec![10, 20, 40, 80, 160, 320, 600, 600, 600, 600]);
    assert_eq!(
        backoff::delay(&q, 1000, None, 0.5).as_secs(),
        600,
        "no overflow on huge n"
    );
    // Retry-After is a floor, never a ceiling.
    assert_eq!(
        backoff::delay(&q, 0, Some(Duration::from_secs(45)), 0.5).as_secs(),
        45
    );
    assert_eq!(
        backoff::delay(&q, 3, Some(Duration::from_secs(7)), 0.5).as_secs(),
        80
    );
    // Jitter takes off at most its fraction.
    let j = queue_cfg(0.2);
    for unit in [0.0, 0.25, 0.5, 0.999] {
        let d = backoff::delay(&j, 2, None, unit);
        assert!(
            d <= Duration::from_secs(40) && d >= Duration::from_secs(32),
            "{d:?}"
        );
    }
    assert!(backoff::delay(&j, 2, None, 0.9) < backoff::delay(&j, 2, None, 0.1));
}

const BREAKER: &str = r#"
[supervisor]
max_concurrency = 10
[queue]
breaker_threshold = 3
breaker_pause = "60s"
backoff_base = "1s"
backoff_cap = "2s"
backoff_jitter = 0.0
max_transient_attempts = 100
"#;

#[test]
fn backoff_through_the_queue_sets_available_at() {
    let fx = Fixture::with_layer("true", BREAKER);
    let (_, job) = fx.add_task("x");
    let q = Queue::new(&fx.cfg);
    let t0 = now_ms();
    let mut t = t0;
    let mut delays = Vec::new();
    for _ in 0..3 {
        let claimed = q.claim(&fx.store, t).expect("claim").expect("job");
        assert_eq!(claimed.id, job.id);
        let d = fx
            .store
            .write(|tx| q.fail(tx, job.id, &Failure::permanent("crash"), t))
            .map_err(|e| e.to_string());
        match d {
            Ok(Disposition::Requeued { available_at, kind }) => {
                assert_eq!(kind, FailureKind::Permanent);
                delays.push(available_at - t);
                t = available_at;
            }
            other => {
                // max_attempts is 3: the third failure fails the job.
                assert_eq!(other, Ok(Disposition::Failed));
                break;
            }
        }
    }
    assert_eq!(delays, vec![1000, 2000], "base 1s doubling, capped at 2s");
    assert_eq!(
        jobs::get(fx.store.conn(), job.id).expect("job").status,
        JobStatus::Failed
    );

    // A transient failure with Retry-After well above the backoff waits the Retry-After.
    let (_, job2) = fx.add_task("y");
    q.claim(&fx.store, t).expect("claim").expect("job");
    let d = fx
        .store
        .write(|tx| {
            q.fail(
                tx,
                job2.id,
                &transient("429", Some(Duration::from_secs(7))),
                t,
            )
        })
        .expect("fail");
    assert_eq!(
        d,
        Disposition::Requeued {
            available_at: t + 7000,
            kind: FailureKind::Transient
        }
    );
    assert!(
        q.claim(&fx.store, t + 6999).expect("claim").is_none(),
        "not before Retry-After"
    );
    assert!(q.claim(&fx.store, t + 7000).expect("claim").is_some());
}

#[test]
fn breaker_opens_half_opens_closes_and_reopens() {
    let fx = Fixture::with_layer("true", BREAKER);
    for i in 0..6 {
        fx.add_task(&format!("task {i}"));
    }
    let q = Queue::new(&fx.cfg);
    let state = |store: &Store| breakers::get(store.conn(), "claude").expect("breaker");
    let fail = |job: i64, at: i64| {
        fx.store
            .write(|tx| q.fail(tx, job, &transient("529 overloaded", None), at))
            .expect("fail")
    };
    let t0 = now_ms();

    // closed: three transient failures in a row open it.
    for i in 0..3 {
        let job = q
            .claim(&fx.store, t0 + i * 10_000)
            .expect("claim")
            .expect("a job while closed");
        assert_eq!(state(&fx.store).state, BreakerState::Closed);
        fail(job.id, t0 + i * 10_000);
    }
    let opened_at = t0 + 20_000;
    let b = state(&fx.store);
    assert_eq!(
        (b.state, b.consecutive_failures, b.opened_at),
        (BreakerState::Open, 3, Some(opened_at))
    );

    // open: no claims for claude, though jobs are available.
    assert!(
        q.claim(&fx.store, opened_at + 59_999)
            .expect("claim")
            .is_none()
    );
    // Another provider is not held back by claude's breaker (its job is for another task:
    // a task has one open job at most).
    let codex = fx
        .store
        .write(|tx| {
            let other = bosun::store::tasks::insert(
                tx,
                "ET-900",
                1,
                "codex work",
                "",
                "analysis",
                100,
                opened_at,
            )?;
            q.enqueue(
                tx,
                &JobSpec {
                    task_id: other.id,
                    stage: "analysis",
                    role: "analyst",
                    provider: "codex",
                    priority: 100,
                    feedback: None,
                    helper: false,
                },
                "test",
                opened_at,
            )
        })
        .expect("enqueue codex");
    let got = q
        .claim(&fx.store, opened_at + 1)
        .expect("claim")
        .expect("codex job");
    assert_eq!(got.id, codex.id);

    // The state survives a restart.
    let reopened = Store::open(&fx.db_path()).expect("reopen");
    assert_eq!(state(&reopened).state, BreakerState::Open);

    // half-open after the pause: exactly one probe goes through, also to a batch claim
    // (three claude jobs never claimed are available).
    let mut batch = fx
        .store
        .write(|tx| q.claim_many(tx, opened_at + 60_000, 10))
        .expect("claim");
    assert_eq!(batch.len(), 1, "one probe in a batch: {batch:?}");
    let probe = batch.pop().expect("probe");
    let b = state(&fx.store);
    assert_eq!(
        (b.state, b.probe_job_id),
        (BreakerState::HalfOpen, Some(probe.id))
    );
    assert!(
        q.claim(&fx.store, opened_at + 60_001)
            .expect("claim")
            .is_none(),
        "one probe only"
    );

    // The probe fails transiently: open again.
    fail(probe.id, opened_at + 61_000);
    let b = state(&fx.store);
    assert_eq!(
        (b.state, b.opened_at),
        (BreakerState::Open, Some(opened_at + 61_000))
    );
    assert!(
        q.claim(&fx.store, opened_at + 100_000)
            .expect("claim")
            .is_none()
    );

    // Next probe succeeds: closed, and claims flow again.
    let probe = q
        .claim(&fx.store, opened_at + 121_000)
        .expect("claim")
        .expect("second probe");
    fx.store
        .write(|tx| q.complete(tx, probe.id, opened_at + 122_000))
        .expect("complete");
    let b = state(&fx.store);
    assert_eq!((b.state, b.consecutive_failures), (BreakerState::Closed, 0));
    let a = q.claim(&fx.store, opened_at + 122_001).expect("claim");
    let b2 = q.claim(&fx.store, opened_at + 122_002).expect("claim");
    assert!(
        a.is_some() && b2.is_some(),
        "closed breaker lets every job through"
    );

    // Breaker changes are in the event log.
    let evs = bosun::store::events::recent(fx.store.conn(), None, 500).expect("events");
    let msgs: Vec<&str> = evs
        .iter()
        .filter(|e| e.kind == bosun::store::events::EventKind::Breaker)
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("closed -> open")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("open -> half_open")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("half_open -> closed")),
        "{msgs:?}"
    );
}

#[test]
fn a_permanent_failure_resets_the_breaker_count() {
    let fx = Fixture::with_layer("true", BREAKER);
    for i in 0..4 {
        fx.add_task(&format!("t{i}"));
    }
    let q = Queue::new(&fx.cfg);
    let t = now_ms();
    for (i, failure) in [
        transient("429", None),
        transient("429", None),
        Failure::permanent("crash"),
        transient("429", None),
    ]
    .iter()
    .enumerate()
    {
        let job = q
            .claim(&fx.store, t + i as i64)
            .expect("claim")
            .expect("job");
        fx.store
            .write(|tx| q.fail(tx, job.id, failure, t + i as i64))
            .expect("fail");
    }
    let b = breakers::get(fx.store.conn(), "claude").expect("breaker");
    assert_eq!((b.state, b.consecutive_failures), (BreakerState::Closed, 1));
}

#[test]
fn eight_threads_claim_ten_thousand_jobs_once_each_within_max_concurrency() {
    const JOBS: usize = 10_000;
    const THREADS: usize = 8;
    let fx = Fixture::with_layer("true", "[supervisor]\nmax_concurrency = 4\n");
    let (task, first) = fx.add_task("bulk");
    let q = Queue::new(&fx.cfg);
    let now = now_ms();
    fx.store
        .write(|tx| {
            for i in 1..JOBS {
                // One task per job: a task has one open job at most.
                let t = bosun::store::tasks::insert(
                    tx,
                    &format!("B-{i:05}"),
                    task.project_id,
                    "bulk",
                    "",
                    "analysis",
                    100,
                    now,
                )?;
                q.enqueue(
                    tx,
                    &JobSpec {
                        task_id: t.id,
                        stage: "analysis",
                        role: "analyst",
                        provider: "claude",
                        priority: 100,
                        feedback: None,
                        helper: false,
                    },
                    "test",
                    now,
                )?;
            }
            Ok::<_, bosun::store::StoreError>(())
        })
        .expect("enqueue");
    assert_eq!(first.id, 1);

    let path = fx.db_path();
    let claimed = Arc::new(std::sync::Mutex::new(Vec::with_capacity(JOBS)));
    let done = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicI64::new(0));
    let max_seen = Arc::new(AtomicI64::new(0));
    let max = i64::from(fx.cfg.supervisor.max_concurrency);
    // A thread that panics (its claim or completion refused under load) stops the others:
    // they would otherwise wait forever for the job it took.
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    struct StopOthers(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for StopOthers {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.store(true, Ordering::SeqCst);
            }
        }
    }
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (path, claimed, done, in_flight, max_seen, cfg, failed) = (
                path.clone(),
                claimed.clone(),
                done.clone(),
                in_flight.clone(),
                max_seen.clone(),
                fx.cfg.clone(),
                failed.clone(),
            );
            std::thread::spawn(move || {
                let _stop = StopOthers(failed.clone());
                let store = Store::open(&path).expect("open");
                let q = Queue::new(&cfg);
                let mut mine = Vec::new();
                while done.load(Ordering::SeqCst) < JOBS && !failed.load(Ordering::SeqCst) {
                    let t = now_ms();
                    let (job, running) = store
                        .write(|tx| {
                            let job = q.claim_in(tx, t)?;
                            Ok::<_, bosun::store::StoreError>((job, jobs::running_count(tx)?))
                        })
                        .expect("claim");
                    assert!(running <= max, "{running} running > max_concurrency {max}");
                    max_seen.fetch_max(running, Ordering::SeqCst);
                    let Some(job) = job else {
                        std::thread::yield_now();
                        continue;
                    };
                    let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    assert!(n <= max, "{n} in flight > {max}");
                    mine.push(job.id);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    store
                        .write(|tx| q.complete(tx, job.id, now_ms()))
                        .expect("complete");
                    done.fetch_add(1, Ordering::SeqCst);
                }
                claimed.lock().expect("lock").extend(mine);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let mut ids = claimed.lock().expect("lock").clone();
    assert_eq!(ids.len(), JOBS, "every job claimed");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), JOBS, "no job claimed twice");
    let counts = jobs::counts(fx.store.conn()).expect("counts");
    assert!(
        counts.contains(&(JobStatus::Done, JOBS as i64)),
        "{counts:?}"
    );
    assert!(max_seen.load(Ordering::SeqCst) >= 1);
}

#[test]
fn claims_follow_priority_then_age_and_respect_max_concurrency() {
    let fx = Fixture::with_layer("true", "[supervisor]\nmax_concurrency = 2\n");
    let q = Queue::new(&fx.cfg);
    let (low, _) = fx
        .engine()
        .create_task("example-tool", "low", "", 200)
        .expect("task");
    let (high, _) = fx
        .engine()
        .create_task("example-tool", "high", "", 10)
        .expect("task");
    let (mid, _) = fx
        .engine()
        .create_task("example-tool", "mid", "", 100)
        .expect("task");
    let t = now_ms();
    let order: Vec<i64> = (0..3)
        .filter_map(|_| q.claim(&fx.store, t).expect("claim").map(|j| j.task_id))
        .collect();
    assert_eq!(
        order,
        vec![high.id, mid.id],
        "third claim refused at max_concurrency 2"
    );
    // A batch claim takes the same jobs in the same order, and no more.
    let fx2 = Fixture::with_layer("true", "[supervisor]\nmax_concurrency = 2\n");
    let ids: Vec<i64> = [("low", 200), ("high", 10), ("mid", 100)]
        .iter()
        .map(|(title, priority)| {
            fx2.engine()
                .create_task("example-tool", title, "", *priority)
                .expect("task")
                .0
                .id
        })
        .collect();
    let batch: Vec<i64> = fx2
        .store
        .write(|tx| Queue::new(&fx2.cfg).claim_many(tx, now_ms(), 10))
        .expect("claim")
        .iter()
        .map(|j| j.task_id)
        .collect();
    assert_eq!(batch, vec![ids[1], ids[2]], "high, then mid");
    let running = jobs::with_status(fx.store.conn(), JobStatus::Running, 10).expect("running");
    fx.store
        .write(|tx| q.complete(tx, running[0].id, t))
        .expect("complete");
    assert_eq!(
        q.claim(&fx.store, t).expect("claim").map(|j| j.task_id),
        Some(low.id)
    );
}

#[test]
fn cancel_retry_and_prune() {
    let fx = Fixture::new("true");
    let (task, job) = fx.add_task("x");
    let q = Queue::new(&fx.cfg);
    let t = now_ms();
    // Cancel a queued job; it cannot be cancelled twice.
    fx.store
        .write(|tx| q.cancel(tx, job.id, "operator", t))
        .expect("cancel");
    assert!(
        fx.store
            .write(|tx| q.cancel(tx, job.id, "operator", t))
            .is_err()
    );
    // Retry it: queued again with fresh attempts and feedback.
    let again = fx
        .store
        .write(|tx| q.retry(tx, job.id, Some("note"), "operator", t))
        .expect("retry");
    assert_eq!(
        (again.status, again.attempts, again.feedback.as_deref()),
        (JobStatus::Queued, 0, Some("note"))
    );
    // A queued job cannot be retried.
    assert!(
        fx.store
            .write(|tx| q.retry(tx, job.id, None, "operator", t))
            .is_err()
    );
    // Run it to completion, then prune: gone after prune_after, its run kept.
    q.claim(&fx.store, t).expect("claim").expect("job");
    let run = fx.engine().start_run(job.id).expect("run");
    fx.store
        .write(|tx| q.complete(tx, job.id, t))
        .expect("complete");
    fx.store
        .write(|tx| {
            hooks::append(tx, run.id, HookEvent::Stop, "done", t)?;
            runs::end(tx, run.id, RunStatus::Done, None, None, None, t)
        })
        .expect("hook call, run ended");
    let week = 7 * 24 * 3600 * 1000;
    assert_eq!(
        fx.store
            .write(|tx| q.prune(tx, t + week - 1000))
            .expect("prune"),
        0,
        "too recent"
    );
    assert_eq!(
        fx.store
            .write(|tx| q.prune(tx, t + week + 1000))
            .expect("prune"),
        1
    );
    assert!(jobs::get(fx.store.conn(), job.id).is_err());
    assert!(
        hooks::for_run(fx.store.conn(), run.id)
            .expect("hooks")
            .is_empty(),
        "the ended run's hook calls went with it"
    );
    let kept = runs::get(fx.store.conn(), run.id).expect("run kept");
    assert_eq!((kept.job_id, kept.task_id), (None, task.id));
}

#[test]
fn queue_status_reports_counts_running_queued_and_failures() {
    let fx = Fixture::with_layer("true", "[queue]\nmax_attempts = 1\n");
    let (_, a) = fx.add_task("a");
    let (_, b) = fx.add_task("b");
    let (_, c) = fx.add_task("c");
    let q = Queue::new(&fx.cfg);
    let t = now_ms();
    q.claim(&fx.store, t).expect("claim");
    q.claim(&fx.store, t).expect("claim");
    fx.store
        .write(|tx| q.fail(tx, b.id, &Failure::permanent("boom"), t))
        .expect("fail");
    let s = q.status(fx.store.conn(), t + 5_000, 50).expect("status");
    assert_eq!(s.counts.get("running"), Some(&1));
    assert_eq!(s.counts.get("queued"), Some(&1));
    assert_eq!(s.counts.get("failed"), Some(&1));
    assert_eq!(s.running[0].job.id, a.id);
    assert_eq!(s.running[0].elapsed_ms, Some(5_000));
    assert_eq!(s.queued[0].job.id, c.id);
    assert_eq!(s.queued[0].available_in_ms, Some(0));
    assert_eq!(s.failed[0].job.last_error.as_deref(), Some("boom"));
    assert_eq!(s.failed[0].task, "ET-002");
}

#[test]
fn a_parked_provider_gets_no_job_and_a_role_with_a_fallback_moves_its_queued_jobs() {
    use bosun::store::events::{self, About, EventKind};
    use bosun::store::limits::{self, Report};
    let fx = Fixture::with_layer(
        "true",
        "[supervisor]\nmax_concurrency = 4\n[roles.architect]\nfallback = [\"codex\"]\n",
    );
    let q = Queue::new(&fx.cfg);
    let (task, _) = fx
        .engine()
        .create_task("example-tool", "analyse", "", 100)
        .expect("task");
    let t = now_ms();
    let park = |until: i64| {
        fx.store
            .write(|tx| {
                limits::park(
                    tx,
                    &Report {
                        provider: "claude",
                        run_id: None,
                        about: About::NOTHING,
                        resets_at: until,
                        resumes_at: until,
                        words: "limit",
                        used_percent: None,
                    },
                    t,
                )
            })
            .expect("park")
    };
    assert!(park(t + 60_000), "parked: one event");
    assert!(!park(t + 60_000), "the same reset again: no second event");
    // The analyst has no fallback: its job waits for the reset, no attempt spent.
    assert_eq!(q.claim(&fx.store, t).expect("claim"), None);
    assert_eq!(q.claim(&fx.store, t + 59_999).expect("claim"), None);
    let job = q.claim(&fx.store, t + 60_000).expect("claim").expect("job");
    assert_eq!((job.provider.as_str(), job.attempts), ("claude", 0));
    // An architect job queued while claude is parked moves to its fallback.
    fx.store
        .write(|tx| q.complete(tx, job.id, t + 60_001))
        .expect("complete");
    park(t + 600_000);
    let queued = fx
        .store
        .write(|tx| {
            q.enqueue(
                tx,
                &JobSpec {
                    task_id: task.id,
                    stage: "architecture",
                    role: "architect",
                    provider: "claude",
                    priority: 100,
                    feedback: None,
                    helper: true,
                },
                "test",
                t + 60_002,
            )
        })
        .expect("enqueue");
    let moved = q.claim(&fx.store, t + 60_003).expect("claim").expect("job");
    assert_eq!((moved.id, moved.provider.as_str()), (queued.id, "codex"));
    let evs = events::recent(fx.store.conn(), Some(task.id), 50).expect("events");
    assert!(
        evs.iter().any(|e| e.kind == EventKind::JobMoved
            && e.message
                .contains("moved from claude to its fallback codex")),
        "{evs:?}"
    );
}
