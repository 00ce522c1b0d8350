//! Plane's work items (Plane API reference, self-hosted `/api/v1`, `X-API-Key`): issues of
//! `/workspaces/{slug}/projects/{project}/issues/` (cursor pages), one by UUID, its comments
//! (`comment_html`), labels and states by UUID (`…/labels/`, `…/states/`), members for
//! names. Plane lists without a label filter and sends no ETag: the labels are matched here.
//! An issue is open unless its state's group is `completed` or `cancelled`.

use std::collections::HashMap;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::{Dated, Limit, Listed};
use crate::forge::{ForgeError, TIMEOUT};
use crate::intake::events::{TrackerComment, TrackerIssue, rfc3339_ms};

pub(super) struct Plane {
    http: reqwest::Client,
    /// `{api}/workspaces/{slug}/projects/{project}`.
    project_url: String,
    /// `{api}/workspaces/{slug}`.
    workspace_url: String,
    /// The web app's page of an issue, before its UUID.
    web_url: String,
    token: String,
    env: String,
    /// The names, read once per client (a client lives for one intake pass; Plane allows 60
    /// requests a minute).
    names: std::sync::Mutex<Option<std::sync::Arc<Names>>>,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    results: Vec<Value>,
    #[serde(default)]
    next_cursor: Option<String>,
    #[serde(default)]
    next_page_results: bool,
}

/// Names of a project's labels, states' groups and members, by UUID.
#[derive(Default)]
struct Names {
    labels: HashMap<String, String>,
    groups: HashMap<String, String>,
    members: HashMap<String, String>,
}

/// Cursor pages read at most (of 100).
const PAGES: usize = 5;

impl Plane {
    pub(super) fn new(
        api_url: &str,
        repo: &str,
        env: &str,
        token: String,
    ) -> Result<Plane, ForgeError> {
        let (slug, project) = repo.split_once('/').unwrap_or((repo, ""));
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("bosun/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ForgeError::Unreachable(crate::text::plain(&e.to_string())))?;
        let web = api_url.trim_end_matches("/api/v1");
        Ok(Plane {
            http,
            project_url: format!("{api_url}/workspaces/{slug}/projects/{project}"),
            workspace_url: format!("{api_url}/workspaces/{slug}"),
            web_url: format!("{web}/{slug}/projects/{project}/issues"),
            token,
            env: env.to_string(),
            names: std::sync::Mutex::new(None),
        })
    }

    fn request(&self, method: Method, url: String) -> RequestBuilder {
        self.http
            .request(method, url)
            .header("X-API-Key", &self.token)
            .header(reqwest::header::ACCEPT, "application/json")
    }

    async fn call(&self, req: RequestBuilder) -> Result<Value, ForgeError> {
        let r = req
            .send()
            .await
            .map_err(|e| ForgeError::Unreachable(crate::text::plain(&e.to_string())))?;
        let status = r.status();
        let headers = r.headers().clone();
        let limited = crate::forge::spent(|n| headers.get(n).and_then(|v| v.to_str().ok()));
        if status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        let text = r.text().await.unwrap_or_default();
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("error")
                        .or_else(|| v.get("detail"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or(text);
            return Err(ForgeError::from_status(
                status.as_u16(),
                &message,
                &self.env,
                limited,
            ));
        }
        serde_json::from_str(&text)
            .map_err(|e| ForgeError::Unreachable(format!("Plane's answer is unreadable: {e}")))
    }

    /// Every item of a cursor-paged list (at most [`PAGES`] pages), or a plain list.
    async fn all(&self, url: &str) -> Result<Vec<Value>, ForgeError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..PAGES {
            let mut u = format!("{url}?per_page=100");
            if let Some(c) = &cursor {
                u.push_str(&format!("&cursor={c}"));
            }
            let v = self.call(self.request(Method::GET, u)).await?;
            if let Value::Array(items) = v {
                out.extend(items);
                break;
            }
            let page: Page = serde_json::from_value(v)
                .map_err(|e| ForgeError::Unreachable(format!("Plane's page is unreadable: {e}")))?;
            out.extend(page.results);
            match page.next_cursor.filter(|_| page.next_page_results) {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }

    async fn names(&self) -> Result<std::sync::Arc<Names>, ForgeError> {
        if let Some(n) = self.names.lock().ok().and_then(|g| g.clone()) {
            return Ok(n);
        }
        let n = std::sync::Arc::new(self.read_names().await?);
        if let Ok(mut g) = self.names.lock() {
            *g = Some(std::sync::Arc::clone(&n));
        }
        Ok(n)
    }

    async fn read_names(&self) -> Result<Names, ForgeError> {
        let mut n = Names::default();
        let pairs = |items: Vec<Value>, field: &str| -> HashMap<String, String> {
            items
                .iter()
                .filter_map(|v| {
                    Some((
                        v.get("id")?.as_str()?.to_string(),
                        v.get(field)?.as_str()?.to_string(),
                    ))
                })
                .collect()
        };
        n.labels = pairs(
            self.all(&format!("{}/labels/", self.project_url)).await?,
            "name",
        );
        n.groups = pairs(
            self.all(&format!("{}/states/", self.project_url)).await?,
            "group",
        );
        n.members = pairs(
            self.all(&format!("{}/members/", self.workspace_url))
                .await?,
            "display_name",
        );
        Ok(n)
    }

    fn issue(&self, v: &Value, names: &Names) -> Option<TrackerIssue> {
        let id = v.get("id")?.as_str()?.to_string();
        let ids = |field: &str| -> Vec<String> {
            v.get(field)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let state = v.get("state").and_then(Value::as_str).unwrap_or("");
        let group = names.groups.get(state).map_or("", String::as_str);
        Some(TrackerIssue {
            number: v.get("sequence_id")?.as_i64()?,
            url: format!("{}/{id}", self.web_url),
            id: Some(id),
            title: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            body: strip_html(
                v.get("description_html")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            ),
            open: !matches!(group, "completed" | "cancelled"),
            labels: ids("labels")
                .iter()
                .filter_map(|l| names.labels.get(l).cloned())
                .collect(),
            assignees: ids("assignees")
                .iter()
                .filter_map(|a| names.members.get(a).cloned())
                .collect(),
            pull_request: false,
        })
    }

    pub(super) async fn list_open(
        &self,
        _labels: &[String],
        _etag: Option<&str>,
    ) -> Result<(Listed, Limit), ForgeError> {
        let names = self.names().await?;
        let mut issues: Vec<TrackerIssue> = self
            .all(&format!("{}/issues/", self.project_url))
            .await?
            .iter()
            .filter_map(|v| self.issue(v, &names))
            .filter(|i| i.open)
            .collect();
        issues.sort_by_key(|i| i.number);
        Ok((Listed::Changed { issues, etag: None }, None))
    }

    pub(super) async fn issue_by_id(&self, id: &str) -> Result<TrackerIssue, ForgeError> {
        let names = self.names().await?;
        let v = self
            .call(self.request(Method::GET, format!("{}/issues/{id}/", self.project_url)))
            .await?;
        self.issue(&v, &names)
            .ok_or_else(|| ForgeError::Unreachable("Plane's work item is unreadable".into()))
    }

    pub(super) async fn comments(&self, id: &str) -> Result<Vec<Dated>, ForgeError> {
        let names = self.names().await?;
        let items = self
            .all(&format!("{}/issues/{id}/comments/", self.project_url))
            .await?;
        Ok(items
            .iter()
            .filter_map(|c| {
                let actor = c.get("actor").and_then(Value::as_str).unwrap_or("");
                let at = rfc3339_ms(c.get("created_at").and_then(Value::as_str).unwrap_or(""));
                Some(Dated {
                    comment: TrackerComment {
                        id: c.get("id")?.as_str()?.to_string(),
                        user: names.members.get(actor).cloned().unwrap_or_default(),
                        body: strip_html(
                            c.get("comment_html").and_then(Value::as_str).unwrap_or(""),
                        ),
                        created_at: Some(at),
                    },
                    created_at: at,
                })
            })
            .collect())
    }

    pub(super) async fn comment(&self, id: &str, body: &str) -> Result<String, ForgeError> {
        let url = format!("{}/issues/{id}/comments/", self.project_url);
        let v = self
            .call(self.request(Method::POST, url).json(&serde_json::json!({
                "comment_html": to_html(body),
            })))
            .await?;
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ForgeError::Unreachable("Plane's comment has no id".into()))
    }

    pub(super) async fn edit_comment(
        &self,
        issue: &str,
        id: &str,
        body: &str,
    ) -> Result<(), ForgeError> {
        let url = format!("{}/issues/{issue}/comments/{id}/", self.project_url);
        self.call(self.request(Method::PATCH, url).json(&serde_json::json!({
            "comment_html": to_html(body),
        })))
        .await?;
        Ok(())
    }

    pub(super) async fn labels(
        &self,
        id: &str,
        add: &[&str],
        remove: &[&str],
    ) -> Result<(), ForgeError> {
        let mut names = Names {
            labels: self.names().await?.labels.clone(),
            ..Names::default()
        };
        for name in add {
            if !names.labels.values().any(|n| n == name) {
                let v = self
                    .call(
                        self.request(Method::POST, format!("{}/labels/", self.project_url))
                            .json(&serde_json::json!({ "name": name, "color": "#ededed" })),
                    )
                    .await?;
                if let Some(new) = v.get("id").and_then(Value::as_str) {
                    names.labels.insert(new.to_string(), (*name).to_string());
                }
            }
        }
        let v = self
            .call(self.request(Method::GET, format!("{}/issues/{id}/", self.project_url)))
            .await?;
        let mut ids: Vec<String> = v
            .get("labels")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let by_name = |n: &str| {
            names
                .labels
                .iter()
                .find(|(_, v)| v.as_str() == n)
                .map(|(k, _)| k.clone())
        };
        ids.retain(|l| {
            !remove
                .iter()
                .any(|r| by_name(r).as_deref() == Some(l.as_str()))
        });
        for a in add {
            if let Some(l) = by_name(a).filter(|l| !ids.contains(l)) {
                ids.push(l);
            }
        }
        self.call(
            self.request(Method::PATCH, format!("{}/issues/{id}/", self.project_url))
                .json(&serde_json::json!({ "labels": ids })),
        )
        .await?;
        Ok(())
    }
}

/// Text of Plane's rich text: tags dropped, `</p>` and `<br>` as line breaks, entities
/// decoded.
pub fn strip_html(html: &str) -> String {
    let html = html
        .replace("</p>", "\n")
        .replace("<br>", "\n")
        .replace("<br/>", "\n")
        .replace("<br />", "\n");
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim_end()
        .to_string()
}

/// Text as Plane's rich text: each line a paragraph, escaped.
fn to_html(text: &str) -> String {
    text.lines()
        .map(|l| {
            let e = l
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!("<p>{e}</p>")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rich_text_both_ways() {
        let html = super::to_html("a <b> & c\n/approve");
        assert_eq!(html, "<p>a &lt;b&gt; &amp; c</p><p>/approve</p>");
        assert_eq!(super::strip_html(&html), "a <b> & c\n/approve");
    }
}
