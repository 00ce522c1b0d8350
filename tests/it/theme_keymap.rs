//! Themes and keymap as data: built-ins, user overrides from a config dir, and errors that
//! name file, line and key.

use std::collections::HashSet;
use std::path::Path;

use bosun::config::locate::Located;
use bosun::tui::keymap::{Action, Keymap, KeymapError, LAYERS, VIEWS};
use bosun::tui::theme::{Theme, ThemeError};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier, Style};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    KeyEvent::new(KeyCode::Char(c), mods)
}

// ---------------------------------------------------------------- themes

#[test]
fn every_builtin_theme_loads_and_they_differ() {
    let themes: Vec<Theme> = Theme::builtin_names()
        .iter()
        .map(|n| Theme::load_from(n, None).unwrap())
        .collect();
    assert_eq!(Theme::builtin_names()[0], "default");
    assert_eq!(themes.len(), 3);
    for (i, a) in themes.iter().enumerate() {
        assert_eq!(a.name(), Theme::builtin_names()[i]);
        for b in &themes[i + 1..] {
            assert_ne!(a, b, "{} and {} are identical", a.name(), b.name());
            assert_ne!(
                a.base(),
                b.base(),
                "{} and {} share a base",
                a.name(),
                b.name()
            );
        }
    }
}

#[test]
fn styles_are_semantic() {
    let t = Theme::load_from("high-contrast", None).unwrap();
    assert_eq!(t.base(), Style::new().fg(Color::White).bg(Color::Black));
    assert_eq!(
        t.attention(),
        Style::new()
            .fg(Color::LightYellow)
            .add_modifier(Modifier::BOLD)
    );
    assert_eq!(
        t.selected(),
        Style::new()
            .fg(Color::Black)
            .bg(Color::White)
            .add_modifier(Modifier::BOLD)
    );
    assert_ne!(t.border(true), t.border(false));
    assert_eq!(t.status("no-such-status"), t.status("unknown"));
    assert_ne!(t.status("busy"), t.status("unknown"));
    assert!(t.status("waiting").add_modifier.contains(Modifier::BOLD));
    // Stage colours repeat, so a pipeline of any length has colours.
    assert_eq!(t.stage(0), t.stage(6));
    assert_ne!(t.stage(0), t.stage(1));
    for s in [t.title(), t.key_hint(), t.header()] {
        assert!(s.add_modifier.contains(Modifier::BOLD));
    }
    for s in [t.dim(), t.success(), t.warning(), t.error(), t.info()] {
        assert!(s.fg.is_some() && s.bg.is_none());
    }
}

#[test]
fn user_theme_overrides_one_key_and_keeps_the_rest_from_default() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "themes/mine.toml", "highlight = \"#ff0000\"\n");
    let mine = Theme::load_from("mine", Some(dir.path())).unwrap();
    let default = Theme::load_from("default", None).unwrap();
    assert_eq!(mine.attention().fg, Some(Color::Rgb(255, 0, 0)));
    assert_eq!(mine.base(), default.base());
    assert_eq!(mine.selected(), default.selected());
    assert_eq!(mine.stage(2), default.stage(2));
    assert_eq!(mine.status("busy"), default.status("busy"));
}

#[test]
fn user_file_wins_over_builtin_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "themes/light.toml",
        "background = \"#123456\"\nstage_colors = [\"red\"]\n",
    );
    let light = Theme::load_from("light", Some(dir.path())).unwrap();
    assert_eq!(light.base().bg, Some(Color::Rgb(0x12, 0x34, 0x56)));
    assert_eq!(light.stage(0).fg, Some(Color::Red));
    assert_eq!(light.stage(5).fg, Some(Color::Red));
    // Keys the user file leaves out come from default, not from the built-in light.
    let default = Theme::load_from("default", None).unwrap();
    assert_eq!(light.title(), default.title());
    // Without the user dir, the built-in is back.
    let builtin = Theme::load_from("light", None).unwrap();
    assert_ne!(builtin.base(), light.base());
}

#[test]
fn malformed_theme_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "bad_colour",
            "text = \"red\"\n\nborder = \"#12\"\n",
            3,
            "border",
        ),
        ("bad_name", "# c\ntitle = \"light_purple\"\n", 2, "title"),
        (
            "unknown_key",
            "text = \"red\"\nbackgroud = \"black\"\n",
            2,
            "backgroud",
        ),
        ("not_toml", "text = \"red\"\ntitle = \n", 2, "title"),
        ("wrong_type", "\nerror = 3\n", 2, "error"),
        (
            "bad_stage",
            "stage_colors = [\n  \"red\",\n  \"nope\",\n]\n",
            3,
            "stage_colors[1]",
        ),
        ("empty_stages", "\nstage_colors = []\n", 2, "stage_colors"),
    ];
    for (name, text, line, key) in cases {
        write(dir.path(), &format!("themes/{name}.toml"), text);
        let err = Theme::load_from(name, Some(dir.path())).unwrap_err();
        let msg = err.to_string();
        match err {
            ThemeError::Invalid(Located {
                file,
                line: l,
                key: k,
                ..
            }) => {
                assert_eq!(
                    file,
                    dir.path().join(format!("themes/{name}.toml")),
                    "{msg}"
                );
                assert_eq!((l, k.as_str()), (line, key), "{name}: {msg}");
            }
            other => panic!("{name}: expected Invalid, got {other:?}"),
        }
        let file = dir.path().join(format!("themes/{name}.toml"));
        let prefix = format!("{}:{line}:", file.display());
        assert!(msg.starts_with(&prefix), "{msg}");
        assert!(msg.contains(key), "{msg}");
    }
}

#[test]
fn unknown_theme_lists_the_available_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "themes/mine.toml", "");
    write(dir.path(), "themes/notes.txt", "");
    let err = Theme::load_from("nope", Some(dir.path())).unwrap_err();
    let msg = err.to_string();
    for name in ["default", "light", "high-contrast", "mine"] {
        assert!(msg.contains(name), "{msg}");
    }
    assert!(!msg.contains("notes"), "{msg}");
    match err {
        ThemeError::Unknown { name, available } => {
            assert_eq!(name, "nope");
            assert_eq!(available, ["default", "high-contrast", "light", "mine"]);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    // Names that are not plain file stems are never looked up as paths.
    write(dir.path(), "elsewhere.toml", "");
    assert!(matches!(
        Theme::load_from("../elsewhere", Some(dir.path())),
        Err(ThemeError::Unknown { .. })
    ));
}

// ---------------------------------------------------------------- keymap

#[test]
fn every_action_has_a_builtin_binding() {
    let map = Keymap::builtin().unwrap();
    let bound: HashSet<Action> = map.help_rows().iter().map(|r| r.action).collect();
    for a in Action::ALL {
        assert!(bound.contains(a), "{a} has no built-in key");
    }
}

#[test]
fn j_and_down_move_down_everywhere() {
    let map = Keymap::builtin().unwrap();
    for view in VIEWS.iter().filter(|v| !LAYERS.contains(v)) {
        assert_eq!(map.action(&ch('j'), view), Some(Action::Down), "{view}");
        assert_eq!(map.action(&key(KeyCode::Down), view), Some(Action::Down));
        assert_eq!(map.action(&ch('k'), view), Some(Action::Up));
        assert_eq!(map.action(&ch('q'), view), Some(Action::Quit));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map.action(&ctrl_c, view), Some(Action::Quit));
        assert_eq!(map.action(&ch('?'), view), Some(Action::Help));
    }
}

#[test]
fn view_entries_win_over_global_ones() {
    let map = Keymap::builtin().unwrap();
    assert_eq!(map.action(&ch('n'), "board"), Some(Action::AnswerNo));
    assert_eq!(map.action(&ch('n'), "log"), Some(Action::SearchNext));
    assert_eq!(map.action(&ch('N'), "board"), Some(Action::NewTask));
    assert_eq!(map.action(&ch('N'), "log"), Some(Action::SearchPrev));
    assert_eq!(map.action(&ch('/'), "queue"), Some(Action::Filter));
    assert_eq!(map.action(&ch('/'), "log"), Some(Action::Search));
    assert_eq!(
        map.action(&key(KeyCode::BackTab), "task"),
        Some(Action::PrevView)
    );
    assert_eq!(map.action(&ch('A'), "board"), Some(Action::Attach));
    assert_eq!(map.action(&ch('a'), "board"), Some(Action::Approve));
    assert_eq!(map.action(&ch('x'), "board"), None);
    assert_eq!(map.keys_for(Action::AnswerNo, "log"), Vec::<String>::new());
    assert_eq!(map.keys_for(Action::AnswerNo, "board"), ["n"]);
    assert_eq!(map.keys_for(Action::Down, "board"), ["j", "down"]);
}

#[test]
fn user_keymap_rebinds_and_unbinds() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "keymap.toml",
        r#"
[[keys]]
key = "q"
action = "none"

[[keys]]
key = "x"
action = "quit"
desc = "Leave"

[[keys]]
key = "j"
action = "page_down"

[[keys]]
key = "n"
view = "log"
action = "none"

[[keys]]
key = "f"
view = "pane"
action = "none"
"#,
    );
    let map = Keymap::load_from(Some(dir.path())).unwrap();
    assert_eq!(map.action(&ch('q'), "board"), None);
    assert_eq!(map.action(&ch('x'), "board"), Some(Action::Quit));
    assert_eq!(map.action(&ch('j'), "board"), Some(Action::PageDown));
    // An unbound view entry falls back to nothing, not to the global binding...
    assert_eq!(map.action(&ch('n'), "log"), None);
    assert_eq!(map.action(&ch('n'), "board"), Some(Action::AnswerNo));
    assert_eq!(map.action(&ch('f'), "pane"), None);
    assert_eq!(map.action(&ch('f'), "log"), Some(Action::Follow));
    // ...and the rest of the built-ins are untouched.
    assert_eq!(map.action(&key(KeyCode::Down), "board"), Some(Action::Down));
    let rows = map.help_rows();
    // (The help layer's own `q`, which closes the overlay, stays.)
    assert!(
        !rows
            .iter()
            .any(|r| r.key == "q" && r.view.as_deref() != Some("help"))
    );
    let x = rows.iter().find(|r| r.key == "x").unwrap();
    assert_eq!(x.desc, "Leave");
    // A user entry without desc keeps the action's built-in description, in place.
    let j = rows.iter().find(|r| r.key == "j").unwrap();
    assert_eq!((j.action, j.desc.as_str()), (Action::PageDown, "Page down"));
    assert_eq!(rows.iter().position(|r| r.key == "j"), Some(2));
    assert_eq!(map.keys_for(Action::Quit, "board"), ["ctrl-c", "x"]);
}

#[test]
fn no_user_file_means_builtins() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Keymap::load_from(Some(dir.path())).unwrap(),
        Keymap::builtin().unwrap()
    );
    assert_eq!(Keymap::load_from(None).unwrap(), Keymap::builtin().unwrap());
}

#[test]
fn bad_keymaps_name_file_line_and_key() {
    let cases = [
        (
            "[[keys]]\nkey = \"j\"\naction = \"down\"\n\n[[keys]]\nkey = \"hyper-j\"\naction = \"up\"\n",
            6,
            "keys[1].key",
            "unknown key",
        ),
        (
            "[[keys]]\nkey = \"j\"\naction = \"jump\"\n",
            3,
            "keys[0].action",
            "unknown action",
        ),
        (
            "[[keys]]\nkey = \"j\"\nview = \"logs\"\naction = \"down\"\n",
            3,
            "keys[0].view",
            "unknown view",
        ),
        (
            "[[keys]]\nkey = \"j\"\naction = \"down\"\nhelp = \"x\"\n",
            4,
            "keys[0].help",
            "unknown field",
        ),
        (
            "[[keys]]\nkey = \"j\"\naction = \"down\"\n[[keys]]\nkey = \"j\"\naction = \"up\"\n",
            5,
            "keys[1].key",
            "bound twice",
        ),
        (
            "[[keys]]\nkey = \"j\"\naction = down\n",
            3,
            "keys[0].action",
            "",
        ),
    ];
    for (text, line, key, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "keymap.toml", text);
        let err = Keymap::load_from(Some(dir.path())).unwrap_err();
        let msg = err.to_string();
        let KeymapError::Invalid(Located {
            file,
            line: l,
            key: k,
            message,
            ..
        }) = err
        else {
            panic!("expected Invalid, got {err:?}");
        };
        assert_eq!(file, dir.path().join("keymap.toml"));
        assert_eq!((l, k.as_str()), (line, key), "{msg}");
        assert!(message.contains(words), "{msg}");
        assert!(
            msg.starts_with(&format!("{}:{line}:", file.display())),
            "{msg}"
        );
    }
}

#[test]
fn help_rows_cover_every_binding() {
    let map = Keymap::builtin().unwrap();
    let rows = map.help_rows();
    let text = include_str!("../../src/tui/keymap.toml");
    let entries = text.lines().filter(|l| l.trim() == "[[keys]]").count();
    assert_eq!(rows.len(), entries);
    for row in &rows {
        assert!(!row.desc.is_empty(), "{row:?}");
        let view = row.view.as_deref().unwrap_or("board");
        let event = match row.key.as_str() {
            "ctrl-c" => KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            "ctrl-d" => KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL),
            "ctrl-u" => KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL),
            "up" => key(KeyCode::Up),
            "down" => key(KeyCode::Down),
            "pageup" => key(KeyCode::PageUp),
            "pagedown" => key(KeyCode::PageDown),
            "home" => key(KeyCode::Home),
            "end" => key(KeyCode::End),
            "enter" => key(KeyCode::Enter),
            "esc" => key(KeyCode::Esc),
            "tab" => key(KeyCode::Tab),
            "left" => key(KeyCode::Left),
            "right" => key(KeyCode::Right),
            "backspace" => key(KeyCode::Backspace),
            "backtab" => KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
            k if k.chars().count() == 1 => ch(k.chars().next().unwrap()),
            other => panic!("add {other} to this test"),
        };
        assert_eq!(map.action(&event, view), Some(row.action), "{row:?}");
    }
    // The log view's own keys are marked as such for the overlay.
    let log: Vec<&str> = rows
        .iter()
        .filter(|r| r.view.as_deref() == Some("log"))
        .map(|r| r.key.as_str())
        .collect();
    assert_eq!(log, ["/", "n", "N"]);
}

#[test]
fn the_selection_is_visible_in_every_built_in_theme_and_a_flat_user_theme() {
    use ratatui::style::Modifier;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("themes")).unwrap();
    // A user theme whose selection is its background: only reverse video can show it.
    std::fs::write(
        dir.path().join("themes/flat.toml"),
        "background = \"reset\"\nselection_bg = \"reset\"\n",
    )
    .unwrap();
    let mut names: Vec<String> = Theme::builtin_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    names.push("flat".into());
    for name in names {
        let t = Theme::load_from(&name, Some(dir.path())).unwrap();
        let (sel, base) = (t.selected(), t.base());
        assert!(
            sel.bg != base.bg || sel.add_modifier.contains(Modifier::REVERSED),
            "{name}: the selected row looks like any other"
        );
    }
}

#[test]
fn the_readme_key_table_is_the_built_in_keymap() {
    let readme = include_str!("../../README.md");
    let table: Vec<(String, String, String)> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| key | view | action |"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (
                cells[0].trim_matches('`').to_string(),
                cells[1].to_string(),
                cells[2].replace("\\|", "|"),
            )
        })
        .collect();
    let map = Keymap::builtin().unwrap();
    let rows: Vec<(String, String, String)> = map
        .help_rows()
        .into_iter()
        .map(|r| (r.key, r.view.unwrap_or_else(|| "all".into()), r.desc))
        .collect();
    assert_eq!(
        table, rows,
        "README's key table differs from src/tui/keymap.toml"
    );
}
