//! GitHub's JSON payloads, field for field as api.github.com sends them (REST API
//! 2022-11-28 schemas `simple-user`, `repository`, `pull-request`, `pull-request-simple`,
//! `pull-request-review`), with URLs on the forge's own origin.

use serde_json::{Value, json};

use super::super::state::{PullRec, REPO_ID, ReviewRec, State, user_id};
use super::super::{PullState, rfc3339};

/// A simple user (GitHub's `simple-user`: every field octocrab's `Author` requires).
pub(super) fn user(origin: &str, login: &str) -> Value {
    let id = user_id(login);
    let api = format!("{origin}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_sim{id}"),
        "avatar_url": format!("{origin}/avatars/u/{id}"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{origin}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// The repository (GitHub's `repository`, the fields a pull request's head and base carry).
pub(super) fn repository(st: &State) -> Value {
    let full = st.full_name();
    let api = format!("{}/repos/{full}", st.origin);
    let u = |tail: &str| format!("{api}{tail}");
    json!({
        "id": REPO_ID,
        "node_id": format!("R_sim{REPO_ID}"),
        "name": st.name,
        "full_name": full,
        "private": true,
        "owner": user(&st.origin, &st.owner),
        "html_url": format!("{}/{full}", st.origin),
        "description": null,
        "fork": false,
        "url": api,
        "archive_url": u("/{archive_format}{/ref}"),
        "branches_url": u("/branches{/branch}"),
        "comments_url": u("/comments{/number}"),
        "commits_url": u("/commits{/sha}"),
        "compare_url": u("/compare/{base}...{head}"),
        "contents_url": u("/contents/{+path}"),
        "events_url": u("/events"),
        "git_refs_url": u("/git/refs{/sha}"),
        "issue_comment_url": u("/issues/comments{/number}"),
        "issues_url": u("/issues{/number}"),
        "labels_url": u("/labels{/name}"),
        "merges_url": u("/merges"),
        "pulls_url": u("/pulls{/number}"),
        "statuses_url": u("/statuses/{sha}"),
        "hooks_url": u("/hooks"),
        "clone_url": format!("{}/{full}.git", st.origin),
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "pushed_at": "2024-01-01T00:00:00Z",
        "size": 0,
        "default_branch": st.default_branch,
        "visibility": "private",
        "archived": false,
        "disabled": false,
        "has_issues": true,
        "allow_merge_commit": true,
        "allow_squash_merge": true,
        "allow_rebase_merge": true,
        "delete_branch_on_merge": false,
    })
}

/// GitHub's `pull-request` (`full`: Get / Create) or `pull-request-simple` (List: without
/// `merged`, `mergeable`, `comments`, `commits`, `additions`, … as GitHub leaves them out).
pub(super) fn pull(st: &State, p: &PullRec, full: bool) -> Value {
    let origin = &st.origin;
    let repo = st.full_name();
    let api = format!("{origin}/repos/{repo}");
    let n = p.number;
    let html = format!("{origin}/{repo}/pull/{n}");
    let url = format!("{api}/pulls/{n}");
    let branch = |name: &str, sha: &str| {
        json!({
            "label": format!("{}:{name}", st.owner),
            "ref": name,
            "sha": sha,
            "user": user(origin, &st.owner),
            "repo": repository(st),
        })
    };
    let href = |h: String| json!({ "href": h });
    let time = |t: Option<u64>| t.map(rfc3339);
    let links = json!({
        "self": href(url.clone()),
        "html": href(html.clone()),
        "issue": href(format!("{api}/issues/{n}")),
        "comments": href(format!("{api}/issues/{n}/comments")),
        "review_comments": href(format!("{url}/comments")),
        "review_comment": href(format!("{api}/pulls/comments{{/number}}")),
        "commits": href(format!("{url}/commits")),
        "statuses": href(format!("{api}/statuses/{}", p.head_sha)),
    });
    let mut v = json!({
        "url": url,
        "id": pull_id(n),
        "node_id": format!("PR_sim{}", pull_id(n)),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{api}/issues/{n}"),
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{n}/comments"),
        "statuses_url": format!("{api}/statuses/{}", p.head_sha),
        "number": n,
        "state": p.state_word(),
        "locked": false,
        "title": p.title,
        "user": user(origin, &st.token_user),
        "body": (!p.body.is_empty()).then_some(&p.body),
        "labels": [],
        "milestone": null,
        "active_lock_reason": null,
        "created_at": rfc3339(p.created_at),
        "updated_at": rfc3339(p.updated_at),
        "closed_at": time(p.closed_at),
        "merged_at": time(p.merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": branch(&p.head, &p.head_sha),
        "base": branch(&p.base, &p.base_sha),
        "_links": links,
        "author_association": "OWNER",
        "auto_merge": null,
        "draft": p.draft,
    });
    if full && let Some(obj) = v.as_object_mut() {
        let open = p.state == PullState::Open;
        let mergeable = if open { p.mergeable } else { None };
        let mergeable_state = match (open, p.draft, mergeable) {
            (true, true, _) => "draft",
            (true, false, Some(true)) => "clean",
            (true, false, Some(false)) => "dirty",
            _ => "unknown",
        };
        let stat = p.compare.as_ref();
        let extra = json!({
            "merged": p.state == PullState::Merged,
            "mergeable": mergeable,
            "rebaseable": mergeable,
            "mergeable_state": mergeable_state,
            "merged_by": p.merged_by.as_deref().map(|l| user(origin, l)),
            "comments": 0,
            "review_comments": 0,
            "maintainer_can_modify": false,
            "commits": stat.map_or(0, |c| c.commits),
            "additions": stat.map_or(0, |c| c.stat.insertions),
            "deletions": stat.map_or(0, |c| c.stat.deletions),
            "changed_files": stat.map_or(0, |c| c.stat.files),
        });
        if let Value::Object(extra) = extra {
            obj.extend(extra);
        }
    }
    v
}

/// A pull request's id (GitHub's database id, not its number).
fn pull_id(number: u64) -> u64 {
    1_000_000_000 + number
}

/// GitHub's `pull-request-review`.
pub(super) fn review(st: &State, r: &ReviewRec) -> Value {
    let repo = st.full_name();
    let html = format!(
        "{}/{repo}/pull/{}#pullrequestreview-{}",
        st.origin, r.number, r.id
    );
    let pr = format!("{}/repos/{repo}/pulls/{}", st.origin, r.number);
    let association = if r.user.eq_ignore_ascii_case(&st.owner) {
        "OWNER"
    } else {
        "COLLABORATOR"
    };
    json!({
        "id": 80_000_000 + r.id,
        "node_id": format!("PRR_sim{}", r.id),
        "user": user(&st.origin, &r.user),
        "body": r.body,
        "state": r.state,
        "html_url": html,
        "pull_request_url": pr,
        "author_association": association,
        "_links": { "html": { "href": html }, "pull_request": { "href": pr } },
        "submitted_at": rfc3339(r.submitted_at),
        "commit_id": r.commit_id,
    })
}
