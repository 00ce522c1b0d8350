//! The blocking pull-request client ([`Client`]): each call runs on a current-thread tokio
//! runtime the client owns, on the caller's thread.

use std::time::Duration;

use super::{ForgeError, ForgeKind, Polled, PullRequest, Review, Target, gitea, github};

/// How long a forge call may take before it counts as unreachable.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A pull request to open.
#[derive(Debug, Clone)]
pub struct NewPull<'a> {
    /// Title (the task's).
    pub title: &'a str,
    /// Body (markdown, [`super::body::build`]).
    pub body: &'a str,
    /// The branch with the change.
    pub head: &'a str,
    /// The branch it goes into.
    pub base: &'a str,
}

enum Api {
    Github(github::Github),
    Gitea(gitea::Gitea),
}

/// The current-thread runtime a blocking client runs its calls on, TLS ready.
///
/// # Errors
/// [`ForgeError::Unreachable`] when the runtime cannot be made.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ForgeError> {
    // Both HTTP stacks use rustls without a built-in provider (no aws-lc C build): ring is
    // installed once per process; a second install is refused, harmlessly. rustls 0.23.48
    // deprecates ring's provider for lacking post-quantum key exchange; aws-lc-rs has it at
    // the cost of a C build on every machine that builds bosun.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ForgeError::Unreachable(format!("no runtime: {e}")))
}

/// A blocking client of one repository on one forge (see the module docs).
pub struct Client {
    rt: tokio::runtime::Runtime,
    api: Api,
}

impl Client {
    /// A client of `target`'s repository, authenticated with `token`.
    ///
    /// # Errors
    /// [`ForgeError::Refused`] when the API URL is not a URL; [`ForgeError::Unreachable`]
    /// when the runtime cannot be made.
    pub fn new(target: &Target, token: String) -> Result<Client, ForgeError> {
        let rt = runtime()?;
        let api = rt.block_on(async {
            Ok::<_, ForgeError>(match target.kind {
                ForgeKind::Github => Api::Github(github::Github::new(target, token)?),
                ForgeKind::Gitea | ForgeKind::Forgejo => {
                    Api::Gitea(gitea::Gitea::new(target, token)?)
                }
            })
        })?;
        Ok(Client { rt, api })
    }

    /// The open pull request of `head` into `base`, if there is one.
    ///
    /// # Errors
    /// See [`ForgeError`].
    pub fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.find_open(head, base).await,
                Api::Gitea(g) => g.find_open(head, base).await,
            }
        })
    }

    /// Opens a pull request.
    ///
    /// # Errors
    /// See [`ForgeError`]; [`ForgeError::Refused`] when one of `head` into `base` is open
    /// already (look it up with [`Client::find_open`]) or the head branch is not on the
    /// forge.
    pub fn create(&self, pull: &NewPull<'_>) -> Result<PullRequest, ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.create(pull).await,
                Api::Gitea(g) => g.create(pull).await,
            }
        })
    }

    /// Pull request `number`, conditionally on `etag` (the one last read).
    ///
    /// # Errors
    /// See [`ForgeError`].
    pub fn poll(&self, number: u64, etag: Option<&str>) -> Result<Polled, ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.poll(number, etag).await,
                Api::Gitea(g) => g.poll(number, etag).await,
            }
        })
    }

    /// Whether pull request `number` was merged (the forge's "check if merged" endpoint).
    ///
    /// # Errors
    /// See [`ForgeError`].
    pub fn is_merged(&self, number: u64) -> Result<bool, ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.is_merged(number).await,
                Api::Gitea(g) => g.is_merged(number).await,
            }
        })
    }

    /// Pull request `number`'s reviews, oldest first (at most the first 100).
    ///
    /// # Errors
    /// See [`ForgeError`].
    pub fn reviews(&self, number: u64) -> Result<Vec<Review>, ForgeError> {
        self.rt.block_on(async {
            match &self.api {
                Api::Github(g) => g.reviews(number).await,
                Api::Gitea(g) => g.reviews(number).await,
            }
        })
    }
}
