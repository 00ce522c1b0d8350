//! The git layer's error type.

use std::path::PathBuf;

/// A failure running git or a refusal to act on a worktree. Every message says what failed,
/// on what, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The git binary could not be found.
    #[error("git was not found on PATH: install git (apt-get install git, brew install git)")]
    NotInstalled,
    /// git could not be started (other than not being installed).
    #[error("could not run `git {args}` in {}: {source}", dir.display())]
    Spawn {
        /// The directory given to `git -C`.
        dir: PathBuf,
        /// The git arguments, space-separated.
        args: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// git ran and failed.
    #[error("`git {args}` failed in {} (exit status {status}): {stderr}", dir.display())]
    Failed {
        /// The directory given to `git -C`.
        dir: PathBuf,
        /// The git arguments, space-separated.
        args: String,
        /// The exit status, or `signal` when git was killed.
        status: String,
        /// What git wrote to stderr, trimmed.
        stderr: String,
    },
    /// HEAD is not on a branch, so there is no default branch to name.
    #[error(
        "{} has a detached HEAD, so bosun cannot tell its default branch: check out a branch \
         there (git checkout main) or configure the base branch explicitly",
        repo.display()
    )]
    DetachedHead {
        /// The repository.
        repo: PathBuf,
    },
    /// The worktree path is already a worktree, but on another branch.
    #[error(
        "{} is already a worktree on {found}, not on branch {wanted}: remove that worktree \
         (git worktree remove) or choose another path",
        path.display()
    )]
    WrongBranch {
        /// The worktree path.
        path: PathBuf,
        /// What it has checked out (a branch, or `detached HEAD`).
        found: String,
        /// The branch that was asked for.
        wanted: String,
    },
    /// The worktree path exists and is not a worktree of the repository.
    #[error(
        "{} already exists and is not a worktree of {}: move it away or choose another path",
        path.display(),
        repo.display()
    )]
    PathTaken {
        /// The path.
        path: PathBuf,
        /// The repository.
        repo: PathBuf,
    },
    /// Removing the worktree would throw work away.
    #[error(
        "refusing to remove worktree {}: {reason}; commit and merge or push the work first, \
         or pass force to discard it",
        path.display()
    )]
    WouldLoseWork {
        /// The worktree.
        path: PathBuf,
        /// What would be lost, e.g. `it has uncommitted changes`.
        reason: String,
    },
    /// The installed git lacks something bosun needs (`merge-tree --write-tree`, git 2.38).
    #[error(
        "git {found} is too old: bosun needs git {need} or newer for {what}; install a newer \
         git (Debian 12 and Ubuntu 23.04 ship 2.39; otherwise your distribution's backports \
         or https://git-scm.com/downloads)"
    )]
    TooOld {
        /// The version `git --version` reported.
        found: String,
        /// The oldest version that works.
        need: &'static str,
        /// What needs it, e.g. `merge-tree --write-tree`.
        what: &'static str,
    },
    /// A worktree holds uncommitted work, so it is not removed.
    #[error(
        "refusing to remove worktree {}: it has uncommitted changes in {}; commit or discard \
         them first",
        path.display(),
        files.join(", ")
    )]
    DirtyWorktree {
        /// The worktree.
        path: PathBuf,
        /// The modified, staged, deleted or untracked files (paths relative to the
        /// worktree, at most 20; a last entry `… and N more` says how many were left out).
        files: Vec<String>,
    },
    /// A branch is not integrated into the base, so deleting it would lose its commits.
    #[error(
        "refusing to delete branch {branch}: it is not integrated into {base} (not the same \
         commit, not an ancestor, and merging it would change {base}'s files); land it first \
         or delete it by hand (git branch -D {branch})"
    )]
    NotIntegrated {
        /// The branch.
        branch: String,
        /// The base it was checked against.
        base: String,
    },
    /// A branch is checked out in a worktree, so it is not deleted.
    #[error(
        "refusing to delete branch {branch}: it is checked out in {}; remove that worktree \
         first",
        path.display()
    )]
    BranchCheckedOut {
        /// The branch.
        branch: String,
        /// The worktree that has it checked out.
        path: PathBuf,
    },
    /// git printed something bosun cannot parse.
    #[error(
        "unexpected output from `git {args}`: {output:?}; this is a bosun bug, please report \
         it with `git --version`"
    )]
    Parse {
        /// The git arguments.
        args: String,
        /// The offending output.
        output: String,
    },
    /// A path could not be made absolute.
    #[error("cannot resolve path {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
