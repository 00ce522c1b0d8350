//! Work from the trackers, end to end: a real `bosun daemon` serving webhooks on 127.0.0.1,
//! the scripted forge (`bosun::sim::forge`, real HTTP, GitHub's and Gitea's REST paths and
//! payloads) delivering real signed webhooks to it and answering its polls; agent-sim playing
//! the agents.

mod decisions;
mod deliveries;
mod lifecycle;
mod plane;
mod polling;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use toml::{Table, Value};

use crate::support::config::Layer;
use crate::support::rig::{Daemon, Rig, wait_for};

use bosun::sim::forge::{Flavor, ForgeServer};
use bosun::store::tasks;

/// The variables the daemon reads its token and webhook secret from.
pub const TOKEN_ENV: &str = "BOSUN_TEST_TRACKER_TOKEN";
pub const SECRET_ENV: &str = "BOSUN_TEST_WEBHOOK_SECRET";
pub const TOKEN: &str = "tracker-token-9b2e";
pub const SECRET: &str = "webhook-secret-41d7";

/// A rig whose project takes issues labelled `bosun` from a scripted forge.
pub struct IntakeRig {
    // Drop order: the daemon, then the rig (its tmux), then the forge.
    pub daemon: Option<Daemon>,
    pub rig: Rig,
    pub forge: ForgeServer,
    /// The daemon's webhook URL for the forge's kind.
    pub hook_url: String,
    pub flavor: Flavor,
}

/// How the source is configured.
pub struct Source {
    pub flavor: Flavor,
    /// `poll`: "off" for webhooks only.
    pub poll: &'static str,
    /// Webhooks on.
    pub webhooks: bool,
    /// `max_new`, when not the default.
    pub max_new: Option<i64>,
}

/// The repository (Plane: `workspace/project`) the forge holds.
pub fn repo_of(flavor: Flavor) -> String {
    match flavor {
        Flavor::Plane => format!("octo/{}", bosun::sim::forge::PLANE_PROJECT),
        _ => "octo/app".into(),
    }
}

fn kind(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::GitHub => "github",
        Flavor::Gitea => "gitea",
        Flavor::Forgejo => "forgejo",
        Flavor::Plane => "plane",
    }
}

/// One `analysis` stage whose agent writes its analysis, then waits for the operator's
/// approval; `layer` adds keys.
pub fn intake_rig(source: Source, layer: impl FnOnce(Layer) -> Layer) -> IntakeRig {
    let mut forge = None;
    let mut rig = Rig::build(|socket, dir| {
        // The project's remote: a bare repository the forge serves (for `mode = "pr"`).
        let remote: PathBuf = dir.join("remote.git");
        let out = std::process::Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&remote)
            .output()
            .expect("git init");
        assert!(out.status.success(), "{out:?}");
        let repo = repo_of(source.flavor);
        let server = ForgeServer::start(source.flavor, &remote, &repo, TOKEN).expect("forge");
        server.set_token_user("bosun-bot");
        server.set_delay(Duration::from_millis(100));
        let mut t = Table::new();
        t.insert("project".into(), "ET".into());
        t.insert("kind".into(), kind(source.flavor).into());
        t.insert("repo".into(), repo.into());
        t.insert("api_url".into(), server.api_url().into());
        t.insert("token_env".into(), TOKEN_ENV.into());
        if source.webhooks {
            t.insert("webhook_secret_env".into(), SECRET_ENV.into());
        }
        t.insert("labels".into(), Value::Array(vec!["bosun".into()]));
        t.insert("poll".into(), source.poll.into());
        t.insert("allow".into(), Value::Array(vec!["octocat".into()]));
        if let Some(n) = source.max_new {
            t.insert("max_new".into(), n.into());
        }
        let l = Layer::new()
            .tmux_socket(socket)
            .max_concurrency(2)
            .set("supervisor.kill_grace", "1s")
            .set("server.listen", "127.0.0.1:0")
            .set("intake", Value::Array(vec![Value::Table(t)]))
            // Pull requests, when a test lands by `mode = "pr"`, go to the same forge.
            .set("projects.land.forge", "github")
            .set("projects.land.api_url", server.api_url())
            .set("projects.land.repo", "octo/app")
            .set("projects.land.token_env", TOKEN_ENV)
            .set("projects.land.poll", "1s")
            .role(
                "r-analysis",
                "sim",
                "@sim {write = \"docs/{key}/analysis.md\", text = \"# Plan for {key}\\nChange the parser. @octocat fixes #1\\n\"}\n",
            )
            .merge(
                "[[stages]]\nname = \"analysis\"\nrole = \"r-analysis\"\n\
                 [[stages.gates]]\nkind = \"artifact\"\npath = \"docs/{key}/analysis.md\"\n\
                 [[stages.gates]]\nkind = \"approval\"\n",
            );
        forge = Some(server);
        layer(l)
    });
    rig.env.push((TOKEN_ENV.into(), TOKEN.into()));
    rig.env.push((SECRET_ENV.into(), SECRET.into()));
    let url = format!("file://{}", rig.dir.path().join("remote.git").display());
    crate::support::git_output(rig.repo(), &["remote", "add", "origin", &url]);
    crate::support::git_output(rig.repo(), &["push", "-q", "origin", "main"]);
    IntakeRig {
        daemon: None,
        rig,
        forge: forge.expect("forge"),
        hook_url: String::new(),
        flavor: source.flavor,
    }
}

impl IntakeRig {
    /// Starts a daemon (stopping one that runs) and points the forge's webhook at it.
    pub fn start_daemon(&mut self) {
        self.daemon = None;
        let (daemon, base) = spawn_daemon(&self.rig, &[]);
        self.daemon = Some(daemon);
        self.hook_url = format!("{base}/webhooks/{}", kind(self.flavor));
        self.forge.hook(&self.hook_url, SECRET);
    }

    /// The project's tasks.
    pub fn tasks(&self) -> Vec<tasks::Task> {
        tasks::list(self.rig.store().conn()).expect("tasks")
    }

    /// Waits until the project has `n` tasks.
    pub fn wait_tasks(&self, n: usize, limit: u64) {
        wait_for(Duration::from_secs(limit), &format!("{n} tasks"), || {
            self.tasks().len() >= n
        });
    }
}

/// A daemon on `rig` with `extra` environment; its webhook base URL (`http://127.0.0.1:P`),
/// read from what it prints at start.
pub fn spawn_daemon(rig: &Rig, extra: &[(&str, &str)]) -> (Daemon, String) {
    let mut child = rig
        .bosun(&["daemon", "--socket", &rig.socket])
        .arg("--log-file")
        .arg(rig.dir.path().join("daemon.log"))
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("webhooks at ").nth(1) {
                let base = rest.split("/webhooks/").next().unwrap_or("").to_string();
                let _ = tx.send(base);
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the daemon's webhook address");
    (Daemon(child), base)
}

/// The first delivery of `event` the forge made (waiting for it).
pub fn eventually_delivery(r: &IntakeRig, event: &str) -> bosun::sim::forge::Delivery {
    crate::support::eventually(Duration::from_secs(10), "a delivery", || {
        r.forge.deliveries().into_iter().find(|d| d.event == event)
    })
}
