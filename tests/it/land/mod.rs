//! Landing on real repositories: a bare remote reached by file://, the project's clone with
//! the operator's checkout on `main` holding uncommitted edits, task branches in worktrees.

use std::path::PathBuf;
use std::process::Command;

use bosun::git;

mod cleanup;
mod gc;
mod pipeline;
mod pr;
mod radar;
mod schema;
mod strategies;

/// `a.txt`'s lines before any task touches it.
const A_TXT: &str = "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\n";

/// A bare remote `remote.git` and its clone `repo` (the operator's checkout, on `main`).
struct Project {
    dir: tempfile::TempDir,
    remote: PathBuf,
    repo: PathBuf,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let remote = dir.path().join("remote.git");
        sh_git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        let seed = dir.path().join("seed");
        sh_git(dir.path(), &["init", "-q", "-b", "main", "seed"]);
        std::fs::write(seed.join("README.md"), "demo\n").expect("write");
        std::fs::write(seed.join("a.txt"), A_TXT).expect("write");
        sh_git(&seed, &["add", "."]);
        sh_git(&seed, &ident(&["commit", "-qm", "init"]));
        let url = format!("file://{}", remote.display());
        sh_git(&seed, &["push", "-q", &url, "main"]);
        sh_git(dir.path(), &["clone", "-q", &url, "repo"]);
        let repo = dir.path().join("repo");
        sh_git(&repo, &["config", "user.name", "Operator"]);
        sh_git(&repo, &["config", "user.email", "op@example.org"]);
        Project { dir, remote, repo }
    }

    /// A task branch `bosun/<name>` in worktree `wt/<name>` from `main`, with one commit per
    /// entry of `commits` (files written, then committed as `Agent <agent@example.org>`).
    fn task(&self, name: &str, commits: &[(&str, &[(&str, &str)])]) -> (PathBuf, String) {
        let path = self.dir.path().join("wt").join(name);
        let branch = format!("bosun/{name}");
        git::ensure_worktree(&self.repo, &path, &branch, "main").expect("ensure_worktree");
        for (message, files) in commits {
            for (file, text) in *files {
                std::fs::write(path.join(file), text).expect("write");
            }
            sh_git(&path, &["add", "-A"]);
            let args = [
                "-c",
                "user.name=Agent",
                "-c",
                "user.email=agent@example.org",
                "commit",
                "-qm",
                message,
            ];
            sh_git(&path, &args);
        }
        (path, branch)
    }

    fn rev(&self, rev: &str) -> String {
        sh_git(&self.repo, &["rev-parse", rev])
    }

    fn show(&self, spec: &str) -> String {
        sh_git(&self.repo, &["show", spec])
    }

    /// Uncommitted edits in the operator's checkout: a tracked file changed, a new file
    /// staged, an untracked file. Returns what must not change.
    fn dirty_operator(&self) -> Snapshot {
        std::fs::write(self.repo.join("README.md"), "demo\nmy edit\n").expect("write");
        std::fs::write(self.repo.join("notes.txt"), "staged\n").expect("write");
        sh_git(&self.repo, &["add", "notes.txt"]);
        std::fs::write(self.repo.join("scratch.txt"), "untracked\n").expect("write");
        self.snapshot()
    }

    fn snapshot(&self) -> Snapshot {
        let mut files = Vec::new();
        for name in ["README.md", "a.txt", "notes.txt", "scratch.txt", "new.txt"] {
            files.push((name, std::fs::read_to_string(self.repo.join(name)).ok()));
        }
        Snapshot {
            index: sh_git(&self.repo, &["ls-files", "--stage"]),
            files: format!("{files:?}"),
        }
    }
}

/// The operator's index entries and file contents.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    index: String,
    files: String,
}

/// `-c user.name=t -c user.email=t@t` before `args`.
fn ident<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["-c", "user.name=t", "-c", "user.email=t@t"];
    all.extend(args);
    all
}

use crate::support::git_output as sh_git;

/// `a.txt` with line `n` replaced by `text`.
fn a_with(n: usize, text: &str) -> String {
    A_TXT
        .lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == n { text } else { l })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Moves `main` in the operator's checkout by a commit changing line 9 of `a.txt` and
/// resets that file, so the tasks' branches are behind; the checkout's edits stay.
fn move_main(p: &Project) {
    let tree_file = a_with(9, "line 9 from main");
    let blob = {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(&p.repo)
            .args(["hash-object", "-w", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(tree_file.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Build the commit in a scratch index so the operator's index is not involved.
    let index = p.dir.path().join("scratch-index");
    let env_git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&p.repo)
            .args(args)
            .env("GIT_INDEX_FILE", &index)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    env_git(&["read-tree", "main"]);
    env_git(&[
        "update-index",
        "--cacheinfo",
        &format!("100644,{blob},a.txt"),
    ]);
    let tree = env_git(&["write-tree"]);
    let commit = env_git(&["commit-tree", &tree, "-p", "main", "-m", "main moves"]);
    env_git(&["update-ref", "refs/heads/main", &commit]);
}

fn two_commit_task(p: &Project) -> (PathBuf, String) {
    p.task(
        "feat",
        &[
            (
                "Change line 2",
                &[("a.txt", &a_with(2, "line 2 by the task"))],
            ),
            ("Add new.txt", &[("new.txt", "new\n")]),
        ],
    )
}
