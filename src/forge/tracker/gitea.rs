//! Gitea's and Forgejo's issues (Gitea API reference, `/api/v1`, "issue"): `GET
//! /repos/{o}/{r}/issues?state=open&type=issues&labels=…` (up to 4 pages of 50), `GET
//! …/issues/{n}`, `GET …/issues/{n}/comments`, `POST …/issues/{n}/comments`, `PATCH
//! …/issues/comments/{id}`, labels by id (`GET`/`POST …/labels`, `POST
//! …/issues/{n}/labels`, `DELETE …/issues/{n}/labels/{id}`). Gitea sends no ETag on API
//! JSON; `If-None-Match` is sent anyway.

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::github::encode;
use super::{Dated, Limit, Listed};
use crate::forge::{ForgeError, Target};
use crate::intake::events::{HubIssue, TrackerComment, TrackerIssue};

pub(super) struct Gitea(crate::forge::gitea::Gitea);

#[derive(Deserialize)]
struct Label {
    id: i64,
    name: String,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct Comment {
    id: i64,
    #[serde(default)]
    body: String,
    user: Login,
    created_at: String,
}

/// Pages of 50 a list reads at most.
const PAGES: usize = 4;

impl Gitea {
    pub(super) fn new(target: &Target, token: String) -> Result<Gitea, ForgeError> {
        Ok(Gitea(crate::forge::gitea::Gitea::new(target, token)?))
    }

    pub(super) async fn list_open(
        &self,
        labels: &[String],
        etag: Option<&str>,
    ) -> Result<(Listed, Limit), ForgeError> {
        let g = &self.0;
        let mut out = Vec::new();
        let mut first_etag = None;
        for page in 1..=PAGES {
            let mut path = format!("/issues?state=open&type=issues&limit=50&page={page}");
            if !labels.is_empty() {
                let joined: Vec<String> = labels.iter().map(|l| encode(l)).collect();
                path.push_str(&format!("&labels={}", joined.join(",")));
            }
            let mut req = g.request(Method::GET, &path);
            if let (1, Some(tag)) = (page, etag) {
                req = req.header(reqwest::header::IF_NONE_MATCH, tag);
            }
            let r = g.ok(g.send(req).await?).await?;
            if r.status() == StatusCode::NOT_MODIFIED {
                return Ok((Listed::Unchanged, None));
            }
            if page == 1 {
                first_etag = r
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
            }
            let issues: Vec<HubIssue> = g.json(r).await?;
            let full = issues.len() == 50;
            out.extend(issues.into_iter().map(HubIssue::into_issue));
            if !full {
                break;
            }
        }
        // Gitea lists newest first; intake takes the oldest first.
        out.sort_by_key(|i| i.number);
        Ok((
            Listed::Changed {
                issues: out,
                etag: first_etag,
            },
            None,
        ))
    }

    pub(super) async fn issue(&self, number: i64) -> Result<TrackerIssue, ForgeError> {
        let g = &self.0;
        let r = g
            .ok(g
                .send(g.request(Method::GET, &format!("/issues/{number}")))
                .await?)
            .await?;
        Ok(g.json::<HubIssue>(r).await?.into_issue())
    }

    pub(super) async fn comments(&self, number: i64) -> Result<Vec<Dated>, ForgeError> {
        let g = &self.0;
        let path = format!("/issues/{number}/comments");
        let r = g.ok(g.send(g.request(Method::GET, &path)).await?).await?;
        let comments: Vec<Comment> = g.json(r).await?;
        Ok(comments
            .into_iter()
            .map(|c| Dated {
                created_at: crate::intake::events::rfc3339_ms(&c.created_at),
                comment: TrackerComment {
                    id: c.id.to_string(),
                    user: c.user.login,
                    body: c.body,
                    created_at: Some(crate::intake::events::rfc3339_ms(&c.created_at)),
                },
            })
            .collect())
    }

    pub(super) async fn comment(&self, number: i64, body: &str) -> Result<String, ForgeError> {
        let g = &self.0;
        let req = g
            .request(Method::POST, &format!("/issues/{number}/comments"))
            .json(&serde_json::json!({ "body": body }));
        let r = g.ok(g.send(req).await?).await?;
        let c: Comment = g.json(r).await?;
        Ok(c.id.to_string())
    }

    pub(super) async fn edit_comment(&self, id: &str, body: &str) -> Result<(), ForgeError> {
        let g = &self.0;
        let req = g
            .request(Method::PATCH, &format!("/issues/comments/{id}"))
            .json(&serde_json::json!({ "body": body }));
        g.ok(g.send(req).await?).await?;
        Ok(())
    }

    pub(super) async fn labels(
        &self,
        number: i64,
        add: &[&str],
        remove: &[&str],
    ) -> Result<(), ForgeError> {
        let g = &self.0;
        let r = g
            .ok(g.send(g.request(Method::GET, "/labels?limit=50")).await?)
            .await?;
        let mut known: Vec<Label> = g.json(r).await?;
        let mut ids = Vec::new();
        for name in add {
            let id = match known.iter().find(|l| l.name == *name) {
                Some(l) => l.id,
                None => {
                    let req = g
                        .request(Method::POST, "/labels")
                        .json(&serde_json::json!({ "name": name, "color": "#ededed" }));
                    let made: Label = g.json(g.ok(g.send(req).await?).await?).await?;
                    let id = made.id;
                    known.push(made);
                    id
                }
            };
            ids.push(id);
        }
        if !ids.is_empty() {
            let req = g
                .request(Method::POST, &format!("/issues/{number}/labels"))
                .json(&serde_json::json!({ "labels": ids }));
            g.ok(g.send(req).await?).await?;
        }
        for name in remove {
            let Some(l) = known.iter().find(|l| l.name == *name) else {
                continue;
            };
            let path = format!("/issues/{number}/labels/{}", l.id);
            let r = g.send(g.request(Method::DELETE, &path)).await?;
            if r.status() != StatusCode::NOT_FOUND {
                g.ok(r).await?;
            }
        }
        Ok(())
    }
}
