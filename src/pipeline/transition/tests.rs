//! [`decide`] and its pieces, without a store.

use super::*;
use crate::config::{Gate, GateKind};

fn stage(name: &str, role: &str, max_retries: u32, gates: Vec<Gate>) -> Stage {
    Stage {
        name: name.into(),
        role: role.into(),
        max_retries,
        branches: Vec::new(),
        gates,
    }
}

/// plan (planner) → code (coder, an approval gate whose rejection rolls back to plan at
/// most twice) → review (reviewer).
fn pipeline() -> Vec<Stage> {
    vec![
        stage("plan", "planner", 2, Vec::new()),
        stage(
            "code",
            "coder",
            2,
            vec![Gate {
                kind: GateKind::Approval,
                on_fail: Action::Rollback { to: 0, max: 2 },
            }],
        ),
        stage("review", "reviewer", 2, Vec::new()),
    ]
}

fn check(kind: &'static str, outcome: GateOutcome, reason: &str) -> Check {
    Check {
        index: 0,
        kind,
        outcome,
        reason: reason.into(),
        output: None,
    }
}

fn act(action: Action, counter: &str) -> Verdict {
    Verdict::Act {
        action,
        feedback: "tests fail\nmore detail".into(),
        counter: counter.into(),
    }
}

fn events(t: &Transition) -> Vec<(EventKind, &str)> {
    t.writes
        .iter()
        .filter_map(|w| match w {
            Write::Event { kind, message, .. } => Some((*kind, message.as_str())),
            Write::Gate {
                event: Some((kind, message)),
                ..
            } => Some((*kind, message.as_str())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_pass_enters_the_next_stage_and_queues_its_own_role() {
    let eval = Evaluation {
        checks: vec![check("artifact", GateOutcome::Pass, "PLAN.md exists")],
        verdict: Verdict::Passed,
    };
    let t = decide(&pipeline(), "ET-001", 0, Some(7), eval, 0, None);
    assert_eq!(
        t.then,
        Then::Advanced {
            stage: "code".into(),
            job: Enqueue {
                stage: 1,
                feedback: None
            }
        }
    );
    assert_eq!(
        events(&t),
        vec![
            (
                EventKind::GatePassed,
                "ET-001 artifact gate: PLAN.md exists"
            ),
            (EventKind::StageEntered, "ET-001 entered code (coder)"),
        ]
    );
    assert!(t.writes.contains(&Write::SetStage {
        stage: "code".into(),
        state: TaskState::Active,
        reason: None
    }));
    assert!(t.writes.contains(&Write::Clear("retry:")));
}

#[test]
fn a_pass_of_the_last_stage_lands_when_the_project_lands_tasks() {
    use crate::config::land::{LandMode, Strategy};
    let eval = Evaluation {
        checks: Vec::new(),
        verdict: Verdict::Passed,
    };
    let plan = LandPlan {
        mode: LandMode::Merge,
        strategy: Strategy::Squash,
        base: "main".into(),
        branch: "bosun/ET-001-x".into(),
    };
    let t = decide(&pipeline(), "ET-001", 2, Some(9), eval, 0, Some(&plan));
    assert_eq!(t.then, Then::Landing);
    assert_eq!(
        t.writes,
        vec![
            Write::SetStage {
                stage: "done".into(),
                state: TaskState::Landing,
                reason: None
            },
            Write::OpenLanding {
                plan: plan.clone(),
                by: "engine".into()
            },
            Write::Event {
                kind: EventKind::Landing,
                run: Some(9),
                actor: "engine".into(),
                message:
                    "ET-001 passed every stage; landing: squash-merge bosun/ET-001-x into main"
                        .into()
            },
        ]
    );
}

#[test]
fn a_pass_of_the_last_stage_is_done() {
    let eval = Evaluation {
        checks: Vec::new(),
        verdict: Verdict::Passed,
    };
    let t = decide(&pipeline(), "ET-001", 2, Some(9), eval, 0, None);
    assert_eq!(t.then, Then::Done);
    assert_eq!(
        t.writes,
        vec![
            Write::SetStage {
                stage: "done".into(),
                state: TaskState::Done,
                reason: None
            },
            Write::Clear(""),
            Write::Event {
                kind: EventKind::TaskDone,
                run: Some(9),
                actor: "engine".into(),
                message: "ET-001 done".into()
            },
        ]
    );
}

#[test]
fn an_approval_gate_waits_for_the_operator() {
    let eval = Evaluation {
        checks: vec![check(
            "approval",
            GateOutcome::Pending,
            "awaiting the operator",
        )],
        verdict: Verdict::Approval { gate: 0 },
    };
    let t = decide(&pipeline(), "ET-001", 1, Some(7), eval, 0, None);
    assert_eq!(t.then, Then::AwaitingApproval { gate: 0 });
    assert!(t.writes.contains(&Write::AwaitApproval {
        gate: 0,
        run: Some(7)
    }));
    // A pending gate is recorded without an event.
    assert_eq!(
        events(&t),
        vec![(
            EventKind::ApprovalRequested,
            "ET-001 awaits approval of code"
        )]
    );
}

#[test]
fn a_failure_retries_the_stage_until_its_retries_are_spent() {
    let failed = || Evaluation {
        checks: vec![check("command", GateOutcome::Fail, "exit 1")],
        verdict: act(Action::Retry, "retry:code"),
    };
    let t = decide(&pipeline(), "ET-001", 1, Some(7), failed(), 1, None);
    assert_eq!(
        t.then,
        Then::Retried {
            job: Enqueue {
                stage: 1,
                feedback: Some("tests fail\nmore detail".into())
            }
        }
    );
    assert!(t.writes.contains(&Write::Bump("retry:code".into())));
    assert_eq!(
        events(&t)[1],
        (
            EventKind::Retried,
            "ET-001 runs code again (2 of 2): tests fail"
        )
    );

    let t = decide(&pipeline(), "ET-001", 1, Some(7), failed(), 2, None);
    let why = "code failed its gates 3 times (max_retries = 2): tests fail";
    assert_eq!(t.then, Then::Blocked { reason: why.into() });
    // The count is kept even when the task blocks.
    assert!(t.writes.contains(&Write::Bump("retry:code".into())));
    assert_eq!(
        events(&t)[1],
        (
            EventKind::Blocked,
            "ET-001 blocked: code failed its gates 3 times (max_retries = 2): tests fail"
        )
    );
}

#[test]
fn a_rejection_rolls_back_with_the_note_until_the_edge_is_spent() {
    let stages = pipeline();
    let (first, eval) = rejected(&stages, "ET-001", 1, 0, Some(7), "wrong plan", "console");
    assert_eq!(
        first,
        vec![Write::Event {
            kind: EventKind::Rejected,
            run: Some(7),
            actor: "console".into(),
            message: "ET-001: rejected by the operator: wrong plan".into()
        }]
    );
    let t = decide(&stages, "ET-001", 1, Some(7), eval.clone(), 0, None).after(first);
    let feedback = "The operator rejected the code stage's work:\nwrong plan";
    assert_eq!(
        t.then,
        Then::RolledBack {
            stage: "plan".into(),
            job: Enqueue {
                stage: 0,
                feedback: Some(feedback.into())
            }
        }
    );
    assert_eq!(
        events(&t),
        vec![
            (
                EventKind::Rejected,
                "ET-001: rejected by the operator: wrong plan"
            ),
            (
                EventKind::GateFailed,
                "ET-001 approval gate: rejected by the operator: wrong plan"
            ),
            (
                EventKind::RolledBack,
                "ET-001 back from code to plan (1 of 2): The operator rejected the code \
                 stage's work:"
            ),
            (EventKind::StageEntered, "ET-001 entered plan (planner)"),
        ]
    );

    let t = decide(&stages, "ET-001", 1, Some(7), eval, 2, None);
    assert!(matches!(t.then, Then::Blocked { ref reason }
        if reason.starts_with("code rolled back to plan 2 times already (max = 2)")));
}

#[test]
fn a_block_branch_stops_for_the_operator_at_the_stage() {
    let eval = Evaluation {
        checks: vec![check("branch", GateOutcome::Fail, "BLOCKED.md exists")],
        verdict: act(Action::Block, "block:plan"),
    };
    let t = decide(&pipeline(), "ET-001", 0, None, eval, 0, None);
    assert_eq!(
        t.then,
        Then::Blocked {
            reason: "plan: tests fail".into()
        }
    );
    assert_eq!(events(&t)[0].0, EventKind::BranchTaken);
    assert!(!t.writes.iter().any(|w| matches!(w, Write::Bump(_))));
}

#[test]
fn an_opened_pull_request_puts_the_task_in_review() {
    let t = in_review("ET-001", 4, 17, "https://forge/pull/17\x1b[2J");
    assert_eq!(t.then, Then::InReview);
    assert!(t.writes.contains(&Write::ReviewLanding {
        landing: 4,
        number: 17,
        url: "https://forge/pull/17\x1b[2J".into()
    }));
    assert_eq!(
        events(&t),
        [(
            EventKind::InReview,
            "ET-001 is in review: pull request #17 (https://forge/pull/17)"
        )]
    );
}

#[test]
fn changes_requested_roll_back_with_the_reviews_until_the_cap_then_block() {
    let land = crate::config::land::LandConfig {
        rollback_to: "code".into(),
        ..Default::default()
    };
    let failure = LandFailure::ChangesRequested {
        number: 17,
        by: vec!["ann".into()],
        reviews: "Review by ann:\nrename it".into(),
    };
    assert_eq!(failure.counter(), REVIEW_COUNTER);
    let t = landing_failed(&pipeline(), "ET-001", 4, &land, &failure, 0);
    let Then::RolledBack { stage, job } = &t.then else {
        panic!("{:?}", t.then)
    };
    assert_eq!(stage, "code");
    let feedback = job.feedback.as_deref().expect("feedback");
    assert!(
        feedback.contains("#17") && feedback.contains("rename it"),
        "{feedback}"
    );
    assert!(t.writes.contains(&Write::Bump(REVIEW_COUNTER.into())));
    assert!(matches!(
        &t.writes[0],
        Write::FinishLanding {
            landing: 4,
            state: LandingState::Failed,
            ..
        }
    ));
    let t = landing_failed(
        &pipeline(),
        "ET-001",
        4,
        &land,
        &failure,
        MAX_REVIEW_ROLLBACKS,
    );
    assert!(matches!(t.then, Then::Blocked { .. }), "{:?}", t.then);
    assert!(
        events(&t)[0].1.contains("still after 3 rollbacks"),
        "{:?}",
        events(&t)
    );
}
