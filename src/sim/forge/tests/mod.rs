//! The forge through real clients: octocrab for the GitHub flavor, reqwest for Gitea, over
//! real HTTP, against a real bare repository in a tempdir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::*;

mod gitea;
mod gitea_issues;
mod github;
mod github_issues;
mod hooks;
mod plane;
mod receiver;

pub(super) const TOKEN: &str = "sim-token-1";
pub(super) const BRANCH: &str = "bosun/ET-001-fix";

/// A bare repository (`remote.git`, HEAD `main`) and a clone (`work`) that pushed `main`
/// with one commit and [`BRANCH`] with one more.
pub(super) struct World {
    _dir: tempfile::TempDir,
    pub(super) remote: PathBuf,
    work: PathBuf,
}

/// Runs git hermetically (no system or global config, a fixed identity); returns stdout.
pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Dev", "-c", "user.email=dev@localhost"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl World {
    pub(super) fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("remote.git");
        let work = dir.path().join("work");
        git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        // The forge's own commits (merges) use the repository's identity, and nothing of
        // the developer's global config (commit signing) reaches them.
        git(&remote, &["config", "user.name", "Forge"]);
        git(&remote, &["config", "user.email", "forge@localhost"]);
        git(&remote, &["config", "commit.gpgsign", "false"]);
        git(dir.path(), &["clone", "-q", "remote.git", "work"]);
        std::fs::write(work.join("README.md"), "# widgets\n").unwrap();
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "Initial commit"]);
        git(&work, &["push", "-q", "origin", "main"]);
        World {
            _dir: dir,
            remote,
            work,
        }
        .commit_on(BRANCH, "fix.txt", "fixed\n")
    }

    /// Commits `file` on `branch` (created from `main` if new) and pushes it.
    fn commit_on(self, branch: &str, file: &str, text: &str) -> World {
        self.commit(branch, file, text);
        self
    }

    pub(super) fn commit(&self, branch: &str, file: &str, text: &str) -> String {
        let exists = git(&self.work, &["branch", "--list", branch]);
        if exists.is_empty() {
            git(&self.work, &["checkout", "-q", "-b", branch, "main"]);
        } else {
            git(&self.work, &["checkout", "-q", branch]);
        }
        std::fs::write(self.work.join(file), text).unwrap();
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", &format!("edit {file}")]);
        git(&self.work, &["push", "-q", "origin", branch]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    pub(super) fn tip(&self, branch: &str) -> String {
        git(
            &self.remote,
            &["rev-parse", &format!("refs/heads/{branch}")],
        )
    }
}

/// A runtime for the clients. reqwest built with `rustls-no-provider` panics unless a
/// rustls provider is installed first (octocrab installs ring itself); rustls 0.23.48
/// deprecated the ring provider for its lack of post-quantum key exchange, which plain
/// HTTP to 127.0.0.1 never uses.
#[allow(deprecated)]
pub(super) fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// reqwest with a token header (`authorization: token …` for Gitea, `x-api-key` for Plane).
pub(super) struct Api {
    pub(super) client: reqwest::Client,
    pub(super) base: String,
    pub(super) auth: (&'static str, String),
}

impl Api {
    pub(super) fn new(base: String, auth: (&'static str, String)) -> Api {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Api { client, base, auth }
    }

    /// The status, headers and JSON (`Null` for an empty body) of one request.
    pub(super) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        req = req.header(self.auth.0, self.auth.1.as_str());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, headers, json)
    }
}

#[test]
fn merge_refuses_conflicts_and_closed_pull_requests_and_drop_stops_the_server() {
    let w = World::new();
    let forge = ForgeServer::start(Flavor::GitHub, &w.remote, "acme/widgets", TOKEN).unwrap();
    // Two branches changing the same new file differently: the second conflicts once the
    // first is in main.
    w.commit("one", "same.txt", "one\n");
    w.commit("two", "same.txt", "two\n");
    let mut st = lock(&forge.shared);
    let one = st.create("one", "", "one", "main", false).unwrap();
    let two = st.create("two", "", "two", "main", false).unwrap();
    assert!(matches!(
        st.create("again", "", "main", "main", false),
        Err(state::CreateError::NoCommits)
    ));
    drop(st);
    forge.merge(one, "rebase").unwrap();
    assert_eq!(
        w.tip("main"),
        w.tip("one"),
        "a rebase of one commit on its base is a fast-forward"
    );
    let before = w.tip("main");
    let e = forge.merge(two, "merge").unwrap_err();
    assert!(e.contains("same.txt"), "{e}");
    assert_eq!(w.tip("main"), before);
    let mut st = lock(&forge.shared);
    st.refresh();
    assert_eq!(
        st.pull(two).and_then(|p| p.mergeable),
        Some(false),
        "base moved: now conflicts"
    );
    drop(st);
    forge.close(two);
    assert_eq!(forge.pulls()[1].state, PullState::Closed);
    assert!(forge.merge(two, "merge").is_err());
    assert!(forge.merge(9, "merge").is_err());
    assert!(forge.merge(one, "octopus").is_err());

    // A test may hand the forge to other threads.
    fn shareable<T: Send + Sync>() {}
    shareable::<ForgeServer>();
    let addr = forge.addr();
    let started = Instant::now();
    drop(forge);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
}
