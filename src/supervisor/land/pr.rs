//! A `pr` landing: the task's branch pushed to the project's remote and a pull request opened
//! on its forge ([`open`]), then followed until the forge merges or closes it ([`follow`]).
//! Each call is one step; what the forge said goes to the engine as an [`Input`].
//!
//! A pull request is opened at most once per head and base: before creating one, the open
//! pull request of the branch is looked for and adopted (a lander killed after the forge
//! created it and before the landing recorded it finds it there), and a create the forge
//! refuses because one exists looks again.

use std::path::Path;

use rusqlite::Connection;

use super::{StepError, base_of, db};
use crate::config::Config;
use crate::config::land::{LandConfig, OnChangesRequested};
use crate::forge::{self, Client, ForgeError, NewPull, Polled, PrState, Target};
use crate::pipeline::transition::LandFailure;
use crate::pipeline::{Input, LandResult};
use crate::store::events::{self, About, EventKind};
use crate::store::{Store, tasks::Task};
use crate::store::{StoreError, landings, now_ms, projects, tasks};

/// How often landing `l`'s pull request is read, ms: its project's `poll`.
///
/// # Errors
/// Store failures.
pub(super) fn poll_ms(
    cfg: &Config,
    conn: &Connection,
    l: &landings::Landing,
) -> Result<i64, StoreError> {
    let task = tasks::get(conn, l.task_id)?;
    let project = projects::get(conn, task.project_id)?;
    let poll = cfg
        .land
        .for_project(project.land.as_deref())
        .map_or(cfg.land.poll, |land| land.poll);
    Ok(i64::try_from(poll.as_millis()).unwrap_or(i64::MAX))
}

/// What the forge is, for a landing: the settings, the repository, a client.
struct Forge {
    land: LandConfig,
    client: Client,
    task: Task,
    repo: std::path::PathBuf,
}

/// The forge of landing `l`'s project, with a client holding the token; `Err(Ok(failure))`
/// when the operator must act first (no remote, no forge told, no token).
fn forge(cfg: &Config, store: &Store, l: &landings::Landing) -> Result<Forge, Stop> {
    let task = tasks::get(store.conn(), l.task_id).map_err(db)?;
    let project = projects::get(store.conn(), task.project_id).map_err(db)?;
    let land = cfg
        .land
        .for_project(project.land.as_deref())
        .map_err(|e| StepError::Other(e.to_string()))?;
    let repo = std::path::PathBuf::from(&project.path);
    let then = format!("then `bosun task land {}`", task.key);
    let url = git_step(crate::git::remote_url(&repo, &land.remote))?;
    let Some(url) = url else {
        return Err(Stop::Failed(format!(
            "the project's repository has no remote {:?} to push to: add it (`git remote add`) \
             or set remote in [projects.land], {then}",
            land.remote
        )));
    };
    let target = Target::resolve(&land.forge, &land.remote, Some(&url))
        .map_err(|why| Stop::Failed(format!("{why}, {then}")))?;
    let token = std::env::var(&target.token_env)
        .ok()
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(Stop::Failed(format!(
            "${} is not set where the supervisor runs: set it to a token that may push and \
             open pull requests on {} {}/{} and restart the supervisor, {then}",
            target.token_env,
            target.kind.as_str(),
            target.owner,
            target.name
        )));
    };
    let client = Client::new(&target, token).map_err(Stop::from)?;
    Ok(Forge {
        land,
        client,
        task,
        repo,
    })
}

/// Why a step stopped: the operator must act (the landing fails, saying `why`), or it is
/// tried again later.
enum Stop {
    Failed(String),
    Again(StepError),
}

impl From<StepError> for Stop {
    fn from(e: StepError) -> Stop {
        Stop::Again(e)
    }
}

impl From<ForgeError> for Stop {
    fn from(e: ForgeError) -> Stop {
        if e.transient() {
            Stop::Again(StepError::Other(e.to_string()))
        } else {
            Stop::Failed(e.to_string())
        }
    }
}

fn git_step<T>(r: Result<T, crate::git::GitError>) -> Result<T, Stop> {
    r.map_err(|e| Stop::Again(StepError::Other(crate::text::plain(&e.to_string()))))
}

/// The input for a failed landing, or the error to try again after.
fn settle(landing: i64, r: Result<Input, Stop>) -> Result<Input, StepError> {
    match r {
        Ok(input) => Ok(input),
        Err(Stop::Again(e)) => Err(e),
        Err(Stop::Failed(why)) => Ok(Input::Landed {
            landing,
            result: LandResult::Failed(LandFailure::Other { why }),
        }),
    }
}

/// Pushes landing `l`'s branch and opens its pull request (or adopts the open one): the
/// engine is told it is in review, or why it failed.
///
/// # Errors
/// A step to try again later (the forge or the remote unreachable, the database).
pub(super) fn open(cfg: &Config, store: &Store, l: &landings::Landing) -> Result<Input, StepError> {
    settle(l.id, open_pr(cfg, store, l))
}

fn open_pr(cfg: &Config, store: &Store, l: &landings::Landing) -> Result<Input, Stop> {
    let f = forge(cfg, store, l)?;
    let base = base_of(&f.repo, l)?;
    if let Err(e) = crate::git::push(&f.repo, &f.land.remote, &l.branch) {
        return Err(Stop::Again(StepError::Other(format!(
            "pushing {} to {} failed: {}",
            l.branch,
            f.land.remote,
            crate::text::plain(&e.to_string())
        ))));
    }
    crate::crash::point("land_pushed");
    let pr = match f.client.find_open(&l.branch, &base)? {
        Some(pr) => pr,
        None => {
            let sections = f
                .task
                .worktree
                .as_deref()
                .map(|wt| forge::body::sections(&cfg.stages, Path::new(wt), &f.task.key))
                .unwrap_or_default();
            let body = forge::body::build(&f.task.key, &sections, None);
            let title = forge::body::title(&f.task.key, &f.task.title);
            let pull = NewPull {
                title: &title,
                body: &body,
                head: &l.branch,
                base: &base,
            };
            match f.client.create(&pull) {
                Ok(pr) => pr,
                // One exists after all (opened meanwhile, or the forge's list lagged).
                Err(ForgeError::Refused { .. }) if found(&f, &l.branch, &base)?.is_some() => {
                    found(&f, &l.branch, &base)?.ok_or_else(|| {
                        Stop::Again(StepError::Other("the pull request vanished".into()))
                    })?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    crate::crash::point("land_pr_opened");
    Ok(Input::PrOpened {
        landing: l.id,
        number: i64::try_from(pr.number).unwrap_or(i64::MAX),
        url: pr.url,
    })
}

fn found(f: &Forge, head: &str, base: &str) -> Result<Option<forge::PullRequest>, Stop> {
    Ok(f.client.find_open(head, base)?)
}

/// Reads landing `l`'s pull request (conditionally on its last ETag): merged → landed; closed
/// → failed; a reviewer asking for changes → failed with the reviews (`on_changes_requested
/// = "rollback"`) or a note recorded (`"wait"`); `None` when it is still open and there is
/// nothing for the engine.
///
/// # Errors
/// A step to try again later (the forge unreachable, the database).
pub(super) fn follow(
    cfg: &Config,
    store: &Store,
    l: &landings::Landing,
) -> Result<Option<Input>, StepError> {
    match follow_pr(cfg, store, l) {
        Ok(input) => Ok(input),
        Err(stop) => settle(l.id, Err(stop)).map(Some),
    }
}

fn follow_pr(cfg: &Config, store: &Store, l: &landings::Landing) -> Result<Option<Input>, Stop> {
    let Some(number) = l.pr_number.and_then(|n| u64::try_from(n).ok()) else {
        return Err(Stop::Failed(
            "the landing is in review without a pull request".into(),
        ));
    };
    let f = forge(cfg, store, l)?;
    let key = &f.task.key;
    let last = landings::etag(store.conn(), l.id).map_err(db)?;
    let (pr, etag) = match f.client.poll(number, last.as_deref())? {
        Polled::Unchanged => {
            let keep = l.error.as_deref();
            store
                .write(|tx| landings::polled(tx, l.id, None, keep, now_ms()))
                .map_err(db)?;
            return Ok(None);
        }
        Polled::Changed { pr, etag } => (pr, etag),
    };
    let merged = match pr.state {
        PrState::Merged => true,
        PrState::Closed => f.client.is_merged(number)?,
        PrState::Open => false,
    };
    if merged {
        crate::crash::point("land_pr_merged");
        let base = base_of(&f.repo, l)?;
        let commit = pr.merge_commit.or(pr.head_sha).unwrap_or_default();
        return Ok(Some(Input::Landed {
            landing: l.id,
            result: LandResult::Landed {
                base,
                commit,
                note: Some(format!("pull request #{number} merged on the forge")),
            },
        }));
    }
    if pr.state == PrState::Closed {
        return Err(Stop::Failed(format!(
            "pull request #{number} was closed on the forge without merging: reopen it and \
             `bosun task land {key}` to follow it again (or to open a new one), or `bosun task \
             cancel {key}`"
        )));
    }
    let reviews = f.client.reviews(number)?;
    let head = pr.head_sha.clone().unwrap_or_default();
    let asked = forge::changes_requested(&reviews, &head);
    if asked.is_empty() {
        store
            .write(|tx| landings::polled(tx, l.id, etag.as_deref(), None, now_ms()))
            .map_err(db)?;
        return Ok(None);
    }
    let by: Vec<String> = asked.iter().map(|r| crate::text::plain(&r.user)).collect();
    if f.land.on_changes_requested == OnChangesRequested::Rollback {
        let text = asked
            .iter()
            .map(|r| {
                format!(
                    "Review by {}:\n{}",
                    crate::text::plain(&r.user),
                    crate::text::plain_lines(&r.body)
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        let text: String = text.chars().take(forge::body::SECTION_MAX * 2).collect();
        return Ok(Some(Input::Landed {
            landing: l.id,
            result: LandResult::Failed(LandFailure::ChangesRequested {
                number: i64::try_from(number).unwrap_or(i64::MAX),
                by,
                reviews: text,
            }),
        }));
    }
    let note = format!("changes requested by {}", by.join(", "));
    let new = l.error.as_deref() != Some(note.as_str());
    let message = format!(
        "{key}: {note} on pull request #{number}; waiting for the branch to change \
         (on_changes_requested = \"wait\")"
    );
    store
        .write(|tx| {
            landings::polled(tx, l.id, etag.as_deref(), Some(&note), now_ms())?;
            if new {
                events::record(
                    tx,
                    EventKind::InReview,
                    About::task(l.task_id),
                    "lander",
                    message.as_str(),
                    now_ms(),
                )?;
            }
            Ok::<_, StoreError>(())
        })
        .map_err(db)?;
    Ok(None)
}
