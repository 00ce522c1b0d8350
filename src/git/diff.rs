//! What a task's branch changed, for the console's diff view: the files with their +/−
//! counts and the unified diff, from where the branch left its base to the worktree as it is
//! now (commits, uncommitted edits, and new files git does not track yet).

use std::path::Path;

use super::GitError;
use super::exec::{run, run_capped};

/// The unified diff is cut after this many bytes (a generated file must not fill memory):
/// git's output is read up to here and git is stopped.
pub const MAX_DIFF_BYTES: usize = 4 * 1024 * 1024;

/// An untracked file larger than this is listed but its content is not shown (nor read).
pub const MAX_UNTRACKED_BYTES: usize = 1024 * 1024;

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Path relative to the worktree (the new path of a rename).
    pub path: String,
    /// Lines added; `None` for a binary file.
    pub added: Option<u32>,
    /// Lines deleted; `None` for a binary file.
    pub deleted: Option<u32>,
    /// A new file git does not track yet.
    pub untracked: bool,
}

/// A branch's changes against its base.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BranchDiff {
    /// The merge-base commit the diff starts from (abbreviated).
    pub from: String,
    /// Changed files, in git's order, untracked ones last.
    pub files: Vec<FileChange>,
    /// The unified diff (`git diff` format, no colour), at most [`MAX_DIFF_BYTES`].
    pub text: String,
    /// The diff was longer than [`MAX_DIFF_BYTES`] and was cut.
    pub truncated: bool,
}

/// The changes of the worktree at `worktree` since its branch left `base` (a branch name):
/// `git diff $(git merge-base base HEAD)` plus untracked files shown as new.
///
/// Errors: [`GitError::Failed`] when `base` does not resolve, shares no history with HEAD,
/// or `worktree` is not a git worktree.
pub fn branch_diff(worktree: &Path, base: &str) -> Result<BranchDiff, GitError> {
    let merge_base = run(worktree, ["merge-base", base, "HEAD"])?
        .trim()
        .to_string();
    // No textconv or external diff driver: the worktree's .gitattributes is the agent's.
    let common = [
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
    ];
    let mut args = vec!["diff", "--numstat", "-z"];
    args.extend(common);
    args.push(&merge_base);
    let (numstat, _) = run_capped(worktree, &args, MAX_DIFF_BYTES)?;
    let mut files = parse_numstat(&numstat);
    let mut args = vec!["diff"];
    args.extend(common);
    args.push(&merge_base);
    let (mut text, mut truncated) = run_capped(worktree, &args, MAX_DIFF_BYTES)?;
    let (untracked, _) = run_capped(
        worktree,
        ["ls-files", "--others", "--exclude-standard", "-z"],
        MAX_DIFF_BYTES,
    )?;
    for path in untracked.split('\0').filter(|p| !p.is_empty()) {
        let room = MAX_DIFF_BYTES.saturating_sub(text.len());
        let shown = untracked_file(worktree, path, room.min(MAX_UNTRACKED_BYTES));
        files.push(FileChange {
            path: path.to_string(),
            added: shown.lines,
            deleted: shown.lines.map(|_| 0),
            untracked: true,
        });
        if room == 0 {
            truncated = true;
        } else {
            text.push_str(&shown.diff);
        }
    }
    if text.len() > MAX_DIFF_BYTES {
        truncated = true;
        let mut cut = MAX_DIFF_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok(BranchDiff {
        from: merge_base.chars().take(10).collect(),
        files,
        text,
        truncated,
    })
}

struct Untracked {
    /// Its lines when it is text that was read.
    lines: Option<u32>,
    diff: String,
}

/// An untracked file as a diff: read only when it is a regular file inside the worktree of
/// at most `max` bytes; a symlink, FIFO, device or oversized file is named, not read.
fn untracked_file(worktree: &Path, path: &str, max: usize) -> Untracked {
    let note = |what: String| Untracked {
        lines: None,
        diff: format!("diff --git a/{path} b/{path}\nnew file (untracked): {what}\n"),
    };
    match crate::untrusted::inspect(worktree, path) {
        Err(e) => return note(format!("not shown: {e}")),
        Ok(size) if size > max as u64 => {
            return note(format!("{size} bytes, not shown (more than {max})"));
        }
        Ok(_) => {}
    }
    match crate::untrusted::read(worktree, path, max) {
        Err(e) => note(format!("not shown: {e}")),
        Ok(c) if c.cut => note(format!("{} bytes, not shown (more than {max})", c.size)),
        Ok(c) => {
            let binary = c.text.contains('\0');
            let lines = u32::try_from(c.text.lines().count()).unwrap_or(u32::MAX);
            Untracked {
                lines: (!binary).then_some(lines),
                diff: new_file_diff(path, &c.text, binary),
            }
        }
    }
}

/// The diff git would show for `path` once added: every line a `+` line.
fn new_file_diff(path: &str, body: &str, binary: bool) -> String {
    let mut out = format!("diff --git a/{path} b/{path}\nnew file (untracked)\n");
    if binary {
        out.push_str(&format!("Binary file b/{path}\n"));
        return out;
    }
    let n = body.lines().count();
    out.push_str(&format!("--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{n} @@\n"));
    for line in body.lines() {
        out.push('+');
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Parses `git diff --numstat -z --no-renames`: `<add>\t<del>\t<path>\0`; binary files have
/// `-` for both counts.
fn parse_numstat(out: &str) -> Vec<FileChange> {
    out.split('\0')
        .filter(|t| !t.is_empty())
        .filter_map(|tok| {
            let mut parts = tok.splitn(3, '\t');
            let (add, del, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some(FileChange {
                path: path.to_string(),
                added: add.parse().ok(),
                deleted: del.parse().ok(),
                untracked: false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_with_binary_files() {
        let files = parse_numstat("3\t1\tsrc/a.rs\0-\t-\timg.png\0");
        assert_eq!(files.len(), 2);
        assert_eq!((files[0].added, files[0].deleted), (Some(3), Some(1)));
        assert_eq!((files[1].added, files[1].deleted), (None, None));
    }
}
