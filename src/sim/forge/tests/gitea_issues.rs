//! The Gitea flavor's issues through reqwest and serde_json, statuses and fields as Gitea
//! 1.22 answers.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Api, BRANCH, TOKEN, World, runtime};
use crate::sim::forge::{Flavor, ForgeServer, IssueState};

fn numbers(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect()
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, k: &str) -> Option<&'a str> {
    h.get(k).map(|v| v.to_str().unwrap())
}

#[test]
fn gitea_issues_filter_page_comment_and_label_through_reqwest() {
    let w = World::new();
    let forge = ForgeServer::start(Flavor::Gitea, &w.remote, "acme/widgets", TOKEN).unwrap();
    forge.set_token_user("bosun-bot");
    let api = Api::new(forge.api_url(), ("authorization", format!("token {TOKEN}")));
    forge.open_issue("alice", "Fix a", "body a", &["bosun"]);
    forge.open_issue("bob", "Docs", "", &[]);
    forge.open_issue("alice", "Fix b", "", &["bosun", "urgent"]);
    runtime().block_on(async {
        let pr = json!({"title": "PR", "head": BRANCH, "base": "main"});
        let (status, _, pr) = api
            .call("POST", "/repos/acme/widgets/pulls", Some(pr))
            .await;
        assert_eq!(
            (status, pr["number"].as_u64()),
            (201, Some(4)),
            "one sequence"
        );

        // Every label named that exists is required; pull requests only without a filter.
        let (status, h, list) = api
            .call("GET", "/repos/acme/widgets/issues?labels=bosun", None)
            .await;
        assert_eq!((status, numbers(&list)), (200, vec![3, 1]));
        assert_eq!(header(&h, "x-total-count"), Some("2"));
        assert_eq!(list[1]["user"]["login"], "alice");
        assert_eq!(list[1]["labels"][0]["name"], "bosun");
        assert_eq!(list[1]["labels"][0]["color"], "ededed");
        assert_eq!(list[1]["pull_request"], Value::Null);
        assert_eq!(list[1]["repository"]["full_name"], "acme/widgets");
        assert!(header(&h, "etag").is_none(), "Gitea sends no ETag");
        let (_, _, both) = api
            .call(
                "GET",
                "/repos/acme/widgets/issues?labels=bosun,urgent",
                None,
            )
            .await;
        assert_eq!(numbers(&both), [3]);
        // Gitea 1.22: a label that does not exist is dropped — and with it the filter.
        let (_, _, none) = api
            .call("GET", "/repos/acme/widgets/issues?labels=nope", None)
            .await;
        assert_eq!(numbers(&none), [4, 3, 2, 1]);
        let (_, _, only) = api
            .call("GET", "/repos/acme/widgets/issues?type=issues", None)
            .await;
        assert_eq!(numbers(&only), [3, 2, 1]);
        assert_eq!(none[0]["pull_request"]["merged"], false);

        // Pages of `limit`, X-Total-Count and a Link to the next.
        forge.close_issue(2);
        let (_, h, page) = api
            .call(
                "GET",
                "/repos/acme/widgets/issues?state=all&type=issues&limit=2",
                None,
            )
            .await;
        assert_eq!(
            (numbers(&page), header(&h, "x-total-count")),
            (vec![3, 2], Some("3"))
        );
        let link = header(&h, "link").unwrap();
        assert!(
            link.contains("page=2") && link.contains("rel=\"next\""),
            "{link}"
        );
        let (_, _, page2) = api
            .call(
                "GET",
                "/repos/acme/widgets/issues?state=all&type=issues&limit=2&page=2",
                None,
            )
            .await;
        assert_eq!(numbers(&page2), [1]);
        let (_, _, closed) = api
            .call("GET", "/repos/acme/widgets/issues?state=closed", None)
            .await;
        assert_eq!(numbers(&closed), [2]);
        assert_eq!(closed[0]["state"], "closed");
        let since = closed[0]["updated_at"].as_str().unwrap().to_string();
        let (_, _, newer) = api
            .call(
                "GET",
                &format!("/repos/acme/widgets/issues?state=all&type=issues&since={since}"),
                None,
            )
            .await;
        assert_eq!(numbers(&newer), [2], "updated since");

        // An If-None-Match changes nothing: no ETag, no 304.
        let (status, _, _) = api.call("GET", "/repos/acme/widgets/issues/1", None).await;
        assert_eq!(status, 200);

        // Comments: the user's, then bosun's, edited in place.
        forge.comment(1, "alice", "/answer use sqlite");
        let body = json!({"body": "bosun: queued"});
        let (status, _, mine) = api
            .call("POST", "/repos/acme/widgets/issues/1/comments", Some(body))
            .await;
        assert_eq!(
            (status, mine["user"]["login"].as_str()),
            (201, Some("bosun-bot"))
        );
        let id = mine["id"].as_u64().unwrap();
        assert_eq!(
            mine["issue_url"],
            format!(
                "{}/acme/widgets/issues/1",
                forge.api_url().replace("/api/v1", "")
            )
        );
        let edit = json!({"body": "bosun: running"});
        let (status, _, edited) = api
            .call(
                "PATCH",
                &format!("/repos/acme/widgets/issues/comments/{id}"),
                Some(edit),
            )
            .await;
        assert_eq!(
            (status, edited["body"].as_str()),
            (200, Some("bosun: running"))
        );
        let (status, _, _) = api
            .call(
                "POST",
                "/repos/acme/widgets/issues/1/comments",
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 422);
        let (_, h, comments) = api
            .call("GET", "/repos/acme/widgets/issues/1/comments", None)
            .await;
        assert_eq!(comments.as_array().unwrap().len(), 2);
        assert_eq!(comments[0]["body"], "/answer use sqlite");
        assert_eq!(header(&h, "x-total-count"), Some("2"));
        let after = mine["created_at"].as_str().unwrap();
        let (_, _, repo_wide) = api
            .call(
                "GET",
                &format!("/repos/acme/widgets/issues/comments?since={after}"),
                None,
            )
            .await;
        assert_eq!(repo_wide.as_array().unwrap().len(), 1);

        // Labels by id: created, put on, taken off (204), an unknown id 422.
        let new = json!({"name": "bosun:running", "color": "#00aabb"});
        let (status, _, label) = api
            .call("POST", "/repos/acme/widgets/labels", Some(new))
            .await;
        assert_eq!((status, label["color"].as_str()), (201, Some("00aabb")));
        let lid = label["id"].as_u64().unwrap();
        let (_, h, labels) = api.call("GET", "/repos/acme/widgets/labels", None).await;
        assert_eq!(
            (
                labels.as_array().unwrap().len(),
                header(&h, "x-total-count")
            ),
            (3, Some("3"))
        );
        let add = json!({"labels": [lid]});
        let (status, _, on) = api
            .call("POST", "/repos/acme/widgets/issues/1/labels", Some(add))
            .await;
        assert_eq!((status, on.as_array().unwrap().len()), (200, 2));
        let bosun = on[0]["id"].as_u64().unwrap();
        let (status, _, _) = api
            .call(
                "DELETE",
                &format!("/repos/acme/widgets/issues/1/labels/{bosun}"),
                None,
            )
            .await;
        assert_eq!(status, 204);
        let (status, _, e) = api
            .call("DELETE", "/repos/acme/widgets/issues/1/labels/99", None)
            .await;
        assert_eq!(status, 422, "{e}");
        let (status, _, me) = api.call("GET", "/user", None).await;
        assert_eq!((status, me["login"].as_str()), (200, Some("bosun-bot")));
        let (status, _, _) = api.call("GET", "/repos/acme/widgets/issues/9", None).await;
        assert_eq!(status, 404);
    });
    let one = &forge.issues()[0];
    assert_eq!(one.labels, ["bosun:running"]);
    assert_eq!(one.comments[1].body, "bosun: running");
    assert_eq!(
        (one.comments[1].edits, one.comments[1].user.as_str()),
        (1, "bosun-bot")
    );
    assert_eq!(forge.issues()[1].state, IssueState::Closed);
}

#[test]
fn gitea_answers_429_only_when_limited_and_the_budget_comes_back() {
    let w = World::new();
    let forge = ForgeServer::start(Flavor::Forgejo, &w.remote, "acme/widgets", TOKEN).unwrap();
    assert!(forge.api_url().ends_with("/api/v1"));
    let api = Api::new(forge.api_url(), ("authorization", format!("token {TOKEN}")));
    forge.open_issue("alice", "One", "", &[]);
    runtime().block_on(async {
        let (status, h, _) = api.call("GET", "/repos/acme/widgets/issues", None).await;
        assert_eq!(status, 200);
        assert!(
            h.keys().all(|k| !k.as_str().starts_with("x-ratelimit")),
            "{h:?}"
        );
        forge.set_rate_limit(0, Duration::from_secs(1));
        let (status, h, e) = api.call("GET", "/repos/acme/widgets/issues", None).await;
        assert_eq!(status, 429, "{e}");
        assert!(header(&h, "retry-after").is_some());
        assert_eq!(header(&h, "x-ratelimit-remaining"), Some("0"));
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let (status, _, _) = api.call("GET", "/repos/acme/widgets/issues", None).await;
        assert_eq!(status, 200, "a new window");
    });
}
