//! The console's `update` without a terminal: every action in normal mode, every modal layer
//! (input, confirm, help), and every message (snapshots, effect results, log bytes), on state
//! loaded from a real database. Each test asserts the state change and the exact effects.

use crate::support;

use bosun::pipeline::Decision;
use bosun::queue::Queue;
use bosun::status::{RunStatus, TaskState};
use bosun::store::runs;
use bosun::store::{Store, now_ms};
use bosun::tui::keymap::{Action, Keymap};
use bosun::tui::load;
use bosun::tui::state::{App, Confirm, Mode, Prompt, Snapshot, Tail, View, Want};
use bosun::tui::update::{Effect, FollowLog, Msg, act, update};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use support::Fixture;

/// ET-001 awaits approval; ET-002 is blocked after three crashes (its job failed); ET-003's
/// agent waits for an answer in a live pane on its own tmux socket; ET-004 is queued.
fn world() -> Fixture {
    let fx = Fixture::new("true");
    let (t1, _) = fx.add_task("Approve me");
    fx.complete(&t1, |f| {
        f.write("docs/work-items/ET-001/01-analysis.md", "analysis")
    });
    let (t2, _) = fx.add_task("Crashes");
    for _ in 0..3 {
        fx.fail(&t2, "panic: index out of range", false);
    }
    let (t3, _) = fx.add_task("Asks a question");
    let (_, run) = fx.claim_and_start(&t3);
    let log = fx.dir.path().join("run3.log");
    std::fs::write(&log, "one\r\ntwo needle\r\nthree\r\nfour needle\r\n").expect("log");
    fx.store
        .write(|tx| {
            runs::set_pane(
                tx,
                run.id,
                &runs::PaneRecord {
                    pane_id: "%9",
                    window: "ET-003-analysis-r3",
                    log_path: &log.to_string_lossy(),
                    socket: "agents-sock",
                    rows: 24,
                    cols: 80,
                },
            )?;
            runs::set_status(tx, run.id, RunStatus::Waiting, now_ms())
        })
        .expect("run");
    fx.add_task("Queued");
    fx
}

fn snapshot(fx: &Fixture, want: &Want) -> Snapshot {
    let store = Store::open(&fx.db_path()).expect("store");
    load::snapshot(&store, &Queue::new(&fx.cfg), want).expect("snapshot")
}

/// The console after its first snapshot and the reload `update` asks for.
fn console(fx: &Fixture) -> (App, Keymap) {
    let keymap = Keymap::builtin().expect("keymap");
    let mut app = App::new(&fx.cfg, "test".into());
    let first = snapshot(fx, &app.want());
    let effects = update(&mut app, &keymap, Msg::Loaded(Box::new(first)));
    assert_eq!(
        effects,
        [Effect::Reload(Want {
            selected: Some("ET-001".into()),
            events_for_task: false,
            artifacts: app.want().artifacts,
            intake: Vec::new(),
        })],
        "the first snapshot has no detail: the selected task's is asked for"
    );
    let second = snapshot(fx, &app.want());
    update(&mut app, &keymap, Msg::Loaded(Box::new(second)));
    (app, keymap)
}

fn key(app: &mut App, keymap: &Keymap, k: KeyCode) -> Vec<Effect> {
    update(app, keymap, Msg::Key(KeyEvent::new(k, KeyModifiers::NONE)))
}

fn ch(app: &mut App, keymap: &Keymap, c: char) -> Vec<Effect> {
    key(app, keymap, KeyCode::Char(c))
}

fn typed(app: &mut App, keymap: &Keymap, text: &str) {
    for c in text.chars() {
        assert_eq!(ch(app, keymap, c), [], "typing {c:?}");
    }
}

/// Selects task `key` the way j does, loading its detail.
fn select(fx: &Fixture, app: &mut App, keymap: &Keymap, task: &str) {
    let i = app
        .visible()
        .iter()
        .position(|r| r.task.key == task)
        .expect("task on the board");
    app.selected = i;
    let snap = snapshot(fx, &app.want());
    update(app, keymap, Msg::Loaded(Box::new(snap)));
    assert_eq!(app.selected_task().map(|t| t.key.as_str()), Some(task));
}

fn selected_key(app: &App) -> String {
    app.selected_task().expect("selection").key.clone()
}

#[test]
fn every_action_in_normal_mode_does_something_defined() {
    let fx = world();
    for action in Action::ALL {
        let (mut app, _) = console(&fx);
        for view in View::ALL {
            app.view = view;
            app.mode = Mode::Normal;
            // No action panics in any view, and quit is the only one that quits.
            let effects = act(&mut app, *action);
            assert_eq!(
                effects.contains(&Effect::Quit),
                *action == Action::Quit,
                "{action} in {view:?}"
            );
        }
    }
}

#[test]
fn moving_reloads_the_new_selection_and_clears_what_belonged_to_the_old() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    assert_eq!(selected_key(&app), "ET-001");
    let effects = ch(&mut app, &keymap, 'j');
    let now = selected_key(&app);
    assert_ne!(now, "ET-001");
    assert_eq!(
        effects,
        [Effect::Reload(Want {
            selected: Some(now),
            events_for_task: false,
            artifacts: app.want().artifacts,
            intake: Vec::new(),
        })]
    );
    assert_eq!(ch(&mut app, &keymap, 'k').len(), 1);
    assert_eq!(
        ch(&mut app, &keymap, 'k'),
        [],
        "already at the top: nothing to load"
    );
    ch(&mut app, &keymap, 'G');
    assert_eq!(app.selected, app.visible().len() - 1);
    ch(&mut app, &keymap, 'g');
    assert_eq!(app.selected, 0);
    key(&mut app, &keymap, KeyCode::PageDown);
    assert_eq!(
        app.selected,
        app.visible().len() - 1,
        "a page is more than 4 rows"
    );
}

#[test]
fn h_and_l_move_between_stage_columns() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    // Spread the tasks over the columns: ET-002 in development, ET-004 done.
    for r in app.rows.iter_mut() {
        match r.task.key.as_str() {
            "ET-002" => r.task.stage = "development".into(),
            "ET-004" => r.task.stage = "done".into(),
            _ => {}
        }
    }
    assert_eq!(selected_key(&app), "ET-001");
    assert_eq!(app.column_of(app.selected_row().expect("row")), 0);
    assert_eq!(ch(&mut app, &keymap, 'l').len(), 1);
    assert_eq!(
        selected_key(&app),
        "ET-002",
        "the empty architecture column is skipped"
    );
    ch(&mut app, &keymap, 'l');
    assert_eq!(selected_key(&app), "ET-004", "then done");
    assert_eq!(ch(&mut app, &keymap, 'l'), []);
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.0.contains("no tasks"))
    );
    key(&mut app, &keymap, KeyCode::Left);
    assert_eq!(selected_key(&app), "ET-002");
    ch(&mut app, &keymap, 'h');
    assert_eq!(app.column_of(app.selected_row().expect("row")), 0);
}

#[test]
fn approve_reject_and_their_notes() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    assert_eq!(
        ch(&mut app, &keymap, 'a'),
        [Effect::Decide {
            key: "ET-001".into(),
            decision: Decision::Approve { note: None }
        }]
    );
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.0.contains("approving ET-001"))
    );
    // r opens the note; an empty note is refused without an effect.
    assert_eq!(ch(&mut app, &keymap, 'r'), []);
    assert!(matches!(
        app.mode,
        Mode::Input {
            prompt: Prompt::Reject,
            ..
        }
    ));
    assert_eq!(key(&mut app, &keymap, KeyCode::Enter), []);
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.1 && m.0.contains("needs a note"))
    );
    ch(&mut app, &keymap, 'r');
    // In the input layer every letter is typed, q and a included; backspace deletes.
    typed(&mut app, &keymap, "add a test q");
    key(&mut app, &keymap, KeyCode::Backspace);
    key(&mut app, &keymap, KeyCode::Backspace);
    assert_eq!(
        key(&mut app, &keymap, KeyCode::Enter),
        [Effect::Decide {
            key: "ET-001".into(),
            decision: Decision::Reject {
                note: "add a test".into()
            }
        }]
    );
    assert_eq!(app.mode, Mode::Normal);
    // Esc leaves a field without doing anything.
    ch(&mut app, &keymap, 'r');
    typed(&mut app, &keymap, "never mind");
    assert_eq!(key(&mut app, &keymap, KeyCode::Esc), []);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn override_is_offered_for_blocked_tasks_only_and_needs_a_note() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    assert_eq!(ch(&mut app, &keymap, 'o'), []);
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.1 && m.0.contains("only a blocked task"))
    );
    assert_eq!(app.mode, Mode::Normal);
    select(&fx, &mut app, &keymap, "ET-002");
    ch(&mut app, &keymap, 'o');
    assert!(matches!(
        app.mode,
        Mode::Input {
            prompt: Prompt::Override,
            ..
        }
    ));
    assert_eq!(key(&mut app, &keymap, KeyCode::Enter), [], "no note");
    ch(&mut app, &keymap, 'o');
    typed(&mut app, &keymap, "flaky machine");
    assert_eq!(
        key(&mut app, &keymap, KeyCode::Enter),
        [Effect::Decide {
            key: "ET-002".into(),
            decision: Decision::Override {
                note: "flaky machine".into()
            }
        }]
    );
}

#[test]
fn answers_send_and_attach_go_to_the_selected_run() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    // ET-001's run has ended: nothing to attach to.
    assert_eq!(ch(&mut app, &keymap, 'A'), []);
    assert!(app.message.as_ref().is_some_and(|m| m.1));
    select(&fx, &mut app, &keymap, "ET-003");
    assert_eq!(
        ch(&mut app, &keymap, 'y'),
        [Effect::Answer {
            key: "ET-003".into(),
            yes: true
        }]
    );
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.0.contains("answering ET-003 yes"))
    );
    assert_eq!(
        ch(&mut app, &keymap, 'n'),
        [Effect::Answer {
            key: "ET-003".into(),
            yes: false
        }]
    );
    assert_eq!(
        ch(&mut app, &keymap, 'A'),
        [Effect::Attach {
            pane: "%9".into(),
            socket: Some("agents-sock".into())
        }],
        "attach uses the run's own tmux server"
    );
    ch(&mut app, &keymap, 's');
    typed(&mut app, &keymap, "use the smaller fix");
    assert_eq!(
        key(&mut app, &keymap, KeyCode::Enter),
        [Effect::Send {
            key: "ET-003".into(),
            text: "use the smaller fix".into()
        }]
    );
}

#[test]
fn cancel_and_retry_ask_first() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    // ET-001 has no open job (it awaits approval) and no failed one.
    assert_eq!(ch(&mut app, &keymap, 'c'), []);
    assert!(app.message.as_ref().is_some_and(|m| m.1));
    assert_eq!(ch(&mut app, &keymap, 'R'), []);
    assert!(app.message.as_ref().is_some_and(|m| m.1));
    select(&fx, &mut app, &keymap, "ET-002");
    ch(&mut app, &keymap, 'R');
    let Mode::Confirm(Confirm::RetryJob(job)) = app.mode.clone() else {
        panic!("{:?}", app.mode)
    };
    // In the confirm layer only y confirms; anything else (even a) says not done.
    assert_eq!(ch(&mut app, &keymap, 'a'), []);
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.message.as_ref().is_some_and(|m| m.0 == "not done"));
    ch(&mut app, &keymap, 'R');
    assert_eq!(ch(&mut app, &keymap, 'y'), [Effect::RetryJob(job)]);
    select(&fx, &mut app, &keymap, "ET-004");
    ch(&mut app, &keymap, 'c');
    let Mode::Confirm(Confirm::CancelJob(job)) = app.mode.clone() else {
        panic!("{:?}", app.mode)
    };
    assert_eq!(ch(&mut app, &keymap, 'Y'), [Effect::CancelJob(job)]);
    ch(&mut app, &keymap, 'c');
    assert_eq!(key(&mut app, &keymap, KeyCode::Esc), []);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn new_task_filter_and_help() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    ch(&mut app, &keymap, 'N');
    assert_eq!(key(&mut app, &keymap, KeyCode::Enter), []);
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.1 && m.0.contains("needs a title"))
    );
    ch(&mut app, &keymap, 'N');
    typed(&mut app, &keymap, "  Write docs ");
    assert_eq!(
        key(&mut app, &keymap, KeyCode::Enter),
        [Effect::CreateTask {
            title: "Write docs".into()
        }]
    );
    // The filter narrows the board while typing.
    ch(&mut app, &keymap, '/');
    typed(&mut app, &keymap, "crash");
    assert_eq!(app.visible().len(), 1);
    assert_eq!(selected_key(&app), "ET-002");
    let effects = key(&mut app, &keymap, KeyCode::Enter);
    assert!(matches!(&effects[..], [Effect::Reload(w)] if w.selected.as_deref() == Some("ET-002")));
    // Esc on the board clears the filter.
    key(&mut app, &keymap, KeyCode::Esc);
    assert!(app.filter.is_empty());
    assert_eq!(app.visible().len(), 4);
    // Help: ? opens; q and Esc close it without quitting; other keys do nothing.
    ch(&mut app, &keymap, '?');
    assert_eq!(app.mode, Mode::Help);
    assert_eq!(ch(&mut app, &keymap, 'a'), []);
    assert_eq!(app.mode, Mode::Help);
    assert_eq!(ch(&mut app, &keymap, 'q'), []);
    assert_eq!(app.mode, Mode::Normal);
    ch(&mut app, &keymap, '?');
    ch(&mut app, &keymap, '?');
    assert_eq!(app.mode, Mode::Normal);
    // ctrl-c quits from any layer.
    ch(&mut app, &keymap, 'r');
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(update(&mut app, &keymap, Msg::Key(ctrl_c)), [Effect::Quit]);
    assert_eq!(ch(&mut app, &keymap, 'q'), [], "q is a letter in the note");
}

#[test]
fn views_load_what_they_show() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    let t1 = app.selected_task().expect("ET-001").clone();
    let effects = ch(&mut app, &keymap, 'v');
    assert_eq!(app.view, View::Artifact);
    assert!(
        matches!(&effects[..], [Effect::LoadJudge { task_id, paths, .. }]
            if *task_id == t1.id && paths.iter().any(|p| p.ends_with("01-analysis.md"))),
        "{effects:?}"
    );
    assert_eq!(
        ch(&mut app, &keymap, 'd'),
        [Effect::LoadDiff { task_id: t1.id }]
    );
    assert_eq!(app.view, View::Diff);
    select(&fx, &mut app, &keymap, "ET-003");
    app.view = View::Board;
    let run = app.selected_run().expect("run").clone();
    let effects = ch(&mut app, &keymap, '4');
    assert_eq!(app.view, View::Pane);
    assert!(
        effects.is_empty()
            || matches!(&effects[..], [Effect::Follow(Some(FollowLog { run_id, .. }))] if *run_id == run.id),
        "{effects:?}"
    );
    assert_eq!(app.following.as_ref().map(|f| f.0), Some(run.id));
    assert_eq!(app.pane_size(), (24, 80), "the run's recorded pane size");
    // Tab cycles through every view and back.
    for _ in 0..View::ALL.len() {
        key(&mut app, &keymap, KeyCode::Tab);
    }
    assert_eq!(app.view, View::Pane);
    key(&mut app, &keymap, KeyCode::BackTab);
    assert_eq!(app.view, View::ALL[2]);
    // Enter on the board opens the task; Esc goes back.
    ch(&mut app, &keymap, '1');
    key(&mut app, &keymap, KeyCode::Enter);
    assert_eq!(app.view, View::Task);
    key(&mut app, &keymap, KeyCode::Esc);
    assert_eq!(app.view, View::Board);
    // Events: Enter toggles the selected task's events only, and reloads.
    ch(&mut app, &keymap, '6');
    let effects = key(&mut app, &keymap, KeyCode::Enter);
    assert!(app.events_for_task);
    assert!(matches!(&effects[..], [Effect::Reload(w)] if w.events_for_task));
    // Scrolling views keep their own offset; the task view scrolls its detail.
    ch(&mut app, &keymap, '3');
    ch(&mut app, &keymap, 'j');
    ch(&mut app, &keymap, 'j');
    assert_eq!((app.scroll, selected_key(&app)), (2, "ET-003".to_string()));
}

#[test]
fn the_log_follows_searches_and_scrolls_from_the_end() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    select(&fx, &mut app, &keymap, "ET-003");
    ch(&mut app, &keymap, '5');
    let run = app.following.as_ref().expect("following").0;
    // A tail for another run (a late follower) is dropped; this run's is taken.
    update(
        &mut app,
        &keymap,
        Msg::TailOpened(Box::new(Tail::new(run + 100, 24, 80))),
    );
    assert!(app.tail.is_none());
    update(
        &mut app,
        &keymap,
        Msg::TailOpened(Box::new(Tail::new(run, 24, 80))),
    );
    update(
        &mut app,
        &keymap,
        Msg::LogBytes {
            run_id: run,
            bytes: b"one\r\ntwo needle\r\nthree\r\nfour needle\r\nfive\r\n".to_vec(),
        },
    );
    assert_eq!(app.tail.as_ref().expect("tail").lines.len(), 5);
    ch(&mut app, &keymap, '/');
    typed(&mut app, &keymap, "needle");
    key(&mut app, &keymap, KeyCode::Enter);
    assert_eq!(app.search_hits(), [1, 3]);
    assert!(!app.follow);
    assert_eq!(app.scroll, 1, "the last hit, one line up from the end");
    ch(&mut app, &keymap, 'N');
    assert_eq!(app.scroll, 3, "the previous hit");
    ch(&mut app, &keymap, 'n');
    assert_eq!(app.scroll, 1);
    ch(&mut app, &keymap, 'f');
    assert_eq!((app.follow, app.scroll), (true, 0));
    ch(&mut app, &keymap, 'k');
    assert_eq!((app.follow, app.scroll), (false, 1), "up goes back in time");
}

#[test]
fn snapshots_keep_the_selection_and_ignore_stale_details() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    select(&fx, &mut app, &keymap, "ET-003");
    let id = app.selected_task().expect("ET-003").id;
    // A snapshot loaded for ET-001 (the selection moved meanwhile; the loader already has
    // the newer request): the board is taken, the detail is not.
    let stale = snapshot(
        &fx,
        &Want {
            selected: Some("ET-001".into()),
            events_for_task: false,
            artifacts: Vec::new(),
            intake: Vec::new(),
        },
    );
    let effects = update(&mut app, &keymap, Msg::Loaded(Box::new(stale)));
    assert_eq!(selected_key(&app), "ET-003");
    assert_eq!(
        app.detail.task_id,
        Some(id),
        "the old detail stays until the new one"
    );
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Reload(_))),
        "{effects:?}"
    );
    // Rows that move (another task now needs the operator) keep the selection on the task.
    let mut snap = snapshot(&fx, &app.want());
    snap.rows.reverse();
    update(&mut app, &keymap, Msg::Loaded(Box::new(snap)));
    assert_eq!(selected_key(&app), "ET-003");
}

#[test]
fn effect_results_and_supervisor_news_reach_the_status_line() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    update(
        &mut app,
        &keymap,
        Msg::Done {
            text: "ET-001: approved; architecture is next (job #5)".into(),
            error: false,
        },
    );
    assert_eq!(
        app.message,
        Some((
            "ET-001: approved; architecture is next (job #5)".into(),
            false
        ))
    );
    update(
        &mut app,
        &keymap,
        Msg::SupervisorStopped("tmux is gone".into()),
    );
    assert_eq!(app.mode_label, "no supervisor running");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.1 && m.0.contains("tmux is gone"))
    );
    update(&mut app, &keymap, Msg::Tick { now: 42 });
    assert_eq!(app.now, 42);
    assert_eq!(update(&mut app, &keymap, Msg::Resize), []);
}

#[test]
fn scrolling_past_the_top_of_a_long_log_reads_the_lines_before_it() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    select(&fx, &mut app, &keymap, "ET-003");
    ch(&mut app, &keymap, '5');
    let (run, path) = app.following.clone().expect("following");
    let path = path.expect("log path");
    // The run's log grew to 200k lines; the tail holds the last ones.
    let text: String = (0..200_000).map(|i| format!("line {i}\r\n")).collect();
    std::fs::write(&path, &text).expect("log");
    let (_, end, skipped) = bosun::tui::tail::read_end(std::path::Path::new(&path)).expect("open");
    update(
        &mut app,
        &keymap,
        Msg::TailOpened(Box::new(Tail::from_end(run, &end, skipped, 24, 80))),
    );
    let kept = app.tail.as_ref().expect("tail").lines.len();
    let first = app.tail.as_ref().expect("tail").first_line_at;
    assert!(first > 0);
    // The view found it can scroll `kept - 20` rows; up to there nothing is read...
    app.scroll_limit.set(kept - 20);
    app.scroll = kept - 21;
    assert_eq!(key(&mut app, &keymap, KeyCode::PageDown), []);
    app.scroll = kept - 21;
    // ...one more row up reaches the top: the lines before it are asked for.
    assert_eq!(
        ch(&mut app, &keymap, 'k'),
        [Effect::LoadOlder {
            run_id: run,
            path: path.clone(),
            end: first
        }]
    );
    let older = bosun::tui::tail::read_before(std::path::Path::new(&path), first).expect("read");
    let n = older.lines.len();
    update(
        &mut app,
        &keymap,
        Msg::Older {
            run_id: run,
            end: first,
            older: Box::new(older),
        },
    );
    let t = app.tail.as_ref().expect("tail");
    assert_eq!(t.lines.len(), kept + n);
    assert!(t.first_line_at < first);
    // The line before the first kept one is the last one read: nothing lost or doubled.
    let at = t.lines.len() - kept;
    let num = |l: &str| {
        l.trim_start_matches("line ")
            .parse::<u64>()
            .expect("number")
    };
    assert_eq!(num(&t.lines[at - 1]) + 1, num(&t.lines[at]));
    // A late answer for a position the tail has left is ignored.
    let again = bosun::tui::tail::read_before(std::path::Path::new(&path), first).expect("read");
    update(
        &mut app,
        &keymap,
        Msg::Older {
            run_id: run,
            end: first,
            older: Box::new(again),
        },
    );
    assert_eq!(app.tail.as_ref().expect("tail").lines.len(), kept + n);
}

#[test]
fn m_queues_a_message_for_the_selected_tasks_agent() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    select(&fx, &mut app, &keymap, "ET-003");
    ch(&mut app, &keymap, 'm');
    assert!(matches!(
        app.mode,
        Mode::Input {
            prompt: Prompt::Message,
            ..
        }
    ));
    assert_eq!(key(&mut app, &keymap, KeyCode::Enter), [], "empty");
    assert!(app.message.as_ref().is_some_and(|m| m.1));
    ch(&mut app, &keymap, 'm');
    typed(&mut app, &keymap, "rebase on main first");
    assert_eq!(
        key(&mut app, &keymap, KeyCode::Enter),
        [Effect::QueueMessage {
            key: "ET-003".into(),
            text: "rebase on main first".into()
        }]
    );
}

#[test]
fn a_task_that_newly_needs_the_operator_rings_the_terminal_once() {
    let fx = world();
    let (mut app, keymap) = console(&fx);
    // Those already waiting when the console opened did not ring (see `console`).
    let mut snap = snapshot(&fx, &app.want());
    let row = snap
        .rows
        .iter_mut()
        .find(|r| r.task.key == "ET-004")
        .expect("ET-004");
    row.task.state = TaskState::AwaitingApproval;
    let effects = update(&mut app, &keymap, Msg::Loaded(Box::new(snap.clone())));
    assert!(
        effects.contains(&Effect::Ring {
            text: "ET-004 needs you".into()
        }),
        "{effects:?}"
    );
    let again = update(&mut app, &keymap, Msg::Loaded(Box::new(snap)));
    assert!(
        !again.iter().any(|e| matches!(e, Effect::Ring { .. })),
        "{again:?}"
    );
}
