//! The console and budgets (issue 22): a board card shows what its task's runs used and cost
//! (`28.9k tok $0.29`; `$?` for a model with no price), a task held by a budget reads
//! `over budget`, and the task view shows the cost beside the tokens and which budget holds
//! the task and how to raise it. Rendered from a real database, snapshots as in `console`.

use crate::console::{render, snapshot};
use crate::support::Fixture;

use bosun::queue::Queue;
use bosun::store::Store;
use bosun::store::runs;
use bosun::store::tasks::Task;
use bosun::tui::load;
use bosun::tui::state::{App, View};

/// The fixture transcript's model, priced: its 28888 tokens cost $0.29.
const LAYER: &str = "[budget]\ntask_tokens = 20000\n\
    [prices.models.\"claude-opus-5\"]\ninput = 10.0\noutput = 50.0\n";

/// Starts a run of `task` whose session record is `record` (JSON lines), and reads its usage.
fn spend(fx: &Fixture, task: &Task, record: &str) -> runs::Run {
    let (_, run) = fx.claim_and_start(task);
    let path = fx.dir.path().join(format!("session-{}.jsonl", run.id));
    std::fs::write(&path, record).expect("record");
    let path = path.to_string_lossy().into_owned();
    fx.store
        .write(|tx| runs::set_transcript(tx, run.id, &path))
        .expect("transcript");
    bosun::supervisor::usage::record(&fx.cfg, &fx.store, run.id).expect("usage");
    run
}

/// ET-001 spent 28888 tokens ($0.29) and waits over its budget; ET-002 is working, 1234
/// tokens in, priced; ET-003 used a model with no price; ET-004 has used nothing.
fn ledger() -> Fixture {
    let fx = Fixture::with_layer("true", LAYER);
    let (t1, _) = fx.add_task("Spend too much");
    let run = spend(
        &fx,
        &t1,
        include_str!("../fixtures/claude-2.1.332/transcript.jsonl"),
    );
    // Its stage runs again (no artifact): the job is queued, and held.
    fx.finish_run(run.id);
    let line = |model: &str, input: i64, output: i64| {
        format!(
            r#"{{"type":"assistant","requestId":"r1","message":{{"id":"m1","model":"{model}","usage":{{"input_tokens":{input},"output_tokens":{output}}}}}}}"#
        ) + "\n"
    };
    let (t2, _) = fx.add_task("Spend a little");
    spend(&fx, &t2, &line("claude-opus-5-5", 1200, 34));
    let (t3, _) = fx.add_task("Spend on an unpriced model");
    spend(&fx, &t3, &line("gpt-x", 800, 50));
    fx.add_task("Spend nothing yet");
    fx
}

/// The console on `fx` after its snapshots, `key` selected, in `view`.
fn console(fx: &Fixture, key: &str, view: View) -> App {
    let store = Store::open(&fx.db_path()).expect("store");
    let queue = Queue::new(&fx.cfg);
    let mut app = App::new(&fx.cfg, "in-process supervisor".into());
    app.apply(load::snapshot(&store, &queue, &app.want()).expect("snapshot"));
    app.selected = app
        .visible()
        .iter()
        .position(|r| r.task.key == key)
        .expect(key);
    app.apply(load::snapshot(&store, &queue, &app.want()).expect("snapshot"));
    app.view = view;
    app
}

#[test]
fn cards_show_what_tasks_spent_and_which_are_over_budget() {
    let fx = ledger();
    let a = console(&fx, "ET-001", View::Board);
    let held: Vec<&str> = a
        .visible()
        .iter()
        .filter(|r| r.over_budget)
        .map(|r| r.task.key.as_str())
        .collect();
    assert_eq!(held, ["ET-001"]);
    let labels: Vec<String> = a.visible().iter().map(|r| r.spent.label()).collect();
    assert_eq!(
        labels,
        ["28.9k tok $0.29", "1.2k tok $0.01", "850 tok $?", ""]
    );
    for (w, h) in [(200, 50), (80, 24)] {
        let text = render(&a, w, h);
        assert!(text.contains("over budget"), "{text}");
        assert!(
            text.contains("28.9k tok $0.29") && text.contains("850 tok $?"),
            "{text}"
        );
        snapshot(&format!("board-budget-{w}x{h}"), &text);
    }
    let t = render(&console(&fx, "ET-001", View::Task), 200, 50);
    assert!(
        t.contains("tokens 28817 in · 0 cache read · 0 cache write · 71 out (0 reasoning) · cost $0.29")
            && t.contains("over budget: the task used 28888 of 20000 tokens; `bosun budget ET-001 --tokens N --note WHY` raises it"),
        "{t}"
    );
    snapshot("task-budget-200x50", &t);
    let unpriced = render(&console(&fx, "ET-003", View::Task), 200, 50);
    assert!(
        unpriced.contains("50 out (0 reasoning) · cost no price for gpt-x"),
        "{unpriced}"
    );
}
