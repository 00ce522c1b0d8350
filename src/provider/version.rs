//! The installed version of a provider's CLI, and whether its profile is proven against it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::ProviderConfig;

/// How long a `--version` call may take (Gemini CLI 0.61.0 takes ~4.7 s to print one line).
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The first line the provider's `version_command` prints (`{bosun}` expanded to
/// `bosun_exe`), safe for a terminal; `None` if it is not installed, fails or takes longer
/// than 10 s.
pub fn installed_version(p: &ProviderConfig, bosun_exe: &str) -> Option<String> {
    let argv: Vec<String> = p
        .version_command
        .iter()
        .map(|a| a.replace("{bosun}", bosun_exe))
        .collect();
    version(&argv).map(|v| crate::text::clean(&v))
}

/// Whether the profile is proven against the CLI whose `--version` printed `version`
/// (`None` for a best-effort profile).
pub fn proven_for(p: &ProviderConfig, version: &str) -> Option<bool> {
    (!p.proven.is_empty()).then(|| p.proven == "built-in" || mentions_version(version, &p.proven))
}

/// Whether the `--version` output `line` names `version` as a whole word (so that `2.1.1`
/// is not taken for `2.1.19`).
fn mentions_version(line: &str, version: &str) -> bool {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .any(|word| word == version || word.strip_prefix('v') == Some(version))
}

/// The first non-empty output line of `argv`, if it exits 0 within [`VERSION_TIMEOUT`].
fn version(argv: &[String]) -> Option<String> {
    let mut child = Command::new(argv.first()?)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().ok()? {
            break s;
        }
        if start.elapsed() > VERSION_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    status
        .success()
        .then(|| {
            out.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        })
        .flatten()
}
