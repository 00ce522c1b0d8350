//! The GitHub flavor through octocrab 0.54, as bosun will call it.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{BRANCH, TOKEN, World, git, runtime};
use crate::sim::forge::{Flavor, ForgeServer, PullState};

pub(super) fn octocrab(url: &str, token: &str) -> octocrab::Octocrab {
    octocrab::Octocrab::builder()
        .base_uri(url)
        .unwrap()
        .personal_token(token.to_string())
        .build()
        .unwrap()
}

pub(super) fn github_status(e: &octocrab::Error) -> (u16, String, Vec<Value>) {
    match e {
        octocrab::Error::GitHub { source, .. } => (
            source.status_code.as_u16(),
            source.message.clone(),
            source.errors.clone().unwrap_or_default(),
        ),
        other => panic!("not a GitHub error: {other:?}"),
    }
}

#[test]
fn github_pull_request_lifecycle_through_octocrab() {
    let w = World::new();
    let forge = ForgeServer::start(Flavor::GitHub, &w.remote, "acme/widgets", TOKEN).unwrap();
    let url = forge.api_url();
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with("/api/v1"));
    let tip = w.tip(BRANCH);
    runtime().block_on(async {
        let gh = octocrab(&url, TOKEN);
        let pulls = gh.pulls("acme", "widgets");

        // The world is not instant: an answer waits for the delay.
        forge.set_delay(Duration::from_millis(200));
        let started = Instant::now();
        let pr = pulls
            .create("Fix the widget", format!("acme:{BRANCH}"), "main")
            .body("ET-001")
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200));
        forge.set_delay(Duration::ZERO);
        assert_eq!(pr.number, 1);
        assert_eq!(pr.head.ref_field, BRANCH);
        assert_eq!(pr.head.sha, tip);
        assert_eq!(pr.head.label.as_deref(), Some("acme:bosun/ET-001-fix"));
        assert_eq!(pr.base.ref_field, "main");
        assert_eq!(pr.base.sha, w.tip("main"));
        assert_eq!(pr.merged, Some(false));
        assert_eq!(pr.mergeable, Some(true));
        assert_eq!(
            (pr.commits, pr.additions, pr.changed_files),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(pr.user.as_ref().map(|u| u.login.as_str()), Some("acme"));
        let html = pr
            .html_url
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert_eq!(html, format!("{url}/acme/widgets/pull/1"));
        assert_eq!(forge.creates(), 1);

        // A second one for the same head and base: GitHub's 422.
        let e = pulls
            .create("again", BRANCH, "main")
            .send()
            .await
            .unwrap_err();
        let (status, message, errors) = github_status(&e);
        assert_eq!((status, message.as_str()), (422, "Validation Failed"));
        assert_eq!(
            errors[0]["message"],
            "A pull request already exists for acme:bosun/ET-001-fix."
        );
        let e = pulls.create("x", "nope", "main").send().await.unwrap_err();
        let (status, _, errors) = github_status(&e);
        assert_eq!((status, errors[0]["field"].as_str()), (422, Some("head")));
        assert_eq!(forge.creates(), 1);

        let listed = pulls
            .list()
            .state(octocrab::params::State::All)
            .head(format!("acme:{BRANCH}"))
            .send()
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].number, 1);
        let none = pulls.list().head("acme:other").send().await.unwrap();
        assert!(none.items.is_empty());

        let got = pulls.get(1).await.unwrap();
        assert_eq!(got.title.as_deref(), Some("Fix the widget"));
        assert_eq!(got.body.as_deref(), Some("ET-001"));
        assert!(pulls.list_reviews(1).send().await.unwrap().items.is_empty());
        assert!(!pulls.is_merged(1).await.unwrap());

        // Conditional requests: the ETag, then 304 while nothing changed.
        let path = format!("{url}/repos/acme/widgets/pulls/1");
        let first = gh._get(path.as_str()).await.unwrap();
        let etag = first.headers()["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with("W/\""), "{etag}");
        let ask = |tag: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert("if-none-match", tag.parse().unwrap());
            Some(h)
        };
        let same = gh
            ._get_with_headers(path.as_str(), ask(&etag))
            .await
            .unwrap();
        assert_eq!(same.status(), 304);

        // A review changes the pull request: a new updated_at, so a new ETag.
        forge.review(1, "alice", "APPROVED", "looks good");
        let changed = gh
            ._get_with_headers(path.as_str(), ask(&etag))
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
        let etag2 = changed.headers()["etag"].to_str().unwrap().to_string();
        assert_ne!(etag2, etag);
        let reviews = pulls.list_reviews(1).send().await.unwrap().items;
        assert_eq!(reviews.len(), 1);
        assert_eq!(
            reviews[0].state,
            Some(octocrab::models::pulls::ReviewState::Approved)
        );
        assert_eq!(reviews[0].commit_id.as_deref(), Some(tip.as_str()));
        assert_eq!(
            reviews[0].user.as_ref().map(|u| u.login.as_str()),
            Some("alice")
        );

        // A push to the head branch shows on the next read, with another new ETag.
        let pushed = w.commit(BRANCH, "more.txt", "more\n");
        let now = pulls.get(1).await.unwrap();
        assert_eq!(now.head.sha, pushed);
        assert!(now.updated_at > got.updated_at);
        let again = gh
            ._get_with_headers(path.as_str(), ask(&etag2))
            .await
            .unwrap();
        assert_eq!(again.status(), 200);

        // Merged on the forge (squash): main moves in the bare repository.
        let sha = forge.merge(1, "squash").unwrap();
        assert_eq!(w.tip("main"), sha);
        let parents = git(&w.remote, &["rev-list", "--parents", "-n", "1", &sha]);
        assert_eq!(parents.split(' ').count(), 2, "one parent: {parents}");
        let message = git(&w.remote, &["log", "-1", "--format=%s", &sha]);
        assert_eq!(message, "Fix the widget (#1)");
        assert!(pulls.is_merged(1).await.unwrap());
        let merged = pulls.get(1).await.unwrap();
        assert_eq!(merged.merged, Some(true));
        assert_eq!(merged.state, Some(octocrab::models::IssueState::Closed));
        assert_eq!(merged.merge_commit_sha.as_deref(), Some(sha.as_str()));
        assert!(merged.merged_at.is_some() && merged.closed_at.is_some());
        assert!(forge.merge(1, "squash").is_err(), "merged twice");
        let open = pulls.list().send().await.unwrap();
        assert!(open.items.is_empty());

        // A wrong token, and a path GitHub does not have.
        let e = octocrab(&url, "wrong")
            .pulls("acme", "widgets")
            .get(1)
            .await
            .unwrap_err();
        let (status, message, _) = github_status(&e);
        assert_eq!((status, message.as_str()), (401, "Bad credentials"));
        let missing = gh
            ._get(format!("{url}/repos/acme/widgets/nope"))
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        let other = gh.pulls("acme", "other").get(1).await.unwrap_err();
        assert_eq!(github_status(&other).0, 404);
    });
    let seen = forge.requests();
    assert!(
        seen.iter()
            .any(|s| s.status == 304 && s.if_none_match.is_some())
    );
    assert!(
        seen.iter()
            .any(|s| s.path.contains("head=acme%3A") || s.path.contains("head=acme:"))
    );
    assert!(seen.iter().any(|s| s.status == 401));
    let snapshot = forge.pulls();
    assert_eq!(snapshot[0].state, PullState::Merged);
}

#[test]
fn github_list_pages_filters_and_error_shapes() {
    let w = World::new();
    for b in ["b2", "b3"] {
        w.commit(b, &format!("{b}.txt"), "x\n");
    }
    let forge = ForgeServer::start(Flavor::GitHub, &w.remote, "acme/widgets", TOKEN).unwrap();
    let url = forge.api_url();
    runtime().block_on(async {
        let gh = octocrab(&url, TOKEN);
        let pulls = gh.pulls("acme", "widgets");
        for (i, head) in [BRANCH, "b2", "b3"].into_iter().enumerate() {
            let pr = pulls
                .create(format!("pr {i}"), head, "main")
                .draft(i == 2)
                .send();
            assert!(pr.await.unwrap().number > 0);
        }
        forge.close(2);

        // Newest first, two a page, a Link to the next one that octocrab follows.
        let page = pulls
            .list()
            .state(octocrab::params::State::All)
            .per_page(2)
            .send();
        let page = page.await.unwrap();
        let numbers: Vec<u64> = page.items.iter().map(|p| p.number).collect();
        assert_eq!(numbers, [3, 2]);
        let next = gh
            .get_page::<octocrab::models::pulls::PullRequest>(&page.next)
            .await;
        let rest: Vec<u64> = next
            .unwrap()
            .unwrap()
            .items
            .iter()
            .map(|p| p.number)
            .collect();
        assert_eq!(rest, [1]);
        let closed = pulls
            .list()
            .state(octocrab::params::State::Closed)
            .send()
            .await
            .unwrap();
        assert_eq!(
            closed.items.iter().map(|p| p.number).collect::<Vec<_>>(),
            [2]
        );
        // A head without its owner filters nothing (GitHub ignores it).
        let loose = pulls.list().head("b2").send().await.unwrap();
        assert_eq!(loose.items.len(), 2);
        let draft = pulls.get(3).await.unwrap();
        assert_eq!(draft.draft, Some(true));
        assert_eq!(
            draft.mergeable_state,
            Some(octocrab::models::pulls::MergeableState::Draft)
        );

        // Error shapes: bad JSON 400, a missing field 422, an unknown method 404.
        let client = reqwest::Client::new();
        let post = |body: &'static str| {
            client
                .post(format!("{url}/repos/acme/widgets/pulls"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(body)
                .send()
        };
        let r = post("{").await.unwrap();
        assert_eq!(r.status(), 400);
        let r = post(r#"{"head":"b2","base":"main"}"#).await.unwrap();
        assert_eq!(r.status(), 422);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["errors"][0]["field"], "title");
        assert_eq!(e["errors"][0]["code"], "missing_field");
        let r = client
            .delete(format!("{url}/repos/acme/widgets/pulls/1"))
            .header("authorization", format!("token {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let e: Value = r.json().await.unwrap();
        assert_eq!(
            (e["message"].as_str(), e["status"].as_str()),
            (Some("Not Found"), Some("404"))
        );
    });
    assert_eq!(forge.creates(), 3);
    let states: Vec<PullState> = forge.pulls().iter().map(|p| p.state).collect();
    assert_eq!(
        states,
        [PullState::Open, PullState::Closed, PullState::Open]
    );
}
