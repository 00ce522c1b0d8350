//! Checking a commit before it lands: the commit is checked out in a temporary detached
//! worktree (never the operator's checkout), a command runs there with its output capped and
//! its time bounded, and the worktree is removed whatever happened.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::GitError;
use super::exec::run;

/// The last this many bytes of a verify command's output (stdout and stderr together) are
/// kept.
pub const MAX_VERIFY_OUTPUT: usize = 64 * 1024;

/// After the timeout the command's process group gets SIGTERM, then SIGKILL this much later.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// A command that must pass on the merged result before the base branch moves, e.g. the
/// project's test command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verify {
    /// The program and its arguments, run directly (no shell) with the temporary worktree
    /// as its working directory. Must not be empty.
    pub argv: Vec<String>,
    /// How long it may run; then its whole process group is stopped and it fails.
    pub timeout: Duration,
}

/// What a verify command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Outcome {
    /// Its exit code; `None` when killed by a signal (or by the timeout).
    pub exit: Option<i32>,
    /// It ran past its timeout and was stopped.
    pub timed_out: bool,
    /// The last [`MAX_VERIFY_OUTPUT`] bytes of stdout and stderr, interleaved.
    pub output: String,
}

impl Outcome {
    /// Exit code 0 within the time.
    pub fn passed(&self) -> bool {
        self.exit == Some(0) && !self.timed_out
    }
}

/// Checks `commit` out in a temporary detached worktree of `repo`, runs `verify` there and
/// removes the worktree (also when the command could not start). The inner error is the
/// command's: it could not be started or waited for (e.g. its program does not exist).
///
/// Errors: [`GitError::Failed`] when the worktree cannot be added; [`GitError::Io`] when
/// `repo` cannot be made absolute.
pub(super) fn verify_commit(
    repo: &Path,
    commit: &str,
    verify: &Verify,
) -> Result<std::io::Result<Outcome>, GitError> {
    let tmp = TempWorktree::add(repo, commit)?;
    Ok(run_bounded(&tmp.path, verify))
}

/// A detached worktree under the system's temporary directory, removed on drop.
struct TempWorktree {
    repo: PathBuf,
    path: PathBuf,
}

impl TempWorktree {
    fn add(repo: &Path, commit: &str) -> Result<TempWorktree, GitError> {
        let path = std::env::temp_dir().join(format!(
            "bosun-verify-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let repo = std::path::absolute(repo).map_err(|source| GitError::Io {
            path: repo.to_path_buf(),
            source,
        })?;
        run(
            &repo,
            [
                "worktree".as_ref(),
                "add".as_ref(),
                "--detach".as_ref(),
                "--quiet".as_ref(),
                "--".as_ref(),
                path.as_os_str(),
                commit.as_ref(),
            ],
        )
        .inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&path);
        })?;
        Ok(TempWorktree { repo, path })
    }
}

impl Drop for TempWorktree {
    fn drop(&mut self) {
        let removed = run(
            &self.repo,
            [
                "worktree".as_ref(),
                "remove".as_ref(),
                "--force".as_ref(),
                "--force".as_ref(),
                "--".as_ref(),
                self.path.as_os_str(),
            ],
        );
        if let Err(e) = removed {
            tracing::warn!(path = %self.path.display(), error = %e, "removing a verify worktree");
            let _ = std::fs::remove_dir_all(&self.path);
            let _ = run(&self.repo, ["worktree", "prune"]);
        }
    }
}

/// Runs `verify.argv` in `dir` in its own process group, stdout and stderr into one pipe;
/// on timeout the group gets SIGTERM, then SIGKILL after [`KILL_GRACE`]; the group is killed
/// once the command ends too, so nothing it started outlives it.
fn run_bounded(dir: &Path, verify: &Verify) -> std::io::Result<Outcome> {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = verify.argv.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the verify command is empty",
        ));
    };
    let (reader, writer) = std::io::pipe()?;
    let writer2 = writer.try_clone()?;
    let mut cmd = Command::new(program);
    crate::priority::lower(&mut cmd)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0);
    let spawned = cmd.spawn();
    // The parent's copies of the write end must close, or the reader never sees the end.
    drop(cmd);
    let mut child = spawned?;
    let pgid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let out = std::thread::spawn(move || {
        let mut reader = reader;
        let mut tail = crate::untrusted::Tail::new(MAX_VERIFY_OUTPUT);
        let _ = tail.read_from(&mut reader);
        tail.into_text()
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if !timed_out && start.elapsed() >= verify.timeout {
            timed_out = true;
            let _ = killpg(pgid, Signal::SIGTERM);
            let grace = Instant::now();
            while grace.elapsed() < KILL_GRACE {
                if child.try_wait()?.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Children that outlived the command would keep the pipe open: end the group.
    let _ = killpg(pgid, Signal::SIGKILL);
    let output = out.join().unwrap_or_default();
    Ok(Outcome {
        exit: status.code(),
        timed_out,
        output,
    })
}
