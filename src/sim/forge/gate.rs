//! Before every handler: the delay, the token (401 in the flavor's shape), the rate limit
//! (the flavor's answer once it is used up, its headers on every answer), and the record
//! of the request with the status it got.
//!
//! Rate limits, as each forge tells them:
//! - GitHub ("Rate limits for the REST API"): 5,000 requests an hour for a token;
//!   `x-ratelimit-limit`, `-remaining`, `-reset` (unix seconds), `-used`, `-resource: core`
//!   on every answer; a 304 to a conditional request does not count; used up: 403
//!   `API rate limit exceeded for user ID N.` with `x-ratelimit-remaining: 0`.
//! - Gitea/Forgejo: no API rate limit and no such headers; a limit set by
//!   [`super::ForgeServer::set_rate_limit`] stands for a proxy in front of it: 429 with
//!   `Retry-After` and `X-RateLimit-*` on the limited answers only.
//! - Plane (`plane/api/rate_limit.py`, `ApiKeyRateThrottle`): 60 requests a minute for an
//!   API key; `X-RateLimit-Remaining` and `X-RateLimit-Reset` on every allowed answer; used
//!   up: 429 `{"detail": "Request was throttled. Expected available in N seconds."}` with
//!   `Retry-After` (Django REST framework's `Throttled`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State as Extract};
use axum::http::header::{AUTHORIZATION, IF_NONE_MATCH, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Flavor, Seen, Shared, gitea, github, header, lock};

/// A token's request budget.
pub(super) struct RateLimit {
    /// Requests a window.
    limit: u32,
    remaining: u32,
    /// When the window ends, unix seconds.
    reset: u64,
    window: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl RateLimit {
    /// The flavor's budget, full.
    pub(super) fn new(flavor: Flavor) -> RateLimit {
        let (limit, window) = match flavor {
            Flavor::Plane => (60, 60),
            _ => (5000, 3600),
        };
        RateLimit {
            limit,
            remaining: limit,
            reset: now() + window,
            window,
        }
    }

    /// `remaining` requests left until `reset_in` from now; then a full budget again.
    pub(super) fn set(&mut self, remaining: u32, reset_in: Duration) {
        self.limit = self.limit.max(remaining);
        self.remaining = remaining;
        self.reset = now() + reset_in.as_secs().max(1);
    }

    /// Starts a new window once the current one is over.
    fn roll(&mut self) {
        let t = now();
        if t >= self.reset {
            self.remaining = self.limit;
            self.reset = t + self.window;
        }
    }
}

/// The middleware; see the module's notes.
pub(super) async fn gate(Extract(shared): Extract<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let if_none_match = header(req.headers(), IF_NONE_MATCH.as_str()).map(String::from);
    let (delay, flavor, token, origin) = {
        let st = lock(&shared);
        (st.delay, st.flavor, st.token.clone(), st.origin.clone())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let given = match flavor {
        Flavor::Plane => header(req.headers(), "x-api-key").map(|t| Some(t.trim())),
        _ => header(req.headers(), AUTHORIZATION.as_str()).map(credential),
    };
    let authorized = matches!(given, Some(Some(t)) if t == token);
    let mut was_limited = false;
    let mut response = if !authorized {
        match (flavor, given) {
            (Flavor::GitHub, _) => github::unauthorized(),
            (Flavor::Plane, None) => plane_detail(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
            ),
            (Flavor::Plane, Some(_)) => {
                plane_detail(StatusCode::UNAUTHORIZED, "Given API token is not valid")
            }
            (_, None) => gitea::unauthorized(&origin, "token is required"),
            (_, Some(_)) => gitea::unauthorized(&origin, "invalid username, password or token"),
        }
    } else if let Some(limited) = limited(&shared, flavor) {
        was_limited = true;
        limited
    } else {
        next.run(req).await
    };
    let status = response.status();
    {
        let mut st = lock(&shared);
        if authorized && !was_limited && status != StatusCode::NOT_MODIFIED {
            st.limit.remaining = st.limit.remaining.saturating_sub(1);
        }
        let l = &st.limit;
        let set = |r: &mut Response, name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert(HeaderName::from_static(name), v);
            }
        };
        match flavor {
            Flavor::GitHub => {
                set(&mut response, "x-ratelimit-limit", l.limit.to_string());
                set(
                    &mut response,
                    "x-ratelimit-remaining",
                    l.remaining.to_string(),
                );
                set(&mut response, "x-ratelimit-reset", l.reset.to_string());
                let used = l.limit.saturating_sub(l.remaining);
                set(&mut response, "x-ratelimit-used", used.to_string());
                set(&mut response, "x-ratelimit-resource", "core".into());
            }
            Flavor::Plane if authorized && !was_limited => {
                set(
                    &mut response,
                    "x-ratelimit-remaining",
                    l.remaining.to_string(),
                );
                set(&mut response, "x-ratelimit-reset", l.reset.to_string());
            }
            _ => {}
        }
        st.requests.push(Seen {
            method,
            path,
            status: status.as_u16(),
            if_none_match,
        });
    }
    response
}

/// The flavor's answer when the budget is used up; `None` while requests are left.
fn limited(shared: &Shared, flavor: Flavor) -> Option<Response> {
    let mut st = lock(shared);
    st.limit.roll();
    if st.limit.remaining > 0 {
        return None;
    }
    let l = &st.limit;
    let wait = l.reset.saturating_sub(now()).max(1);
    let retry = [(RETRY_AFTER, HeaderValue::from(wait))];
    Some(match flavor {
        Flavor::GitHub => {
            let body = json!({
                "message": format!(
                    "API rate limit exceeded for user ID {}.",
                    super::state::user_id(&st.token_user)
                ),
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": "403",
            });
            (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
        }
        Flavor::Gitea | Flavor::Forgejo => {
            let body = json!({
                "message": "rate limit exceeded",
                "url": format!("{}/api/swagger", st.origin),
            });
            let headers = [
                ("x-ratelimit-limit", l.limit.to_string()),
                ("x-ratelimit-remaining", "0".to_string()),
                ("x-ratelimit-reset", l.reset.to_string()),
            ];
            let mut r = (StatusCode::TOO_MANY_REQUESTS, retry, axum::Json(body)).into_response();
            for (k, v) in headers {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    r.headers_mut().insert(HeaderName::from_static(k), v);
                }
            }
            r
        }
        Flavor::Plane => {
            let message = format!("Request was throttled. Expected available in {wait} seconds.");
            let mut r = plane_detail(StatusCode::TOO_MANY_REQUESTS, &message);
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(wait));
            r
        }
    })
}

/// Django REST framework's error JSON: `{"detail": …}`.
pub(super) fn plane_detail(status: StatusCode, detail: &str) -> Response {
    (status, axum::Json(json!({ "detail": detail }))).into_response()
}

/// The token of an `Authorization: Bearer <t>` or `token <t>` header (scheme in any case);
/// `None` for another scheme.
fn credential(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| rest.trim())
}
