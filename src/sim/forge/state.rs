//! What the forge holds — its pull requests and reviews — and every change to them: the
//! same rules for both flavors, each change checked against the bare repository with
//! `crate::git` (the only code that runs git).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::gate::RateLimit;
use super::hooks::{Hooks, Job};
use super::issues::{CommentRec, IssueRec, LabelRec};
use super::{Flavor, Pull, PullState, Seen};
use crate::git::{Compare, Integration, Strategy};

/// The repository's id on the forge (both flavors).
pub(super) const REPO_ID: u64 = 1_296_269;

/// The forge's state, behind [`super::Shared`].
pub(super) struct State {
    pub(super) flavor: Flavor,
    /// The bare repository holding the branches.
    pub(super) remote: PathBuf,
    /// The repository's owner (Plane: the workspace's slug); the maintainer who merges,
    /// closes and labels through the control API.
    pub(super) owner: String,
    /// Who the token acts as (the owner unless [`super::ForgeServer::set_token_user`]).
    pub(super) token_user: String,
    /// The repository's name (Plane: the project's UUID).
    pub(super) name: String,
    pub(super) token: String,
    /// `http://127.0.0.1:PORT`, the start of every URL in the answers.
    pub(super) origin: String,
    /// The bare repository's HEAD branch when the server started (`main` if unreadable).
    pub(super) default_branch: String,
    pub(super) delay: Duration,
    /// By number (GitHub, Gitea: numbered with the issues, in one sequence).
    pub(super) pulls: Vec<PullRec>,
    pub(super) reviews: Vec<ReviewRec>,
    pub(super) requests: Vec<Seen>,
    pub(super) creates: usize,
    /// Issues, by number (Plane: by `sequence_id`).
    pub(super) issues: Vec<IssueRec>,
    /// Comments on issues, by id.
    pub(super) comments: Vec<CommentRec>,
    /// The repository's labels, by id.
    pub(super) labels: Vec<LabelRec>,
    pub(super) hooks: Hooks,
    pub(super) limit: RateLimit,
    /// The last timestamp handed out, unix seconds.
    clock: u64,
}

/// One pull request as the forge stores it.
pub(super) struct PullRec {
    pub(super) number: u64,
    pub(super) title: String,
    pub(super) body: String,
    pub(super) head: String,
    pub(super) base: String,
    pub(super) draft: bool,
    pub(super) state: PullState,
    /// The head branch's tip, kept current while open ([`State::refresh`]).
    pub(super) head_sha: String,
    /// The base branch's tip, kept current while open.
    pub(super) base_sha: String,
    /// Commits and diff size against the base; `None` if git could not tell.
    pub(super) compare: Option<Compare>,
    /// Merges without conflicts; `None` if git could not tell.
    pub(super) mergeable: Option<bool>,
    pub(super) merge_commit_sha: Option<String>,
    pub(super) merged_by: Option<String>,
    pub(super) created_at: u64,
    pub(super) updated_at: u64,
    pub(super) closed_at: Option<u64>,
    pub(super) merged_at: Option<u64>,
}

/// One review as the forge stores it.
pub(super) struct ReviewRec {
    /// 1, 2, … across the repository.
    pub(super) id: u64,
    pub(super) number: u64,
    pub(super) user: String,
    /// GitHub's word: `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED` (as given).
    pub(super) state: String,
    pub(super) body: String,
    /// The head's tip when the review was given.
    pub(super) commit_id: String,
    pub(super) submitted_at: u64,
}

/// Why a pull request was not opened.
#[derive(Debug)]
pub(super) enum CreateError {
    /// The head branch is not in the bare repository.
    NoHead,
    /// The base branch is not in the bare repository.
    NoBase,
    /// An open pull request for the same head and base exists: its number.
    Exists(u64),
    /// The head has no commits that are not in the base.
    NoCommits,
    /// git failed.
    Git(String),
}

impl State {
    pub(super) fn new(
        flavor: Flavor,
        remote: &Path,
        owner: &str,
        name: &str,
        token: &str,
        origin: String,
        jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    ) -> State {
        State {
            flavor,
            remote: remote.to_path_buf(),
            owner: owner.to_string(),
            token_user: owner.to_string(),
            name: name.to_string(),
            token: token.to_string(),
            origin,
            default_branch: crate::git::head_branch(remote).unwrap_or_else(|_| "main".into()),
            delay: Duration::ZERO,
            pulls: Vec::new(),
            reviews: Vec::new(),
            requests: Vec::new(),
            creates: 0,
            issues: Vec::new(),
            comments: Vec::new(),
            labels: Vec::new(),
            hooks: Hooks::new(jobs),
            limit: RateLimit::new(flavor),
            clock: 0,
        }
    }

    /// `owner/name`.
    pub(super) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Whether a request's `{owner}/{repo}` is this repository (both forges compare names
    /// without case).
    pub(super) fn is_repo(&self, owner: &str, repo: &str) -> bool {
        owner.eq_ignore_ascii_case(&self.owner) && repo.eq_ignore_ascii_case(&self.name)
    }

    /// The next timestamp: now, but always after the previous one (unix seconds).
    pub(super) fn tick(&mut self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.clock = now.max(self.clock + 1);
        self.clock
    }

    /// Pull request `number`.
    pub(super) fn pull(&self, number: u64) -> Option<&PullRec> {
        self.pulls.iter().find(|p| p.number == number)
    }

    /// Reads the branches' tips again; an open pull request whose head moved gets the new
    /// sha and a new `updated_at`, one whose base moved the new base sha (no new
    /// `updated_at`, as on GitHub). Returns the tips, `None` if git failed (nothing changes
    /// then).
    pub(super) fn refresh(&mut self) -> Option<BTreeMap<String, String>> {
        let tips = match crate::git::branch_tips(&self.remote) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("forge sim: cannot read the branches: {e}");
                return None;
            }
        };
        for i in 0..self.pulls.len() {
            let p = &self.pulls[i];
            if p.state != PullState::Open {
                continue;
            }
            let head = tips.get(&p.head).filter(|h| **h != p.head_sha).cloned();
            let base = tips.get(&p.base).filter(|b| **b != p.base_sha).cloned();
            if head.is_none() && base.is_none() {
                continue;
            }
            let now = if head.is_some() {
                Some(self.tick())
            } else {
                None
            };
            let remote = self.remote.clone();
            let p = &mut self.pulls[i];
            if let Some(h) = head {
                p.head_sha = h;
            }
            if let Some(b) = base {
                p.base_sha = b;
            }
            if let Some(now) = now {
                p.updated_at = now;
            }
            p.measure(&remote);
        }
        Some(tips)
    }

    /// The newest open pull request from `head` into `base`.
    pub(super) fn open_for(&self, head: &str, base: &str) -> Option<&PullRec> {
        self.pulls
            .iter()
            .rev()
            .find(|p| p.state == PullState::Open && p.head == head && p.base == base)
    }

    /// Opens a pull request from branch `head` into branch `base`, both in the bare
    /// repository; returns its number. The checks both forges make, in their order: the
    /// branches exist, no open pull request has the same head and base, the head has
    /// commits the base lacks.
    pub(super) fn create(
        &mut self,
        title: &str,
        body: &str,
        head: &str,
        base: &str,
        draft: bool,
    ) -> Result<u64, CreateError> {
        let tips = self
            .refresh()
            .ok_or_else(|| CreateError::Git("cannot read the branches".into()))?;
        let head_sha = tips.get(head).ok_or(CreateError::NoHead)?.clone();
        let base_sha = tips.get(base).ok_or(CreateError::NoBase)?.clone();
        if let Some(p) = self.open_for(head, base) {
            return Err(CreateError::Exists(p.number));
        }
        match crate::git::integrated(&self.remote, &head_sha, &base_sha) {
            Ok(Some(Integration::SameCommit | Integration::Ancestor)) => {
                return Err(CreateError::NoCommits);
            }
            Ok(_) => {}
            Err(e) => return Err(CreateError::Git(e.to_string())),
        }
        let now = self.tick();
        let number = self.next_number();
        let mut pull = PullRec {
            number,
            title: title.to_string(),
            body: body.to_string(),
            head: head.to_string(),
            base: base.to_string(),
            draft,
            state: PullState::Open,
            head_sha,
            base_sha,
            compare: None,
            mergeable: None,
            merge_commit_sha: None,
            merged_by: None,
            created_at: now,
            updated_at: now,
            closed_at: None,
            merged_at: None,
        };
        pull.measure(&self.remote);
        self.pulls.push(pull);
        self.creates += 1;
        Ok(number)
    }

    /// See [`super::ForgeServer::merge`].
    pub(super) fn merge(&mut self, number: u64, strategy: &str) -> Result<String, String> {
        let strategy: Strategy = strategy.parse()?;
        let tips = self.refresh().ok_or("cannot read the branches")?;
        let p = self
            .pull(number)
            .ok_or_else(|| format!("no pull request #{number}"))?;
        if p.state != PullState::Open {
            return Err(format!("pull request #{number} is not open"));
        }
        if !tips.contains_key(&p.head) {
            return Err(format!("the head branch {} is gone", p.head));
        }
        let message = match (self.flavor, strategy) {
            (Flavor::GitHub, Strategy::Merge) => format!(
                "Merge pull request #{number} from {}/{}\n\n{}",
                self.owner, p.head, p.title
            ),
            (Flavor::Gitea | Flavor::Forgejo, Strategy::Merge) => format!(
                "Merge pull request '{}' (#{number}) from {} into {}",
                p.title, p.head, p.base
            ),
            _ => format!("{} (#{number})", p.title),
        };
        let landed = crate::git::land(&self.remote, &p.base, &p.head_sha, strategy, &message, None)
            .map_err(|e| e.to_string())?;
        let now = self.tick();
        let merger = self.owner.clone();
        if let Some(p) = self.pulls.iter_mut().find(|p| p.number == number) {
            p.state = PullState::Merged;
            p.base_sha.clone_from(&landed.base_before);
            p.merge_commit_sha = Some(landed.commit.clone());
            p.merged_by = Some(merger);
            p.merged_at = Some(now);
            p.closed_at = Some(now);
            p.updated_at = now;
        }
        Ok(landed.commit)
    }

    /// See [`super::ForgeServer::close`].
    pub(super) fn close(&mut self, number: u64) {
        self.refresh();
        let now = self.tick();
        match self.pulls.iter_mut().find(|p| p.number == number) {
            Some(p) if p.state == PullState::Open => {
                p.state = PullState::Closed;
                p.closed_at = Some(now);
                p.updated_at = now;
            }
            _ => tracing::warn!("forge sim: pull request #{number} is not open; not closed"),
        }
    }

    /// See [`super::ForgeServer::review`].
    pub(super) fn review(&mut self, number: u64, user: &str, state: &str, body: &str) {
        let tips = self.refresh().unwrap_or_default();
        let now = self.tick();
        let Some(p) = self.pulls.iter_mut().find(|p| p.number == number) else {
            tracing::warn!("forge sim: no pull request #{number} to review");
            return;
        };
        let commit_id = tips.get(&p.head).unwrap_or(&p.head_sha).clone();
        p.updated_at = now;
        let id = u64::try_from(self.reviews.len()).map_or(u64::MAX, |n| n + 1);
        self.reviews.push(ReviewRec {
            id,
            number,
            user: user.to_string(),
            state: state.to_ascii_uppercase(),
            body: body.to_string(),
            commit_id,
            submitted_at: now,
        });
    }
}

impl PullRec {
    /// Compares head with base again (commits, diff size, conflicts).
    fn measure(&mut self, remote: &Path) {
        self.compare = crate::git::compare(remote, &self.base_sha, &self.head_sha).ok();
        self.mergeable = crate::git::conflicts(remote, &self.base_sha, &self.head_sha)
            .ok()
            .map(|c| c.is_none());
    }

    /// The public snapshot.
    pub(super) fn snapshot(&self) -> Pull {
        Pull {
            number: self.number,
            title: self.title.clone(),
            body: self.body.clone(),
            head: self.head.clone(),
            base: self.base.clone(),
            state: self.state,
            draft: self.draft,
            merge_commit_sha: self.merge_commit_sha.clone(),
            head_sha: self.head_sha.clone(),
            updated_at: self.updated_at,
        }
    }

    /// `open` or `closed` (a merged pull request is closed), as both forges say.
    pub(super) fn state_word(&self) -> &'static str {
        match self.state {
            PullState::Open => "open",
            PullState::Closed | PullState::Merged => "closed",
        }
    }
}

/// A user's id on the forge: stable for a login (from its SHA-256), in 1000..=4_295_000.
pub(super) fn user_id(login: &str) -> u64 {
    let digest = Sha256::digest(login.as_bytes());
    let top = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    1000 + u64::from(top % 4_294_000)
}

/// Hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
