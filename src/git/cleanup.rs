//! After a landing: whether a branch is integrated into its base, removing a task's
//! worktree and branch without losing work, and the project's remote (default branch, push,
//! URL).

use std::ffi::OsStr;
use std::path::Path;

use super::conflicts::{Merged, merge_tree};
use super::exec::{failed, raw, run};
use super::land::{commit_of, tree_of};
use super::{GitError, absolute, config_value, head_branch, os, same_path, status, worktrees};

/// How a branch's work is already in its base: the checks worktrunk uses to tell that a
/// branch can go, cheapest first (worktrunk's `wt remove`, "branch integration").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Integration {
    /// The branch and the base are the same commit.
    SameCommit,
    /// The branch's tip is an ancestor of the base (merged, fast-forwarded or rebased with
    /// the same commits).
    Ancestor,
    /// Not in the base's history, but its changes are: the branch's tree equals the base's,
    /// or merging the branch into the base gives exactly the base's tree (squash-merged or
    /// rebased with new commits).
    TreesEqual,
}

impl Integration {
    /// A word for messages and JSON: `same-commit`, `ancestor`, `trees-equal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Integration::SameCommit => "same-commit",
            Integration::Ancestor => "ancestor",
            Integration::TreesEqual => "trees-equal",
        }
    }
}

/// Whether `branch` is integrated into `base` (branches, tags or commits of `repo`), and
/// how; `None` when merging it would still change the base. A branch with no commits of its
/// own counts as integrated ([`Integration::Ancestor`]).
///
/// Errors: [`GitError::Failed`] when a revision does not resolve to a commit;
/// [`GitError::TooOld`] before git 2.38 when the last check is needed.
pub fn integrated(repo: &Path, branch: &str, base: &str) -> Result<Option<Integration>, GitError> {
    let tip = commit_of(repo, branch)?;
    let onto = commit_of(repo, base)?;
    if tip == onto {
        return Ok(Some(Integration::SameCommit));
    }
    let args = ["merge-base", "--is-ancestor", tip.as_str(), onto.as_str()];
    let (out, printable) = raw(repo, args)?;
    match out.status.code() {
        Some(0) => return Ok(Some(Integration::Ancestor)),
        Some(1) => {}
        _ => return Err(failed(repo, printable, &out)),
    }
    let base_tree = tree_of(repo, &onto)?;
    if tree_of(repo, &tip)? == base_tree {
        return Ok(Some(Integration::TreesEqual));
    }
    Ok(match merge_tree(repo, &onto, &tip, None)? {
        Merged::Clean(tree) if tree == base_tree => Some(Integration::TreesEqual),
        _ => None,
    })
}

/// What [`remove_task_worktree`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// The worktree and its directory (ignored files included) are gone.
    Removed,
    /// Its directory was already gone; git's record of it was pruned.
    Pruned,
    /// The path is no worktree of the repository; nothing was touched.
    NotAWorktree,
}

/// How many dirty files a [`GitError::DirtyWorktree`] names.
const MAX_NAMED_FILES: usize = 20;

/// Removes the task worktree at `path` from `repo` (`git worktree remove`); its branch is
/// kept (see [`delete_branch`]). Refuses a worktree with modified, staged, deleted or
/// untracked (not ignored) files. Unlike [`remove_worktree`], commits that are not
/// ancestors of a base do not block it: after a squash or rebase landing they never are,
/// and they stay on the branch.
///
/// Errors: [`GitError::DirtyWorktree`] naming the files; [`GitError::Failed`] when git
/// refuses (the worktree is locked, is the main checkout, or changed meanwhile);
/// [`GitError::Io`] when `path` cannot be made absolute.
pub fn remove_task_worktree(repo: &Path, path: &Path) -> Result<Removed, GitError> {
    let path = absolute(path)?;
    let Some(wt) = worktrees(repo)?
        .into_iter()
        .find(|w| same_path(&w.path, &path))
    else {
        return Ok(Removed::NotAWorktree);
    };
    if wt.prunable || !path.exists() {
        run(repo, ["worktree", "prune"])?;
        return Ok(Removed::Pruned);
    }
    let files = dirty_files(&path)?;
    if !files.is_empty() {
        return Err(GitError::DirtyWorktree { path, files });
    }
    let args: [&OsStr; 4] = [
        "worktree".as_ref(),
        "remove".as_ref(),
        "--".as_ref(),
        path.as_os_str(),
    ];
    run(repo, args)?;
    Ok(Removed::Removed)
}

/// Removes the worktree at `worktree` from `repo` (`git worktree remove`), deleting its
/// directory (ignored files included). The branch is kept. Unless `force`, refuses when the
/// worktree has uncommitted changes or commits not in `base` nor its upstream (see
/// [`super::status`]). A worktree whose directory is already gone is pruned; a path that is no
/// worktree at all is `Ok(())`.
///
/// Errors: [`GitError::WouldLoseWork`] when it would throw work away and `force` is false
/// (the message says to pass force), [`GitError::Failed`] when git refuses (e.g. the
/// worktree is locked, or is the main checkout).
pub fn remove_worktree(
    repo: &Path,
    worktree: &Path,
    base: &str,
    force: bool,
) -> Result<(), GitError> {
    let path = absolute(worktree)?;
    if !path.exists() {
        run(repo, ["worktree", "prune"])?;
        return Ok(());
    }
    if !force {
        let st = status(&path, base)?;
        let mut lost = Vec::new();
        if st.dirty {
            lost.push("it has uncommitted changes".to_string());
        }
        if st.unpushed > 0 {
            lost.push(format!(
                "{} commit(s) are in neither {base} nor an upstream branch",
                st.unpushed
            ));
        }
        if !lost.is_empty() {
            return Err(GitError::WouldLoseWork {
                path,
                reason: lost.join(" and "),
            });
        }
    }
    let mut args = vec![os("worktree"), os("remove")];
    if force {
        args.push(os("--force"));
    }
    args.push(os("--"));
    args.push(path.as_os_str());
    run(repo, args)?;
    Ok(())
}

/// The files `git status` reports in `worktree` (untracked ones listed one by one), at most
/// [`MAX_NAMED_FILES`] plus a `… and N more` entry.
fn dirty_files(worktree: &Path) -> Result<Vec<String>, GitError> {
    let out = run(
        worktree,
        ["status", "--porcelain", "-z", "--untracked-files=all"],
    )?;
    let mut files = Vec::new();
    let mut entries = out.split('\0');
    while let Some(e) = entries.next() {
        if e.len() < 4 {
            continue;
        }
        let (xy, name) = e.split_at(3);
        if xy.starts_with('R') || xy.starts_with('C') {
            // A rename or copy is followed by its source path.
            entries.next();
        }
        files.push(name.to_string());
    }
    if files.len() > MAX_NAMED_FILES {
        let more = files.len() - MAX_NAMED_FILES;
        files.truncate(MAX_NAMED_FILES);
        files.push(format!("… and {more} more"));
    }
    Ok(files)
}

/// Deletes the local branch `branch` of `repo` when it is [`integrated`] into `base`, and
/// says how it was. The ref is deleted only if it still points at the commit that was
/// checked (`git update-ref -d <ref> <old>`); its `branch.<name>.*` config goes too.
///
/// Errors: [`GitError::NotIntegrated`]; [`GitError::BranchCheckedOut`] when a worktree has
/// it checked out; [`GitError::Failed`] when it does not exist or moved meanwhile.
pub fn delete_branch(repo: &Path, branch: &str, base: &str) -> Result<Integration, GitError> {
    let full = format!("refs/heads/{branch}");
    let tip = commit_of(repo, &full)?;
    let Some(how) = integrated(repo, &tip, base)? else {
        return Err(GitError::NotIntegrated {
            branch: branch.to_string(),
            base: base.to_string(),
        });
    };
    if let Some(wt) = worktrees(repo)?
        .into_iter()
        .find(|w| !w.prunable && w.branch.as_deref() == Some(branch))
    {
        return Err(GitError::BranchCheckedOut {
            branch: branch.to_string(),
            path: wt.path,
        });
    }
    run(repo, ["update-ref", "-d", &full, &tip])?;
    // No such section (exit 128) is fine: a branch without upstream has no config.
    let _ = raw(
        repo,
        ["config", "--remove-section", &format!("branch.{branch}")],
    )?;
    Ok(how)
}

/// The branch the project's work lands on, by the first that answers: the remote's HEAD
/// (`refs/remotes/<remote>/HEAD`, `origin` first, as `git clone` sets it), `init.defaultBranch`
/// when that branch exists, `main` or `master` when it exists, the branch checked out in
/// `repo`. Nothing is fetched.
///
/// Errors: [`GitError::DetachedHead`] when none answers and HEAD is detached;
/// [`GitError::Failed`] when `repo` is not a repository.
pub fn default_branch(repo: &Path) -> Result<String, GitError> {
    let mut remotes = remotes(repo)?;
    remotes.sort_by_key(|r| r != "origin");
    for r in remotes {
        let head = format!("refs/remotes/{r}/HEAD");
        let (out, _) = raw(repo, ["symbolic-ref", "--quiet", "--short", &head])?;
        if out.status.success() {
            let target = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if let Some(b) = target.strip_prefix(&format!("{r}/")) {
                return Ok(b.to_string());
            }
        }
    }
    let configured = config_value(repo, "init.defaultBranch")?;
    for candidate in configured
        .iter()
        .map(String::as_str)
        .chain(["main", "master"])
    {
        let full = format!("refs/heads/{candidate}");
        let (out, _) = raw(repo, ["rev-parse", "--verify", "--quiet", &full])?;
        if out.status.success() {
            return Ok(candidate.to_string());
        }
    }
    head_branch(repo)
}

/// Pushes the local branch `branch` of `repo` to the same name on `remote` (a configured
/// remote's name) with `--force-with-lease`: the remote branch is overwritten only if it is
/// where this repository last saw it (its remote-tracking ref), or absent when there is no
/// such ref (git-push(1), `--force-with-lease`). Hooks run; no prompt is answered
/// (`GIT_TERMINAL_PROMPT=0`), so missing credentials fail instead of waiting.
///
/// Errors: [`GitError::Failed`] with git's message when the push is refused (the lease, a
/// hook, the remote) or cannot reach the remote.
pub fn push(repo: &Path, remote: &str, branch: &str) -> Result<(), GitError> {
    let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
    run(
        repo,
        ["push", "--quiet", "--force-with-lease", "--", remote, &spec],
    )?;
    Ok(())
}

/// Fetches `branch` of `remote` into its remote-tracking ref (`refs/remotes/<remote>/<branch>`),
/// prompting for nothing.
///
/// Errors: [`GitError::Failed`] with git's message when the remote cannot be reached or has
/// no such branch.
pub fn fetch(repo: &Path, remote: &str, branch: &str) -> Result<(), GitError> {
    let spec = format!("+refs/heads/{branch}:refs/remotes/{remote}/{branch}");
    run(repo, ["fetch", "--quiet", "--no-tags", "--", remote, &spec])?;
    Ok(())
}

/// Deletes `branch` on `remote` (`git push --delete`) if it is there; true when it was.
///
/// Errors: [`GitError::Failed`] with git's message when the remote cannot be reached or
/// refuses.
pub fn delete_remote_branch(repo: &Path, remote: &str, branch: &str) -> Result<bool, GitError> {
    let full = format!("refs/heads/{branch}");
    let listed = run(repo, ["ls-remote", "--heads", "--", remote, &full])?;
    if listed.trim().is_empty() {
        return Ok(false);
    }
    run(repo, ["push", "--quiet", "--delete", "--", remote, &full])?;
    // Its remote-tracking ref goes with it, if there was one.
    let _ = raw(
        repo,
        [
            "update-ref",
            "-d",
            &format!("refs/remotes/{remote}/{branch}"),
        ],
    )?;
    Ok(true)
}

/// The URL of remote `name` as git uses it (`git remote get-url`, `insteadOf` applied);
/// `None` when there is no such remote.
///
/// Errors: [`GitError::Failed`] when `repo` is not a repository.
pub fn remote_url(repo: &Path, name: &str) -> Result<Option<String>, GitError> {
    if !remotes(repo)?.iter().any(|r| r == name) {
        return Ok(None);
    }
    let url = run(repo, ["remote", "get-url", "--", name])?;
    Ok(Some(url.trim().to_string()))
}

/// Merges `branch` into the branch checked out in `worktree`, keeping the worktree's side
/// where both changed a line (`git merge -X ours --no-edit`), committed as `agent-sim`:
/// what an agent told its branch conflicts with the base does (the scripted agent's `merge`).
///
/// # Errors
/// [`GitError::Failed`] when the merge fails (an unknown branch; a conflict `-X ours` does
/// not settle, such as modify/delete), after `git merge --abort`.
pub fn merge_keeping_ours(worktree: &Path, branch: &str) -> Result<(), GitError> {
    let merged = run(
        worktree,
        [
            "-c",
            "user.name=agent-sim",
            "-c",
            "user.email=agent-sim@bosun.invalid",
            "merge",
            "--no-edit",
            "-X",
            "ours",
            branch,
        ],
    );
    if merged.is_err() {
        let _ = run(worktree, ["merge", "--abort"]);
    }
    merged.map(|_| ())
}

/// The task branches of `repo` (`bosun/…`, see [`super::branch_name`]), sorted.
///
/// # Errors
/// [`GitError::Failed`] when `repo` is not a repository.
pub fn task_branches(repo: &Path) -> Result<Vec<String>, GitError> {
    let out = run(
        repo,
        [
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/bosun/",
        ],
    )?;
    let mut branches: Vec<String> = out.lines().map(str::to_string).collect();
    branches.sort();
    Ok(branches)
}

/// Every local branch of `repo` and its tip (full sha), by name: one `for-each-ref`.
///
/// # Errors
/// [`GitError::Failed`] when `repo` is not a repository.
pub fn branch_tips(repo: &Path) -> Result<std::collections::BTreeMap<String, String>, GitError> {
    let out = run(
        repo,
        [
            "for-each-ref",
            "--format=%(objectname) %(refname:short)",
            "refs/heads/",
        ],
    )?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let (sha, name) = l.split_once(' ')?;
            Some((name.to_string(), sha.to_string()))
        })
        .collect())
}

/// The names of `repo`'s remotes.
fn remotes(repo: &Path) -> Result<Vec<String>, GitError> {
    Ok(run(repo, ["remote"])?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}
