//! Running git: the only place bosun starts a git process. stdin is null, prompts are off
//! (`GIT_TERMINAL_PROMPT=0`), optional locks are not taken (`GIT_OPTIONAL_LOCKS=0`: a status
//! never blocks the agent's own git), and git runs at lowered priority.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::GitError;

/// Runs git in `dir` and checks it succeeded; returns stdout.
pub(super) fn run<I, S>(dir: &Path, args: I) -> Result<String, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (out, printable) = raw(dir, args)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(dir, printable, &out))
    }
}

/// Runs git in `dir` with extra environment variables `env` and `input` written to its
/// stdin (closed after), and checks it succeeded; returns stdout. Used where git takes
/// what it needs from the environment (`GIT_AUTHOR_*` for `commit-tree`) or stdin (a
/// commit message kept byte for byte).
///
/// Errors: as [`run`].
pub(super) fn run_with<I, S>(
    dir: &Path,
    args: I,
    env: &[(&str, &str)],
    input: &[u8],
) -> Result<String, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::io::Write;
    let (mut cmd, printable) = git(dir, args);
    cmd.envs(env.iter().copied()).stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(dir, &printable, e))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A git that exits early closes the pipe; its exit status says why.
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| spawn_error(dir, &printable, e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(dir, printable, &out))
    }
}

/// Runs git in `dir` and returns at most `max` bytes of its stdout and whether there was more
/// (git is killed then, so an endless diff costs `max` bytes). stderr keeps its last 4 KiB.
///
/// Errors: [`GitError::NotInstalled`]/[`GitError::Spawn`] when git cannot start,
/// [`GitError::Failed`] when it exits non-zero before its output reached `max`.
pub(super) fn run_capped<I, S>(dir: &Path, args: I, max: usize) -> Result<(String, bool), GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::io::Read;
    let (mut cmd, printable) = git(dir, args);
    let spawn_error = |e| spawn_error(dir, &printable, e);
    let mut child = cmd.spawn().map_err(spawn_error)?;
    let mut err_pipe = child.stderr.take();
    let err = std::thread::spawn(move || {
        let mut tail = crate::untrusted::Tail::new(4096);
        if let Some(p) = err_pipe.as_mut() {
            let _ = tail.read_from(p);
        }
        tail.into_text()
    });
    let mut bytes = Vec::new();
    if let Some(out) = child.stdout.take() {
        let want = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        out.take(want)
            .read_to_end(&mut bytes)
            .map_err(spawn_error)?;
    }
    let cut = bytes.len() > max;
    if cut {
        let _ = child.kill();
        bytes.truncate(max);
    }
    let status = child.wait().map_err(spawn_error)?;
    let stderr = err.join().unwrap_or_default();
    if !cut && !status.success() {
        return Err(GitError::Failed {
            dir: dir.to_path_buf(),
            args: printable,
            status: status
                .code()
                .map_or_else(|| "signal".to_string(), |c| c.to_string()),
            stderr: stderr.trim().to_string(),
        });
    }
    Ok((String::from_utf8_lossy(&bytes).into_owned(), cut))
}

/// Runs `git -C <dir> <args>` with stdin null; only a failure to start git is an error
/// here. Returns the output and the arguments as text for messages.
pub(super) fn raw<I, S>(dir: &Path, args: I) -> Result<(Output, String), GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (mut cmd, printable) = git(dir, args);
    let out = cmd.output().map_err(|e| spawn_error(dir, &printable, e))?;
    Ok((out, printable))
}

/// The git command for `args` in `dir` (stdout and stderr piped), and its arguments as text.
fn git<I, S>(dir: &Path, args: I) -> (Command, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let printable = args
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    tracing::trace!(dir = %dir.display(), args = %printable, "git");
    let mut cmd = Command::new("git");
    crate::priority::lower(&mut cmd)
        .arg("-C")
        .arg(dir)
        .args(&args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    (cmd, printable)
}

fn spawn_error(dir: &Path, printable: &str, source: std::io::Error) -> GitError {
    if source.kind() == std::io::ErrorKind::NotFound {
        GitError::NotInstalled
    } else {
        GitError::Spawn {
            dir: dir.to_path_buf(),
            args: printable.to_string(),
            source,
        }
    }
}

/// The error for a git command that ran and failed.
pub(super) fn failed(dir: &Path, args: String, out: &Output) -> GitError {
    GitError::Failed {
        dir: dir.to_path_buf(),
        args,
        status: out
            .status
            .code()
            .map_or_else(|| "signal".to_string(), |c| c.to_string()),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}
