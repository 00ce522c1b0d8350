//! The Plane flavor through reqwest and serde_json: cursor pages, work items by UUID,
//! labels and states by UUID, comments in HTML, the key, the throttle.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Api, TOKEN, World, runtime};
use crate::sim::forge::{Flavor, ForgeServer, IssueState, PLANE_PROJECT};

fn sequence(page: &Value) -> Vec<u64> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sequence_id"].as_u64().unwrap())
        .collect()
}

#[test]
fn plane_work_items_pages_labels_states_and_comments() {
    let w = World::new();
    let full = format!("acme/{PLANE_PROJECT}");
    let forge = ForgeServer::start(Flavor::Plane, &w.remote, &full, TOKEN).unwrap();
    forge.set_token_user("bosun-bot");
    let api = Api::new(forge.api_url(), ("x-api-key", TOKEN.to_string()));
    let p = format!("/workspaces/acme/projects/{PLANE_PROJECT}");
    assert_eq!(forge.open_issue("alice", "Fix a", "a <b>", &["bosun"]), 1);
    forge.open_issue("bob", "Docs", "", &[]);
    forge.open_issue("alice", "Fix b", "", &[]);
    runtime().block_on(async {
        // Newest first, a cursor page at a time.
        let (status, h, page) = api
            .call("GET", &format!("{p}/issues/?per_page=2"), None)
            .await;
        assert_eq!((status, sequence(&page)), (200, vec![3, 2]));
        assert!(h.get("etag").is_none() && h.get("x-ratelimit-remaining").is_some());
        assert_eq!(page["next_cursor"], "2:1:0");
        assert_eq!(page["next_page_results"], true);
        assert_eq!(page["prev_page_results"], false);
        assert_eq!(
            (page["total_count"].as_u64(), page["total_pages"].as_u64()),
            (Some(3), Some(2))
        );
        assert_eq!(page["grouped_by"], Value::Null);
        let (_, _, rest) = api
            .call("GET", &format!("{p}/issues/?per_page=2&cursor=2:1:0"), None)
            .await;
        assert_eq!(
            (sequence(&rest), rest["next_page_results"].as_bool()),
            (vec![1], Some(false))
        );
        let one = &rest["results"][0];
        assert_eq!(one["name"], "Fix a");
        assert_eq!(one["description_html"], "<p>a &lt;b&gt;</p>");
        assert_eq!(one["project"], PLANE_PROJECT);
        assert!(
            one.get("description_stripped").is_none(),
            "the REST shape leaves it out"
        );
        let id = one["id"].as_str().unwrap().to_string();
        let bosun = one["labels"][0].as_str().unwrap().to_string();
        let (status, _, _) = api
            .call("GET", &format!("{p}/issues/?per_page=101"), None)
            .await;
        assert_eq!(status, 400);

        // States: five, in their groups; labels by UUID.
        let (_, _, states) = api.call("GET", &format!("{p}/states/"), None).await;
        let groups: Vec<&str> = states["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["group"].as_str().unwrap())
            .collect();
        assert_eq!(
            groups,
            ["backlog", "unstarted", "started", "completed", "cancelled"]
        );
        let done = states["results"][3]["id"].as_str().unwrap().to_string();
        let new = json!({"name": "bosun:running", "color": "#00aabb"});
        let (status, _, label) = api
            .call("POST", &format!("{p}/labels/"), Some(new.clone()))
            .await;
        assert_eq!((status, label["color"].as_str()), (201, Some("#00aabb")));
        let (status, _, taken) = api.call("POST", &format!("{p}/labels/"), Some(new)).await;
        assert_eq!((status, taken["id"].as_str()), (409, label["id"].as_str()));
        let (_, _, labels) = api.call("GET", &format!("{p}/labels/"), None).await;
        assert_eq!(labels["total_count"], 2);

        // PATCH replaces the labels and moves the state.
        let set = json!({"labels": [bosun, label["id"]], "state": done});
        let (status, _, item) = api
            .call("PATCH", &format!("{p}/issues/{id}/"), Some(set))
            .await;
        assert_eq!((status, item["labels"].as_array().unwrap().len()), (200, 2));
        assert_eq!(item["state"], done.as_str());
        assert!(item["completed_at"].is_string());
        let bad = json!({"state": "00000000-0000-4000-8000-000000000000"});
        let (status, _, e) = api
            .call("PATCH", &format!("{p}/issues/{id}/"), Some(bad))
            .await;
        assert_eq!(status, 400, "{e}");

        // Comments in HTML, edited in place.
        forge.comment(1, "alice", "/approve");
        let html = json!({"comment_html": "<p>bosun: queued</p>"});
        let (status, _, mine) = api
            .call("POST", &format!("{p}/issues/{id}/comments/"), Some(html))
            .await;
        assert_eq!(status, 201);
        let cid = mine["id"].as_str().unwrap().to_string();
        let edit = json!({"comment_html": "<p>bosun: running</p>"});
        let (status, _, edited) = api
            .call(
                "PATCH",
                &format!("{p}/issues/{id}/comments/{cid}/"),
                Some(edit),
            )
            .await;
        assert_eq!((status, edited["edited_at"].is_string()), (200, true));
        let (_, _, comments) = api
            .call("GET", &format!("{p}/issues/{id}/comments/"), None)
            .await;
        let first = &comments["results"][1];
        assert_eq!(first["comment_html"], "<p>/approve</p>");
        let (_, _, members) = api.call("GET", "/workspaces/acme/members/", None).await;
        let alice = members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["display_name"] == "alice")
            .unwrap();
        assert_eq!(alice["id"], first["actor"]);
        let (_, _, me) = api.call("GET", "/users/me/", None).await;
        assert_eq!(me["display_name"], "bosun-bot");
        assert_eq!(me["id"], mine["actor"]);

        // Django's APPEND_SLASH, an unknown project, no key, a wrong key.
        let (status, h, _) = api.call("GET", &format!("{p}/issues"), None).await;
        assert_eq!(status, 301);
        assert_eq!(h["location"], format!("/api/v1{p}/issues/").as_str());
        let other = "/workspaces/acme/projects/00000000-0000-4000-8000-000000000000/issues/";
        assert_eq!(api.call("GET", other, None).await.0, 404);
        let anonymous = Api::new(forge.api_url(), ("x-other", String::new()));
        let (status, _, e) = anonymous.call("GET", &format!("{p}/issues/"), None).await;
        assert_eq!(
            (status, e["detail"].as_str()),
            (401, Some("Authentication credentials were not provided."))
        );
        let wrong = Api::new(forge.api_url(), ("x-api-key", "nope".into()));
        let (status, _, e) = wrong.call("GET", &format!("{p}/issues/"), None).await;
        assert_eq!(
            (status, e["detail"].as_str()),
            (401, Some("Given API token is not valid"))
        );

        // The throttle: 429, Retry-After, DRF's words.
        forge.set_rate_limit(0, Duration::from_secs(30));
        let (status, h, e) = api.call("GET", &format!("{p}/issues/"), None).await;
        assert_eq!(status, 429);
        assert!(h.get("retry-after").is_some());
        assert!(
            e["detail"]
                .as_str()
                .unwrap()
                .starts_with("Request was throttled. Expected available in")
        );
    });
    let items = forge.issues();
    assert_eq!(items[0].state, IssueState::Closed);
    assert_eq!(items[0].labels, ["bosun", "bosun:running"]);
    assert_eq!(items[0].comments[1].user, "bosun-bot");
    assert_eq!(items[0].comments[1].body, "<p>bosun: running</p>");
    assert_eq!(items[0].comments[1].edits, 1);
    assert_eq!(items[0].comments[0].body, "<p>/approve</p>");
    assert!(ForgeServer::plane_states().contains(&("Done", "completed")));
}
