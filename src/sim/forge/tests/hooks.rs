//! Webhook deliveries of every flavor, received by a real HTTP receiver: signatures
//! verified by recomputing the HMAC here, events and headers as each forge sends them,
//! GUIDs unique, order kept, redelivery byte for byte, failures recorded.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use octocrab::models::webhook_events::{WebhookEvent, WebhookEventPayload};

use super::github::octocrab;
use super::receiver::{Got, Receiver, deliveries, hmac_hex};
use super::{Api, TOKEN, World, runtime};
use crate::sim::forge::{Flavor, ForgeServer, PLANE_PROJECT};

const SECRET: &str = "It's a Secret to Everybody";

/// The signature header `got` carries is the HMAC of its body under [`SECRET`].
fn signed(got: &Got, header: &str, prefix: &str) -> bool {
    got.header(header) == Some(&format!("{prefix}{}", hmac_hex(SECRET, &got.body)))
}

#[test]
fn github_deliveries_are_signed_ordered_redeliverable_and_parse_with_octocrab() {
    let w = World::new();
    let forge = ForgeServer::start(Flavor::GitHub, &w.remote, "acme/widgets", TOKEN).unwrap();
    forge.set_token_user("bosun-bot");
    let rx = Receiver::start();
    forge.hook(&rx.url, SECRET);
    // Changes return before their deliveries are sent: the receiver takes 300 ms each.
    rx.delay(Duration::from_millis(300));
    let started = Instant::now();
    forge.open_issue("alice", "Fix it", "please", &["bosun"]);
    forge.comment(1, "alice", "/approve");
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    rx.delay(Duration::ZERO);
    runtime().block_on(async {
        let gh = octocrab(&forge.api_url(), TOKEN);
        gh.issues("acme", "widgets")
            .create_comment(1, "bosun: queued")
            .await
            .unwrap();
    });
    let got = rx.wait(5);
    let sent = deliveries(&forge, 5);
    let events: Vec<(&str, &str)> = sent
        .iter()
        .map(|d| (d.event.as_str(), d.action.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            ("ping", ""),
            ("issues", "opened"),
            ("issues", "labeled"),
            ("issue_comment", "created"),
            ("issue_comment", "created")
        ]
    );
    let ids: HashSet<&str> = sent.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 5, "GUIDs unique");
    for (g, d) in got.iter().zip(&sent) {
        assert_eq!(d.status, 200);
        assert_eq!(g.body, d.body, "in order, as recorded");
        assert_eq!(g.header("x-github-delivery"), Some(d.id.as_str()));
        assert_eq!(g.header("x-github-event"), Some(d.event.as_str()));
        assert_eq!(g.header("content-type"), Some("application/json"));
        assert!(
            g.header("user-agent")
                .unwrap()
                .starts_with("GitHub-Hookshot/")
        );
        assert!(g.header("x-github-hook-id").is_some());
        assert!(
            signed(g, "x-hub-signature-256", "sha256="),
            "{:?}",
            g.headers
        );
        assert_eq!(
            forge.sign(&g.body),
            g.header("x-hub-signature-256").unwrap()
        );
        WebhookEvent::try_from_header_and_body(&d.event, &g.body).unwrap();
    }
    let opened = WebhookEvent::try_from_header_and_body("issues", &got[1].body).unwrap();
    match opened.specific {
        WebhookEventPayload::Issues(p) => {
            assert_eq!((p.issue.number, p.issue.title.as_str()), (1, "Fix it"));
            assert_eq!(p.issue.labels[0].name, "bosun", "opened with its label");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(opened.sender.unwrap().login, "alice");
    let labeled = got[2].json();
    assert_eq!(labeled["label"]["name"], "bosun");
    let ours = WebhookEvent::try_from_header_and_body("issue_comment", &got[4].body).unwrap();
    assert_eq!(
        ours.sender.unwrap().login,
        "bosun-bot",
        "bosun hears its own comment"
    );
    match ours.specific {
        WebhookEventPayload::IssueComment(p) => {
            assert_eq!(p.comment.body.as_deref(), Some("bosun: queued"));
        }
        other => panic!("{other:?}"),
    }

    // Redeliver: the same bytes and headers, the same GUID.
    assert_eq!(forge.redeliver(&sent[3].id), 200);
    let again = rx.wait(6);
    assert_eq!(again[5].body, got[3].body);
    for (k, v) in &sent[3].headers {
        assert_eq!(again[5].header(k), Some(v.as_str()), "{k}");
    }
    let redelivered = forge.deliveries();
    assert!(redelivered[5].redelivery && redelivered[5].id == sent[3].id);
    assert_eq!(forge.redeliver("no-such-guid"), 0);

    // A tampered body keeps its old signature, which no longer verifies.
    let mut body = got[3].body.clone();
    body.extend_from_slice(b" ");
    let headers: Vec<(&str, &str)> = sent[3]
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(forge.send_raw(&headers, &body), 200);
    let tampered = rx.wait(7);
    assert!(!signed(&tampered[6], "x-hub-signature-256", "sha256="));
    assert_eq!(forge.deliveries().len(), 6, "raw sends are not recorded");

    // Failures are recorded, not retried: an error status, then no listener at all.
    rx.answer(500);
    forge.close_issue(1);
    assert_eq!(deliveries(&forge, 7)[6].status, 500);
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/hook", gone.local_addr().unwrap());
    drop(gone);
    forge.hook(&dead, SECRET);
    forge.reopen_issue(1);
    let failed = deliveries(&forge, 9);
    assert_eq!((failed[7].event.as_str(), failed[7].status), ("ping", 0));
    assert_eq!(
        (failed[8].action.as_str(), failed[8].status),
        ("reopened", 0)
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(forge.deliveries().len(), 9, "no retry");
}

#[test]
fn gitea_and_forgejo_deliveries_carry_their_headers_and_signatures() {
    for flavor in [Flavor::Gitea, Flavor::Forgejo] {
        let w = World::new();
        let forge = ForgeServer::start(flavor, &w.remote, "acme/widgets", TOKEN).unwrap();
        let rx = Receiver::start();
        forge.hook(&rx.url, SECRET);
        forge.open_issue("alice", "Fix <it>", "please", &["bosun"]);
        forge.add_label(1, "bosun:queued");
        forge.comment(1, "alice", "/reject needs a test");
        forge.edit_issue(1, Some("Fix it"), Some("now"));
        let got = rx.wait(5);
        let sent = deliveries(&forge, 5);
        let actions: Vec<&str> = sent.iter().map(|d| d.action.as_str()).collect();
        assert_eq!(
            actions,
            ["opened", "label_updated", "created", "edited", "edited"],
            "{flavor:?}"
        );
        for (g, d) in got.iter().zip(&sent) {
            assert!(
                signed(g, "x-gitea-signature", ""),
                "{flavor:?} {:?}",
                g.headers
            );
            assert!(signed(g, "x-hub-signature-256", "sha256="));
            assert_eq!(g.header("x-gitea-delivery"), Some(d.id.as_str()));
            assert_eq!(
                g.header("x-github-event"),
                g.header("x-gitea-event"),
                "Gitea sends both"
            );
            assert_eq!(forge.sign(&g.body), g.header("x-gitea-signature").unwrap());
            let forgejo = g.header("x-forgejo-event").is_some();
            assert_eq!(forgejo, flavor == Flavor::Forgejo);
            if forgejo {
                assert!(signed(g, "x-forgejo-signature", ""));
                assert_eq!(g.header("x-forgejo-delivery"), Some(d.id.as_str()));
            }
        }
        assert_eq!(got[0].header("x-gitea-event"), Some("issues"));
        let opened = got[0].json();
        assert_eq!(
            (
                opened["number"].as_u64(),
                opened["issue"]["labels"][0]["name"].as_str()
            ),
            (Some(1), Some("bosun"))
        );
        assert!(
            String::from_utf8_lossy(&got[0].body).contains("\"Fix \\u003cit\\u003e\""),
            "Go's escapes"
        );
        assert!(
            got[0].body.starts_with(b"{\n  \""),
            "indented as Gitea does"
        );
        assert_eq!(got[1].header("x-gitea-event-type"), Some("issue_label"));
        assert_eq!(
            got[1].json()["issue"]["labels"].as_array().unwrap().len(),
            2
        );
        assert_eq!(got[2].header("x-gitea-event"), Some("issue_comment"));
        assert_eq!(got[2].json()["comment"]["body"], "/reject needs a test");
        assert_eq!(got[2].json()["is_pull"], false);
        assert_eq!(got[3].json()["changes"]["title"]["from"], "Fix <it>");
        assert_eq!(got[4].json()["changes"]["body"]["from"], "please");
    }
}

#[test]
fn plane_deliveries_are_signed_python_json_one_per_changed_field() {
    let w = World::new();
    let full = format!("acme/{PLANE_PROJECT}");
    let forge = ForgeServer::start(Flavor::Plane, &w.remote, &full, TOKEN).unwrap();
    forge.set_token_user("bosun-bot");
    let rx = Receiver::start();
    forge.hook(&rx.url, SECRET);
    forge.open_issue("alice", "Fix é", "please", &["bosun"]);
    forge.comment(1, "alice", "/cancel");
    let api = Api::new(forge.api_url(), ("x-api-key", TOKEN.to_string()));
    let p = format!("/workspaces/acme/projects/{PLANE_PROJECT}");
    runtime().block_on(async {
        let (_, _, list) = api.call("GET", &format!("{p}/issues/"), None).await;
        let id = list["results"][0]["id"].as_str().unwrap().to_string();
        let (_, _, states) = api.call("GET", &format!("{p}/states/"), None).await;
        let cancelled = states["results"][4]["id"].clone();
        let patch = serde_json::json!({"labels": [], "state": cancelled});
        let (status, _, _) = api
            .call("PATCH", &format!("{p}/issues/{id}/"), Some(patch))
            .await;
        assert_eq!(status, 200);
    });
    let got = rx.wait(4);
    let sent = deliveries(&forge, 4);
    let events: Vec<(&str, &str)> = sent
        .iter()
        .map(|d| (d.event.as_str(), d.action.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            ("issue", "create"),
            ("issue_comment", "create"),
            ("issue", "update"),
            ("issue", "update")
        ]
    );
    for (g, d) in got.iter().zip(&sent) {
        assert!(signed(g, "x-plane-signature", ""), "{:?}", g.headers);
        assert_eq!(g.header("x-plane-delivery"), Some(d.id.as_str()));
        assert_eq!(g.header("x-plane-event"), Some(d.event.as_str()));
        assert_eq!(g.header("user-agent"), Some("Autopilot"));
        assert!(
            g.body.starts_with(b"{\"action\": \""),
            "Python's separators"
        );
        assert!(g.body.is_ascii(), "ensure_ascii");
    }
    let created = got[0].json();
    assert_eq!(created["data"]["name"], "Fix é");
    assert_eq!(created["data"]["sequence_id"], 1);
    assert_eq!(created["data"]["labels"][0]["name"], "bosun");
    assert_eq!(created["data"]["state"]["group"], "backlog");
    assert_eq!(created["data"]["description_stripped"], "please");
    assert_eq!(created["activity"]["actor"]["display_name"], "alice");
    let comment = got[1].json();
    assert_eq!(comment["data"]["comment_html"], "<p>/cancel</p>");
    let labels = got[2].json();
    assert_eq!(labels["activity"]["field"], "labels");
    assert_eq!(labels["activity"]["new_value"], serde_json::json!([]));
    assert_eq!(labels["activity"]["actor"]["display_name"], "bosun-bot");
    let state = got[3].json();
    assert_eq!(state["activity"]["field"], "state");
    assert_eq!(state["data"]["state"]["group"], "cancelled");
    assert_eq!(
        forge.issues()[0].state,
        crate::sim::forge::IssueState::Closed
    );
}
