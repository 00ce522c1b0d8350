//! The GitHub flavor's issues through octocrab 0.54, as bosun's intake will call it.

use std::time::Duration;

use octocrab::models::CommentId;
use octocrab::params::{Direction, State, issues::Sort};

use super::github::{github_status, octocrab};
use super::{BRANCH, TOKEN, World, runtime};
use crate::sim::forge::{Flavor, ForgeServer, IssueState};

fn numbers(items: &[octocrab::models::issues::Issue]) -> Vec<u64> {
    items.iter().map(|i| i.number).collect()
}

fn ask(name: &'static str, value: &str) -> Option<axum::http::HeaderMap> {
    let mut h = axum::http::HeaderMap::new();
    h.insert(name, value.parse().unwrap());
    Some(h)
}

#[test]
fn github_issues_filter_page_and_answer_conditionally_through_octocrab() {
    let w = World::new();
    let forge = ForgeServer::start(Flavor::GitHub, &w.remote, "acme/widgets", TOKEN).unwrap();
    forge.set_token_user("bosun-bot");
    let url = forge.api_url();
    assert_eq!(forge.open_issue("alice", "Fix a", "body a", &["bosun"]), 1);
    assert_eq!(forge.open_issue("bob", "Docs", "", &[]), 2);
    assert_eq!(
        forge.open_issue("alice", "Fix b", "b", &["bosun", "urgent"]),
        3
    );
    runtime().block_on(async {
        let gh = octocrab(&url, TOKEN);
        let issues = gh.issues("acme", "widgets");
        // Pull requests share the numbers, and the issue list returns them too.
        let pulls = gh.pulls("acme", "widgets");
        let pr = pulls.create("PR", BRANCH, "main").send().await.unwrap();
        assert_eq!(pr.number, 4);
        forge.close_issue(2);

        let bosun = ["bosun".to_string()];
        let labelled = issues.list().labels(&bosun).send().await.unwrap();
        assert_eq!(numbers(&labelled.items), [3, 1]);
        let first = &labelled.items[1];
        assert_eq!(first.user.login, "alice");
        assert_eq!(first.labels[0].name, "bosun");
        assert_eq!(first.body.as_deref(), Some("body a"));
        assert!(first.pull_request.is_none());
        let both = ["bosun".to_string(), "URGENT".to_string()];
        let both = issues.list().labels(&both).send().await.unwrap();
        assert_eq!(numbers(&both.items), [3]);
        let open = issues.list().send().await.unwrap();
        assert_eq!(numbers(&open.items), [4, 3, 1]);
        assert!(open.items[0].pull_request.is_some());

        // Two a page, the Link followed; oldest first by `direction`.
        let all = issues.list().state(State::All).per_page(2u8).send();
        let all = all.await.unwrap();
        assert_eq!(numbers(&all.items), [4, 3]);
        let next = gh.get_page::<octocrab::models::issues::Issue>(&all.next);
        let next = next.await.unwrap().unwrap();
        assert_eq!(numbers(&next.items), [2, 1]);
        assert_eq!(next.items[0].state, octocrab::models::IssueState::Closed);
        assert!(next.next.is_none());
        let asc = issues
            .list()
            .state(State::All)
            .direction(Direction::Ascending);
        assert_eq!(numbers(&asc.send().await.unwrap().items), [1, 2, 3, 4]);

        // `since`: updated at or after.
        let third = issues.get(3).await.unwrap();
        let since = issues.list().labels(&bosun).since(third.updated_at).send();
        assert_eq!(numbers(&since.await.unwrap().items), [3]);

        // Conditional reads of the list: ETag, then Last-Modified; a change makes it 200.
        let path = format!("{url}/repos/acme/widgets/issues?labels=bosun");
        let got = gh._get(path.as_str()).await.unwrap();
        let etag = got.headers()["etag"].to_str().unwrap().to_string();
        let modified = got.headers()["last-modified"].to_str().unwrap().to_string();
        let same = gh._get_with_headers(path.as_str(), ask("if-none-match", &etag));
        assert_eq!(same.await.unwrap().status(), 304);
        let same = gh._get_with_headers(path.as_str(), ask("if-modified-since", &modified));
        assert_eq!(same.await.unwrap().status(), 304);
        forge.comment(1, "alice", "/approve");
        let changed = gh._get_with_headers(path.as_str(), ask("if-none-match", &etag));
        assert_eq!(changed.await.unwrap().status(), 200);
        let changed = gh._get_with_headers(path.as_str(), ask("if-modified-since", &modified));
        assert_eq!(changed.await.unwrap().status(), 200);

        // Comments: the user's, then bosun's, edited in place.
        let comments = issues.list_comments(1).send().await.unwrap().items;
        assert_eq!(comments.len(), 1);
        assert_eq!(comments[0].user.login, "alice");
        assert_eq!(comments[0].body.as_deref(), Some("/approve"));
        let mine = issues.create_comment(1, "bosun: queued").await.unwrap();
        assert_eq!(mine.user.login, "bosun-bot");
        let edited = issues.update_comment(mine.id, "bosun: running").await;
        assert_eq!(edited.unwrap().body.as_deref(), Some("bosun: running"));
        let since = issues.list_comments(1).since(mine.created_at).send();
        let since = since.await.unwrap().items;
        assert_eq!(since.len(), 1, "only bosun's is that new");
        let repo_wide = issues
            .list_issue_comments()
            .sort(Sort::Updated)
            .direction(Direction::Descending)
            .send()
            .await
            .unwrap()
            .items;
        assert_eq!(repo_wide[0].id, mine.id);
        let e = issues.update_comment(CommentId(9), "x").await.unwrap_err();
        assert_eq!(github_status(&e).0, 404);
        let e = issues.create_comment(99, "x").await.unwrap_err();
        assert_eq!(github_status(&e).0, 404);

        // Labels: unknown names are created; removing one it lacks is 404.
        let labels = issues.add_labels(1, &["bosun:running".to_string()]).await;
        let names: Vec<String> = labels.unwrap().into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["bosun", "bosun:running"]);
        let left = issues.remove_label(1, "bosun").await.unwrap();
        assert_eq!(left.len(), 1);
        let e = issues.remove_label(1, "bosun").await.unwrap_err();
        let (status, message, _) = github_status(&e);
        assert_eq!((status, message.as_str()), (404, "Label does not exist"));

        let pr = issues.get(4).await.unwrap();
        assert!(pr.pull_request.is_some());
        assert_eq!(gh.current().user().await.unwrap().login, "bosun-bot");
    });
    let snapshot = forge.issues();
    assert_eq!(snapshot.len(), 3);
    let one = &snapshot[0];
    assert_eq!(one.labels, ["bosun:running"]);
    assert_eq!(one.comments.len(), 2);
    assert_eq!(one.comments[1].user, "bosun-bot");
    assert_eq!(one.comments[1].body, "bosun: running");
    assert_eq!(one.comments[1].edits, 1);
    assert_eq!(one.comments[0].edits, 0);
    assert_eq!(snapshot[1].state, IssueState::Closed);
    assert_eq!(forge.pulls()[0].number, 4);
}

#[test]
fn github_rate_limit_headers_and_the_403_when_used_up() {
    let w = World::new();
    let forge = ForgeServer::start(Flavor::GitHub, &w.remote, "acme/widgets", TOKEN).unwrap();
    forge.open_issue("alice", "One", "", &[]);
    let url = format!("{}/repos/acme/widgets/issues", forge.api_url());
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let get = |tag: Option<String>| {
            let mut req = client
                .get(&url)
                .header("authorization", format!("Bearer {TOKEN}"));
            if let Some(t) = tag {
                req = req.header("if-none-match", t);
            }
            req.send()
        };
        let h = |r: &reqwest::Response, k: &str| r.headers()[k].to_str().unwrap().to_string();
        let first = get(None).await.unwrap();
        assert_eq!(h(&first, "x-ratelimit-limit"), "5000");
        assert_eq!(h(&first, "x-ratelimit-remaining"), "4999");
        assert_eq!(h(&first, "x-ratelimit-used"), "1");
        assert_eq!(h(&first, "x-ratelimit-resource"), "core");
        let etag = h(&first, "etag");

        forge.set_rate_limit(1, Duration::from_secs(3600));
        // A 304 does not count against the limit.
        let cached = get(Some(etag.clone())).await.unwrap();
        assert_eq!(cached.status(), 304);
        assert_eq!(h(&cached, "x-ratelimit-remaining"), "1");
        let last = get(None).await.unwrap();
        assert_eq!(
            (last.status().as_u16(), h(&last, "x-ratelimit-remaining")),
            (200, "0".into())
        );
        let refused = get(None).await.unwrap();
        assert_eq!(refused.status(), 403);
        assert_eq!(h(&refused, "x-ratelimit-remaining"), "0");
        let reset: u64 = h(&refused, "x-ratelimit-reset").parse().unwrap();
        assert!(reset > 1_700_000_000);
        let e: serde_json::Value = refused.json().await.unwrap();
        let message = e["message"].as_str().unwrap();
        assert!(
            message.starts_with("API rate limit exceeded for user ID"),
            "{message}"
        );

        // octocrab sees GitHub's 403.
        let gh = octocrab(&forge.api_url(), TOKEN);
        let err = gh.issues("acme", "widgets").get(1).await.unwrap_err();
        assert_eq!(github_status(&err).0, 403);
        forge.set_rate_limit(5000, Duration::from_secs(3600));
        assert_eq!(get(None).await.unwrap().status(), 200);
    });
}
