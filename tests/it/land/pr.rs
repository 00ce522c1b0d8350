//! Landing as a pull request, under real `bosun daemon` processes, against the scripted
//! forge (`bosun::sim::forge`, a real HTTP server on 127.0.0.1 speaking GitHub's and Gitea's
//! REST API over a real bare repository): the branch is pushed to the project's remote, one
//! pull request is opened and followed by conditional reads; a merge on the forge lands the
//! task and cleans up, a close blocks it, a review asking for changes sends it back; a
//! daemon killed at every landing step opens no second pull request.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::config::Layer;
use crate::support::rig::{Daemon, Rig, daemon, daemon_killed_at, wait_for};

use bosun::sim::forge::{Flavor, ForgeServer};
use bosun::status::{LandingState, TaskState};
use bosun::store::events::{self, EventKind};
use bosun::store::landings;

/// The variable the token is read from, set only in the daemons' environment.
const TOKEN_ENV: &str = "BOSUN_TEST_FORGE_TOKEN";
const TOKEN: &str = "bosun-test-token-5f1c9e";

use crate::support::git_output as git;

struct PrRig {
    // Field order is drop order: the daemons' rig before the forge they talk to.
    rig: Rig,
    forge: ForgeServer,
    remote: PathBuf,
}

/// One `development` stage whose agent writes a new `feature.txt` each run, landing as a pull
/// request into `main` on a `flavor` forge; `layer` adds keys.
fn pr_rig(flavor: Flavor, layer: impl FnOnce(Layer) -> Layer) -> PrRig {
    let mut forge = None;
    let mut remote = PathBuf::new();
    let mut rig = Rig::build(|socket, dir| {
        remote = dir.join("remote.git");
        let out = Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&remote)
            .output()
            .expect("git init");
        assert!(out.status.success(), "{out:?}");
        let server = ForgeServer::start(flavor, &remote, "octo/app", TOKEN).expect("forge");
        server.set_delay(Duration::from_millis(200));
        let kind = match flavor {
            Flavor::GitHub => "github",
            Flavor::Gitea => "gitea",
            Flavor::Forgejo => "forgejo",
            Flavor::Plane => unreachable!("Plane has no pull requests"),
        };
        let l = Layer::new()
            .tmux_socket(socket)
            .max_concurrency(2)
            .set("supervisor.kill_grace", "1s")
            .role(
                "r-development",
                "sim",
                "@sim {write = \"feature.txt\", text = \"a feature, run {run}\\n\"}\n\
                 @sim {write = \"out.md\", text = \"Implemented the feature.\\n@octocat fixes #1\"}\n",
            )
            .stage("development", "r-development", "out.md")
            .set("projects.land.mode", "pr")
            .set("projects.land.base", "main")
            .set("projects.land.forge", kind)
            .set("projects.land.api_url", server.api_url())
            .set("projects.land.repo", "octo/app")
            .set("projects.land.token_env", TOKEN_ENV)
            .set("projects.land.poll", "1s");
        forge = Some(server);
        layer(l)
    });
    let repo = rig.repo().to_path_buf();
    let url = format!("file://{}", remote.display());
    git(&repo, &["remote", "add", "origin", &url]);
    let out = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["push", "-q", "origin", "main"])
        .output()
        .expect("push");
    assert!(out.status.success(), "{out:?}");
    rig.env.push((TOKEN_ENV.into(), TOKEN.into()));
    PrRig {
        rig,
        forge: forge.expect("forge"),
        remote,
    }
}

impl PrRig {
    /// Merges the pull request on the forge once the task is in review (the forge's button).
    fn merge_when_in_review(&self, key: &str) {
        let open = self
            .forge
            .pulls()
            .into_iter()
            .find(|p| p.merge_commit_sha.is_none());
        if let Some(p) = open.filter(|_| self.rig.task(key).state == TaskState::InReview) {
            self.forge.merge(p.number, "squash").expect("merge");
        }
    }

    fn landing(&self, key: &str) -> Option<landings::Landing> {
        let task = self.rig.task(key);
        landings::latest_for(self.rig.store().conn(), task.id).expect("landing")
    }

    fn wait_state(&self, key: &str, state: TaskState, limit: u64) {
        wait_for(
            Duration::from_secs(limit),
            &format!("{key} {state}"),
            || self.rig.task(key).state == state,
        );
    }

    fn wait_cleaned(&self, key: &str) {
        wait_for(Duration::from_secs(30), "the cleanup", || {
            self.landing(key).is_some_and(|l| l.cleaned_at.is_some())
        });
    }

    /// The change is on the remote's main, and nothing of the task is left: no worktree, no
    /// branch here or on the remote.
    fn assert_landed_and_clean(&self, key: &str) {
        let task = self.rig.task(key);
        assert_eq!(task.state, TaskState::Landed);
        assert!(
            git(&self.remote, &["show", "main:feature.txt"]).starts_with("a feature, run"),
            "the change is on the remote's main"
        );
        let worktree = task.worktree.expect("worktree");
        assert!(!Path::new(&worktree).exists(), "{worktree}");
        assert_eq!(git(self.rig.repo(), &["branch", "--list", "bosun/*"]), "");
        assert_eq!(git(&self.remote, &["branch", "--list", "bosun/*"]), "");
    }
}

#[test]
fn a_pull_request_is_opened_once_followed_by_etag_and_a_merge_on_the_forge_lands_it() {
    let pr = pr_rig(Flavor::GitHub, |l| l);
    let key = pr.rig.add_task("Add a feature", "");
    let _daemon = Daemon(daemon(&pr.rig));
    pr.wait_state(&key, TaskState::InReview, 60);
    let pulls = pr.forge.pulls();
    assert_eq!((pulls.len(), pr.forge.creates()), (1, 1), "{pulls:?}");
    let pull = &pulls[0];
    assert_eq!(pull.title, format!("{key}: Add a feature"));
    assert_eq!(
        (pull.base.as_str(), pull.head.as_str()),
        ("main", pr.rig.task(&key).branch.expect("branch").as_str())
    );
    // The body carries the artifact, fenced: the agent's @-mention and "fixes #1" inert.
    assert!(
        pull.body
            .contains("~~~text\nImplemented the feature.\n@octocat fixes #1\n~~~"),
        "{}",
        pull.body
    );
    let landing = pr.landing(&key).expect("landing");
    assert_eq!(landing.state, LandingState::InReview);
    assert_eq!(
        landing.pr_number,
        Some(i64::try_from(pull.number).expect("n"))
    );
    let shown = pr
        .rig
        .bosun(&["task", "show", &key])
        .output()
        .expect("show");
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(
        shown.contains(&format!("landing in_review: pull request #{}", pull.number)),
        "{shown}"
    );
    // Followed by conditional reads: the unchanged pull request costs 304s.
    wait_for(Duration::from_secs(20), "two 304 answers", || {
        pr.forge
            .requests()
            .iter()
            .filter(|r| r.status == 304 && r.if_none_match.is_some())
            .count()
            >= 2
    });
    pr.forge
        .merge(pull.number, "squash")
        .expect("merge on the forge");
    pr.wait_state(&key, TaskState::Landed, 30);
    pr.wait_cleaned(&key);
    pr.assert_landed_and_clean(&key);
    let store = pr.rig.store();
    let all = events::recent(store.conn(), Some(pr.rig.task(&key).id), 100).expect("events");
    let landed = all
        .iter()
        .find(|e| e.kind == EventKind::Landed)
        .expect("landed");
    assert!(
        landed.message.contains("merged on the forge"),
        "{}",
        landed.message
    );
    // The token is nowhere: not in the database, the log, or what the CLI prints.
    let db = std::fs::read(pr.rig.db()).expect("db");
    assert!(!String::from_utf8_lossy(&db).contains(TOKEN));
    let log = std::fs::read_to_string(pr.rig.dir.path().join("daemon.log")).unwrap_or_default();
    assert!(!log.contains(TOKEN));
    assert!(!shown.contains(TOKEN));
}

#[test]
fn a_pull_request_merged_on_a_gitea_forge_lands_it_and_cleans_up() {
    let pr = pr_rig(Flavor::Gitea, |l| l);
    let key = pr.rig.add_task("Add a feature", "");
    let _daemon = Daemon(daemon(&pr.rig));
    pr.wait_state(&key, TaskState::InReview, 60);
    let pulls = pr.forge.pulls();
    assert_eq!((pulls.len(), pr.forge.creates()), (1, 1), "{pulls:?}");
    pr.forge.merge(pulls[0].number, "merge").expect("merge");
    pr.wait_state(&key, TaskState::Landed, 30);
    pr.wait_cleaned(&key);
    pr.assert_landed_and_clean(&key);
    // Gitea was asked for the pull request of the branch before one was created.
    let seen = pr.forge.requests();
    assert!(
        seen.iter().any(|r| r
            .path
            .starts_with("/api/v1/repos/octo/app/pulls/main/bosun/")),
        "{seen:?}"
    );
}

#[test]
fn a_pull_request_closed_on_a_gitea_forge_blocks_the_task_saying_so() {
    let pr = pr_rig(Flavor::Gitea, |l| l);
    let key = pr.rig.add_task("Add a feature", "");
    let _daemon = Daemon(daemon(&pr.rig));
    pr.wait_state(&key, TaskState::InReview, 60);
    let number = pr.forge.pulls()[0].number;
    pr.forge.close(number);
    pr.wait_state(&key, TaskState::Blocked, 30);
    let reason = pr.rig.task(&key).state_reason.expect("reason");
    assert!(
        reason.contains(&format!("pull request #{number} was closed")),
        "{reason}"
    );
    assert_eq!(
        pr.landing(&key).expect("landing").state,
        LandingState::Failed
    );
    assert_eq!(pr.forge.creates(), 1);
}

#[test]
fn changes_requested_on_the_forge_send_the_task_back_with_the_review_then_it_lands() {
    let pr = pr_rig(Flavor::GitHub, |l| {
        l.set("projects.land.on_changes_requested", "rollback")
    });
    let key = pr.rig.add_task("Add a feature", "");
    let _daemon = Daemon(daemon(&pr.rig));
    pr.wait_state(&key, TaskState::InReview, 60);
    let number = pr.forge.pulls()[0].number;
    pr.forge.review(
        number,
        "ann",
        "CHANGES_REQUESTED",
        "Please also log the run.\x1b[2J",
    );
    let store = pr.rig.store();
    let task_id = pr.rig.task(&key).id;
    let feedback =
        crate::support::eventually(Duration::from_secs(30), "the review as feedback", || {
            bosun::store::jobs::for_task(store.conn(), task_id)
                .expect("jobs")
                .into_iter()
                .find_map(|j| {
                    j.feedback
                        .filter(|f| f.contains("Please also log the run."))
                })
        });
    assert!(
        feedback.contains("Review by ann") && !feedback.contains('\x1b'),
        "{feedback}"
    );
    // The agent changes the branch; the next landing pushes to the same pull request.
    wait_for(Duration::from_secs(60), "in review again", || {
        pr.landing(&key)
            .is_some_and(|l| l.state == LandingState::InReview && l.id > 1)
    });
    assert_eq!((pr.forge.creates(), pr.forge.pulls().len()), (1, 1));
    pr.forge.merge(number, "squash").expect("merge");
    pr.wait_state(&key, TaskState::Landed, 30);
    pr.wait_cleaned(&key);
    pr.assert_landed_and_clean(&key);
}

#[test]
fn without_its_token_a_landing_blocks_naming_the_variable_and_lands_once_it_is_set() {
    let mut pr = pr_rig(Flavor::GitHub, |l| l);
    pr.rig.env.clear();
    let key = pr.rig.add_task("Add a feature", "");
    let first = Daemon(daemon(&pr.rig));
    pr.wait_state(&key, TaskState::Blocked, 60);
    let reason = pr.rig.task(&key).state_reason.expect("reason");
    assert!(
        reason.contains(&format!("${TOKEN_ENV} is not set")),
        "{reason}"
    );
    assert_eq!(pr.forge.creates(), 0);
    drop(first);
    pr.rig.env.push((TOKEN_ENV.into(), TOKEN.into()));
    let _second = Daemon(daemon(&pr.rig));
    let out = pr
        .rig
        .bosun(&["task", "land", &key])
        .output()
        .expect("land");
    assert!(out.status.success(), "{out:?}");
    pr.wait_state(&key, TaskState::InReview, 30);
    assert_eq!(pr.forge.creates(), 1);
}

/// A daemon killed at landing step `point` (SIGKILL, as `kill -9`) — the pull request merged
/// on the forge as soon as it is open — then a second daemon: one pull request, landed once,
/// nothing left behind.
fn killed_while_landing_a_pr(point: &str) {
    let pr = pr_rig(Flavor::GitHub, |l| l);
    let key = pr.rig.add_task(&format!("Killed at {point}"), "");
    if matches!(point, "land_pushed" | "land_pr_opened") {
        daemon_killed_at(&pr.rig, point);
    } else {
        use std::os::unix::process::ExitStatusExt;
        let mut first = pr
            .rig
            .bosun(&["daemon", "--socket", &pr.rig.socket])
            .arg("--log-file")
            .arg(pr.rig.dir.path().join("daemon-crash.log"))
            .env("BOSUN_CRASH_AT", point)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("daemon");
        let status = crate::support::eventually(Duration::from_secs(60), point, || {
            pr.merge_when_in_review(&key);
            first.try_wait().expect("try_wait")
        });
        assert_eq!(status.signal(), Some(9), "{point}: {status:?}");
    }
    let _second = Daemon(daemon(&pr.rig));
    wait_for(Duration::from_secs(60), &format!("{point}: landed"), || {
        pr.merge_when_in_review(&key);
        pr.rig.task(&key).state == TaskState::Landed
    });
    pr.wait_cleaned(&key);
    assert_eq!(
        (pr.forge.creates(), pr.forge.pulls().len()),
        (1, 1),
        "{point}: one pull request"
    );
    pr.assert_landed_and_clean(&key);
    let store = pr.rig.store();
    let landed = events::recent(store.conn(), Some(pr.rig.task(&key).id), 100)
        .expect("events")
        .iter()
        .filter(|e| e.kind == EventKind::Landed)
        .count();
    assert_eq!(landed, 1, "{point}: landed once");
}

#[test]
fn killed_after_the_push_the_next_daemon_opens_the_pull_request() {
    killed_while_landing_a_pr("land_pushed");
}

#[test]
fn killed_after_the_forge_opened_it_the_next_daemon_adopts_the_pull_request() {
    killed_while_landing_a_pr("land_pr_opened");
}

#[test]
fn killed_after_seeing_it_merged_the_next_daemon_lands_it_once() {
    killed_while_landing_a_pr("land_pr_merged");
}

#[test]
fn killed_before_the_cleanup_of_a_pull_request_the_next_daemon_cleans_up() {
    killed_while_landing_a_pr("land_cleanup");
}
