//! The console keymap as data (ARCHITECTURE.md, `tui/`): `[[keys]]` entries in TOML (like television's
//! and yazi's), each binding one key to one [`Action`] with the description the help overlay
//! shows, optionally only in one view.
//!
//! The built-in table is `src/tui/keymap.toml`, embedded. The user's
//! `<config_dir>/keymap.toml` (same shape) is laid over it: an entry for the same key and view
//! replaces the built-in one, `action = "none"` unbinds, `desc` may be left out to keep the
//! action's built-in description. Lookup prefers an entry for the current view, then one
//! without a view. Unknown key names, actions, views or fields are errors naming the file,
//! line and key.

use std::fmt;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config::locate::{Located, key_at};

/// The embedded built-in keymap.
const BUILTIN: &str = include_str!("keymap.toml");

/// File name of the user keymap in the config directory.
pub const USER_FILE: &str = "keymap.toml";

/// The views a `view = "…"` entry may name, then the modal layers: an entry for `input`
/// (typing into a field), `confirm` (a y/n question) or `help` (the overlay) applies only
/// while that layer is open, and a layer never falls back to the keys without a view (in a
/// text field, `q` is a letter).
pub const VIEWS: &[&str] = &[
    "board", "queue", "task", "pane", "log", "events", "artifact", "diff", "input", "confirm",
    "help",
];

/// The modal layers among [`VIEWS`].
pub const LAYERS: &[&str] = &["input", "confirm", "help"];

/// Declares the actions once: the enum, [`Action::ALL`] and [`Action::name`].
macro_rules! actions {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// Something the operator can ask the console to do; keymap entries name these in
        /// snake_case (`action = "page_down"`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Action {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The snake_case name used in keymap files.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    /// Move the selection up one row.
    Up = "up",
    /// Move the selection down one row.
    Down = "down",
    /// Move up one page.
    PageUp = "page_up",
    /// Move down one page.
    PageDown = "page_down",
    /// Go to the first row.
    Top = "top",
    /// Go to the last row.
    Bottom = "bottom",
    /// The board: the stage column to the left.
    Left = "left",
    /// The board: the stage column to the right.
    Right = "right",
    /// Open the selected item.
    Open = "open",
    /// Go back, close an overlay or clear a filter.
    Back = "back",
    /// Next view in Tab order.
    NextView = "next_view",
    /// Previous view in Tab order.
    PrevView = "prev_view",
    /// The Board view.
    ViewBoard = "view_board",
    /// The Queue view.
    ViewQueue = "view_queue",
    /// The Task view.
    ViewTask = "view_task",
    /// The Pane view.
    ViewPane = "view_pane",
    /// The Log view.
    ViewLog = "view_log",
    /// The Events view.
    ViewEvents = "view_events",
    /// The Artifact view: what awaits judgement.
    ViewArtifact = "view_artifact",
    /// The Diff view: what the task's branch changed.
    ViewDiff = "view_diff",
    /// Approve the selected gate.
    Approve = "approve",
    /// Reject the selected gate.
    Reject = "reject",
    /// Pass a blocked task's failed gate anyway, with a note.
    Override = "override",
    /// Land a task that passed every stage.
    Land = "land",
    /// Answer yes to the agent's prompt.
    AnswerYes = "answer_yes",
    /// Answer no to the agent's prompt.
    AnswerNo = "answer_no",
    /// Send text to the agent.
    SendText = "send_text",
    /// Queue a message for the agent, delivered when its turn ends.
    Message = "message",
    /// Attach to the agent's tmux pane.
    Attach = "attach",
    /// Cancel the selected task.
    Cancel = "cancel",
    /// Retry the selected task.
    Retry = "retry",
    /// Create a new task.
    NewTask = "new_task",
    /// Filter the current list.
    Filter = "filter",
    /// Search the log.
    Search = "search",
    /// Next search match.
    SearchNext = "search_next",
    /// Previous search match.
    SearchPrev = "search_prev",
    /// Toggle following new output.
    Follow = "follow",
    /// Show or hide the help overlay.
    Help = "help",
    /// Quit the console.
    Quit = "quit",
    /// The input layer: submit the text.
    Submit = "submit",
    /// The input layer: delete the last character.
    DeleteChar = "delete_char",
    /// The confirm layer: yes, do it.
    ConfirmYes = "confirm_yes",
    /// The confirm layer: no.
    ConfirmNo = "confirm_no",
}

impl Action {
    /// A word or two for the footer's key hints ("a approve").
    pub fn hint(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Override => "override",
            Action::Land => "land",
            Action::AnswerYes => "yes",
            Action::AnswerNo => "no",
            Action::SendText => "send",
            Action::Message => "message",
            Action::Attach => "attach",
            Action::ViewArtifact => "artifact",
            Action::ViewDiff => "diff",
            Action::ViewPane => "pane",
            Action::ViewLog => "log",
            Action::Left | Action::Right => "columns",
            Action::Open => "open",
            Action::Back => "back",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::Search => "search",
            Action::SearchNext => "next",
            Action::Follow => "follow",
            Action::Submit => "submit",
            Action::DeleteChar => "delete",
            Action::ConfirmYes => "yes",
            Action::ConfirmNo => "no",
            Action::PageUp | Action::PageDown => "scroll",
            Action::Filter => "filter",
            Action::NewTask => "new task",
            other => other.name(),
        }
    }

    /// The action named `name` (snake_case, as in keymap files), if any.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the keymap could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    /// The user keymap exists but could not be read.
    #[error("cannot read keymap {}: {source}", path.display())]
    Read {
        /// The file that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A keymap file is not valid TOML, or an entry has an unknown key name, action, view or
    /// field, or binds the same key twice.
    #[error(transparent)]
    Invalid(Located),
}

/// One row of the help overlay, generated from the keymap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpRow {
    /// The key in canonical form, e.g. `j`, `J`, `ctrl-c`, `enter`.
    pub key: String,
    /// What it does.
    pub action: Action,
    /// The description from the keymap.
    pub desc: String,
    /// The view it is limited to, `None` for every view.
    pub view: Option<String>,
}

/// A key with its modifiers, normalised so that a keymap name and a terminal event compare
/// equal: case is carried by the character (no SHIFT on `Char`), `ctrl-` letters are lower
/// case, Shift+Tab is `BackTab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Chord {
    code: KeyCode,
    mods: KeyModifiers,
}

/// Named keys, besides single characters.
const NAMED: &[(&str, KeyCode)] = &[
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("enter", KeyCode::Enter),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("esc", KeyCode::Esc),
    ("space", KeyCode::Char(' ')),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
];

impl Chord {
    fn new(code: KeyCode, mods: KeyModifiers) -> Chord {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Chord { code, mods }
    }

    /// The chord of a terminal event; `None` for key releases.
    fn from_event(ev: &KeyEvent) -> Option<Chord> {
        (ev.kind != KeyEventKind::Release).then(|| Chord::new(ev.code, ev.modifiers))
    }

    /// Parses a key name (see the module docs and `keymap.toml`).
    fn parse(name: &str) -> Result<Chord, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = name;
        loop {
            if rest.chars().count() <= 1 {
                break;
            }
            let lower = rest.to_ascii_lowercase();
            let (flag, len) = if lower.starts_with("ctrl-") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            mods |= flag;
            rest = &rest[len..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_whitespace() => {
                return Err(format!("write \"space\" instead of {name:?}"));
            }
            (Some(c), None) => {
                if mods.contains(KeyModifiers::SHIFT) {
                    return Err(format!(
                        "write the character itself (e.g. \"{}\") instead of shift- with a character",
                        c.to_uppercase()
                    ));
                }
                KeyCode::Char(c)
            }
            _ => {
                let lower = rest.to_ascii_lowercase();
                let function = lower
                    .strip_prefix('f')
                    .and_then(|n| n.parse::<u8>().ok())
                    .filter(|n| (1..=12).contains(n));
                match (NAMED.iter().find(|(n, _)| *n == lower), function) {
                    (Some((_, code)), _) => *code,
                    (None, Some(n)) => KeyCode::F(n),
                    (None, None) => {
                        let names: Vec<&str> = NAMED.iter().map(|(n, _)| *n).collect();
                        return Err(format!(
                            "unknown key {name:?}; write a single character or one of {}, f1..f12, \
                             optionally after ctrl-, alt- or shift-",
                            names.join(", ")
                        ));
                    }
                }
            }
        };
        Ok(Chord::new(code, mods))
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, prefix) in [
            (KeyModifiers::CONTROL, "ctrl-"),
            (KeyModifiers::ALT, "alt-"),
            (KeyModifiers::SHIFT, "shift-"),
        ] {
            if self.mods.contains(flag) {
                f.write_str(prefix)?;
            }
        }
        if let Some((name, _)) = NAMED.iter().find(|(_, c)| *c == self.code) {
            return f.write_str(name);
        }
        match self.code {
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One keymap file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeymap {
    #[serde(default)]
    keys: Vec<Spanned<RawEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    key: Spanned<String>,
    action: Spanned<String>,
    #[serde(default)]
    desc: Option<Spanned<String>>,
    #[serde(default)]
    view: Option<Spanned<String>>,
}

/// One binding: `action` `None` means unbound (and, with a view, hides the global binding).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Binding {
    chord: Chord,
    view: Option<String>,
    action: Option<Action>,
    desc: String,
}

/// The console keymap: key events to [`Action`]s, per view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Keymap {
    /// The built-in keymap alone.
    ///
    /// # Errors
    /// [`KeymapError::Invalid`] if the embedded table is broken (a bug; tests guard it).
    pub fn builtin() -> Result<Keymap, KeymapError> {
        let mut map = Keymap {
            bindings: Vec::new(),
        };
        map.overlay(Path::new("<built-in>/keymap.toml"), BUILTIN, true)?;
        Ok(map)
    }

    /// The built-in keymap overlaid by `<config_dir>/keymap.toml` if it exists.
    ///
    /// # Errors
    /// [`KeymapError::Read`] when the user file exists but cannot be read,
    /// [`KeymapError::Invalid`] when it is malformed (file, line and key in the message).
    pub fn load() -> Result<Keymap, KeymapError> {
        Keymap::load_from(crate::config::paths::config_dir().as_deref())
    }

    /// [`Keymap::load`] with the config directory given; `None` means the built-ins only.
    ///
    /// # Errors
    /// As [`Keymap::load`].
    pub fn load_from(config_dir: Option<&Path>) -> Result<Keymap, KeymapError> {
        let mut map = Keymap::builtin()?;
        if let Some(path) = config_dir
            .map(|d| d.join(USER_FILE))
            .filter(|p| p.is_file())
        {
            let text = std::fs::read_to_string(&path).map_err(|source| KeymapError::Read {
                path: path.clone(),
                source,
            })?;
            map.overlay(&path, &text, false)?;
        }
        Ok(map)
    }

    /// The action `key` triggers in `view` (a name from [`VIEWS`]): an entry for that view
    /// wins over one without a view. `None` when the key is unbound there or is a release.
    pub fn action(&self, key: &KeyEvent, view: &str) -> Option<Action> {
        Chord::from_event(key).and_then(|c| self.lookup(c, view))
    }

    /// The keys (canonical names, in table order) that trigger `action` in `view`; for
    /// footer hints such as "? help".
    pub fn keys_for(&self, action: Action, view: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for b in &self.bindings {
            let key = b.chord.to_string();
            if b.action == Some(action)
                && self.lookup(b.chord, view) == Some(action)
                && !keys.contains(&key)
            {
                keys.push(key);
            }
        }
        keys
    }

    /// Every bound key, in table order (built-ins first, then user additions), for the help
    /// overlay. Unbound (`none`) entries are left out.
    pub fn help_rows(&self) -> Vec<HelpRow> {
        self.bindings
            .iter()
            .filter_map(|b| {
                b.action.map(|action| HelpRow {
                    key: b.chord.to_string(),
                    action,
                    desc: b.desc.clone(),
                    view: b.view.clone(),
                })
            })
            .collect()
    }

    /// The footer's hints for a view or layer: each of `actions` that has a key there, as
    /// (first key, [`Action::hint`]), in the order given.
    pub fn hints(&self, view: &str, actions: &[Action]) -> Vec<(String, &'static str)> {
        actions
            .iter()
            .filter_map(|a| {
                // A letter says more than a view number, and a short name fits better.
                self.keys_for(*a, view)
                    .into_iter()
                    .min_by_key(|k| (k.chars().all(|c| c.is_ascii_digit()), k.len()))
                    .map(|k| (k, a.hint()))
            })
            .collect()
    }

    fn lookup(&self, chord: Chord, view: &str) -> Option<Action> {
        let find = |v: Option<&str>| {
            self.bindings
                .iter()
                .find(|b| b.chord == chord && b.view.as_deref() == v)
        };
        match find(Some(view)) {
            Some(b) => b.action,
            None if LAYERS.contains(&view) => None,
            None => find(None).and_then(|b| b.action),
        }
    }

    /// Lays the entries of one file over the table. `builtin` files must give a `desc` for
    /// every bound entry; user entries without one take the action's existing description.
    fn overlay(&mut self, file: &Path, text: &str, builtin: bool) -> Result<(), KeymapError> {
        let err = |offset: usize, key: String, message: String| {
            KeymapError::Invalid(Located::new(file, text, offset, key, message))
        };
        let raw: RawKeymap = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            err(offset, key_at(text, offset), e.message().trim().to_string())
        })?;
        let mut seen: Vec<(Chord, Option<String>)> = Vec::new();
        for (i, entry) in raw.keys.iter().enumerate() {
            let e = entry.get_ref();
            let path = |field: &str| format!("keys[{i}].{field}");
            let chord = Chord::parse(e.key.get_ref())
                .map_err(|m| err(e.key.span().start, path("key"), m))?;
            let view = match &e.view {
                Some(v) if VIEWS.contains(&v.get_ref().as_str()) => Some(v.get_ref().clone()),
                Some(v) => {
                    return Err(err(
                        v.span().start,
                        path("view"),
                        format!(
                            "unknown view {:?}; write one of {}",
                            v.get_ref(),
                            VIEWS.join(", ")
                        ),
                    ));
                }
                None => None,
            };
            let action = match e.action.get_ref().as_str() {
                "none" => None,
                name => Some(Action::from_name(name).ok_or_else(|| {
                    let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
                    err(
                        e.action.span().start,
                        path("action"),
                        format!(
                            "unknown action {name:?}; write \"none\" to unbind or one of {}",
                            names.join(", ")
                        ),
                    )
                })?),
            };
            if seen.contains(&(chord, view.clone())) {
                return Err(err(
                    e.key.span().start,
                    path("key"),
                    format!(
                        "{chord} is bound twice{} in this file; keep one entry",
                        view.as_ref()
                            .map_or(String::new(), |v| format!(" in view {v}"))
                    ),
                ));
            }
            seen.push((chord, view.clone()));
            let desc = match (&e.desc, action) {
                (Some(d), _) if !d.get_ref().trim().is_empty() => d.get_ref().trim().to_string(),
                (Some(d), Some(_)) if builtin => {
                    return Err(err(
                        d.span().start,
                        path("desc"),
                        "empty description".to_string(),
                    ));
                }
                (None, Some(_)) if builtin => {
                    return Err(err(
                        entry.span().start,
                        path("desc"),
                        "missing description; the help overlay shows it".to_string(),
                    ));
                }
                (_, Some(a)) => self
                    .bindings
                    .iter()
                    .find(|b| b.action == Some(a))
                    .map_or_else(|| a.name().replace('_', " "), |b| b.desc.clone()),
                (_, None) => String::new(),
            };
            let binding = Binding {
                chord,
                view,
                action,
                desc,
            };
            match self
                .bindings
                .iter_mut()
                .find(|b| b.chord == binding.chord && b.view == binding.view)
            {
                Some(existing) => *existing = binding,
                None => self.bindings.push(binding),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(name: &str) -> Chord {
        Chord::parse(name).unwrap()
    }

    #[test]
    fn names_round_trip() {
        for name in [
            "j", "J", "?", "/", "1", "-", "ctrl-c", "alt-x", "ctrl--", "enter", "backtab", "space",
            "f5", "shift-up", "pagedown",
        ] {
            assert_eq!(chord(name).to_string(), name);
        }
    }

    #[test]
    fn names_normalise() {
        assert_eq!(chord("ctrl-C"), chord("ctrl-c"));
        assert_eq!(chord("CTRL-c"), chord("ctrl-c"));
        assert_eq!(chord("Enter"), chord("enter"));
        assert_eq!(chord("shift-tab"), chord("backtab"));
        assert_ne!(chord("j"), chord("J"));
    }

    #[test]
    fn bad_names() {
        for bad in ["", " ", "shift-j", "ctrl-", "pgup", "f13", "jk"] {
            assert!(Chord::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn events_normalise() {
        let ev = |code, mods| Chord::from_event(&KeyEvent::new(code, mods));
        assert_eq!(
            ev(KeyCode::Char('J'), KeyModifiers::SHIFT),
            Some(chord("J"))
        );
        assert_eq!(
            ev(KeyCode::Char('?'), KeyModifiers::SHIFT),
            Some(chord("?"))
        );
        assert_eq!(
            ev(KeyCode::BackTab, KeyModifiers::SHIFT),
            Some(chord("backtab"))
        );
        assert_eq!(
            ev(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(chord("ctrl-c"))
        );
        let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(Chord::from_event(&release), None);
    }

    #[test]
    fn action_names_match_serde() {
        for a in Action::ALL {
            let v = toml::Value::try_from(a).unwrap();
            assert_eq!(v.as_str(), Some(a.name()));
            assert_eq!(Action::from_name(a.name()), Some(*a));
        }
    }

    #[test]
    fn builtin_descriptions_are_consistent_per_action() {
        let map = Keymap::builtin().unwrap();
        for a in Action::ALL {
            // Within the views, and within each modal layer ("back" closes the help there).
            for layer in [None].into_iter().chain(LAYERS.iter().map(Some)) {
                let descs: Vec<&str> = map
                    .bindings
                    .iter()
                    .filter(|b| b.action == Some(*a))
                    .filter(|b| {
                        let in_layer = b.view.as_deref().filter(|v| LAYERS.contains(v));
                        in_layer == layer.copied()
                    })
                    .map(|b| b.desc.as_str())
                    .collect();
                assert!(
                    descs.windows(2).all(|w| w[0] == w[1]),
                    "{a}: differing descriptions {descs:?}"
                );
            }
        }
    }
}
