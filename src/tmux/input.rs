//! Text into a pane: a paste (bracketed, through a named buffer) and key presses; and
//! [`without_paste_markers`], which keeps pasted text from closing the bracket early.

use std::sync::atomic::Ordering;

use tmux_interface::{CopyMode, LoadBuffer, PasteBuffer, SendKeys, TmuxCommand};

use super::quote::esc;
use super::{SERIAL, Tmux, TmuxError};

impl Tmux {
    /// Types `text` into `pane` byte for byte, whatever it holds (quotes, `;`, a leading `-`,
    /// `$VAR`, tabs, newlines, unicode, 100 KB…). Does NOT press Enter.
    ///
    /// One tmux call: `copy-mode -q` (leaves copy mode or any other mode, which would
    /// swallow the text; a no-op otherwise), `load-buffer -b <unique> -` with the text on
    /// stdin, then `paste-buffer -d -p -r`: the buffer is deleted afterwards, the text is
    /// wrapped in bracketed-paste codes only if the program asked for them, and newlines are
    /// sent as LF (not turned into CR).
    ///
    /// The one exception: the bracketed-paste markers `ESC [200~` and `ESC [201~` are
    /// removed first ([`without_paste_markers`]). tmux passes them through, and an end marker
    /// inside the text would end the paste early, so the agent would take the rest as typed
    /// keys (a newline there submits).
    ///
    /// Errors: [`TmuxError::Command`] when tmux refuses (e.g. no such pane; the temporary
    /// buffer is then deleted).
    pub fn paste(&self, pane: &str, text: &str) -> Result<(), TmuxError> {
        let text = without_paste_markers(text);
        let buffer = format!(
            "bosun-paste-{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let target = esc(pane);
        let cmds = vec![
            CopyMode::new().cancel().target_pane(target.clone()).build(),
            LoadBuffer::new()
                .buffer_name(buffer.as_str())
                .path("-")
                .build(),
            PasteBuffer::new()
                .delete()
                .bracket_codes()
                .no_replacement()
                .buffer_name(buffer.as_str())
                .target_pane(target)
                .build(),
        ];
        let out = self.exec(cmds, Some(text.as_bytes()))?;
        if !out.status.success() {
            let mut delete = TmuxCommand::new();
            delete.name("delete-buffer");
            delete.push_option("-b", buffer.clone());
            let _ = self.exec(vec![delete], None);
            return Err(self.failure("paste-buffer", &out));
        }
        Ok(())
    }

    /// Presses keys in `pane`, each element one key by tmux name: `Enter`, `Escape`, `C-c`,
    /// `Up`, `1`, `y`… (`send-keys -t <pane> -- <keys>`). A name that is not a key is typed
    /// as its characters. An empty `keys` does nothing. Unlike [`Tmux::paste`] it does not
    /// leave copy mode first (keys such as `q` or `Escape` may be meant for it).
    ///
    /// Errors: [`TmuxError::Command`] when tmux refuses (e.g. no such pane).
    pub fn send_keys(&self, pane: &str, keys: &[&str]) -> Result<(), TmuxError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut cmd = SendKeys::new().target_pane(esc(pane)).build();
        cmd.push_param("--");
        for k in keys {
            cmd.push_param(esc(k));
        }
        self.run(vec![cmd], None)?;
        Ok(())
    }
}

/// `text` without bracketed-paste markers (`ESC [200~`, `ESC [201~`; xterm's bracketed
/// paste mode), which must never reach a program inside a paste.
pub fn without_paste_markers(text: &str) -> std::borrow::Cow<'_, str> {
    const MARKERS: [&str; 2] = ["\x1b[200~", "\x1b[201~"];
    if !MARKERS.iter().any(|m| text.contains(m)) {
        return std::borrow::Cow::Borrowed(text);
    }
    // Until none is left: removing one can join the halves of another.
    let mut out = text.to_string();
    while let Some(m) = MARKERS.iter().find(|m| out.contains(**m)) {
        out = out.replace(m, "");
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paste_markers_are_removed_even_when_nested() {
        assert_eq!(without_paste_markers("plain"), "plain");
        assert_eq!(without_paste_markers("a\x1b[201~b\x1b[200~c"), "abc");
        assert_eq!(without_paste_markers("x\x1b[20\x1b[201~1~y"), "xy");
        assert_eq!(
            without_paste_markers("\x1b[31mred\x1b[0m"),
            "\x1b[31mred\x1b[0m"
        );
    }
}
