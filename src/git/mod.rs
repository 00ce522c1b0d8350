//! The only code that runs git: task branches, worktrees, commits, status and diff stats.
//!
//! Every call runs the git CLI directly (never through a shell) as `git -C <dir> …` with
//! stdin null, `GIT_TERMINAL_PROMPT=0` (never wait for credentials) and
//! `GIT_OPTIONAL_LOCKS=0` (a status poll must not take the index lock an agent's own git
//! needs), checks the exit status and puts git's stderr into the error.

mod cleanup;
mod conflicts;
pub mod diff;
mod error;
mod exec;
mod land;
pub mod radar;
mod verify;

use std::ffi::OsStr;

use exec::{failed, raw, run};
use std::path::{Path, PathBuf};

pub use cleanup::{
    Integration, Removed, branch_tips, default_branch, delete_branch, delete_remote_branch, fetch,
    integrated, merge_keeping_ours, push, remote_url, remove_task_worktree, remove_worktree,
    task_branches,
};
pub use conflicts::{
    ConflictFile, Conflicts, HUNK_CONTEXT, MAX_FILE_HUNKS, MAX_TOTAL_HUNKS, MERGE_TREE_VERSION,
    changed_since_fork, conflicts, require_merge_tree,
};
pub use error::GitError;
pub use land::{LandError, Landed, Strategy, land};
pub use verify::{MAX_VERIFY_OUTPUT, Verify};

/// The identity used for bosun's commits when the user has not configured one.
pub const FALLBACK_NAME: &str = "bosun";
/// The e-mail of [`FALLBACK_NAME`].
pub const FALLBACK_EMAIL: &str = "bosun@localhost";

/// Longest slug [`branch_name`] puts after the key, in characters.
pub const MAX_SLUG: usize = 40;

/// Checks that git can be run (`git --version`).
///
/// Errors: [`GitError::NotInstalled`] when there is no git on PATH (the message says what to
/// install), [`GitError::Failed`] / [`GitError::Spawn`] when it cannot run.
pub fn check() -> Result<(), GitError> {
    run(Path::new("."), ["--version"])?;
    Ok(())
}

/// The branch for a task: `bosun/<key>-<slug>`, the slug made from `title`: accented Latin
/// letters folded to ASCII (é → e, ß → ss), lowercased, every run of other characters turned
/// into one `-`, no `-` at either end, at most [`MAX_SLUG`] characters. `key` keeps its case;
/// characters outside ASCII letters, digits, `-` and `_` become `-`. A title with nothing
/// usable gives `bosun/<key>`. The result is always a valid git branch name.
pub fn branch_name(key: &str, title: &str) -> String {
    let key = collapse(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            Some(c)
        } else {
            None
        }
    }));
    let key = if key.is_empty() {
        "task".to_string()
    } else {
        key
    };
    let mut kept: Vec<Option<char>> = Vec::with_capacity(title.len());
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            kept.push(Some(c));
        } else if let Some(ascii) = fold(c) {
            kept.extend(ascii.chars().map(Some));
        } else {
            kept.push(None);
        }
    }
    let mut slug = collapse(kept.into_iter());
    if slug.len() > MAX_SLUG {
        slug.truncate(MAX_SLUG);
        while slug.ends_with('-') {
            slug.pop();
        }
    }
    if slug.is_empty() {
        format!("bosun/{key}")
    } else {
        format!("bosun/{key}-{slug}")
    }
}

/// Joins kept characters, turning each run of `None` into one `-`, with no `-` at the ends.
fn collapse(chars: impl Iterator<Item = Option<char>>) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in chars {
        match c {
            Some(c) => {
                if gap && !out.is_empty() {
                    out.push('-');
                }
                gap = false;
                out.push(c);
            }
            None => gap = true,
        }
    }
    out
}

/// ASCII spelling of a lowercase accented Latin letter.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// The branch HEAD points at in `repo` (`git symbolic-ref --short HEAD`), e.g. `main`: the
/// base new task branches start from.
///
/// Errors: [`GitError::DetachedHead`] when HEAD is not on a branch, [`GitError::Failed`]
/// when `repo` is not a git repository.
pub fn head_branch(repo: &Path) -> Result<String, GitError> {
    let args = ["symbolic-ref", "--quiet", "--short", "HEAD"];
    let (out, printable) = raw(repo, args)?;
    match out.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        // --quiet: exit 1 without a message means HEAD is not a symbolic ref.
        Some(1) if out.stderr.is_empty() => Err(GitError::DetachedHead {
            repo: repo.to_path_buf(),
        }),
        _ => Err(failed(repo, printable, &out)),
    }
}

/// Makes `path` a worktree of `repo` with `branch` checked out:
/// - `path` already is a worktree of `repo` on `branch`: nothing to do (idempotent);
/// - `branch` exists but has no worktree: a worktree for it is added at `path`;
/// - otherwise `branch` is created from `base` (a branch, tag or commit) at `path`.
///
/// A worktree whose directory was deleted is pruned first. `path` may be relative to the
/// current directory; its parent directories are created.
///
/// Errors: [`GitError::WrongBranch`] when `path` is a worktree on another branch,
/// [`GitError::PathTaken`] when `path` exists, is not empty and is not a worktree,
/// [`GitError::Failed`] when git refuses (e.g. `base` does not exist, or `branch` is checked
/// out in another worktree), [`GitError::Io`] when `path` cannot be made absolute.
pub fn ensure_worktree(repo: &Path, path: &Path, branch: &str, base: &str) -> Result<(), GitError> {
    let path = absolute(path)?;
    let mut pruned = false;
    for wt in worktrees(repo)? {
        if !same_path(&wt.path, &path) {
            continue;
        }
        if wt.prunable || !path.exists() {
            pruned = true;
            break;
        }
        return match wt.branch {
            Some(b) if b == branch => Ok(()),
            other => Err(GitError::WrongBranch {
                path,
                found: other.unwrap_or_else(|| "detached HEAD".to_string()),
                wanted: branch.to_string(),
            }),
        };
    }
    if pruned {
        run(repo, ["worktree", "prune"])?;
    }
    let occupied = match std::fs::read_dir(&path) {
        Ok(mut entries) => entries.next().is_some(),
        Err(_) => path.exists(),
    };
    if occupied {
        return Err(GitError::PathTaken {
            path,
            repo: repo.to_path_buf(),
        });
    }
    let branch_ref = format!("refs/heads/{branch}");
    let (exists, _) = raw(repo, ["rev-parse", "--verify", "--quiet", &branch_ref])?;
    let p: &OsStr = path.as_os_str();
    if exists.status.success() {
        run(repo, [os("worktree"), os("add"), os("--"), p, os(branch)])?;
    } else {
        run(
            repo,
            [
                os("worktree"),
                os("add"),
                os("-b"),
                os(branch),
                os("--"),
                p,
                os(base),
            ],
        )?;
    }
    Ok(())
}

/// Stages everything in `worktree` (`git add -A`: new, changed and deleted files, not
/// ignored ones) and commits it with `message`. Returns the new commit's full sha, or `None`
/// when there was nothing to commit.
///
/// Uses the user's git identity; only when `user.name` / `user.email` are not configured
/// does it pass `-c user.name=bosun` / `-c user.email=bosun@localhost` for the missing one.
/// Hooks run as usual.
///
/// Errors: [`GitError::Failed`] when a git step fails (e.g. an empty `message`, or a
/// pre-commit hook refusing; its stderr is in the message).
pub fn commit_all(worktree: &Path, message: &str) -> Result<Option<String>, GitError> {
    run(worktree, ["add", "-A"])?;
    let args = ["diff", "--cached", "--quiet"];
    let (diff, printable) = raw(worktree, args)?;
    match diff.status.code() {
        Some(0) => return Ok(None),
        Some(1) => {}
        _ => return Err(failed(worktree, printable, &diff)),
    }
    let mut args: Vec<String> = Vec::new();
    for (key, fallback) in [("user.name", FALLBACK_NAME), ("user.email", FALLBACK_EMAIL)] {
        if config_value(worktree, key)?.is_none() {
            args.push("-c".into());
            args.push(format!("{key}={fallback}"));
        }
    }
    args.extend(["commit", "--quiet", "-m", message].map(String::from));
    run(worktree, &args)?;
    let sha = run(worktree, ["rev-parse", "HEAD"])?.trim().to_string();
    Ok(Some(sha))
}

/// Creates a new repository at `path` (directories created) on branch `branch`, with a
/// README and one initial commit, for `bosun demo`'s scratch project.
///
/// Errors: [`GitError::Io`] if the directory or README cannot be written;
/// [`GitError::Failed`] when a git step fails.
pub fn init_repo(path: &Path, branch: &str) -> Result<(), GitError> {
    init_repo_with(
        path,
        branch,
        "# demo\n\nA scratch project for `bosun demo`.\n",
    )
}

/// [`init_repo`] with `readme` as the README's text (a sandbox's project: the tests want
/// one line they can change and diff).
///
/// Errors: as [`init_repo`].
pub fn init_repo_with(path: &Path, branch: &str, readme: &str) -> Result<(), GitError> {
    std::fs::create_dir_all(path).map_err(|source| GitError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    run(path, ["init", "--quiet", "-b", branch])?;
    let file = path.join("README.md");
    std::fs::write(&file, readme).map_err(|source| GitError::Io {
        path: file.clone(),
        source,
    })?;
    commit_all(path, "Initial commit")?;
    Ok(())
}

/// What a worktree holds that is not safe elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorktreeStatus {
    /// Uncommitted changes: modified, staged, deleted or untracked (not ignored) files.
    pub dirty: bool,
    /// Commits on HEAD that are neither in `base` nor in HEAD's upstream branch (if it has
    /// one), i.e. work that exists only here.
    pub unpushed: u32,
}

/// The [`WorktreeStatus`] of `worktree` against `base` (a branch or commit).
///
/// Errors: [`GitError::Failed`] when `worktree` is not a git checkout or `base` does not
/// resolve; [`GitError::Parse`] on unexpected output.
pub fn status(worktree: &Path, base: &str) -> Result<WorktreeStatus, GitError> {
    let porcelain = run(
        worktree,
        ["status", "--porcelain", "--untracked-files=normal"],
    )?;
    let dirty = !porcelain.trim().is_empty();
    let mut args: Vec<String> = ["rev-list", "--count", "HEAD", "--not", base]
        .map(String::from)
        .to_vec();
    if let Some(up) = upstream(worktree)? {
        args.push(up);
    }
    let count = run(worktree, &args)?;
    let unpushed = count.trim().parse().map_err(|_| GitError::Parse {
        args: args.join(" "),
        output: count.clone(),
    })?;
    Ok(WorktreeStatus { dirty, unpushed })
}

/// Size of a change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffStat {
    /// Files changed (a rename counts once; binary files count with 0 lines).
    pub files: u32,
    /// Lines added.
    pub insertions: u32,
    /// Lines removed.
    pub deletions: u32,
}

/// What the task changed: the files of `worktree` (committed and uncommitted changes to
/// tracked files; untracked files count once committed, e.g. by [`commit_all`]) compared
/// with where its branch left `base` (`git diff --numstat $(git merge-base base HEAD)`).
///
/// Errors: [`GitError::Failed`] when `base` does not resolve or shares no history with
/// HEAD; [`GitError::Parse`] on unexpected output.
pub fn diff_stat(worktree: &Path, base: &str) -> Result<DiffStat, GitError> {
    let merge_base = run(worktree, ["merge-base", base, "HEAD"])?
        .trim()
        .to_string();
    let args = [
        "diff",
        "--numstat",
        "-z",
        "--no-color",
        "--no-ext-diff",
        merge_base.as_str(),
    ];
    let out = run(worktree, args)?;
    parse_numstat(&out).ok_or_else(|| GitError::Parse {
        args: args.join(" "),
        output: out.chars().take(200).collect(),
    })
}

/// How a branch compares with its base, as a forge shows it on a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    /// The best common ancestor of the two (full sha).
    pub merge_base: String,
    /// Commits on `head` that are not on `base` (`git rev-list --count base..head`).
    pub commits: u32,
    /// The change from the merge base to `head`.
    pub stat: DiffStat,
}

/// [`Compare`] of `head` with `base` (branches or commits of `repo`, a bare repository or a
/// checkout; nothing is written): what GitHub's and Gitea's pull requests report as
/// `commits`, `additions`, `deletions`, `changed_files` and `merge_base` (the three-dot
/// diff `base...head`).
///
/// Errors: [`GitError::Failed`] when a revision does not resolve or the two share no
/// history; [`GitError::Parse`] on unexpected output.
pub fn compare(repo: &Path, base: &str, head: &str) -> Result<Compare, GitError> {
    let merge_base = run(repo, ["merge-base", base, head])?.trim().to_string();
    let range = format!("{base}..{head}");
    let count = run(repo, ["rev-list", "--count", range.as_str()])?;
    let commits = count.trim().parse().map_err(|_| GitError::Parse {
        args: format!("rev-list --count {range}"),
        output: count.clone(),
    })?;
    let args = [
        "diff",
        "--numstat",
        "-z",
        "--no-color",
        "--no-ext-diff",
        merge_base.as_str(),
        head,
    ];
    let out = run(repo, args)?;
    let stat = parse_numstat(&out).ok_or_else(|| GitError::Parse {
        args: args.join(" "),
        output: out.chars().take(200).collect(),
    })?;
    Ok(Compare {
        merge_base,
        commits,
        stat,
    })
}

/// Parses `git diff --numstat -z`: `<add>\t<del>\t<path>\0`, or for a rename
/// `<add>\t<del>\t\0<from>\0<to>\0`; binary files have `-` for both counts.
fn parse_numstat(out: &str) -> Option<DiffStat> {
    let mut stat = DiffStat::default();
    let mut tokens = out.split('\0');
    while let Some(tok) = tokens.next() {
        if tok.is_empty() {
            continue;
        }
        let mut parts = tok.splitn(3, '\t');
        let add = parts.next()?;
        let del = parts.next()?;
        let path = parts.next()?;
        if path.is_empty() {
            tokens.next()?;
            tokens.next()?;
        }
        let count = |s: &str| -> Option<u32> { if s == "-" { Some(0) } else { s.parse().ok() } };
        stat.files += 1;
        stat.insertions += count(add)?;
        stat.deletions += count(del)?;
    }
    Some(stat)
}

/// One entry of `git worktree list --porcelain`.
struct Worktree {
    path: PathBuf,
    /// The checked-out branch (short name), `None` when detached or bare.
    branch: Option<String>,
    /// git says its directory is gone.
    prunable: bool,
}

/// The worktrees of `repo`, the main one first (`git worktree list --porcelain`).
fn worktrees(repo: &Path) -> Result<Vec<Worktree>, GitError> {
    let out = run(repo, ["worktree", "list", "--porcelain"])?;
    let mut list: Vec<Worktree> = Vec::new();
    for line in out.lines() {
        if let Some(p) = line.strip_prefix("worktree ") {
            list.push(Worktree {
                path: PathBuf::from(p),
                branch: None,
                prunable: false,
            });
        } else if let Some(current) = list.last_mut() {
            if let Some(b) = line.strip_prefix("branch ") {
                current.branch = Some(b.strip_prefix("refs/heads/").unwrap_or(b).to_string());
            } else if line == "prunable" || line.starts_with("prunable ") {
                current.prunable = true;
            }
        }
    }
    Ok(list)
}

/// HEAD's upstream as a commit sha, if HEAD is a branch with one.
fn upstream(worktree: &Path) -> Result<Option<String>, GitError> {
    let (out, _) = raw(
        worktree,
        ["rev-parse", "--verify", "--quiet", "HEAD@{upstream}"],
    )?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty()))
}

/// A git config value as git sees it from `dir` (all scopes), `None` when unset.
fn config_value(dir: &Path, key: &str) -> Result<Option<String>, GitError> {
    let (out, printable) = raw(dir, ["config", "--get", key])?;
    match out.status.code() {
        Some(0) => Ok(
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|v| !v.is_empty()),
        ),
        Some(1) => Ok(None),
        _ => Err(failed(dir, printable, &out)),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, GitError> {
    std::path::absolute(path).map_err(|source| GitError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Same place on disk: equal as given, or equal once symlinks are resolved.
fn same_path(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_parses_plain_binary_and_renames() {
        let out = [
            "3\t1\ta.txt",
            "-\t-\tbin.dat",
            "0\t0\t",
            "old name",
            "new name",
            "",
        ]
        .join("\0");
        assert_eq!(
            parse_numstat(&out),
            Some(DiffStat {
                files: 3,
                insertions: 3,
                deletions: 1
            })
        );
        assert_eq!(parse_numstat(""), Some(DiffStat::default()));
        assert_eq!(parse_numstat("x\ty\tz\0"), None);
    }
}
