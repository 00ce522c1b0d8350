//! Gitea's and Forgejo's REST API for pull requests, with reqwest (Gitea API reference,
//! `/api/v1`, "repository"): the pull request of a base and head (`GET
//! /repos/{o}/{r}/pulls/{base}/{head}`, Gitea 1.18+), create (`POST …/pulls`), get (`GET
//! …/pulls/{n}`, with `If-None-Match` sent, though Gitea answers API JSON without an ETag),
//! check merged (`GET …/pulls/{n}/merge`, 204 or 404) and reviews (`GET
//! …/pulls/{n}/reviews`). The token goes in `Authorization: token …`.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;

use super::{ForgeError, NewPull, Polled, PrState, PullRequest, Review, TIMEOUT, Target, Verdict};

pub(super) struct Gitea {
    http: reqwest::Client,
    repo_url: String,
    token: String,
    env: String,
}

#[derive(Deserialize)]
struct Branch {
    #[serde(rename = "ref")]
    name: String,
    sha: Option<String>,
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    html_url: Option<String>,
    url: Option<String>,
    state: String,
    #[serde(default)]
    merged: bool,
    merge_commit_sha: Option<String>,
    head: Branch,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct PullReview {
    user: Option<User>,
    state: String,
    #[serde(default)]
    body: String,
    commit_id: Option<String>,
    #[serde(default)]
    dismissed: bool,
}

#[derive(Deserialize)]
struct ApiError {
    message: Option<String>,
}

impl Gitea {
    pub(super) fn new(t: &Target, token: String) -> Result<Gitea, ForgeError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("bosun/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ForgeError::Unreachable(crate::text::plain(&e.to_string())))?;
        Ok(Gitea {
            http,
            repo_url: format!("{}/repos/{}/{}", t.api_url, t.owner, t.name),
            token,
            env: t.token_env.clone(),
        })
    }

    pub(super) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.repo_url))
            .header(
                reqwest::header::AUTHORIZATION,
                format!("token {}", self.token),
            )
            .header(reqwest::header::ACCEPT, "application/json")
    }

    pub(super) async fn send(&self, req: RequestBuilder) -> Result<Response, ForgeError> {
        req.send()
            .await
            .map_err(|e| ForgeError::Unreachable(crate::text::plain(&e.to_string())))
    }

    /// `response` when it succeeded, else its error, read from Gitea's `{"message": …}`.
    pub(super) async fn ok(&self, response: Response) -> Result<Response, ForgeError> {
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let limited = super::spent(|n| headers.get(n).and_then(|v| v.to_str().ok()));
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ApiError>(&text)
            .ok()
            .and_then(|e| e.message)
            .unwrap_or(text);
        Err(ForgeError::from_status(
            status.as_u16(),
            &message,
            &self.env,
            limited,
        ))
    }

    pub(super) async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        response: Response,
    ) -> Result<T, ForgeError> {
        response
            .json::<T>()
            .await
            .map_err(|e| ForgeError::Unreachable(format!("the forge's answer is unreadable: {e}")))
    }

    pub(super) async fn find_open(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<PullRequest>, ForgeError> {
        let r = self
            .send(self.request(Method::GET, &format!("/pulls/{base}/{head}")))
            .await?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let p: Pull = self.json(self.ok(r).await?).await?;
        Ok(Some(pull(&p)).filter(|p| p.state == PrState::Open))
    }

    pub(super) async fn create(&self, p: &NewPull<'_>) -> Result<PullRequest, ForgeError> {
        let body = serde_json::json!({
            "title": p.title, "body": p.body, "head": p.head, "base": p.base,
        });
        let r = self
            .send(self.request(Method::POST, "/pulls").json(&body))
            .await?;
        let created: Pull = self.json(self.ok(r).await?).await?;
        Ok(pull(&created))
    }

    pub(super) async fn poll(&self, number: u64, etag: Option<&str>) -> Result<Polled, ForgeError> {
        let mut req = self.request(Method::GET, &format!("/pulls/{number}"));
        if let Some(tag) = etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, tag);
        }
        let r = self.ok(self.send(req).await?).await?;
        if r.status() == StatusCode::NOT_MODIFIED {
            return Ok(Polled::Unchanged);
        }
        let etag = r
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let p: Pull = self.json(r).await?;
        Ok(Polled::Changed { pr: pull(&p), etag })
    }

    pub(super) async fn is_merged(&self, number: u64) -> Result<bool, ForgeError> {
        let r = self
            .send(self.request(Method::GET, &format!("/pulls/{number}/merge")))
            .await?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        self.ok(r).await.map(|_| true)
    }

    pub(super) async fn reviews(&self, number: u64) -> Result<Vec<Review>, ForgeError> {
        let r = self
            .send(self.request(Method::GET, &format!("/pulls/{number}/reviews?limit=50")))
            .await?;
        let reviews: Vec<PullReview> = self.json(self.ok(r).await?).await?;
        Ok(reviews
            .into_iter()
            .map(|r| Review {
                user: r.user.map(|u| u.login).unwrap_or_default(),
                verdict: match (r.state.as_str(), r.dismissed) {
                    (_, true) => Verdict::Other,
                    ("APPROVED", _) => Verdict::Approved,
                    ("REQUEST_CHANGES", _) => Verdict::ChangesRequested,
                    _ => Verdict::Other,
                },
                body: r.body,
                commit: r.commit_id,
            })
            .collect())
    }
}

fn pull(p: &Pull) -> PullRequest {
    let state = match (p.merged, p.state.as_str()) {
        (true, _) => PrState::Merged,
        (false, "closed") => PrState::Closed,
        _ => PrState::Open,
    };
    PullRequest {
        number: p.number,
        url: p
            .html_url
            .clone()
            .or_else(|| p.url.clone())
            .unwrap_or_default(),
        state,
        merge_commit: p.merge_commit_sha.clone().filter(|_| p.merged),
        head_sha: p.head.sha.clone().filter(|_| !p.head.name.is_empty()),
    }
}
