//! Puts the git commit bosun is built from into `BOSUN_GIT_COMMIT` (for `bosun --version`),
//! when built from a checkout; empty otherwise (a crates.io build, a tarball).

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| !o.stdout.is_empty());
    let version = match (commit.is_empty(), dirty) {
        (true, _) => String::new(),
        (false, false) => commit,
        (false, true) => format!("{commit}-modified"),
    };
    println!("cargo:rustc-env=BOSUN_GIT_COMMIT={version}");
    // A commit moves a branch ref (HEAD itself names the branch) and rewrites the index.
    // Only paths that exist are named: cargo treats a missing one as always stale and would
    // rebuild the crate on every build (`.git/packed-refs` is absent until the first gc). In a
    // linked worktree HEAD and index live in its own git dir, the refs in the common one.
    let git_path = |what: &str| {
        Command::new("git")
            .args(["rev-parse", "--path-format=absolute", what])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|p| !p.is_empty())
    };
    let mut watched = 0;
    if let (Some(dir), Some(common)) = (git_path("--git-dir"), git_path("--git-common-dir")) {
        let candidates = [
            format!("{dir}/HEAD"),
            format!("{dir}/index"),
            format!("{common}/refs/heads"),
            format!("{common}/packed-refs"),
        ];
        for path in candidates {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
                watched += 1;
            }
        }
    }
    if watched == 0 {
        // Not a checkout: the commit cannot change; rerun only when this script does.
        println!("cargo:rerun-if-changed=build.rs");
    }
}
