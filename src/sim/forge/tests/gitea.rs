//! The Gitea flavor through reqwest, statuses and JSON fields as Gitea 1.22 answers.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{BRANCH, TOKEN, World, git, runtime};
use crate::sim::forge::{Flavor, ForgeServer};

/// reqwest with the forge's token header.
struct Gitea {
    client: reqwest::Client,
    base: String,
    token: &'static str,
}

impl Gitea {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, HeaderMapLite, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if !self.token.is_empty() {
            req = req.header("authorization", format!("token {}", self.token));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let etag = resp.headers().get("etag").is_some();
        let total = resp
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, HeaderMapLite { etag, total }, json)
    }
}

/// The headers the Gitea test looks at.
struct HeaderMapLite {
    etag: bool,
    total: Option<String>,
}

#[test]
fn gitea_pull_request_lifecycle_through_reqwest() {
    let w = World::new();
    let forge = ForgeServer::start(Flavor::Gitea, &w.remote, "acme/widgets", TOKEN).unwrap();
    let base = forge.api_url();
    assert!(base.ends_with("/api/v1"));
    let tip = w.tip(BRANCH);
    runtime().block_on(async {
        let client = reqwest::Client::builder().build().unwrap();
        let api = Gitea {
            client: client.clone(),
            base: base.clone(),
            token: TOKEN,
        };
        let create = serde_json::json!({
            "title": "Fix the widget", "head": BRANCH, "base": "main", "body": "ET-001",
        });

        forge.set_delay(Duration::from_millis(200));
        let started = Instant::now();
        let (status, _, pr) = api
            .call("POST", "/repos/acme/widgets/pulls", Some(create.clone()))
            .await;
        assert!(started.elapsed() >= Duration::from_millis(200));
        forge.set_delay(Duration::ZERO);
        assert_eq!(status, 201, "{pr}");
        assert_eq!(pr["number"], 1);
        assert_eq!(pr["state"], "open");
        assert_eq!(pr["merged"], false);
        assert_eq!(pr["mergeable"], true);
        assert_eq!(pr["head"]["ref"], BRANCH);
        assert_eq!(pr["head"]["label"], BRANCH);
        assert_eq!(pr["head"]["sha"], tip.as_str());
        assert_eq!(pr["base"]["ref"], "main");
        assert_eq!(pr["base"]["repo"]["full_name"], "acme/widgets");
        assert_eq!(pr["user"]["login"], "acme");
        assert_eq!(pr["merge_base"], w.tip("main").as_str());
        let html = base.replace("/api/v1", "/acme/widgets/pulls/1");
        assert_eq!(pr["html_url"], html.as_str());
        let updated = pr["updated_at"].clone();

        // The same head and base again: 409 with the existing one's number.
        let (status, _, e) = api
            .call("POST", "/repos/acme/widgets/pulls", Some(create))
            .await;
        assert_eq!(status, 409);
        let message = e["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "pull request already exists for these targets [id: 101, issue_id: 1,"
            ),
            "{message}"
        );
        let missing = serde_json::json!({"title": "x", "head": "nope", "base": "main"});
        let (status, _, _) = api
            .call("POST", "/repos/acme/widgets/pulls", Some(missing))
            .await;
        assert_eq!(status, 404);
        assert_eq!(forge.creates(), 1);

        // By base and head (the head has a slash), by number, no ETag.
        let (status, h, by_branch) = api
            .call(
                "GET",
                &format!("/repos/acme/widgets/pulls/main/{BRANCH}"),
                None,
            )
            .await;
        assert_eq!((status, by_branch["number"].as_u64()), (200, Some(1)));
        assert!(!h.etag);
        let (status, _, _) = api
            .call("GET", "/repos/acme/widgets/pulls/main/bosun/other", None)
            .await;
        assert_eq!(status, 404);
        let (status, _, one) = api.call("GET", "/repos/acme/widgets/pulls/1", None).await;
        assert_eq!(
            (status, one["title"].as_str()),
            (200, Some("Fix the widget"))
        );
        let (status, h, list) = api
            .call("GET", "/repos/acme/widgets/pulls?state=all", None)
            .await;
        assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)));
        assert_eq!(h.total.as_deref(), Some("1"));
        let (status, _, _) = api.call("GET", "/repos/acme/widgets/pulls/2", None).await;
        assert_eq!(status, 404);
        let (status, _, _) = api
            .call("GET", "/repos/acme/widgets/pulls/1/merge", None)
            .await;
        assert_eq!(status, 404);

        // A review in Gitea's words, on the head's tip.
        forge.review(1, "bob", "CHANGES_REQUESTED", "add a test");
        let (status, _, reviews) = api
            .call("GET", "/repos/acme/widgets/pulls/1/reviews", None)
            .await;
        assert_eq!(status, 200);
        assert_eq!(reviews[0]["state"], "REQUEST_CHANGES");
        assert_eq!(reviews[0]["user"]["login"], "bob");
        assert_eq!(reviews[0]["commit_id"], tip.as_str());
        assert_eq!(reviews[0]["stale"], false);
        let (_, _, one) = api.call("GET", "/repos/acme/widgets/pulls/1", None).await;
        assert_ne!(one["updated_at"], updated);

        // Merged on the forge with a merge commit: two parents, main moved.
        let sha = forge.merge(1, "merge").unwrap();
        assert_eq!(w.tip("main"), sha);
        let parents = git(&w.remote, &["rev-list", "--parents", "-n", "1", &sha]);
        assert_eq!(parents.split(' ').count(), 3, "two parents: {parents}");
        let (status, _, _) = api
            .call("GET", "/repos/acme/widgets/pulls/1/merge", None)
            .await;
        assert_eq!(status, 204);
        let (_, _, done) = api
            .call(
                "GET",
                &format!("/repos/acme/widgets/pulls/main/acme:{BRANCH}"),
                None,
            )
            .await;
        assert_eq!(done["merged"], true);
        assert_eq!(done["state"], "closed");
        assert_eq!(done["merge_commit_sha"], sha.as_str());
        assert_eq!(done["merged_by"]["login"], "acme");

        // No token, a wrong one.
        let anonymous = Gitea {
            client: client.clone(),
            base: base.clone(),
            token: "",
        };
        let (status, _, e) = anonymous
            .call("GET", "/repos/acme/widgets/pulls/1", None)
            .await;
        assert_eq!(
            (status, e["message"].as_str()),
            (401, Some("token is required"))
        );
        let wrong = Gitea {
            client,
            base: base.clone(),
            token: "wrong",
        };
        let (status, _, e) = wrong.call("GET", "/repos/acme/widgets/pulls/1", None).await;
        assert_eq!(
            (status, e["message"].as_str()),
            (401, Some("invalid username, password or token"))
        );
    });
    assert!(
        forge
            .requests()
            .iter()
            .any(|s| s.path == format!("/api/v1/repos/acme/widgets/pulls/main/{BRANCH}"))
    );
}
