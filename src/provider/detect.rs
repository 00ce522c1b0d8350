//! The rendered screen and its classification.

use crate::config::{ProviderConfig, ScreenStatus};

/// Lines of scrollback the emulator keeps (the detector reads only the visible screen).
const SCROLLBACK: usize = 0;

/// A terminal emulator for one run's pane, plus the provider's patterns.
pub struct Detector {
    parser: vt100::Parser,
    provider: ProviderConfig,
}

impl Detector {
    /// An emulator of `rows` × `cols` cells (the pane's size) for `provider`.
    pub fn new(provider: ProviderConfig, rows: u16, cols: u16) -> Detector {
        Detector {
            parser: vt100::Parser::new(rows.max(2), cols.max(10), SCROLLBACK),
            provider,
        }
    }

    /// The provider profile.
    pub fn provider(&self) -> &ProviderConfig {
        &self.provider
    }

    /// Feeds raw pane output (any bytes, escape sequences included).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    /// Replaces the screen with a `capture-pane -p -e` snapshot (used when re-adopting a
    /// run after a restart). tmux ends captured lines with `\n`; the emulator needs `\r\n`.
    pub fn load_capture(&mut self, capture: &str) {
        let (rows, cols) = self.parser.screen().size();
        self.parser = vt100::Parser::new(rows, cols, SCROLLBACK);
        let text = capture.trim_end_matches('\n').replace('\n', "\r\n");
        self.parser.process(text.as_bytes());
    }

    /// Resizes the emulator to the pane's new size.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.screen_mut().set_size(rows.max(2), cols.max(10));
    }

    /// The screen as text: see [`screen_text`].
    pub fn text(&self) -> String {
        screen_text(&self.parser.screen().contents())
    }

    /// The screen with colours, as escape sequences (for the console's pane view).
    pub fn formatted(&self) -> Vec<u8> {
        self.parser.screen().contents_formatted()
    }

    /// What the screen shows, by the provider's patterns; `None` if nothing matches.
    pub fn classify(&self) -> Option<ScreenStatus> {
        classify(&self.provider, &self.text())
    }

    /// True once the provider's ready pattern matches.
    pub fn is_ready(&self) -> bool {
        self.provider.ready.is_match(&self.text())
    }
}

/// Normalises screen contents for matching: trailing spaces cut from every line and trailing
/// blank lines dropped, so patterns can anchor on the last line with `\z` (an empty prompt
/// `> ` reads as `>`).
pub fn screen_text(contents: &str) -> String {
    let mut out: Vec<&str> = contents.lines().map(str::trim_end).collect();
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// Classifies `screen` (from [`screen_text`]) with `provider`'s patterns: every `waiting`
/// pattern first (waiting wins over busy), then the rest in the order listed.
pub fn classify(provider: &ProviderConfig, screen: &str) -> Option<ScreenStatus> {
    let waiting = provider
        .status
        .iter()
        .filter(|(s, _)| *s == ScreenStatus::Waiting);
    let others = provider
        .status
        .iter()
        .filter(|(s, _)| *s != ScreenStatus::Waiting);
    waiting
        .chain(others)
        .find(|(_, re)| re.is_match(screen))
        .map(|(s, _)| *s)
}
