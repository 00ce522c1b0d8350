//! Whether two commits merge, and where they conflict, computed without any checkout:
//! `git merge-tree --write-tree` (git ≥ 2.38) merges in the object database only, so the
//! operator's working tree, index and the task worktrees are never touched. The conflicted
//! files' text, with git's conflict markers, is read back from the tree merge-tree wrote and
//! cut down to the marked regions, as feedback an agent reads.

use std::path::Path;
use std::sync::OnceLock;

use super::GitError;
use super::exec::{failed, raw, run, run_capped};

/// Lines of context kept around each conflict-marked region of a file.
pub const HUNK_CONTEXT: usize = 3;
/// The marked regions of one file are cut after this many bytes.
pub const MAX_FILE_HUNKS: usize = 8 * 1024;
/// The marked regions of all files together are cut after this many bytes; files past it
/// are listed with empty `hunks`.
pub const MAX_TOTAL_HUNKS: usize = 32 * 1024;
/// A conflicted file is read from the merged tree up to this many bytes (the regions come
/// from this prefix).
const MAX_BLOB_READ: usize = 1024 * 1024;

/// The oldest git with `merge-tree --write-tree` (git 2.38 release notes).
pub const MERGE_TREE_VERSION: &str = "2.38";

/// The two commits do not merge cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts {
    /// The tree merge-tree wrote (full sha): the merge with conflict markers in the
    /// conflicted files.
    pub tree: String,
    /// The conflicted files, in git's order (by path).
    pub files: Vec<ConflictFile>,
}

impl Conflicts {
    /// The conflicted paths, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.files.iter().map(|f| f.path.as_str()).collect()
    }
}

/// One conflicted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictFile {
    /// Path relative to the repository's root.
    pub path: String,
    /// git's messages about this path, e.g. `CONFLICT (content): Merge conflict in a.txt`
    /// (the `Auto-merging` notes left out).
    pub messages: Vec<String>,
    /// The conflict-marked regions of the file as merged (`<<<<<<< ours` … `=======` …
    /// `>>>>>>> theirs`) with [`HUNK_CONTEXT`] lines around each, each region headed by
    /// `@@ lines A-B @@` (1-based, in the merged file); empty when the file has no markers
    /// (a binary file, a modify/delete or rename conflict: see `messages`) or when the
    /// [`MAX_TOTAL_HUNKS`] budget was spent. At most [`MAX_FILE_HUNKS`] bytes. The text
    /// is the branches' (an agent's): sanitise it (`crate::text`) before it is shown.
    pub hunks: String,
    /// `hunks` was cut (by [`MAX_FILE_HUNKS`] or [`MAX_TOTAL_HUNKS`]).
    pub truncated: bool,
}

/// Checks once per process that git has `merge-tree --write-tree` (git ≥ 2.38).
///
/// Errors: [`GitError::TooOld`] naming the version found and what to install;
/// [`GitError::NotInstalled`] / [`GitError::Failed`] when `git --version` cannot run;
/// [`GitError::Parse`] when its output has no version.
pub fn require_merge_tree() -> Result<(), GitError> {
    static FOUND: OnceLock<String> = OnceLock::new();
    let found = match FOUND.get() {
        Some(v) => v.clone(),
        None => {
            let out = run(Path::new("."), ["--version"])?;
            let v = out
                .split_whitespace()
                .nth(2)
                .ok_or_else(|| GitError::Parse {
                    args: "--version".into(),
                    output: out.clone(),
                })?
                .to_string();
            FOUND.get_or_init(|| v).clone()
        }
    };
    if version_at_least(&found, (2, 38)) {
        Ok(())
    } else {
        Err(GitError::TooOld {
            found,
            need: MERGE_TREE_VERSION,
            what: "merge-tree --write-tree (landing and the conflict radar)",
        })
    }
}

/// `version` (e.g. `2.39.5`, `2.45.1.windows.1`) is at least `(major, minor)`; an
/// unreadable version counts as new enough (git itself then says what fails).
fn version_at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(a)), Some(Ok(b))) => (a, b) >= (major, minor),
        _ => true,
    }
}

/// Whether `theirs` merges into `ours` (branches, tags or commits of `repo`), and if not,
/// where: `Ok(None)` when the merge is clean, `Ok(Some(conflicts))` otherwise. The conflict
/// markers are labelled with `ours` and `theirs` as given. Nothing in any checkout changes;
/// merge-tree writes objects (the merged blobs and trees) to `repo`'s object database only.
///
/// Errors: [`GitError::TooOld`] before git 2.38; [`GitError::Failed`] when a revision does
/// not resolve to a commit or the two share no history; [`GitError::Parse`] on output
/// merge-tree's documented format does not explain.
pub fn conflicts(repo: &Path, ours: &str, theirs: &str) -> Result<Option<Conflicts>, GitError> {
    conflicts_inner(repo, ours, theirs)
}

/// The paths `to` changed since it forked from `from` (`git diff --raw from...to`: against
/// their merge base), each with the blob it has in `to` (all zeros: deleted). Two sides
/// can conflict only in a path both changed to different contents, which is how the radar
/// skips the `merge-tree` of most pairs.
///
/// # Errors
/// [`GitError::Failed`] when a commit is unknown.
pub fn changed_since_fork(
    repo: &Path,
    from: &str,
    to: &str,
) -> Result<std::collections::BTreeMap<String, String>, GitError> {
    let range = format!("{from}...{to}");
    let out = run(
        repo,
        [
            "diff",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "-z",
            range.as_str(),
        ],
    )?;
    // `:<mode> <mode> <old> <new> <status>\0<path>\0`, repeated.
    let mut files = std::collections::BTreeMap::new();
    let mut fields = out.split('\0').filter(|f| !f.is_empty());
    while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
        let new = meta.split(' ').nth(3).unwrap_or_default();
        files.insert(path.to_string(), new.to_string());
    }
    Ok(files)
}

fn conflicts_inner(repo: &Path, ours: &str, theirs: &str) -> Result<Option<Conflicts>, GitError> {
    match merge_tree(repo, ours, theirs, None)? {
        Merged::Clean(_) => Ok(None),
        Merged::Conflicted(c) => Ok(Some(c)),
    }
}

/// The result of [`merge_tree`].
#[derive(Debug)]
pub(super) enum Merged {
    /// The merged tree's sha.
    Clean(String),
    /// The merge conflicts.
    Conflicted(Conflicts),
}

/// `git merge-tree --write-tree --name-only -z [--merge-base=<base>] <ours> <theirs>`: exit 0
/// is a clean merge, 1 a conflicted one (git-merge-tree(1), "EXIT STATUS").
pub(super) fn merge_tree(
    repo: &Path,
    ours: &str,
    theirs: &str,
    merge_base: Option<&str>,
) -> Result<Merged, GitError> {
    require_merge_tree()?;
    let ours = safe_rev(repo, ours)?;
    let theirs = safe_rev(repo, theirs)?;
    let mut args = vec![
        "merge-tree".to_string(),
        "--write-tree".into(),
        "--name-only".into(),
        "-z".into(),
    ];
    if let Some(b) = merge_base {
        args.push(format!("--merge-base={}", safe_rev(repo, b)?));
    }
    args.push(ours);
    args.push(theirs);
    let (out, printable) = raw(repo, &args)?;
    let text = String::from_utf8_lossy(&out.stdout);
    let parse_error = || GitError::Parse {
        args: printable.clone(),
        output: text.chars().take(200).collect(),
    };
    match out.status.code() {
        Some(0) => {
            let tree = text.split('\0').next().unwrap_or_default().trim();
            if tree.is_empty() {
                return Err(parse_error());
            }
            Ok(Merged::Clean(tree.to_string()))
        }
        Some(1) => {
            let (tree, mut files) = parse_conflicts(&text).ok_or_else(parse_error)?;
            add_hunks(repo, &tree, &mut files)?;
            Ok(Merged::Conflicted(Conflicts { tree, files }))
        }
        _ => Err(failed(repo, printable, &out)),
    }
}

/// `rev` checked to name a commit; returned as given, or as the commit's sha when it starts
/// with `-` (so it can never be read as an option).
fn safe_rev(repo: &Path, rev: &str) -> Result<String, GitError> {
    let sha = run(
        repo,
        [
            "rev-parse",
            "--verify",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ],
    )?
    .trim()
    .to_string();
    Ok(if rev.starts_with('-') || rev.is_empty() {
        sha
    } else {
        rev.to_string()
    })
}

/// Parses merge-tree's `-z --name-only` output: `<tree>\0`, the conflicted paths each
/// followed by `\0`, an empty field, then messages as `<N>\0<path>\0…(N paths)<type>\0<text>\0`
/// (git-merge-tree(1), "OUTPUT"). Returns the tree and the files (no hunks yet).
fn parse_conflicts(out: &str) -> Option<(String, Vec<ConflictFile>)> {
    let mut fields = out.split('\0');
    let tree = fields.next()?.trim().to_string();
    if tree.is_empty() {
        return None;
    }
    let mut files: Vec<ConflictFile> = Vec::new();
    for f in fields.by_ref() {
        if f.is_empty() {
            break;
        }
        if !files.iter().any(|c| c.path == f) {
            files.push(ConflictFile {
                path: f.to_string(),
                messages: Vec::new(),
                hunks: String::new(),
                truncated: false,
            });
        }
    }
    while let Some(n) = fields.next() {
        if n.is_empty() {
            continue;
        }
        let n: usize = n.parse().ok()?;
        let paths: Vec<&str> = (0..n).map(|_| fields.next()).collect::<Option<_>>()?;
        let kind = fields.next()?;
        let message = fields.next()?.trim_end();
        if kind == "Auto-merging" {
            continue;
        }
        for p in paths {
            if let Some(file) = files.iter_mut().find(|f| f.path == p) {
                file.messages.push(message.to_string());
            }
        }
    }
    Some((tree, files))
}

/// Fills each file's `hunks` from its text in `tree`, within the byte budgets.
fn add_hunks(repo: &Path, tree: &str, files: &mut [ConflictFile]) -> Result<(), GitError> {
    let mut budget = MAX_TOTAL_HUNKS;
    for file in files.iter_mut() {
        if budget == 0 {
            file.truncated = true;
            continue;
        }
        let spec = format!("{tree}:{}", file.path);
        // A path the merge left out of the tree (deleted on one side) has no text.
        let (exists, _) = raw(repo, ["cat-file", "-e", &spec])?;
        if !exists.status.success() {
            continue;
        }
        let (text, _) = run_capped(repo, ["cat-file", "blob", &spec], MAX_BLOB_READ)?;
        if text.contains('\0') {
            continue;
        }
        let (hunks, cut) = marked_regions(&text, HUNK_CONTEXT, MAX_FILE_HUNKS.min(budget));
        budget -= hunks.len();
        file.hunks = hunks;
        file.truncated = cut;
    }
    Ok(())
}

/// The regions of `text` from a `<<<<<<<` line to its `>>>>>>>` line, with `context` lines
/// around each (overlapping regions joined), each headed `@@ lines A-B @@`; cut at `max`
/// bytes on a line (or character) boundary. Returns the text and whether it was cut.
pub(super) fn marked_regions(text: &str, context: usize, max: usize) -> (String, bool) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut regions: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("<<<<<<<") && start.is_none() {
            start = Some(i);
        } else if line.starts_with(">>>>>>>")
            && let Some(s) = start.take()
        {
            let from = s.saturating_sub(context);
            let to = (i + context).min(lines.len().saturating_sub(1));
            match regions.last_mut() {
                Some(last) if from <= last.1 + 1 => last.1 = to,
                _ => regions.push((from, to)),
            }
        }
    }
    let mut out = String::new();
    for (from, to) in regions {
        let mut piece = format!("@@ lines {}-{} @@\n", from + 1, to + 1);
        for line in &lines[from..=to] {
            piece.push_str(line);
        }
        if !piece.ends_with('\n') {
            piece.push('\n');
        }
        if out.len() + piece.len() > max {
            let room = max - out.len();
            let mut cut = piece[..floor_char(&piece, room)]
                .rfind('\n')
                .map_or(0, |n| n + 1);
            if cut == 0 {
                cut = floor_char(&piece, room);
            }
            out.push_str(&piece[..cut]);
            return (out, true);
        }
        out.push_str(&piece);
    }
    (out, false)
}

/// The largest char boundary of `s` at or below `i`.
fn floor_char(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_major_and_minor() {
        assert!(version_at_least("2.39.5", (2, 38)));
        assert!(version_at_least("2.38.0", (2, 38)));
        assert!(version_at_least("3.0", (2, 38)));
        assert!(!version_at_least("2.37.9", (2, 38)));
        assert!(!version_at_least("1.99", (2, 38)));
        assert!(version_at_least("2.45.1.windows.1", (2, 38)));
    }

    #[test]
    fn parses_files_and_messages_without_auto_merging_notes() {
        let out = "abc123\0f\0g\0\0\
                   1\0f\0Auto-merging\0Auto-merging f\n\0\
                   1\0f\0CONFLICT (contents)\0CONFLICT (content): Merge conflict in f\n\0\
                   1\0g\0CONFLICT (modify/delete)\0CONFLICT (modify/delete): g deleted\n\0";
        let (tree, files) = parse_conflicts(out).expect("parses");
        assert_eq!(tree, "abc123");
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].path, "f");
        assert_eq!(
            files[0].messages,
            ["CONFLICT (content): Merge conflict in f"]
        );
        assert_eq!(files[1].messages, ["CONFLICT (modify/delete): g deleted"]);
        assert_eq!(parse_conflicts(""), None);
        assert_eq!(parse_conflicts("t\0f\0\0x\0"), None);
    }

    #[test]
    fn keeps_marked_regions_with_context_and_joins_overlaps() {
        let mut text = String::new();
        for i in 1..=20 {
            text.push_str(&format!("line {i}\n"));
            if i == 10 || i == 12 {
                text.push_str("<<<<<<< ours\na\n=======\nb\n>>>>>>> theirs\n");
            }
        }
        let (out, cut) = marked_regions(&text, 3, 8192);
        assert!(!cut);
        assert_eq!(out.matches("@@ lines").count(), 1, "{out}");
        assert!(out.starts_with("@@ lines 8-"), "{out}");
        assert!(
            out.contains("line 8\n") && !out.contains("line 7\n"),
            "{out}"
        );
        assert!(
            out.contains("line 15\n") && !out.contains("line 16\n"),
            "{out}"
        );
        assert_eq!(
            marked_regions("no markers\n", 3, 100),
            (String::new(), false)
        );
    }

    #[test]
    fn cuts_at_the_cap_on_a_line_boundary() {
        let mut text = String::from("<<<<<<< ours\n");
        for i in 0..1000 {
            text.push_str(&format!("ours line {i}\n"));
        }
        text.push_str("=======\nb\n>>>>>>> theirs\n");
        let (out, cut) = marked_regions(&text, 3, 1000);
        assert!(cut);
        assert!(out.len() <= 1000);
        assert!(out.ends_with('\n'));
    }
}
