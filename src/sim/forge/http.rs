//! HTTP details the flavors share: timestamps in the forms the forges read and write
//! (RFC 3339 query parameters, HTTP-dates), conditional answers (`ETag` and
//! `Last-Modified`, 304), pages (`Link`), and a query string read in order.

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::header;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Unix seconds of an RFC 3339 / ISO 8601 time as the forges take it in `since`
/// (`2024-05-01T12:00:00Z`, fractions and `±HH:MM` offsets allowed; a bare date is its
/// midnight UTC). `None` when it is not one.
pub(super) fn parse_time(text: &str) -> Option<u64> {
    let t = text.trim();
    let num = |s: &str| s.parse::<i64>().ok();
    let cut = t.len().min(10);
    let (date, rest) = (t.get(..cut)?, t.get(cut..)?);
    let mut parts = date.split('-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(time) = rest.strip_prefix(['T', 't', ' ']) {
        let (clock, zone) = match time.find(['Z', 'z', '+', '-']) {
            Some(i) => time.split_at(i),
            None => (time, ""),
        };
        let clock = clock.split('.').next()?;
        let mut hms = clock.split(':');
        let (h, mi) = (num(hms.next()?)?, num(hms.next()?)?);
        let s = hms.next().map_or(Some(0), num)?;
        secs += h * 3600 + mi * 60 + s;
        if let Some(offset) = zone.strip_prefix(['+', '-']) {
            let (oh, om) = offset.split_once(':').unwrap_or((offset, "0"));
            let shift = num(oh)? * 3600 + num(om)? * 60;
            secs += if zone.starts_with('+') { -shift } else { shift };
        }
    } else if !rest.is_empty() {
        return None;
    }
    u64::try_from(secs).ok()
}

/// Unix seconds as an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110's IMF-fixdate).
pub(super) fn http_date(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX / 2);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
    format!(
        "{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Unix seconds of an IMF-fixdate HTTP-date; `None` for anything else.
pub(super) fn parse_http_date(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace().skip(1);
    let d = words.next()?.parse::<i64>().ok()?;
    let month = words.next()?;
    let m = MONTHS.iter().position(|n| *n == month)?;
    let y = words.next()?.parse::<i64>().ok()?;
    let clock = words.next()?;
    let iso = format!("{y:04}-{:02}-{d:02}T{clock}Z", m + 1);
    parse_time(&iso)
}

/// The weak ETag of a body: `W/"<sha-256>"`.
pub(super) fn etag(bytes: &[u8]) -> String {
    format!("W/\"{}\"", super::state::sha256_hex(bytes))
}

/// A 200 JSON answer with `ETag` (and `Last-Modified` when `modified` is given), or a 304
/// with the same validators when the request's `If-None-Match` names the ETag or, without
/// an `If-None-Match`, its `If-Modified-Since` is not before `modified` (RFC 9110 §13.1:
/// `If-None-Match` wins). GitHub REST: "Use conditional requests if appropriate".
pub(super) fn conditional(headers: &HeaderMap, body: &Value, modified: Option<u64>) -> Response {
    let bytes = body.to_string().into_bytes();
    let tag = etag(&bytes);
    let weak = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let fresh = match header(headers, IF_NONE_MATCH.as_str()) {
        Some(h) => h
            .split(',')
            .any(|t| t.trim() == "*" || weak(t) == weak(&tag)),
        None => match (header(headers, IF_MODIFIED_SINCE.as_str()), modified) {
            (Some(since), Some(m)) => parse_http_date(since).is_some_and(|s| m <= s),
            _ => false,
        },
    };
    let mut out = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let json = HeaderValue::from_static("application/json; charset=utf-8");
        (StatusCode::OK, [(CONTENT_TYPE, json)], Body::from(bytes)).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        out.headers_mut().insert(ETAG, v);
    }
    if let Some(Ok(v)) = modified.map(|m| HeaderValue::from_str(&http_date(m))) {
        out.headers_mut().insert(LAST_MODIFIED, v);
    }
    out
}

/// A query string's pairs in the order sent, percent-decoded (`+` is a space).
pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    raw.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// A page of `items`: `page` from 1, `per_page` items a page. Returns the page's items and
/// the last page's number (1 when empty).
pub(super) fn page_of<T>(items: Vec<T>, page: usize, per_page: usize) -> (Vec<T>, usize) {
    let last = items.len().div_ceil(per_page).max(1);
    let start = page.saturating_sub(1).saturating_mul(per_page);
    (items.into_iter().skip(start).take(per_page).collect(), last)
}

/// A `Link` header value for page `page` of `last` at `base` (an absolute URL without a
/// query), keeping the request's other parameters in their order: `next` and `last` when
/// there is a next page, `first` and `prev` when there is a previous one (GitHub REST:
/// "Using pagination in the REST API"; Gitea's `SetLinkHeader` the same). `None` for a
/// single page.
pub(super) fn link(
    base: &str,
    query: &[(String, String)],
    page_key: &str,
    page: usize,
    last: usize,
) -> Option<HeaderValue> {
    let url = |n: usize| {
        let mut parts: Vec<String> = query
            .iter()
            .filter(|(k, _)| k != page_key)
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        parts.push(format!("{page_key}={n}"));
        format!("{base}?{}", parts.join("&"))
    };
    let mut rels = Vec::new();
    if page < last {
        rels.push(format!("<{}>; rel=\"next\"", url(page + 1)));
        rels.push(format!("<{}>; rel=\"last\"", url(last)));
    }
    if page > 1 {
        rels.push(format!("<{}>; rel=\"first\"", url(1)));
        rels.push(format!("<{}>; rel=\"prev\"", url(page.min(last + 1) - 1)));
    }
    (!rels.is_empty())
        .then(|| HeaderValue::from_str(&rels.join(", ")).ok())
        .flatten()
}

/// Percent-encodes a query component (unreserved characters and `,` stay).
pub(super) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of query parameter `key` (the first one).
pub(super) fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A positive number parameter, `default` when absent or not a number, at most `max`.
pub(super) fn number(query: &[(String, String)], key: &str, default: usize, max: usize) -> usize {
    param(query, key)
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_both_forms() {
        let t = parse_time("2024-05-01T12:34:56Z").unwrap();
        assert_eq!(super::super::rfc3339(t), "2024-05-01T12:34:56Z");
        assert_eq!(parse_time("2024-05-01T14:34:56.123+02:00"), Some(t));
        assert_eq!(parse_time("2024-05-01"), Some(t - 12 * 3600 - 34 * 60 - 56));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date(&http_date(t)), Some(t));
        let q = query_pairs(Some("labels=a%2Cb&since=2024-05-01T00%3A00%3A00Z&x=a+b"));
        assert_eq!(param(&q, "labels"), Some("a,b"));
        assert_eq!(param(&q, "x"), Some("a b"));
    }
}
