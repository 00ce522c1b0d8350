//! Console colours as data (ARCHITECTURE.md, `tui/`): flat TOML themes of semantic colours, like
//! television's, behind one [`Theme`] whose methods return [`Style`]s so widgets never pick
//! colours themselves (gitui's model).
//!
//! Three themes are built in (embedded with `include_str!` from `themes/`): `default` (dark,
//! ANSI colours, so it follows the terminal's palette), `light` and `high-contrast`. A user file
//! `<config_dir>/themes/<name>.toml` wins over a built-in of the same name. Any theme file may
//! give only some keys: the rest come from the built-in `default` theme. Unknown keys and
//! malformed colours are errors naming the file, line and key.
//!
//! Colours are written `"#rrggbb"`, as a named ANSI colour (`"red"`, `"dark_gray"`,
//! `"light_cyan"`, …; see [`COLOR_NAMES`]) or `"reset"` (the terminal's own colour).

use std::path::{Path, PathBuf};

use crate::config::locate::{Located, key_at};
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

/// Names of the built-in themes, `default` first.
const BUILTINS: &[&str] = &["default", "light", "high-contrast"];

/// The embedded text of a built-in theme.
fn builtin_text(name: &str) -> Option<&'static str> {
    match name {
        "default" => Some(include_str!("../../themes/default.toml")),
        "light" => Some(include_str!("../../themes/light.toml")),
        "high-contrast" => Some(include_str!("../../themes/high-contrast.toml")),
        _ => None,
    }
}

/// The named colours a theme may use, besides `"#rrggbb"` and `"reset"`.
pub const COLOR_NAMES: &[&str] = &[
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "gray",
    "dark_gray",
    "light_red",
    "light_green",
    "light_yellow",
    "light_blue",
    "light_magenta",
    "light_cyan",
    "white",
];

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// No built-in theme and no user file has this name.
    #[error("unknown theme {name:?}; available: {}", available.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// Every theme that could be loaded: built-ins and user files, sorted.
        available: Vec<String>,
    },
    /// A user theme file exists but could not be read.
    #[error("cannot read theme {}: {source}", path.display())]
    Read {
        /// The file that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A theme file is not valid TOML, has an unknown key or a malformed colour.
    #[error(transparent)]
    Invalid(Located),
}

/// Declares the scalar colour keys once: the raw (file) shape, the resolved palette and the
/// list of key names all come from this list.
macro_rules! palette {
    ($($field:ident),* $(,)?) => {
        /// One theme file as written: every key optional, unknown keys rejected.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawTheme {
            $(
                #[serde(default)]
                $field: Option<Spanned<String>>,
            )*
            #[serde(default)]
            stage_colors: Option<Spanned<Vec<Spanned<String>>>>,
        }

        /// Every colour of a theme, resolved.
        #[derive(Debug, Clone, PartialEq, Eq)]
        struct Palette {
            $($field: Color,)*
            stage_colors: Vec<Color>,
        }

        /// Every key a theme file may set.
        pub const THEME_KEYS: &[&str] = &[$(stringify!($field),)* "stage_colors"];

        /// The palette from `layers`, later layers winning key by key.
        fn resolve(layers: &[Layer<'_>]) -> Result<Palette, ThemeError> {
            Ok(Palette {
                $($field: pick(layers, stringify!($field), |r| r.$field.as_ref())?,)*
                stage_colors: pick_stages(layers)?,
            })
        }
    };
}

palette!(
    background,
    text,
    text_dim,
    border,
    border_focused,
    title,
    selection_bg,
    selection_fg,
    header_bg,
    header_fg,
    highlight,
    success,
    warning,
    error,
    info,
    status_starting,
    status_idle,
    status_busy,
    status_waiting,
    status_done,
    status_exited,
    status_error,
    status_unknown,
);

/// One parsed theme file, with its origin and text for error positions.
struct Layer<'a> {
    file: PathBuf,
    text: &'a str,
    raw: RawTheme,
}

impl<'a> Layer<'a> {
    fn parse(file: PathBuf, text: &'a str) -> Result<Layer<'a>, ThemeError> {
        let raw: RawTheme = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let key = key_at(text, offset);
            invalid(&file, text, offset, key, e.message().trim().to_string())
        })?;
        Ok(Layer { file, text, raw })
    }

    fn err(&self, offset: usize, key: String, message: String) -> ThemeError {
        invalid(&self.file, self.text, offset, key, message)
    }
}

fn invalid(file: &Path, text: &str, offset: usize, key: String, message: String) -> ThemeError {
    ThemeError::Invalid(Located::new(file, text, offset, key, message))
}

/// The colour for `key` from the last layer that sets it.
fn pick(
    layers: &[Layer<'_>],
    key: &str,
    get: impl Fn(&RawTheme) -> Option<&Spanned<String>>,
) -> Result<Color, ThemeError> {
    for layer in layers.iter().rev() {
        if let Some(v) = get(&layer.raw) {
            return parse_color(v.get_ref())
                .map_err(|m| layer.err(v.span().start, key.to_string(), m));
        }
    }
    Err(missing(layers, key))
}

/// The stage colour list from the last layer that sets it; never empty.
fn pick_stages(layers: &[Layer<'_>]) -> Result<Vec<Color>, ThemeError> {
    for layer in layers.iter().rev() {
        if let Some(list) = &layer.raw.stage_colors {
            if list.get_ref().is_empty() {
                return Err(layer.err(
                    list.span().start,
                    "stage_colors".to_string(),
                    "give at least one colour, e.g. [\"cyan\", \"magenta\"]".to_string(),
                ));
            }
            return list
                .get_ref()
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    parse_color(v.get_ref())
                        .map_err(|m| layer.err(v.span().start, format!("stage_colors[{i}]"), m))
                })
                .collect();
        }
    }
    Err(missing(layers, "stage_colors"))
}

/// A key no layer sets: only possible when the built-in `default` theme lacks it.
fn missing(layers: &[Layer<'_>], key: &str) -> ThemeError {
    let (file, text) = layers
        .first()
        .map_or((PathBuf::new(), ""), |l| (l.file.clone(), l.text));
    invalid(
        &file,
        text,
        0,
        key.to_string(),
        "missing key; the default theme must set every key".to_string(),
    )
}

/// Parses `"#rrggbb"`, a name from [`COLOR_NAMES`] or `"reset"`.
fn parse_color(s: &str) -> Result<Color, String> {
    let bad = || {
        format!(
            "invalid colour {s:?}; write \"#rrggbb\", \"reset\" or one of: {}",
            COLOR_NAMES.join(", ")
        )
    };
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        return Ok(Color::Rgb(byte(0)?, byte(2)?, byte(4)?));
    }
    Ok(match s {
        "reset" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" => Color::Gray,
        "dark_gray" => Color::DarkGray,
        "light_red" => Color::LightRed,
        "light_green" => Color::LightGreen,
        "light_yellow" => Color::LightYellow,
        "light_blue" => Color::LightBlue,
        "light_magenta" => Color::LightMagenta,
        "light_cyan" => Color::LightCyan,
        "white" => Color::White,
        _ => return Err(bad()),
    })
}

/// The console's colours, as [`Style`]s for each semantic use.
///
/// Styles other than [`Theme::base`], [`Theme::selected`] and [`Theme::header`] set only the
/// foreground, so they compose over the base background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    name: String,
    palette: Palette,
}

impl Theme {
    /// Names of the built-in themes, `"default"` first.
    pub fn builtin_names() -> &'static [&'static str] {
        BUILTINS
    }

    /// Loads theme `name`: `<config_dir>/themes/<name>.toml` if it exists, else the built-in
    /// of that name; keys the file leaves out come from the built-in `default` theme.
    ///
    /// # Errors
    /// [`ThemeError::Unknown`] when neither exists (listing the available themes),
    /// [`ThemeError::Read`] when the user file cannot be read, [`ThemeError::Invalid`] when a
    /// file is malformed, has an unknown key or a bad colour.
    pub fn load(name: &str) -> Result<Theme, ThemeError> {
        Theme::load_from(name, crate::config::paths::config_dir().as_deref())
    }

    /// [`Theme::load`] with the config directory given: user themes are read from
    /// `config_dir/themes/`; `None` means built-ins only.
    ///
    /// # Errors
    /// As [`Theme::load`].
    pub fn load_from(name: &str, config_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let user_file = config_dir
            .filter(|_| valid_name(name))
            .map(|d| d.join("themes").join(format!("{name}.toml")))
            .filter(|p| p.is_file());
        let user_text = match &user_file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ThemeError::Read {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let default_text = builtin_text("default").unwrap_or_default();
        let mut layers = vec![Layer::parse(builtin_path("default"), default_text)?];
        match (&user_file, &user_text) {
            (Some(path), Some(text)) => layers.push(Layer::parse(path.clone(), text)?),
            _ => match builtin_text(name) {
                Some(_) if name == "default" => {}
                Some(text) => layers.push(Layer::parse(builtin_path(name), text)?),
                None => {
                    return Err(ThemeError::Unknown {
                        name: name.to_string(),
                        available: Theme::available(config_dir),
                    });
                }
            },
        }
        Ok(Theme {
            name: name.to_string(),
            palette: resolve(&layers)?,
        })
    }

    /// Every theme name [`Theme::load_from`] would find: the built-ins and the `*.toml` files
    /// in `config_dir/themes/`, sorted and without duplicates. An unreadable directory adds
    /// nothing.
    pub fn available(config_dir: Option<&Path>) -> Vec<String> {
        let mut names: Vec<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
        let entries = config_dir.and_then(|d| std::fs::read_dir(d.join("themes")).ok());
        for entry in entries.into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                && valid_name(stem)
            {
                names.push(stem.to_string());
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// The name this theme was loaded as.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Plain text on the theme background: the style of the whole screen.
    pub fn base(&self) -> Style {
        Style::new()
            .fg(self.palette.text)
            .bg(self.palette.background)
    }

    /// Secondary text: hints, timestamps, empty-state messages.
    pub fn dim(&self) -> Style {
        Style::new().fg(self.palette.text_dim)
    }

    /// A block border; `focused` for the pane that has the keyboard.
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            Style::new().fg(self.palette.border_focused)
        } else {
            Style::new().fg(self.palette.border)
        }
    }

    /// A block or screen title (bold).
    pub fn title(&self) -> Style {
        Style::new()
            .fg(self.palette.title)
            .add_modifier(Modifier::BOLD)
    }

    /// The selected row of a list or table. A theme whose selection colours cannot be told
    /// from its text colours (the same background, or both left to the terminal) gets
    /// reverse video too, so the selection is visible in every theme.
    pub fn selected(&self) -> Style {
        let p = &self.palette;
        let style = Style::new()
            .fg(p.selection_fg)
            .bg(p.selection_bg)
            .add_modifier(Modifier::BOLD);
        if p.selection_bg == p.background {
            style.add_modifier(Modifier::REVERSED)
        } else {
            style
        }
    }

    /// A table header row or the top bar.
    pub fn header(&self) -> Style {
        Style::new()
            .fg(self.palette.header_fg)
            .bg(self.palette.header_bg)
            .add_modifier(Modifier::BOLD)
    }

    /// Something that needs the operator (a waiting agent, a gate to approve): bold highlight.
    pub fn attention(&self) -> Style {
        Style::new()
            .fg(self.palette.highlight)
            .add_modifier(Modifier::BOLD)
    }

    /// Success: a passed gate, a merged task.
    pub fn success(&self) -> Style {
        Style::new().fg(self.palette.success)
    }

    /// Warning: retries, backoff, an open circuit breaker.
    pub fn warning(&self) -> Style {
        Style::new().fg(self.palette.warning)
    }

    /// Error: failed runs and tasks, error messages.
    pub fn error(&self) -> Style {
        Style::new().fg(self.palette.error)
    }

    /// Neutral information: counters, notices.
    pub fn info(&self) -> Style {
        Style::new().fg(self.palette.info)
    }

    /// The colour of the stage at `index` in the pipeline; the list repeats for long
    /// pipelines, so any index has a colour.
    pub fn stage(&self, index: usize) -> Style {
        let colors = &self.palette.stage_colors;
        let color = colors
            .get(index % colors.len().max(1))
            .copied()
            .unwrap_or(self.palette.text);
        Style::new().fg(color)
    }

    /// A run status by its stored name (`starting`, `idle`, `busy`, `waiting`, `done`,
    /// `exited`, `error`, `unknown`); any other name gets the `unknown` style. `waiting` is
    /// bold, since it needs the operator.
    pub fn status(&self, name: &str) -> Style {
        let p = &self.palette;
        let fg = |c: Color| Style::new().fg(c);
        match name {
            "starting" => fg(p.status_starting),
            "idle" => fg(p.status_idle),
            "busy" => fg(p.status_busy),
            "waiting" => fg(p.status_waiting).add_modifier(Modifier::BOLD),
            "done" => fg(p.status_done),
            "exited" => fg(p.status_exited),
            "error" => fg(p.status_error),
            _ => fg(p.status_unknown),
        }
    }

    /// A key in the help overlay and the footer hints (bold, in the `info` colour).
    pub fn key_hint(&self) -> Style {
        Style::new()
            .fg(self.palette.info)
            .add_modifier(Modifier::BOLD)
    }
}

/// A theme name that is safe as a file stem: letters, digits, `-` and `_`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn builtin_path(name: &str) -> PathBuf {
    PathBuf::from(format!("<built-in>/themes/{name}.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("#ff8000"), Ok(Color::Rgb(255, 128, 0)));
        assert_eq!(parse_color("dark_gray"), Ok(Color::DarkGray));
        assert_eq!(parse_color("reset"), Ok(Color::Reset));
        for bad in ["#ff80", "#gg0000", "darkgrey", "", "Red", "#ff80001"] {
            let err = parse_color(bad).unwrap_err();
            assert!(
                err.contains("#rrggbb") && err.contains("dark_gray"),
                "{err}"
            );
        }
    }

    #[test]
    fn every_named_colour_parses() {
        for name in COLOR_NAMES {
            assert!(parse_color(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn default_sets_every_key() {
        let text = builtin_text("default").unwrap();
        let table: toml::Table = toml::from_str(text).unwrap();
        for key in THEME_KEYS {
            assert!(table.contains_key(*key), "default theme lacks {key}");
        }
        assert_eq!(table.len(), THEME_KEYS.len());
    }

    #[test]
    fn builtins_are_complete_and_have_text() {
        for name in BUILTINS {
            let text = builtin_text(name).unwrap();
            let table: toml::Table = toml::from_str(text).unwrap();
            assert_eq!(table.len(), THEME_KEYS.len(), "{name} should set every key");
        }
    }

    #[test]
    fn stage_index_wraps() {
        let t = Theme::load_from("default", None).unwrap();
        let n = t.palette.stage_colors.len();
        assert_eq!(t.stage(0), t.stage(n));
        assert_eq!(t.stage(1), t.stage(n + 1));
    }

    #[test]
    fn names_with_paths_are_not_looked_up() {
        assert!(!valid_name("../x"));
        assert!(!valid_name("a/b"));
        assert!(valid_name("high-contrast"));
    }
}
