//! Gitea's JSON payloads, field for field as Gitea 1.22 sends them (swagger models `User`,
//! `Repository`, `PullRequest`, `PullReview`), with URLs on the forge's own origin.

use serde_json::{Value, json};

use super::super::state::{PullRec, REPO_ID, ReviewRec, State, user_id};
use super::super::{PullState, rfc3339};

/// Gitea's `User`.
pub(super) fn user(origin: &str, login: &str) -> Value {
    let id = user_id(login);
    json!({
        "id": id,
        "login": login,
        "login_name": "",
        "source_id": 0,
        "full_name": "",
        "email": format!("{login}@noreply.localhost"),
        "avatar_url": format!("{origin}/avatars/{id}"),
        "html_url": format!("{origin}/{login}"),
        "language": "",
        "is_admin": false,
        "last_login": "0001-01-01T00:00:00Z",
        "created": "2024-01-01T00:00:00Z",
        "restricted": false,
        "active": false,
        "prohibit_login": false,
        "location": "",
        "website": "",
        "description": "",
        "visibility": "public",
        "followers_count": 0,
        "following_count": 0,
        "starred_repos_count": 0,
        "username": login,
    })
}

/// Gitea's `Repository` (the fields a pull request's head and base carry).
pub(super) fn repository(st: &State) -> Value {
    let full = st.full_name();
    let html = format!("{}/{full}", st.origin);
    let repo = json!({
        "id": REPO_ID,
        "owner": user(&st.origin, &st.owner),
        "name": st.name,
        "full_name": full,
        "description": "",
        "empty": false,
        "private": true,
        "fork": false,
        "template": false,
        "parent": null,
        "mirror": false,
        "size": 0,
        "language": "",
        "languages_url": format!("{}/api/v1/repos/{full}/languages", st.origin),
        "html_url": html,
        "url": format!("{}/api/v1/repos/{full}", st.origin),
        "link": "",
        "ssh_url": format!("git@127.0.0.1:{full}.git"),
        "clone_url": format!("{html}.git"),
        "original_url": "",
        "website": "",
        "stars_count": 0,
        "forks_count": 0,
        "watchers_count": 1,
        "open_issues_count": 0,
        "open_pr_counter": st.pulls.iter().filter(|p| p.state == PullState::Open).count(),
    });
    let settings = json!({
        "release_counter": 0,
        "default_branch": st.default_branch,
        "archived": false,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "archived_at": "1970-01-01T00:00:00Z",
        "permissions": { "admin": true, "push": true, "pull": true },
        "has_issues": true,
        "has_wiki": false,
        "has_pull_requests": true,
        "has_projects": false,
        "has_releases": true,
        "has_packages": false,
        "has_actions": false,
        "ignore_whitespace_conflicts": false,
        "allow_merge_commits": true,
        "allow_rebase": true,
        "allow_rebase_explicit": true,
        "allow_squash_merge": true,
        "allow_fast_forward_only_merge": false,
        "allow_rebase_update": true,
        "default_delete_branch_after_merge": false,
        "default_merge_style": "merge",
        "default_allow_maintainer_edit": false,
        "avatar_url": "",
        "internal": false,
        "mirror_interval": "",
        "object_format_name": "sha1",
        "mirror_updated": "0001-01-01T00:00:00Z",
        "repo_transfer": null,
        "topics": null,
        "licenses": null,
    });
    super::super::joined(repo, settings)
}

/// Gitea's `PullRequest`.
pub(super) fn pull(st: &State, p: &PullRec) -> Value {
    let html = format!("{}/{}/pulls/{}", st.origin, st.full_name(), p.number);
    let branch = |name: &str, sha: &str| {
        json!({
            "label": name,
            "ref": name,
            "sha": sha,
            "repo_id": REPO_ID,
            "repo": repository(st),
        })
    };
    let stat = p.compare.as_ref();
    json!({
        "id": pull_id(p.number),
        "url": html,
        "number": p.number,
        "user": user(&st.origin, &st.token_user),
        "title": p.title,
        "body": p.body,
        "labels": [],
        "milestone": null,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_reviewers_teams": [],
        "state": p.state_word(),
        "draft": p.draft,
        "is_locked": false,
        "comments": 0,
        "review_comments": 0,
        "additions": stat.map_or(0, |c| c.stat.insertions),
        "deletions": stat.map_or(0, |c| c.stat.deletions),
        "changed_files": stat.map_or(0, |c| c.stat.files),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "mergeable": p.mergeable.unwrap_or(false) && !p.draft,
        "merged": p.state == PullState::Merged,
        "merged_at": p.merged_at.map(rfc3339),
        "merge_commit_sha": p.merge_commit_sha,
        "merged_by": p.merged_by.as_deref().map(|l| user(&st.origin, l)),
        "allow_maintainer_edit": false,
        "base": branch(&p.base, &p.base_sha),
        "head": branch(&p.head, &p.head_sha),
        "merge_base": stat.map_or("", |c| c.merge_base.as_str()),
        "due_date": null,
        "created_at": rfc3339(p.created_at),
        "updated_at": rfc3339(p.updated_at),
        "closed_at": p.closed_at.map(rfc3339),
        "pin_order": 0,
    })
}

/// A pull request's id (Gitea's database id, not its index).
pub(super) fn pull_id(number: u64) -> u64 {
    100 + number
}

/// Gitea's `PullReview`; GitHub's review words become Gitea's (`CHANGES_REQUESTED` →
/// `REQUEST_CHANGES`, `COMMENTED` → `COMMENT`). `stale` when the head moved since.
pub(super) fn review(st: &State, r: &ReviewRec) -> Value {
    let html = format!("{}/{}/pulls/{}", st.origin, st.full_name(), r.number);
    let state = match r.state.as_str() {
        "CHANGES_REQUESTED" => "REQUEST_CHANGES",
        "COMMENTED" => "COMMENT",
        other => other,
    };
    let stale = st.pull(r.number).is_some_and(|p| p.head_sha != r.commit_id);
    json!({
        "id": r.id,
        "user": user(&st.origin, &r.user),
        "team": null,
        "state": state,
        "body": r.body,
        "commit_id": r.commit_id,
        "stale": stale,
        "official": matches!(state, "APPROVED" | "REQUEST_CHANGES"),
        "dismissed": false,
        "comments_count": 0,
        "submitted_at": rfc3339(r.submitted_at),
        "updated_at": rfc3339(r.submitted_at),
        "html_url": format!("{html}#issuecomment-{}", r.id),
        "pull_request_url": html,
    })
}
