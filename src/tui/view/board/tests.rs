//! The board's layout: shapes by width, windows, headers, cards at their narrowest.

use super::*;

#[test]
fn seven_columns_need_156_cells_a_window_112_and_less_is_the_list() {
    // Board width inside its border: the terminal's minus two.
    assert_eq!(shape(154, 7, Some(0)), Shape::Columns);
    assert_eq!(shape(198, 7, None), Shape::Columns);
    assert_eq!(shape(153, 7, Some(0)), Shape::Window { first: 0, shown: 6 });
    assert_eq!(shape(118, 7, Some(0)), Shape::Window { first: 0, shown: 5 });
    assert_eq!(shape(110, 7, None), Shape::Window { first: 0, shown: 5 });
    assert_eq!(shape(109, 7, Some(0)), Shape::List);
    assert_eq!(shape(78, 7, Some(3)), Shape::List);
    // A short pipeline keeps every column longer.
    assert_eq!(shape(88, 4, None), Shape::Columns);
    assert_eq!(shape(87, 4, None), Shape::List);
}

#[test]
fn the_window_follows_the_selected_column_and_stays_in_the_board() {
    let first = |sel| match shape(118, 7, Some(sel)) {
        Shape::Window { first, shown: 5 } => first,
        other => panic!("{other:?}"),
    };
    assert_eq!((0..7).map(first).collect::<Vec<_>>(), [0, 0, 0, 1, 2, 2, 2]);
}

#[test]
fn headers_keep_the_count_and_shorten_the_name() {
    assert_eq!(header("architecture", 3, 22), " architecture · 3 ");
    assert_eq!(header("architecture", 3, 18), " architecture 3 ");
    assert_eq!(header("architecture", 3, 12), " archi… 3 ");
    assert_eq!(header("architecture", 12345, 12), " a… 12345 ");
    assert_eq!(header("architecture", 12345, 9), " 12345 ");
    assert_eq!(header("architecture", 12345, 5), "12345");
    // Never wider than the column's top border while the count fits in it.
    for w in 6..30 {
        let h = header("architecture", 42, w);
        assert!(h.contains("42"), "{w}: {h:?}");
        assert!(Span::raw(h.as_str()).width() <= w - 2, "{w}: {h:?}");
    }
}

#[test]
fn fit_cuts_by_cells_with_an_ellipsis() {
    assert_eq!(fit("Add a flag", 10), "Add a flag");
    assert_eq!(fit("Add a flag", 6), "Add a…");
    assert_eq!(fit("日本語のタイトル", 7), "日本語…");
    assert_eq!(fit("abc", 0), "");
    assert_eq!(fit("Speed up the board view", 10), "Speed up…");
}

fn row(key: &str, title: &str) -> TaskRow {
    TaskRow {
        task: crate::store::tasks::Task {
            id: 1,
            key: key.into(),
            project_id: 1,
            title: title.into(),
            spec: String::new(),
            branch: None,
            worktree: None,
            stage: "analysis".into(),
            state: TaskState::AwaitingApproval,
            state_reason: None,
            pending_gate: None,
            pending_run: None,
            priority: 100,
            created_at: 0,
            updated_at: 0,
            version: 1,
        },
        run: None,
        helpers: vec![(7, "security-reviewer".into(), "busy".into())],
        conflicts: Vec::new(),
        spent: crate::tui::spent::Spent::default(),
        over_budget: false,
    }
}

fn text(line: &Line<'_>) -> String {
    line.spans.iter().map(|s| s.content.as_ref()).collect()
}

#[test]
fn a_card_at_its_narrowest_keeps_key_state_and_the_mark_slot() {
    let theme = Theme::load("default").expect("theme");
    let width = usize::from(CARD_MIN);
    let r = row("ET-001", "Add a --verbose flag to the CLI");
    let lines = card(&r, false, width, Some(Span::raw("⚡")), &theme);
    let texts: Vec<String> = lines.iter().map(text).collect();
    assert_eq!(
        texts[0], " ⚑ ET-001         ⚡",
        "the mark at the right edge"
    );
    assert_eq!(texts[1], "   Add a --verbose…");
    assert_eq!(texts[2], "   awaiting_approval", "the longest state whole");
    assert_eq!(
        texts[3], "   ↳ securi… #7 busy",
        "the role is cut, not the status"
    );
    for l in &lines {
        assert!(l.width() <= width, "{:?}", text(l));
    }
    // A key too long for the line gives way to the slot.
    let long = row("VERYLONGPROJECT-12345", "t");
    let first = text(&card(&long, false, width, Some(Span::raw("⚡")), &theme)[0]);
    assert!(first.ends_with(" ⚡"), "{first}");
    assert_eq!(Span::raw(first.as_str()).width(), width);
    // The selected card is highlighted across the column: every line is full width.
    for l in card(&r, true, 30, None, &theme) {
        assert_eq!(l.width(), 30, "{:?}", text(&l));
    }
}

#[test]
fn hidden_stages_are_named_or_counted() {
    let none: &[&TaskRow] = &[];
    let hidden = [("deploy", none), ("done", none)];
    assert_eq!(
        left_out(&hidden, 40, false).as_deref(),
        Some(" deploy 0 · done 0 › ")
    );
    assert_eq!(
        left_out(&hidden, 15, true).as_deref(),
        Some(" ‹ 2 stages · 0 tasks ")
    );
    assert_eq!(left_out(&[], 40, true), None);
}
