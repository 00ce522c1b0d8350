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
    for path in [
        ".git/HEAD",
        ".git/index",
        ".git/refs/heads",
        ".git/packed-refs",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
}
