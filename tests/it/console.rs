//! Snapshots of every console view, narrow (80×24) and wide (200×50), and of the help
//! overlay, rendered with ratatui's TestBackend from a real database holding tasks in every
//! state, a real worktree with changes for the diff view, and the built-in theme and keymap
//! only (the developer's own config never leaks in). Times, owners and temp paths are
//! redacted by filters.

use crate::support;

use bosun::queue::Queue;
use bosun::status::RunStatus;
use bosun::store::runs;
use bosun::store::{Store, now_ms, tasks};
use bosun::tui::keymap::Keymap;
use bosun::tui::load;
use bosun::tui::state::{App, Mode, Tail, View};
use bosun::tui::tail::read_end;
use bosun::tui::theme::Theme;
use bosun::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::Fixture;

/// A database with tasks awaiting approval, needing input, blocked, running (busy, with a
/// live log), queued, and done-ish, like an operator's afternoon.
fn afternoon() -> Fixture {
    let fx = Fixture::new("true");
    // ET-001: analysis done, awaiting approval.
    let (t1, _) = fx.add_task("Add a --verbose flag to the CLI");
    fx.complete(&t1, |f| {
        f.write(
            "docs/work-items/ET-001/01-analysis.md",
            "# Analysis: --verbose\n\nThe CLI prints **nothing** about what it does.\n\n## Plan\n\n- add `--verbose` to the parser\n- log each step\n\n> Risk: none worth a gate.\n\n```\ntool --verbose run\n```\n",
        )
    });
    let repo = fx.repo.to_string_lossy().into_owned();
    fx.store
        .write(|tx| tasks::set_worktree(tx, t1.id, "main", &repo, now_ms()))
        .expect("worktree");
    // ET-002: the analyst has questions.
    let (t2, _) = fx.add_task("Support Windows paths");
    fx.complete(&t2, |f| {
        f.write(
            "docs/work-items/ET-002/01-questions.md",
            "Which Windows versions?",
        )
    });
    // ET-003: crashed three times: blocked.
    let (t3, _) = fx.add_task("Parallel downloads");
    for _ in 0..3 {
        fx.fail(&t3, "panic: index out of range", false);
    }
    // ET-004: its agent is busy, with a log of colourful output.
    let (t4, _) = fx.add_task("Fix the config loader");
    let (_, run) = fx.claim_and_start(&t4);
    let log = fx.dir.path().join("run.log");
    std::fs::write(
        &log,
        "\x1b[1m✻ agent-sim — bosun's scripted agent\x1b[0m\r\n  cwd: /work\r\n\r\n> [Pasted text: 9 lines, 420 bytes]\r\n● Received prompt (420 bytes)\r\n\x1b]0;evil title\x07\x1b[32m● Wrote src/config.rs (812 bytes)\x1b[0m\r\n✻ Working… (12s · esc to interrupt)",
    )
    .expect("log");
    fx.store
        .write(|tx| {
            runs::set_pane(
                tx,
                run.id,
                &runs::PaneRecord {
                    pane_id: "%7",
                    window: "ET-004-development-r7",
                    log_path: &log.to_string_lossy(),
                    socket: "bosun",
                    rows: 50,
                    cols: 200,
                },
            )?;
            runs::set_status(tx, run.id, RunStatus::Busy, now_ms())
        })
        .expect("run");
    // ET-004's worktree: a branch that changed a file, added one, and left one untracked.
    let wt = fx.dir.path().join("worktrees/ET-004");
    bosun::git::ensure_worktree(&fx.repo, &wt, "et-004-config", "main").expect("worktree");
    std::fs::write(wt.join("README.md"), "demo\nnow with a config loader\n").expect("edit");
    std::fs::write(wt.join("config.rs"), "fn load() {}\n").expect("new");
    let wts = wt.to_string_lossy().into_owned();
    fx.store
        .write(|tx| tasks::set_worktree(tx, t4.id, "et-004-config", &wts, now_ms()))
        .expect("worktree");
    // ET-005, ET-006: queued.
    fx.add_task("Document the queue");
    fx.add_task("Speed up the board view");
    fx
}

/// The console as it stands after its first snapshot, in `view`, with what that view loads
/// off the UI thread (log tail, artifacts, diff) loaded the same way.
fn app(fx: &Fixture, view: View) -> App {
    let store = Store::open(&fx.db_path()).expect("store");
    let queue = Queue::new(&fx.cfg);
    let mut app = App::new(&fx.cfg, "in-process supervisor".into());
    app.apply(load::snapshot(&store, &queue, &app.want()).expect("snapshot"));
    // The run and diff views show the busy task; the artifact view the one awaiting approval.
    if matches!(view, View::Pane | View::Log | View::Diff) {
        app.selected = app
            .visible()
            .iter()
            .position(|r| r.task.key == "ET-004")
            .expect("ET-004");
    }
    // The second snapshot has the selected task's detail, as after `update`'s reload.
    app.apply(load::snapshot(&store, &queue, &app.want()).expect("snapshot"));
    assert_eq!(app.detail.task_id, app.selected_task().map(|t| t.id));
    app.view = view;
    let task = app.selected_task().cloned().expect("a task");
    if let Some(run) = app.selected_run().cloned() {
        let (rows, cols) = app.pane_size();
        if let Some(path) = run.log_path.as_deref() {
            let (_, end, skipped) = read_end(std::path::Path::new(path)).expect("log");
            app.tail = Some(Tail::from_end(run.id, &end, skipped, rows, cols));
        }
    }
    match view {
        View::Artifact => {
            let stage = fx
                .cfg
                .stages
                .iter()
                .find(|s| s.name == task.stage)
                .expect("stage");
            let paths = bosun::supervisor::prompt::artifacts(stage, &task.key);
            app.judge = Some(load::judge(
                task.id,
                task.version,
                task.worktree.as_deref().map(std::path::Path::new),
                &paths,
            ));
        }
        View::Diff => app.diff = Some(load::diff(&fx.db_path(), task.id, &fx.cfg.land)),
        _ => {}
    }
    app
}

pub(crate) fn render(app: &App, w: u16, h: u16) -> String {
    let theme = Theme::load_from("default", None).expect("theme");
    let keymap = Keymap::builtin().expect("keymap");
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| view::draw(f, app, &theme, &keymap))
        .expect("draw");
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

pub(crate) fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        filters => vec![
            (r"\d+(ms|[smhd])( \d+(ms|[smhd]))* ago", "[AGO]"),
            (r"for \d+(ms|[smhd])( \d+(ms|[smhd]))* of (\S+ )*\(\d+%\)", "for [TIME]"),
            // Backoff delays carry random jitter.
            (r"\bin \d+(ms|[smhd])( \d+(ms|[smhd]))*", "in [TIME]"),
            (r"/tmp/\.tmp\w+", "[TMP]"),
            // The merge-base commit of the diff view.
            (r"since [0-9a-f]{10}", "since [COMMIT]"),
            (r"\d+@[\w.-]+ *", "[OWNER] "),
        ],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn every_view_narrow_and_wide() {
    let fx = afternoon();
    for view in View::ALL {
        let a = app(&fx, view);
        for (w, h) in [(80, 24), (200, 50)] {
            let text = render(&a, w, h);
            snapshot(&format!("{}-{w}x{h}", view.name()), &text);
        }
    }
}

#[test]
fn the_board_puts_tasks_needing_the_operator_first_and_counts_them() {
    let fx = afternoon();
    let a = app(&fx, View::Board);
    let keys: Vec<&str> = a.visible().iter().map(|r| r.task.key.as_str()).collect();
    assert_eq!(
        &keys[..3],
        ["ET-001", "ET-002", "ET-003"],
        "approval, needs input, blocked first"
    );
    assert_eq!(a.attention(), 3);
    let text = render(&a, 80, 24);
    assert!(text.contains("⚑ 3 need you"), "{text}");
}

#[test]
fn the_help_overlay_lists_the_keymap() {
    let fx = afternoon();
    let mut a = app(&fx, View::Board);
    a.mode = Mode::Help;
    let text = render(&a, 200, 50);
    for desc in Keymap::builtin()
        .expect("keymap")
        .help_rows()
        .iter()
        .take(10)
    {
        assert!(text.contains(&desc.desc), "help lacks {:?}", desc.desc);
    }
    snapshot("help-200x50", &text);
}

#[test]
fn agent_output_is_sanitised_before_it_is_drawn() {
    let fx = afternoon();
    let a = app(&fx, View::Log);
    let text = render(&a, 200, 50);
    assert!(text.contains("● Wrote src/config.rs"));
    assert!(
        !text.contains("evil title"),
        "an OSC title sequence was drawn"
    );
    assert!(!text.contains('\x1b') && !text.contains('\x07'));
}

#[test]
fn the_task_view_shows_its_pull_request_and_where_it_stands() {
    use bosun::store::landings;
    let fx = afternoon();
    // ET-001 (selected first: it needs the operator) is in review on the forge; the forge's
    // URL carries a terminal title sequence.
    let t1 = tasks::by_key(fx.store.conn(), "ET-001").expect("ET-001");
    fx.store
        .write(|tx| {
            let l = landings::open(
                tx,
                &landings::NewLanding {
                    task_id: t1.id,
                    mode: "pr",
                    strategy: "squash",
                    base: "main",
                    branch: "bosun/ET-001-add-a-verbose-flag",
                    decided_by: "engine",
                },
                now_ms(),
            )?;
            landings::in_review(
                tx,
                l.id,
                17,
                "https://forge.example/octo/app/pull/17\x1b]0;pwned\x07",
                now_ms(),
            )?;
            Ok::<_, bosun::store::StoreError>(())
        })
        .expect("landing");
    let a = app(&fx, View::Task);
    assert_eq!(a.selected_task().map(|t| t.key.as_str()), Some("ET-001"));
    let text = render(&a, 200, 50);
    assert!(
        text.contains(
            "landing in_review: pull request #17 https://forge.example/octo/app/pull/17 (squash pr into main)"
        ),
        "{text}"
    );
    assert!(!text.contains("pwned"), "an OSC title sequence was drawn");
    assert!(!text.contains('\x1b') && !text.contains('\x07'));
}

#[test]
fn the_queue_view_has_a_line_per_intake_source() {
    use bosun::config::intake::{IntakeSource, SourceKind};
    use bosun::store::intake;
    let fx = afternoon();
    let mut cfg = fx.cfg.clone();
    cfg.intake = vec![IntakeSource {
        name: "github:octo/app".into(),
        project: "ET".into(),
        kind: SourceKind::Github,
        repo: "octo/app".into(),
        api_url: "https://api.github.com".into(),
        token_env: "GITHUB_TOKEN".into(),
        webhook_secret_env: Some("SECRET".into()),
        labels: vec!["bosun".into()],
        assignee: None,
        poll: Some(std::time::Duration::from_secs(60)),
        allow: Vec::new(),
        priority: 100,
        max_new: 20,
        report: true,
    }];
    fx.store
        .write(|tx| {
            intake::record_delivery(tx, "github:octo/app", "d-1", "issues", b"{}", now_ms())?;
            intake::bad_signature(tx, "github:octo/app")?;
            intake::poll_failed(
                tx,
                "github:octo/app",
                "HTTP 502: \x1b[2Jbad gateway",
                None,
                now_ms(),
            )
        })
        .expect("status");
    let store = Store::open(&fx.db_path()).expect("store");
    let queue = Queue::new(&cfg);
    let mut a = App::new(&cfg, "in-process supervisor".into());
    a.apply(load::snapshot(&store, &queue, &a.want()).expect("snapshot"));
    a.view = View::Queue;
    let text = render(&a, 200, 50);
    assert!(
        text.contains("github:octo/app → ET · webhooks + poll 1m · delivery 0s ago · 0 tasks · 1 bad signatures"),
        "{text}"
    );
    assert!(text.contains("error: HTTP 502: bad gateway"), "{text}");
}

#[test]
fn a_terminal_too_small_says_so() {
    let fx = afternoon();
    let a = app(&fx, View::Board);
    let text = render(&a, 40, 10);
    assert!(text.contains("terminal too small"), "{text}");
}

/// A board with tasks in every column, long titles and keys, helpers and every kind of
/// state, built in memory (no database: only the layout is under test), ET-009 selected in
/// `development`.
fn spread(fx: &Fixture) -> App {
    use bosun::status::TaskState;
    use bosun::tui::state::{Snapshot, TaskRow};
    let mut app = App::new(&fx.cfg, "in-process supervisor".into());
    let mut stages: Vec<String> = app.stages.clone();
    stages.push("done".into());
    let titles = [
        "Add a --verbose flag to the CLI and log each step",
        "Support Windows paths",
        "Parallel downloads with a bounded pool",
        "Fix the config loader",
        "Document the queue",
        "Speed up the board view on huge databases",
        "Rename the \x1b]0;evil\x07settings file",
    ];
    let mut rows = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        for n in 0..2 {
            let id = (i * 2 + n + 1) as i64;
            let state = match (i, n) {
                (0, 0) => TaskState::AwaitingApproval,
                (1, 0) => TaskState::NeedsInput,
                (3, 1) => TaskState::Blocked,
                (6, 0) => TaskState::Landed,
                (6, _) => TaskState::Landing,
                _ => TaskState::Active,
            };
            // The conflict radar: ET-005 and ET-006 rewrite the same lines.
            let conflicts = match id {
                5 => vec!["ET-006".to_string()],
                6 => vec!["ET-005".to_string()],
                _ => Vec::new(),
            };
            let run = (state == TaskState::Active).then_some((id, RunStatus::Busy, None));
            let helpers = if (i, n) == (2, 0) {
                vec![(40, "security-reviewer".into(), "busy".into())]
            } else {
                Vec::new()
            };
            rows.push(TaskRow {
                task: tasks::Task {
                    id,
                    key: format!("ET-{id:03}"),
                    project_id: 1,
                    title: titles[(i + n) % titles.len()].into(),
                    spec: String::new(),
                    branch: None,
                    worktree: None,
                    stage: stage.clone(),
                    state,
                    state_reason: None,
                    pending_gate: None,
                    pending_run: None,
                    priority: 100,
                    created_at: 0,
                    updated_at: 0,
                    version: 1,
                },
                run,
                helpers,
                conflicts,
                spent: Default::default(),
                over_budget: false,
            });
        }
    }
    app.apply(Snapshot {
        rows,
        ..Snapshot::default()
    });
    app.selected = app
        .visible()
        .iter()
        .position(|r| r.task.key == "ET-005")
        .expect("ET-005");
    app
}

/// Issue 20's legibility: at 120×36 the board showed "architecture ·" (its count cut) and
/// titles cut to 13 characters. Now 200×50 shows all seven columns, 120×36 a window of five
/// around the selected task's stage (the others named, with counts, in the bottom border),
/// and 80×24 the list; headers keep their counts, cards use the whole column.
#[test]
fn the_board_stays_legible_at_every_width() {
    let fx = Fixture::new("true");
    let a = spread(&fx);
    for (w, h) in [(120, 36), (80, 24), (200, 50)] {
        let text = render(&a, w, h);
        assert!(!text.contains("evil"), "an OSC sequence was drawn");
        // The radar's mark stays on both conflicting cards at every width.
        for key in ["ET-005", "ET-006"] {
            let line = text.lines().find(|l| l.contains(key)).expect(key);
            assert!(line.contains('⚡'), "{w}x{h}: {key} is marked: {line}");
        }
        snapshot(&format!("board-spread-{w}x{h}"), &text);
    }
    let wide = render(&a, 200, 50);
    for (name, count) in [("analysis", 2), ("architecture", 2), ("done", 2)] {
        assert!(wide.contains(&format!(" {name} · {count} ")), "{wide}");
    }
    // 120×36: five columns around `development`, every header whole, titles past 13 cells.
    let mid = render(&a, 120, 36);
    assert!(mid.contains(" architecture · 2 "), "{mid}");
    assert!(mid.contains("Add a --verbose fl…"), "{mid}");
    assert!(!mid.contains(" deploy · "), "deploy is left out: {mid}");
    assert!(mid.contains("deploy 2 · done 2 ›"), "{mid}");
    // The window follows the selection to the last stages.
    let mut last = spread(&fx);
    last.selected = last
        .visible()
        .iter()
        .position(|r| r.task.key == "ET-013")
        .expect("ET-013");
    let end = render(&last, 120, 36);
    assert!(
        end.contains(" done · 2 ") && end.contains("‹ analysis 2 · architecture 2 ⚑2"),
        "{end}"
    );
}

/// h and l move the selection between stages and the window of columns goes with it: the
/// selected card is always on screen at 120×36.
#[test]
fn h_and_l_carry_the_window_of_columns() {
    use bosun::tui::update::{Msg, update};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let fx = Fixture::new("true");
    let mut a = spread(&fx);
    let keymap = Keymap::builtin().expect("keymap");
    let press = |a: &mut App, c: char| {
        update(
            a,
            &keymap,
            Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
        );
    };
    let selected = |a: &App| a.selected_task().map(|t| t.key.clone()).expect("selected");
    for _ in 0..4 {
        press(&mut a, 'l');
        let key = selected(&a);
        let text = render(&a, 120, 36);
        assert!(
            text.contains(&format!("▶  {key}")),
            "{key} not shown:\n{text}"
        );
    }
    assert_eq!(selected(&a), "ET-013", "in done");
    let end = render(&a, 120, 36);
    assert!(
        end.contains(" done · 2 ") && !end.contains(" analysis · "),
        "{end}"
    );
    for _ in 0..6 {
        press(&mut a, 'h');
        let key = selected(&a);
        let text = render(&a, 120, 36);
        assert!(text.contains(&key), "{key} not shown:\n{text}");
    }
    assert_eq!(selected(&a), "ET-001");
    let start = render(&a, 120, 36);
    assert!(
        start.contains(" analysis · 2 ") && start.contains("deploy 2 · done 2 ›"),
        "{start}"
    );
}

#[test]
fn a_provider_parked_at_a_usage_limit_shows_in_the_header_and_the_queue_view() {
    use bosun::store::events::About;
    use bosun::store::limits::{self, Report};
    let fx = afternoon();
    let now = now_ms();
    fx.store
        .write(|tx| {
            limits::park(
                tx,
                &Report {
                    provider: "codex",
                    run_id: None,
                    about: About::NOTHING,
                    resets_at: now + 3_600_000,
                    resumes_at: now + 3_610_000,
                    words: "■ You’ve hit your usage limit. \x1b]0;pwned\x07",
                    used_percent: Some(100.0),
                },
                now,
            )?;
            // Another provider's CLI reported its share used, not parked.
            limits::utilisation(tx, "gemini", 41.0, now)
        })
        .expect("park");
    let mut a = app(&fx, View::Board);
    let text = render(&a, 200, 50);
    let until = bosun::provider::limit::clock_time(now + 3_610_000);
    assert!(
        text.contains(&format!("⏸ codex until {until} 100%")),
        "{text}"
    );
    assert!(text.contains(" gemini 41% "), "{text}");
    a.view = View::Queue;
    let text = render(&a, 200, 50);
    assert!(
        text.contains(&format!("usage limit: codex parked until {until} (in 1h")),
        "{text}"
    );
    assert!(text.contains("· 100% used"), "{text}");
    assert!(text.contains("usage limit: gemini ok · 41% used"), "{text}");
    assert!(!text.contains("pwned") && !text.contains('\x1b'));
}
