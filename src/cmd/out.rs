//! Everything the CLI prints to standard output goes through here: text that agents, models
//! or task authors wrote (titles, specs, reasons, feedback, run errors, event messages) must
//! not reach a terminal raw — an agent's file could otherwise set the operator's clipboard
//! (OSC 52), retitle the terminal or clear the screen. Every escape sequence and control
//! character but newline is dropped, and a carriage return is shown as `\r`
//! ([`crate::text::clean_lines`]), whether stdout is a terminal or a pipe (`bosun task show
//! KEY | cat` reaches a terminal too); `--raw` ([`set_raw`]) prints the text as it is. A
//! reader that goes away (`bosun log | head -1`) ends the command quietly with status 0.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static RAW: AtomicBool = AtomicBool::new(false);

/// `--raw`: print outside text as it is, escape sequences included, from now on.
pub(crate) fn set_raw(raw: bool) {
    RAW.store(raw, Ordering::Relaxed);
}

/// Writes `text` and a newline to stdout (see the module docs).
pub(crate) fn line(text: &str) {
    let out = std::io::stdout();
    let safe;
    let text = if RAW.load(Ordering::Relaxed) {
        text
    } else {
        safe = crate::text::clean_lines(text);
        safe.as_str()
    };
    let mut lock = out.lock();
    if let Err(e) = writeln!(lock, "{text}").and_then(|()| lock.flush()) {
        gone(&e);
    }
}

/// Ends the process quietly (status 0) when the reader went away; otherwise reports the
/// failure on stderr and exits 1.
pub(crate) fn gone(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("bosun: cannot write to standard output: {e}");
    std::process::exit(1);
}

/// `println!` for the CLI: formats, then [`line`].
macro_rules! outln {
    () => { $crate::cmd::out::line("") };
    ($($arg:tt)*) => { $crate::cmd::out::line(&format!($($arg)*)) };
}
pub(crate) use outln;
