//! Landing a task branch on a base branch of the project's own repository without touching
//! any checkout: the result is built in the object database (`merge-tree --write-tree`,
//! `commit-tree`), optionally checked in a temporary worktree, and the base moves with one
//! compare-and-set (`update-ref <ref> <new> <old>`). The operator's working tree and index
//! are never written, even when the base is checked out there (issue 20, "Merges without a
//! forge").

use std::path::{Path, PathBuf};

use super::conflicts::{Conflicts, Merged, merge_tree, require_merge_tree};
use super::exec::{raw, run, run_with};
use super::verify::{Verify, verify_commit};
use super::{FALLBACK_EMAIL, FALLBACK_NAME, GitError, config_value, worktrees};

pub use crate::status::Strategy;

/// A landing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    /// The base's new tip (full sha). Equal to `base_before` when there was nothing to land
    /// (the branch's changes were already in the base); then nothing was written.
    pub commit: String,
    /// The base's tip before (full sha).
    pub base_before: String,
    /// The strategy used.
    pub strategy: Strategy,
    /// The base moved while it is checked out in a worktree of the repository (the
    /// operator's own checkout, typically): that checkout's files and index were left as
    /// they were, so it now looks as if its edits undid the landing. The operator catches
    /// up, keeping uncommitted edits, with `git read-tree -m -u <base_before> <commit>` there
    /// (git-read-tree(1), "Two Tree Merge"), or by committing or stashing first.
    pub checked_out_behind: bool,
    /// The worktree that has the base checked out, when there is one.
    pub checked_out_at: Option<PathBuf>,
}

impl Landed {
    /// The base moved (something was landed).
    pub fn moved(&self) -> bool {
        self.commit != self.base_before
    }
}

/// Why a landing did not happen; in every case the base branch was not moved.
#[derive(Debug, thiserror::Error)]
pub enum LandError {
    /// A git step failed (the base or branch does not exist, git refused, …).
    #[error(transparent)]
    Git(#[from] GitError),
    /// The branch conflicts with the base (for a rebase: one of its commits conflicts with
    /// the base plus the commits before it).
    #[error(
        "the branch conflicts with the base in {}: update the branch on the base and resolve \
         the conflicts, then land again",
        .0.paths().join(", ")
    )]
    Conflict(Conflicts),
    /// The base moved while the landing was prepared; nothing was changed.
    #[error(
        "branch {base} moved from {expected} to {found} while landing; nothing was changed: \
         land again"
    )]
    BaseMoved {
        /// The base branch.
        base: String,
        /// Its tip when the landing started.
        expected: String,
        /// Its tip when the ref was to move (empty when the branch was deleted).
        found: String,
    },
    /// The verify command could not be run (its program does not exist, is not
    /// executable, or the argv is empty); the base was not moved.
    #[error("the verify command `{argv}` could not be run: {source}; the base was not moved")]
    VerifyNotRun {
        /// The command, space-separated.
        argv: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The verify command failed on the merged result.
    #[error(
        "the verify command {} on the merged result; the base was not moved (its output \
         is in the error)",
        match (.timed_out, .exit) {
            (true, _) => "ran past its timeout".to_string(),
            (false, Some(code)) => format!("exited with status {code}"),
            (false, None) => "was killed by a signal".to_string(),
        }
    )]
    VerifyFailed {
        /// The last [`super::MAX_VERIFY_OUTPUT`] bytes of its stdout and stderr (text the
        /// branch's code printed: sanitise it before it is shown).
        output: String,
        /// Its exit code; `None` when killed (by a signal or the timeout).
        exit: Option<i32>,
        /// It ran past its timeout.
        timed_out: bool,
    },
}

/// Lands `branch` (a branch, tag or commit) on the local branch `base` of `repo` with
/// `strategy`, committing as the repository's configured identity (`user.name` /
/// `user.email`, else [`FALLBACK_NAME`] / [`FALLBACK_EMAIL`]) with `message` (squash and
/// merge; a rebase keeps each commit's author and message). When `verify` is given, the
/// result is checked out in a temporary detached worktree and the command must pass there
/// first. The base then moves with `git update-ref refs/heads/<base> <new> <old>`, so a base
/// that moved meanwhile is refused. No checkout is written: the operator's working tree and
/// index stay as they are even when `base` is checked out there (see
/// [`Landed::checked_out_behind`]).
///
/// Nothing to land (the branch's changes are already in the base) is `Ok` with
/// `commit == base_before`, without running `verify`.
///
/// Errors: [`LandError::Conflict`] with the conflicted files and hunks;
/// [`LandError::BaseMoved`]; [`LandError::VerifyFailed`] with the command's output;
/// [`LandError::VerifyNotRun`] when it cannot start; [`LandError::Git`] for the rest
/// ([`GitError::TooOld`] before git 2.38, [`GitError::Failed`] when `base` or `branch` does
/// not resolve or the temporary worktree cannot be added).
pub fn land(
    repo: &Path,
    base: &str,
    branch: &str,
    strategy: Strategy,
    message: &str,
    verify: Option<&Verify>,
) -> Result<Landed, LandError> {
    require_merge_tree()?;
    let base_ref = format!("refs/heads/{base}");
    let old = commit_of(repo, &base_ref)?;
    let tip = commit_of(repo, branch)?;
    let ident = identity(repo)?;
    let mut message = message.as_bytes().to_vec();
    if !message.ends_with(b"\n") {
        message.push(b'\n');
    }
    let labels = Labels {
        ours: (&old, base),
        theirs: (&tip, branch),
    };
    let new = match strategy {
        Strategy::Squash | Strategy::Merge => match merge_tree(repo, &old, &tip, None)? {
            Merged::Conflicted(c) => return Err(LandError::Conflict(labels.apply(c))),
            Merged::Clean(tree) if tree == tree_of(repo, &old)? => None,
            Merged::Clean(tree) => {
                let parents: &[&str] = if strategy == Strategy::Squash {
                    &[&old]
                } else {
                    &[&old, &tip]
                };
                Some(commit_tree(repo, &ident, &tree, parents, &message, &[])?)
            }
        },
        Strategy::Rebase => replay(repo, &ident, &old, &tip, base, branch)?,
    };
    let Some(new) = new else {
        return Ok(Landed {
            commit: old.clone(),
            base_before: old,
            strategy,
            checked_out_behind: false,
            checked_out_at: None,
        });
    };
    if let Some(v) = verify {
        let outcome = verify_commit(repo, &new, v)?.map_err(|source| LandError::VerifyNotRun {
            argv: v.argv.join(" "),
            source,
        })?;
        if !outcome.passed() {
            return Err(LandError::VerifyFailed {
                output: outcome.output,
                exit: outcome.exit,
                timed_out: outcome.timed_out,
            });
        }
    }
    let reason = format!("bosun: land {branch} on {base} ({strategy})");
    let (out, printable) = raw(repo, ["update-ref", "-m", &reason, &base_ref, &new, &old])?;
    if !out.status.success() {
        let (now, _) = raw(repo, ["rev-parse", "--verify", "--quiet", &base_ref])?;
        let found = String::from_utf8_lossy(&now.stdout).trim().to_string();
        if found != old {
            return Err(LandError::BaseMoved {
                base: base.to_string(),
                expected: old,
                found,
            });
        }
        return Err(super::exec::failed(repo, printable, &out).into());
    }
    let checked_out_at = worktrees(repo)?
        .into_iter()
        .find(|w| !w.prunable && w.branch.as_deref() == Some(base))
        .map(|w| w.path);
    Ok(Landed {
        commit: new,
        base_before: old,
        strategy,
        checked_out_behind: checked_out_at.is_some(),
        checked_out_at,
    })
}

/// Replays the commits of `tip` not in `old` (oldest first, merges left out) onto `old`;
/// `None` when none of them changes anything there.
fn replay(
    repo: &Path,
    ident: &[String],
    old: &str,
    tip: &str,
    base: &str,
    branch: &str,
) -> Result<Option<String>, LandError> {
    let list = run(
        repo,
        [
            "rev-list",
            "--reverse",
            "--topo-order",
            "--no-merges",
            tip,
            "--not",
            old,
        ],
    )?;
    let mut cur = old.to_string();
    for c in list.lines().map(str::trim).filter(|c| !c.is_empty()) {
        let parent = commit_of(repo, &format!("{c}^"))?;
        if parent == cur {
            // Already on top of what we have: keep the commit as it is (a fast-forward).
            cur = c.to_string();
            continue;
        }
        match merge_tree(repo, &cur, c, Some(&parent))? {
            Merged::Conflicted(conflicts) => {
                let short = &c[..c.len().min(12)];
                let theirs = format!("{branch} ({short})");
                let labels = Labels {
                    ours: (&cur, base),
                    theirs: (c, &theirs),
                };
                return Err(LandError::Conflict(labels.apply(conflicts)));
            }
            // The commit's change is already there: left out, as git rebase does.
            Merged::Clean(tree) if tree == tree_of(repo, &cur)? => {}
            Merged::Clean(tree) => {
                let (author, message) = authored(repo, c)?;
                let env: Vec<(&str, &str)> = vec![
                    ("GIT_AUTHOR_NAME", author.name.as_str()),
                    ("GIT_AUTHOR_EMAIL", author.email.as_str()),
                    ("GIT_AUTHOR_DATE", author.date.as_str()),
                ];
                cur = commit_tree(repo, ident, &tree, &[&cur], &message, &env)?;
            }
        }
    }
    Ok((cur != old).then_some(cur))
}

/// Conflict-marker labels: merge-tree labels the markers with the revisions it was given
/// (shas here, so the merge is exactly of the commits read); the feedback names them.
struct Labels<'a> {
    ours: (&'a str, &'a str),
    theirs: (&'a str, &'a str),
}

impl Labels<'_> {
    fn apply(&self, mut c: Conflicts) -> Conflicts {
        for f in &mut c.files {
            f.hunks = f
                .hunks
                .replace(
                    &format!("<<<<<<< {}", self.ours.0),
                    &format!("<<<<<<< {}", self.ours.1),
                )
                .replace(
                    &format!(">>>>>>> {}", self.theirs.0),
                    &format!(">>>>>>> {}", self.theirs.1),
                );
        }
        c
    }
}

/// `rev` as a commit's full sha.
pub(super) fn commit_of(repo: &Path, rev: &str) -> Result<String, GitError> {
    let spec = format!("{rev}^{{commit}}");
    Ok(
        run(repo, ["rev-parse", "--verify", "--end-of-options", &spec])?
            .trim()
            .to_string(),
    )
}

/// The tree of commit `rev` (full sha).
pub(super) fn tree_of(repo: &Path, rev: &str) -> Result<String, GitError> {
    let spec = format!("{rev}^{{tree}}");
    Ok(
        run(repo, ["rev-parse", "--verify", "--end-of-options", &spec])?
            .trim()
            .to_string(),
    )
}

/// `-c user.name=…` / `-c user.email=…` for whichever of the two `repo` does not configure.
fn identity(repo: &Path) -> Result<Vec<String>, GitError> {
    let mut args = Vec::new();
    for (key, fallback) in [("user.name", FALLBACK_NAME), ("user.email", FALLBACK_EMAIL)] {
        if config_value(repo, key)?.is_none() {
            args.push("-c".to_string());
            args.push(format!("{key}={fallback}"));
        }
    }
    Ok(args)
}

/// `git commit-tree <tree> -p <parent>… -F -` with `message` on stdin and `env` added;
/// returns the new commit's sha.
fn commit_tree(
    repo: &Path,
    ident: &[String],
    tree: &str,
    parents: &[&str],
    message: &[u8],
    env: &[(&str, &str)],
) -> Result<String, GitError> {
    let mut args: Vec<String> = ident.to_vec();
    args.push("commit-tree".into());
    args.push(tree.into());
    for p in parents {
        args.push("-p".into());
        args.push((*p).into());
    }
    args.extend(["-F".into(), "-".into()]);
    Ok(run_with(repo, &args, env, message)?.trim().to_string())
}

/// A commit's author.
struct Author {
    name: String,
    email: String,
    /// git's internal form, `<unix seconds> <+hhmm>`, which `GIT_AUTHOR_DATE` accepts.
    date: String,
}

/// The author and the raw message (bytes as stored) of commit `c`, from `git cat-file
/// commit` (headers, a blank line, the message).
fn authored(repo: &Path, c: &str) -> Result<(Author, Vec<u8>), GitError> {
    let (out, printable) = raw(repo, ["cat-file", "commit", c])?;
    if !out.status.success() {
        return Err(super::exec::failed(repo, printable, &out));
    }
    let parse_error = || GitError::Parse {
        args: printable.clone(),
        output: String::from_utf8_lossy(&out.stdout)
            .chars()
            .take(200)
            .collect(),
    };
    let body = &out.stdout;
    let split = body
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or_else(parse_error)?;
    let headers = String::from_utf8_lossy(&body[..split]);
    let message = body[split + 2..].to_vec();
    let line = headers
        .lines()
        .find_map(|l| l.strip_prefix("author "))
        .ok_or_else(parse_error)?;
    let author = parse_author(line).ok_or_else(parse_error)?;
    Ok((author, message))
}

/// `Name <email> 1700000000 +0100` → its parts.
fn parse_author(line: &str) -> Option<Author> {
    let open = line.rfind('<')?;
    let close = line.rfind('>')?;
    if close < open {
        return None;
    }
    Some(Author {
        name: line[..open].trim().to_string(),
        email: line[open + 1..close].to_string(),
        date: line[close + 1..].trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_parse_from_their_words() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(*s));
        }
        assert!("Squash".parse::<Strategy>().is_err());
    }

    #[test]
    fn author_lines_split_into_name_email_and_date() {
        let a = parse_author("Ann O'Neil <ann@example.org> 1700000000 +0100").expect("parses");
        assert_eq!(a.name, "Ann O'Neil");
        assert_eq!(a.email, "ann@example.org");
        assert_eq!(a.date, "1700000000 +0100");
        assert!(parse_author("no email here").is_none());
    }
}
