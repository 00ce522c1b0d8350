//! A test rig for the supervisor: a database, a project repository, a config and a private
//! tmux socket (server killed on drop); in-process ticking and real daemons.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::pipeline::Engine;
use bosun::sandbox::{Project, Sandbox};
use bosun::store::Store;
use bosun::store::events;
use bosun::store::tasks;
use bosun::supervisor::{Options, Supervisor};

use super::TmuxServer;
use super::config::Layer;

pub const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

/// A database, a project repository, a config and a tmux socket for one test: a
/// [`Sandbox`] in a temporary directory. Field order is drop order: the sandbox (its tmux
/// server and agents) goes before the directory.
pub struct Rig {
    sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    pub cfg: Config,
    pub config_text: String,
    pub socket: String,
    /// Environment every `bosun` this rig runs gets (a forge token, say).
    pub env: Vec<(String, String)>,
}

/// The project every rig registers: `example-tool`, keys `ET-…`, test command `true`, a
/// README of one line (`demo`).
pub const PROJECT: Project<'static> = Project {
    name: "example-tool",
    key_prefix: "ET",
    test_command: Some("true"),
    readme: "demo\n",
};

impl Rig {
    /// `layer` is TOML over the built-in config (typically roles on `sim` and stages).
    pub fn new(layer: &str) -> Rig {
        Rig::build(|_, _| Layer::parse(layer))
    }

    /// The rig of the layer `layer` makes from this rig's tmux socket and directory (for the
    /// CLI's own config, files the agents or commands write there).
    pub fn build(layer: impl FnOnce(&str, &Path) -> Layer) -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmux = TmuxServer::new("bosun-test");
        let socket = tmux.socket().to_string();
        let layer = &layer(&socket, dir.path()).to_toml();
        let sandbox = Sandbox::create(dir.path(), &PROJECT, layer, tmux).expect("sandbox");
        Rig {
            cfg: sandbox.cfg.clone(),
            config_text: layer.to_string(),
            socket,
            sandbox,
            dir,
            env: Vec::new(),
        }
    }

    /// The project's repository.
    pub fn repo(&self) -> &Path {
        &self.sandbox.repo
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("bosun.db")
    }

    pub fn store(&self) -> Store {
        Store::open(&self.db()).expect("store")
    }

    pub fn options(&self) -> Options {
        let mut o = Options::new(self.dir.path().to_path_buf(), &self.socket);
        o.bosun_exe = BOSUN.to_string();
        o.owner = "test".into();
        o.done_debounce = Duration::from_millis(300);
        o.exit_grace = Duration::from_millis(500);
        o
    }

    pub fn supervisor(&self) -> Supervisor {
        Supervisor::start(self.cfg.clone(), self.store(), self.options()).expect("supervisor")
    }

    pub fn add_task(&self, title: &str, spec: &str) -> String {
        let store = self.store();
        let (task, _) = Engine::new(&self.cfg, &store)
            .create_task("example-tool", title, spec, 100)
            .expect("task");
        task.key
    }

    pub fn task(&self, key: &str) -> tasks::Task {
        tasks::by_key(self.store().conn(), key).expect("task")
    }
}

/// Ticks `sup` until `done` holds, failing after `limit`.
pub fn tick_until(
    sup: &mut Supervisor,
    limit: Duration,
    what: &str,
    mut done: impl FnMut(&mut Supervisor) -> bool,
) {
    let start = Instant::now();
    loop {
        sup.tick().expect("tick");
        if done(sup) {
            return;
        }
        if start.elapsed() >= limit {
            let tasks: Vec<String> = tasks::list(sup.store().conn())
                .expect("tasks")
                .iter()
                .map(|t| format!("{} {} {} {:?}", t.key, t.stage, t.state, t.state_reason))
                .collect();
            let recent: Vec<String> = events::recent(sup.store().conn(), None, 15)
                .expect("events")
                .iter()
                .map(|e| e.message.clone())
                .collect();
            panic!(
                "timed out after {limit:?} waiting for {what}\ntasks: {tasks:#?}\nruns: {:?}\nlast events: {recent:#?}",
                sup.run_statuses()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Rig {
    /// The real `bosun` binary on this rig's database and config, with private XDG dirs.
    pub fn bosun(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BOSUN);
        c.args(args)
            .arg("--db")
            .arg(self.db())
            .arg("--config")
            .arg(self.dir.path().join("bosun.toml"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null());
        c
    }
}

/// A `bosun daemon` child, killed (SIGKILL) and reaped when dropped: a failing test leaves
/// no daemon behind.
pub struct Daemon(pub std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a daemon with `BOSUN_CRASH_AT=point` until it kills itself there with SIGKILL (as
/// `kill -9` would), within 60 s; its log goes to `daemon-crash.log` in the rig.
pub fn daemon_killed_at(rig: &Rig, point: &str) {
    use std::os::unix::process::ExitStatusExt;
    let mut first = rig
        .bosun(&["daemon", "--socket", &rig.socket])
        .arg("--log-file")
        .arg(rig.dir.path().join("daemon-crash.log"))
        .env("BOSUN_CRASH_AT", point)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn daemon");
    let status = super::eventually(
        Duration::from_secs(60),
        &format!("the daemon to reach its crash point {point}"),
        || first.try_wait().expect("try_wait"),
    );
    assert_eq!(
        status.signal(),
        Some(9),
        "{point}: killed by SIGKILL, got {status:?}"
    );
}

pub fn daemon(rig: &Rig) -> std::process::Child {
    rig.bosun(&["daemon", "--socket", &rig.socket])
        .arg("--log-file")
        .arg(rig.dir.path().join("daemon.log"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn daemon")
}

/// Waits until `f` holds ([`super::eventually`]).
pub fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    super::eventually(limit, what, || f().then_some(()));
}
