//! A scratch world for bosun to run in: a directory holding a git repository registered as a
//! project, a config file, a database, and a private tmux server that is stopped when the
//! sandbox goes. `bosun demo`, `bosun providers --check` and the tests each need one; this is
//! the one way they are built and torn down.
//!
//! [`TmuxServer`] is the guard of a private tmux socket: dropping it stops every process of
//! its panes, kills the server and removes the socket file (killing the server alone leaves
//! an agent that survives its terminal's hang-up: Gemini CLI's relaunched node child did,
//! burning CPU for hours). [`Sandbox`] owns one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::config::Config;
use crate::store::projects::{self, NewProject};
use crate::store::{Store, now_ms};

/// How long a pane's processes get between SIGTERM and SIGKILL when a server is stopped.
const GRACE: Duration = Duration::from_millis(500);

/// Why a sandbox could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The repository could not be made.
    #[error("cannot create the sandbox's repository: {0}")]
    Git(#[from] crate::git::GitError),
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened or written.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A private tmux server known by its `-L` socket name. Dropping it stops the server: every
/// pane's process tree (SIGTERM, a grace, SIGKILL), then `kill-server`, then the socket file
/// tmux leaves behind. [`TmuxServer::keep`] lets the server outlive it.
#[derive(Debug)]
pub struct TmuxServer {
    socket: String,
    armed: bool,
}

impl TmuxServer {
    /// A guard for a new socket name `<prefix>-<pid>-<n>`, unique within this process (`n`
    /// counts the guards made); no server is started until something uses the socket.
    pub fn new(prefix: &str) -> TmuxServer {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        TmuxServer::named(format!("{prefix}-{}-{n}", std::process::id()))
    }

    /// A guard for the socket `socket`, whatever started its server.
    pub fn named(socket: impl Into<String>) -> TmuxServer {
        TmuxServer {
            socket: socket.into(),
            armed: true,
        }
    }

    /// The `-L` socket name.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// Stops the server now (see the type's docs); the guard stays, and stops whatever
    /// server uses the socket again when dropped.
    pub fn stop(&self) {
        crate::tmux::process::stop_server_on(&self.socket, GRACE);
        let _ = std::fs::remove_file(socket_file(&self.socket));
    }

    /// Disarms the guard: the server (if any) outlives it. Returns the socket name.
    pub fn keep(mut self) -> String {
        self.armed = false;
        std::mem::take(&mut self.socket)
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        if self.armed {
            self.stop();
        }
    }
}

/// Where tmux puts the socket of `-L name`: `$TMUX_TMPDIR` (or `/tmp`)`/tmux-<uid>/<name>`.
pub fn socket_file(name: &str) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let base = std::env::var_os("TMUX_TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    base.join(format!("tmux-{uid}")).join(name)
}

/// The project a sandbox's repository is registered as.
#[derive(Debug, Clone, Copy)]
pub struct Project<'a> {
    /// Its name (`bosun project add --name`).
    pub name: &'a str,
    /// Its task keys' prefix (`ET` gives `ET-001`).
    pub key_prefix: &'a str,
    /// The command the development stage's command gate runs.
    pub test_command: Option<&'a str>,
    /// The text of the repository's README, its only file.
    pub readme: &'a str,
}

/// A directory with a repository (`repo/`, branch `main`, one commit) registered as a
/// project, a config file (`bosun.toml`), a database (`bosun.db`) and the guard of a private
/// tmux server. Dropping it stops the server; [`Sandbox::remove`] removes the directory too,
/// [`Sandbox::keep`] keeps both.
#[derive(Debug)]
pub struct Sandbox {
    /// The directory everything is in (the supervisor's data directory).
    pub dir: PathBuf,
    /// The project's repository.
    pub repo: PathBuf,
    /// The config file.
    pub config_file: PathBuf,
    /// The config, read from the file.
    pub cfg: Config,
    /// The database.
    pub db: PathBuf,
    /// The private tmux server the sandbox's agents run in.
    pub tmux: TmuxServer,
}

impl Sandbox {
    /// Builds the sandbox in `dir` (created if missing, private: 0700): the repository, the
    /// config file holding `config` (TOML layered over the built-in config; its
    /// `supervisor.tmux_socket` is the caller's to set, from `tmux`'s socket), the database
    /// with `project` registered. `tmux` guards the sandbox's server from here on.
    ///
    /// # Errors
    /// [`SandboxError`] when a step fails; what was made is left for the caller's cleanup.
    pub fn create(
        dir: &Path,
        project: &Project<'_>,
        config: &str,
        tmux: TmuxServer,
    ) -> Result<Sandbox, SandboxError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SandboxError::Io { path, source }
        };
        crate::private::private_dir(dir).map_err(io(dir))?;
        let repo = dir.join("repo");
        crate::git::init_repo_with(&repo, "main", project.readme)?;
        let config_file = dir.join("bosun.toml");
        crate::private::write_private(&config_file, config.as_bytes()).map_err(io(&config_file))?;
        let cfg = Config::from_layers(&[(config_file.as_path(), config)])?;
        let db = dir.join("bosun.db");
        register(&Store::open(&db)?, project, &repo)?;
        Ok(Sandbox {
            dir: dir.to_path_buf(),
            repo,
            config_file,
            cfg,
            db,
            tmux,
        })
    }

    /// A new connection to the sandbox's database.
    ///
    /// # Errors
    /// The store's error when the database cannot be opened.
    pub fn store(&self) -> Result<Store, crate::store::StoreError> {
        Store::open(&self.db)
    }

    /// The tmux socket name.
    pub fn socket(&self) -> &str {
        self.tmux.socket()
    }

    /// Stops the tmux server, then removes the directory. The agents' processes can still be
    /// writing into it for a moment after they were killed, so a failed removal is tried
    /// again (for up to 3 s), then given up with a warning.
    pub fn remove(self) {
        self.tmux.stop();
        remove_dir(&self.dir);
    }

    /// Keeps everything: the directory stays and the tmux server outlives the sandbox.
    /// Returns the directory and the socket name.
    pub fn keep(self) -> (PathBuf, String) {
        (self.dir, self.tmux.keep())
    }
}

/// Registers `repo` in `store` as `project` (default branch `main`).
///
/// # Errors
/// The store's error.
pub fn register(
    store: &Store,
    project: &Project<'_>,
    repo: &Path,
) -> Result<(), crate::store::StoreError> {
    let path = repo.to_string_lossy().into_owned();
    store.write(|tx| {
        projects::insert(
            tx,
            &NewProject {
                name: project.name,
                path: &path,
                key_prefix: project.key_prefix,
                default_branch: Some("main"),
                test_command: project.test_command,
            },
            now_ms(),
        )
        .map(|_| ())
    })
}

/// Removes `dir`, trying again for up to 3 s while it fails (see [`Sandbox::remove`]).
pub fn remove_dir(dir: &Path) {
    for _ in 0..30 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    tracing::warn!(dir = %dir.display(), "cannot remove the sandbox's directory");
}
