//! The pipeline engine on real SQLite files and a real git repository: every stage's happy
//! path, every rollback with its cap, needs-input, approval and rejection, retries, run
//! failures and recovery.

use crate::support;

use bosun::pipeline::{Decision, Input, Outcome, RunResult};
use bosun::status::{JobStatus, TaskState};
use bosun::store::events::{self, EventKind};
use bosun::store::gates::{self, GateOutcome};
use bosun::store::jobs;
use bosun::store::runs;
use bosun::store::{Store, StoreError};
use support::Fixture;

fn decide(fx: &Fixture, key: &str, decision: Decision) -> Outcome {
    fx.engine()
        .handle(Input::Decide {
            task: key.into(),
            decision,
            by: "test".into(),
        })
        .expect("decision")
}

fn artifact(fx: &Fixture, key: &str, name: &str, text: &str) {
    fx.write(&format!("docs/work-items/{key}/{name}"), text);
}

fn drive_to(fx: &Fixture, key: &str, stage: &str) {
    fx.drive_to(key, stage);
}

#[test]
fn every_stage_enqueues_its_own_role_on_the_happy_path() {
    let fx = Fixture::new("true");
    let (task, first) = fx.add_task("Add a --verbose flag");
    assert_eq!(task.key, "ET-001");
    assert_eq!(
        (first.stage.as_str(), first.role.as_str()),
        ("analysis", "analyst")
    );
    let key = task.key.clone();

    // analysis: artifact, then approval.
    let out = fx.complete(&task, |f| {
        artifact(f, &key, "01-analysis.md", "the analysis")
    });
    assert_eq!(out, Outcome::AwaitingApproval { gate: 1 });
    let t = fx.task(&key);
    assert_eq!(t.state, TaskState::AwaitingApproval);
    assert!(
        fx.open_job(&t).is_none(),
        "no job while waiting for approval"
    );
    let out = decide(
        &fx,
        &key,
        Decision::Approve {
            note: Some("fine".into()),
        },
    );

    let expect = [
        ("architecture", "architect"),
        ("development", "developer"),
        ("review", "reviewer"),
        ("testing", "tester"),
        ("deploy", "deployer"),
    ];
    let mut out = out;
    for (i, (stage, role)) in expect.iter().enumerate() {
        let Outcome::Advanced {
            stage: entered,
            job,
        } = &out
        else {
            panic!("expected to advance into {stage}, got {out:?}");
        };
        assert_eq!(entered, stage);
        let job = jobs::get(fx.store.conn(), *job).expect("job");
        assert_eq!(job.stage, *stage);
        assert_eq!(
            job.role, *role,
            "entering {stage} launches its own role, not the next stage's"
        );
        if let Some((_, next_role)) = expect.get(i + 1) {
            assert_ne!(job.role, *next_role);
        }
        let t = fx.task(&key);
        assert_eq!((t.stage.as_str(), t.state), (*stage, TaskState::Active));
        out = match *stage {
            "architecture" => {
                fx.complete(&t, |f| artifact(f, &key, "02-architecture.md", "design"))
            }
            "development" => fx.complete(&t, |_| {}),
            "review" => fx.complete(&t, |f| {
                artifact(f, &key, "12-review.md", "APPROVED\nship it")
            }),
            "testing" => fx.complete(&t, |f| {
                artifact(f, &key, "13-test-report.md", "PASS\n12 tests")
            }),
            "deploy" => {
                let o = fx.complete(&t, |_| {});
                assert_eq!(o, Outcome::AwaitingApproval { gate: 0 });
                decide(&fx, &key, Decision::Approve { note: None })
            }
            _ => unreachable!(),
        };
    }
    assert_eq!(out, Outcome::Done);
    let t = fx.task(&key);
    assert_eq!((t.stage.as_str(), t.state), ("done", TaskState::Done));
    let results = gates::for_task(fx.store.conn(), t.id).expect("gates");
    assert!(
        results
            .iter()
            .any(|g| g.kind == "command" && g.outcome == GateOutcome::Pass)
    );
    let kinds: Vec<EventKind> = events::recent(fx.store.conn(), Some(t.id), 500)
        .expect("events")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&EventKind::Approved));
    assert_eq!(kinds.last(), Some(&EventKind::TaskDone));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EventKind::StageEntered)
            .count(),
        6
    );
}

#[test]
fn questions_put_the_task_in_needs_input_and_the_answer_reaches_the_next_run() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Vague task");
    let out = fx.complete(&task, |f| {
        artifact(f, "ET-001", "01-questions.md", "Which OS do you target?")
    });
    assert_eq!(out, Outcome::NeedsInput);
    let t = fx.task("ET-001");
    assert_eq!(t.state, TaskState::NeedsInput);
    assert!(
        t.state_reason
            .as_deref()
            .unwrap_or("")
            .contains("Which OS do you target?")
    );
    assert!(fx.open_job(&t).is_none());
    // The questions file is moved aside so the next run does not trip over it again.
    assert!(
        !fx.repo
            .join("docs/work-items/ET-001/01-questions.md")
            .exists()
    );

    let err = fx.engine().handle(Input::Decide {
        task: "ET-001".into(),
        decision: Decision::Approve { note: None },
        by: "test".into(),
    });
    assert!(err.is_err(), "a needs-input task has no approval pending");

    decide(
        &fx,
        "ET-001",
        Decision::Resume {
            note: Some("Linux only".into()),
            stage: None,
        },
    );
    let t = fx.task("ET-001");
    assert_eq!((t.stage.as_str(), t.state), ("analysis", TaskState::Active));
    let (job, run) = fx.claim_and_start(&t);
    let fb = job.feedback.expect("feedback");
    assert!(
        fb.contains("Which OS do you target?") && fb.contains("Linux only"),
        "{fb}"
    );
    assert_eq!(run.feedback.as_deref(), Some(fb.as_str()));
}

#[test]
fn architecture_conflict_rolls_back_to_analysis_at_most_three_times() {
    let fx = Fixture::new("true");
    fx.add_task("Conflicting");
    for round in 1..=4 {
        drive_to(&fx, "ET-001", "architecture");
        let t = fx.task("ET-001");
        let out = fx.complete(&t, |f| {
            artifact(f, "ET-001", "10-conflict.md", &format!("conflict {round}"))
        });
        if round <= 3 {
            let Outcome::RolledBack { stage, job } = out else {
                panic!("round {round}: {out:?}")
            };
            assert_eq!(stage, "analysis");
            let job = jobs::get(fx.store.conn(), job).expect("job");
            assert_eq!(job.role, "analyst");
            assert!(
                job.feedback
                    .unwrap_or_default()
                    .contains(&format!("conflict {round}"))
            );
        } else {
            let Outcome::Blocked { reason } = out else {
                panic!("round 4: {out:?}")
            };
            assert!(reason.contains("max = 3"), "{reason}");
            let t = fx.task("ET-001");
            assert_eq!(
                (t.stage.as_str(), t.state),
                ("architecture", TaskState::Blocked)
            );
            assert!(fx.open_job(&t).is_none(), "a blocked task has no job");
        }
    }
}

fn review_or_test_rollbacks(stage: &str, file: &str, fail_text: &str) {
    let fx = Fixture::new("true");
    fx.add_task("Loop");
    for round in 1..=4 {
        drive_to(&fx, "ET-001", stage);
        let t = fx.task("ET-001");
        assert_eq!(t.stage, stage);
        // Verdicts the way models write them: a bare first line, a label under a heading,
        // a line under a `## Verdict` heading in other words.
        let text = match round {
            1 => format!("{fail_text}\nfinding {round}"),
            2 => format!("# Report for ET-001\n\n**Verdict:** {fail_text}\n\nfinding {round}"),
            _ => format!(
                "# Report\n\nSome prose first.\n\n## Verdict\n\n{}\n\nfinding {round}",
                fail_text.to_lowercase().replace('_', " ")
            ),
        };
        let out = fx.complete(&t, |f| artifact(f, "ET-001", file, &text));
        if round <= 3 {
            let Outcome::RolledBack { stage: to, job } = out else {
                panic!("round {round}: {out:?}")
            };
            assert_eq!(to, "development");
            let job = jobs::get(fx.store.conn(), job).expect("job");
            assert_eq!(job.role, "developer");
            let fb = job.feedback.unwrap_or_default();
            assert!(
                fb.contains(&format!("finding {round}")),
                "the {stage} text is the feedback: {fb}"
            );
            // The development stage fixes things; clear the verdict for the next round.
            std::fs::remove_file(fx.repo.join(format!("docs/work-items/ET-001/{file}")))
                .expect("rm");
        } else {
            let Outcome::Blocked { reason } = out else {
                panic!("round 4: {out:?}")
            };
            assert!(reason.contains(stage), "{reason}");
            assert_eq!(fx.task("ET-001").state, TaskState::Blocked);
        }
    }
}

#[test]
fn review_request_changes_rolls_back_to_development_at_most_three_times() {
    review_or_test_rollbacks("review", "12-review.md", "REQUEST_CHANGES");
}

#[test]
fn test_report_fail_rolls_back_to_development_at_most_three_times() {
    review_or_test_rollbacks("testing", "13-test-report.md", "FAIL");
}

#[test]
fn failing_test_command_retries_development_with_its_output_then_blocks() {
    let fx = Fixture::new("echo 'assertion failed: left == right' >&2; exit 3");
    fx.add_task("Broken build");
    drive_to(&fx, "ET-001", "development");
    for round in 1..=3 {
        let t = fx.task("ET-001");
        let out = fx.complete(&t, |_| {});
        if round <= 2 {
            let Outcome::Retried { job } = out else {
                panic!("round {round}: {out:?}")
            };
            let job = jobs::get(fx.store.conn(), job).expect("job");
            assert_eq!(
                (job.stage.as_str(), job.role.as_str()),
                ("development", "developer")
            );
            let fb = job.feedback.unwrap_or_default();
            assert!(
                fb.contains("exit status 3") && fb.contains("assertion failed"),
                "{fb}"
            );
        } else {
            let Outcome::Blocked { reason } = out else {
                panic!("round 3: {out:?}")
            };
            assert!(reason.contains("max_retries = 2"), "{reason}");
        }
    }
}

#[test]
fn missing_artifact_retries_the_stage() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Lazy analyst");
    let out = fx.complete(&task, |_| {});
    let Outcome::Retried { job } = out else {
        panic!("{out:?}")
    };
    let job = jobs::get(fx.store.conn(), job).expect("job");
    assert_eq!(job.stage, "analysis");
    assert!(
        job.feedback
            .unwrap_or_default()
            .contains("01-analysis.md is missing")
    );
}

#[test]
fn a_review_without_a_verdict_reruns_the_review_instead_of_rolling_back() {
    let fx = Fixture::new("true");
    fx.add_task("Silent reviewer");
    drive_to(&fx, "ET-001", "review");
    let t = fx.task("ET-001");
    let out = fx.complete(&t, |f| {
        artifact(f, "ET-001", "12-review.md", "I looked at it.")
    });
    let Outcome::Retried { job } = out else {
        panic!("{out:?}")
    };
    let job = jobs::get(fx.store.conn(), job).expect("job");
    assert_eq!(job.stage, "review");
    // The feedback says in words what was expected, never a regex.
    let fb = job.feedback.unwrap_or_default();
    assert!(
        fb.contains("write APPROVED or REQUEST_CHANGES (or CHANGES_REQUESTED) as the first line of docs/work-items/ET-001/12-review.md"),
        "{fb}"
    );
    assert!(!fb.contains("(?m)") && !fb.contains("\\b"), "{fb}");
}

#[test]
fn a_review_with_both_verdicts_is_ambiguous_and_runs_again() {
    let fx = Fixture::new("true");
    fx.add_task("Undecided reviewer");
    drive_to(&fx, "ET-001", "review");
    let t = fx.task("ET-001");
    let out = fx.complete(&t, |f| {
        artifact(
            f,
            "ET-001",
            "12-review.md",
            "APPROVED\n\nOn second thought:\n\n**Verdict:** REQUEST_CHANGES\n",
        )
    });
    let Outcome::Retried { job } = out else {
        panic!("{out:?}")
    };
    let job = jobs::get(fx.store.conn(), job).expect("job");
    assert_eq!(job.stage, "review", "ambiguity is not a rollback");
    let fb = job.feedback.unwrap_or_default();
    assert!(
        fb.contains("ambiguous verdict in docs/work-items/ET-001/12-review.md: APPROVED (line 1) and REQUEST_CHANGES (line 5)"),
        "{fb}"
    );
}

#[test]
fn an_approval_written_as_prose_under_a_heading_passes_review() {
    let fx = Fixture::new("true");
    fx.add_task("Chatty reviewer");
    drive_to(&fx, "ET-001", "review");
    let t = fx.task("ET-001");
    let out = fx.complete(&t, |f| {
        artifact(
            f,
            "ET-001",
            "12-review.md",
            "# Review of ET-001: Chatty reviewer\n\n## Summary\n\nThe change is small and tested.\n\n## Verdict\n\n**Approved** — no blocking findings.\n",
        )
    });
    assert!(matches!(out, Outcome::Advanced { .. }), "{out:?}");
    assert_eq!(fx.task("ET-001").stage, "testing");
}

#[test]
fn rejection_note_reaches_the_next_run_as_feedback() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Needs care");
    fx.complete(&task, |f| {
        artifact(f, "ET-001", "01-analysis.md", "first try")
    });
    let out = decide(
        &fx,
        "ET-001",
        Decision::Reject {
            note: "Cover the Windows case too".into(),
        },
    );
    let Outcome::Retried { job } = out else {
        panic!("{out:?}")
    };
    let t = fx.task("ET-001");
    assert_eq!((t.stage.as_str(), t.state), ("analysis", TaskState::Active));
    let (claimed, run) = fx.claim_and_start(&t);
    assert_eq!(claimed.id, job);
    assert_eq!(claimed.role, "analyst");
    let fb = run.feedback.expect("run feedback");
    assert!(fb.contains("Cover the Windows case too"), "{fb}");
    let results = gates::for_task(fx.store.conn(), t.id).expect("gates");
    assert!(
        results
            .iter()
            .any(|g| g.kind == "approval" && g.outcome == GateOutcome::Fail)
    );
    let kinds: Vec<EventKind> = events::recent(fx.store.conn(), Some(t.id), 100)
        .expect("events")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&EventKind::Rejected));
}

#[test]
fn transient_failure_is_requeued_no_earlier_than_retry_after() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Rate limited");
    let before = bosun::store::now_ms();
    let out = fx.fail(
        &task,
        "Error: 429 Too Many Requests\nretry-after: 7\n",
        false,
    );
    let Outcome::Requeued {
        available_at,
        failure,
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(failure, "transient");
    assert!(
        available_at >= before + 7_000,
        "available {} ms after",
        available_at - before
    );
    let job = fx.open_job(&fx.task("ET-001")).expect("job");
    assert_eq!(
        (job.status, job.attempts, job.transient_attempts),
        (JobStatus::Queued, 0, 1)
    );
    let run = runs::for_task(fx.store.conn(), task.id)
        .expect("runs")
        .pop()
        .expect("run");
    assert!(run.ended_at.is_some());
    assert!(run.error.unwrap_or_default().contains("429"));
}

#[test]
fn permanent_failures_spend_attempts_then_block_the_task() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Crashes");
    for attempt in 1..=3 {
        let out = fx.fail(&task, "panic: index out of range", false);
        if attempt < 3 {
            assert!(
                matches!(out, Outcome::Requeued { ref failure, .. } if failure == "permanent"),
                "{out:?}"
            );
        } else {
            let Outcome::Blocked { reason } = out else {
                panic!("{out:?}")
            };
            assert!(reason.contains("failed for good"), "{reason}");
        }
    }
    let all = jobs::for_task(fx.store.conn(), task.id).expect("jobs");
    assert_eq!(all.len(), 1, "one job, three runs");
    assert_eq!((all[0].status, all[0].attempts), (JobStatus::Failed, 3));
    assert_eq!(
        runs::for_task(fx.store.conn(), task.id)
            .expect("runs")
            .len(),
        3
    );

    // The operator retries the failed job: fresh attempts, task active again.
    fx.engine()
        .retry_job(all[0].id, Some("try a smaller change"))
        .expect("retry job");
    let t = fx.task("ET-001");
    assert_eq!(t.state, TaskState::Active);
    let job = fx.open_job(&t).expect("job");
    assert_eq!((job.status, job.attempts), (JobStatus::Queued, 0));
    assert!(job.feedback.unwrap_or_default().contains("smaller change"));
}

#[test]
fn a_watchdog_timeout_is_permanent_even_with_transient_text() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Hangs");
    let out = fx.fail(&task, "upstream overloaded, retrying", true);
    assert!(
        matches!(out, Outcome::Requeued { ref failure, .. } if failure == "permanent"),
        "{out:?}"
    );
}

#[test]
fn recovery_readopts_live_runs_and_requeues_or_fails_lost_ones() {
    let fx = Fixture::new("true");
    // c first, with two permanent failures already; it waits out its backoff meanwhile.
    let (c, _) = fx.add_task("lost, attempts spent");
    fx.fail(&c, "boom", false);
    fx.fail(&c, "boom", false);
    let (a, _) = fx.add_task("alive");
    let (_, run_a) = fx.claim_and_start(&a);
    let (b, _) = fx.add_task("lost");
    let (job_b, _) = fx.claim_and_start(&b);
    let (job_c, _) = fx.claim_and_start(&c);
    // A lost run is the infrastructure's fault, not the agent's (issue 10): it spends the
    // infrastructure budget, which c has nearly spent already.
    fx.store
        .conn()
        .execute(
            "UPDATE jobs SET infra_attempts = max_infra_attempts - 1 WHERE id = ?1",
            [job_c.id],
        )
        .expect("spend c's infrastructure budget");
    let (d, _) = fx.add_task("claimed, never started");
    let job_d = fx.open_job(&d).expect("job d");
    let claimed = fx
        .engine()
        .queue
        .claim(&fx.store, bosun::store::now_ms())
        .expect("claim");
    assert_eq!(claimed.map(|j| j.id), Some(job_d.id));

    // A new process: reopen the database, as the daemon does after a restart.
    let store = Store::open(&fx.db_path()).expect("reopen");
    let engine = bosun::pipeline::Engine::new(&fx.cfg, &store);
    let report = engine.recover(|run| run.id == run_a.id).expect("recover");
    assert_eq!(report.readopted, vec![run_a.id]);
    assert_eq!(report.requeued, vec![job_b.id]);
    assert_eq!(report.failed, vec![job_c.id]);
    assert_eq!(report.released, vec![job_d.id]);

    let c = store.conn();
    assert_eq!(
        jobs::get(c, fx.open_job(&a).expect("a").id)
            .expect("a")
            .status,
        JobStatus::Running
    );
    let jb = jobs::get(c, job_b.id).expect("b");
    assert_eq!(
        (jb.status, jb.attempts, jb.infra_attempts),
        (JobStatus::Queued, 0, 1),
        "the agent's attempts are untouched"
    );
    assert!(
        jb.available_at > bosun::store::now_ms(),
        "requeued with backoff"
    );
    assert_eq!(jobs::get(c, job_c.id).expect("c").status, JobStatus::Failed);
    assert_eq!(fx.task("ET-001").state, TaskState::Blocked);
    let jd = jobs::get(c, job_d.id).expect("d");
    assert_eq!((jd.status, jd.attempts), (JobStatus::Queued, 0));
    // Nothing was dropped: every job is accounted for.
    assert_eq!(jobs::running_count(c).expect("count"), 1);
}

#[test]
fn cancel_stops_the_task_and_its_job() {
    let fx = Fixture::new("true");
    let (task, job) = fx.add_task("Not needed");
    assert_eq!(decide(&fx, "ET-001", Decision::Cancel), Outcome::Cancelled);
    assert_eq!(fx.task("ET-001").state, TaskState::Cancelled);
    assert_eq!(
        jobs::get(fx.store.conn(), job.id).expect("job").status,
        JobStatus::Cancelled
    );
    assert!(fx.open_job(&task).is_none());
}

#[test]
fn a_run_of_a_cancelled_job_is_ignored() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Cancelled while running");
    let (job, run) = fx.claim_and_start(&task);
    fx.engine().cancel_job(job.id).expect("cancel");
    assert_eq!(fx.task("ET-001").state, TaskState::Blocked);
    let out = fx
        .engine()
        .handle(Input::RunFinished {
            run_id: run.id,
            result: RunResult::Completed {
                final_message: None,
            },
        })
        .expect("handle");
    assert!(matches!(out, Outcome::Ignored { .. }), "{out:?}");
    assert_eq!(fx.task("ET-001").stage, "analysis");
}

#[test]
fn events_are_append_only() {
    let fx = Fixture::new("true");
    fx.add_task("x");
    let c = fx.store.conn();
    let upd = c.execute("UPDATE events SET message = 'rewritten'", []);
    assert!(upd.is_err_and(|e| e.to_string().contains("append-only")));
    let del = c.execute("DELETE FROM events", []);
    assert!(del.is_err_and(|e| e.to_string().contains("append-only")));
}

#[test]
fn a_database_from_a_newer_bosun_is_refused() {
    let fx = Fixture::new("true");
    let path = fx.db_path();
    fx.store
        .conn()
        .pragma_update(None, "user_version", 99)
        .expect("bump version");
    match Store::open(&path) {
        Err(StoreError::TooNew {
            found, supported, ..
        }) => {
            assert_eq!(found, 99);
            assert!(supported < 99);
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a newer database was opened"),
    }
}

#[test]
fn store_uses_wal_normal_and_foreign_keys() {
    let fx = Fixture::new("true");
    let c = fx.store.conn();
    let mode: String = c
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("pragma");
    let sync: i64 = c
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .expect("pragma");
    let fk: i64 = c
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .expect("pragma");
    assert_eq!((mode.as_str(), sync, fk), ("wal", 1, 1));
}

#[test]
fn approving_a_finished_task_says_so_in_words() {
    let fx = Fixture::new("true");
    fx.add_task("Finished");
    let _ = decide(&fx, "ET-001", Decision::Cancel);
    let err = fx
        .engine()
        .handle(Input::Decide {
            task: "ET-001".into(),
            decision: Decision::Approve { note: None },
            by: "test".into(),
        })
        .expect_err("nothing to approve");
    let msg = err.to_string();
    assert!(
        msg.contains("ET-001 was already cancelled") && !msg.contains("pipeline in the config"),
        "{msg}"
    );
}

#[test]
fn an_override_passes_a_blocked_review_and_is_recorded_with_its_note() {
    let fx = Fixture::new("true");
    fx.add_task("Pedantic reviewer");
    for round in 1..=4 {
        drive_to(&fx, "ET-001", "review");
        let t = fx.task("ET-001");
        fx.complete(&t, |f| {
            artifact(
                f,
                "ET-001",
                "12-review.md",
                &format!("REQUEST_CHANGES\nnit {round}"),
            )
        });
        if round <= 3 {
            std::fs::remove_file(fx.repo.join("docs/work-items/ET-001/12-review.md")).expect("rm");
        }
    }
    let t = fx.task("ET-001");
    assert_eq!((t.stage.as_str(), t.state), ("review", TaskState::Blocked));
    let out = decide(
        &fx,
        "ET-001",
        Decision::Override {
            note: "the nits are style only".into(),
        },
    );
    assert!(
        matches!(&out, Outcome::Advanced { stage, .. } if stage == "testing"),
        "{out:?}"
    );
    let gate = gates::for_task(fx.store.conn(), t.id)
        .expect("gates")
        .into_iter()
        .last()
        .expect("a gate result");
    assert_eq!(
        (gate.kind.as_str(), gate.outcome),
        ("override", GateOutcome::Pass)
    );
    assert!(
        gate.reason.contains("the nits are style only"),
        "{}",
        gate.reason
    );
    assert!(
        gate.reason.contains("the verdict gate had failed"),
        "{}",
        gate.reason
    );
    let e = events::recent(fx.store.conn(), Some(t.id), 50)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == EventKind::Overridden)
        .expect("an overridden event");
    assert_eq!(e.actor, "test");
    assert!(
        e.message.contains("the nits are style only"),
        "{}",
        e.message
    );
    // Overriding again: the task is no longer blocked.
    let again = fx.engine().handle(Input::Decide {
        task: "ET-001".into(),
        decision: Decision::Override {
            note: "again".into(),
        },
        by: "test".into(),
    });
    let err = again.expect_err("a second override").to_string();
    assert!(err.contains("only a blocked task"), "{err}");
}

#[test]
fn a_task_blocked_by_crashes_has_no_gate_to_override() {
    let fx = Fixture::new("true");
    let (task, _) = fx.add_task("Crashes");
    for _ in 0..3 {
        fx.fail(&task, "panic: index out of range", false);
    }
    let err = fx
        .engine()
        .handle(Input::Decide {
            task: "ET-001".into(),
            decision: Decision::Override {
                note: "ship it".into(),
            },
            by: "test".into(),
        })
        .expect_err("no failed gate")
        .to_string();
    assert!(err.contains("no gate failed there"), "{err}");
    assert!(err.contains("resume it instead"), "{err}");
}
