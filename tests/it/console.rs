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
        View::Diff => app.diff = Some(load::diff(&fx.db_path(), task.id)),
        _ => {}
    }
    app
}

fn render(app: &App, w: u16, h: u16) -> String {
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

fn snapshot(name: &str, text: &str) {
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
fn a_terminal_too_small_says_so() {
    let fx = afternoon();
    let a = app(&fx, View::Board);
    let text = render(&a, 40, 10);
    assert!(text.contains("terminal too small"), "{text}");
}
