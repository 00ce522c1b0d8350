//! GitHub's REST API for pull requests, with octocrab (GitHub REST docs, "Pulls"): list by
//! head (`GET /repos/{o}/{r}/pulls?head=owner:branch`), create (`POST …/pulls`), get with
//! `If-None-Match` (`GET …/pulls/{n}`, 304 when unchanged), check merged (`GET
//! …/pulls/{n}/merge`, 204 or 404) and reviews (`GET …/pulls/{n}/reviews`).

use http_body_util::BodyExt;
use octocrab::Octocrab;
use octocrab::models::pulls::{PullRequest as GhPull, Review as GhReview, ReviewState};

use super::{ForgeError, NewPull, Polled, PrState, PullRequest, Review, TIMEOUT, Target, Verdict};

pub(super) struct Github {
    pub(super) octo: Octocrab,
    pub(super) owner: String,
    pub(super) name: String,
    env: String,
}

impl Github {
    /// Must be called inside the client's runtime.
    pub(super) fn new(t: &Target, token: String) -> Result<Github, ForgeError> {
        let octo = Octocrab::builder()
            .base_uri(t.api_url.as_str())
            .map_err(|e| ForgeError::Refused {
                status: 0,
                message: format!("api_url {:?} is not a URL: {}", t.api_url, first_line(&e)),
            })?
            .personal_token(token)
            .set_connect_timeout(Some(TIMEOUT))
            .set_read_timeout(Some(TIMEOUT))
            .set_write_timeout(Some(TIMEOUT))
            .build()
            .map_err(|e| ForgeError::Unreachable(first_line(&e)))?;
        Ok(Github {
            octo,
            owner: t.owner.clone(),
            name: t.name.clone(),
            env: t.token_env.clone(),
        })
    }

    pub(super) fn err(&self, e: octocrab::Error) -> ForgeError {
        match e {
            octocrab::Error::GitHub { source, .. } => {
                let h = source.headers.as_ref();
                let limited =
                    super::spent(|n| h.and_then(|h| h.get(n)).and_then(|v| v.to_str().ok()));
                let mut message = source.message.clone();
                if let Some(errors) = &source.errors {
                    let detail: Vec<String> = errors
                        .iter()
                        .filter_map(|e| e.get("message").and_then(|m| m.as_str()))
                        .map(str::to_string)
                        .collect();
                    if !detail.is_empty() {
                        message = format!("{message}: {}", detail.join("; "));
                    }
                }
                ForgeError::from_status(source.status_code.as_u16(), &message, &self.env, limited)
            }
            other => ForgeError::Unreachable(first_line(&other)),
        }
    }

    pub(super) async fn find_open(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<PullRequest>, ForgeError> {
        let page = self
            .octo
            .pulls(&self.owner, &self.name)
            .list()
            .state(octocrab::params::State::Open)
            .head(format!("{}:{head}", self.owner))
            .base(base)
            .per_page(10)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(page
            .items
            .iter()
            .find(|p| p.head.ref_field == head)
            .map(pull))
    }

    pub(super) async fn create(&self, p: &NewPull<'_>) -> Result<PullRequest, ForgeError> {
        let created = self
            .octo
            .pulls(&self.owner, &self.name)
            .create(p.title, p.head, p.base)
            .body(p.body)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(pull(&created))
    }

    pub(super) async fn poll(&self, number: u64, etag: Option<&str>) -> Result<Polled, ForgeError> {
        let route = format!("/repos/{}/{}/pulls/{number}", self.owner, self.name);
        Ok(
            match self.get_conditional::<GhPull>(&route, etag).await?.0 {
                None => Polled::Unchanged,
                Some((pr, etag)) => Polled::Changed {
                    pr: pull(&pr),
                    etag,
                },
            },
        )
    }

    /// `GET route` with `If-None-Match: etag` (GitHub REST docs, "Conditional requests"):
    /// `None` when unchanged (304), else the answer read as `T` and its ETag; and what the
    /// answer said of the rate limit (its reset, ms since the epoch, when spent).
    pub(super) async fn get_conditional<T: serde::de::DeserializeOwned>(
        &self,
        route: &str,
        etag: Option<&str>,
    ) -> Result<(Option<(T, Option<String>)>, Option<i64>), ForgeError> {
        let mut headers = http::HeaderMap::new();
        if let Some(tag) = etag.and_then(|t| http::HeaderValue::from_str(t).ok()) {
            headers.insert(http::header::IF_NONE_MATCH, tag);
        }
        let response = self
            .octo
            ._get_with_headers(route, Some(headers))
            .await
            .map_err(|e| self.err(e))?;
        let h = response.headers();
        let limit = super::spent(|n| h.get(n).and_then(|v| v.to_str().ok())).flatten();
        if response.status() == http::StatusCode::NOT_MODIFIED {
            return Ok((None, limit));
        }
        let response = octocrab::map_github_error(response)
            .await
            .map_err(|e| self.err(e))?;
        let etag = response
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ForgeError::Unreachable(first_line(&e)))?
            .to_bytes();
        let value: T = serde_json::from_slice(&bytes).map_err(|e| {
            ForgeError::Unreachable(format!("the forge's answer to {route} is unreadable: {e}"))
        })?;
        Ok((Some((value, etag)), limit))
    }

    pub(super) async fn is_merged(&self, number: u64) -> Result<bool, ForgeError> {
        self.octo
            .pulls(&self.owner, &self.name)
            .is_merged(number)
            .await
            .map_err(|e| self.err(e))
    }

    pub(super) async fn reviews(&self, number: u64) -> Result<Vec<Review>, ForgeError> {
        let page = self
            .octo
            .pulls(&self.owner, &self.name)
            .list_reviews(number)
            .per_page(100)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(page.items.iter().map(review).collect())
    }
}

fn pull(p: &GhPull) -> PullRequest {
    let merged = p.merged_at.is_some() || p.merged == Some(true);
    let state = match (&p.state, merged) {
        (_, true) => PrState::Merged,
        (Some(octocrab::models::IssueState::Closed), false) => PrState::Closed,
        _ => PrState::Open,
    };
    PullRequest {
        number: p.number,
        url: p
            .html_url
            .as_ref()
            .map_or_else(|| p.url.clone(), |u| u.to_string()),
        state,
        merge_commit: p.merge_commit_sha.clone().filter(|_| merged),
        head_sha: Some(p.head.sha.clone()),
    }
}

fn review(r: &GhReview) -> Review {
    Review {
        user: r.user.as_ref().map(|u| u.login.clone()).unwrap_or_default(),
        verdict: match r.state {
            Some(ReviewState::Approved) => Verdict::Approved,
            Some(ReviewState::ChangesRequested) => Verdict::ChangesRequested,
            _ => Verdict::Other,
        },
        body: r.body.clone().unwrap_or_default(),
        commit: r.commit_id.clone(),
    }
}

/// The first line of an error's text (octocrab's carry a backtrace after it).
pub(super) fn first_line(e: &dyn std::fmt::Display) -> String {
    crate::text::plain(e.to_string().lines().next().unwrap_or(""))
}
