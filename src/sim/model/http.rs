//! The HTTP/1.1 the scripted model server needs: reading one request (content-length or
//! chunked body, `Expect: 100-continue`), writing a JSON answer, and writing a paced
//! Server-Sent Events stream.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// Largest request body accepted (bytes): agent CLIs send their whole conversation, a few
/// MB at most; anything bigger is refused rather than buffered.
const MAX_BODY: usize = 64 << 20;

/// One request as read off the wire.
pub(super) struct RawRequest {
    pub method: String,
    pub path: String,
    /// Names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without its query string.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

/// Reads one HTTP/1.1 request; `None` on EOF, garbage or an oversized body.
pub(super) fn read_request(r: &mut BufReader<TcpStream>) -> Option<RawRequest> {
    let mut line = String::new();
    // Skip stray blank lines between keep-alive requests.
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut req = RawRequest {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        // curl sends this for bodies over 1 kB and waits a second for it.
        let mut w = r.get_ref();
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t).ok()? == 0 || t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = req.body.len();
            if start + size > MAX_BODY {
                return None;
            }
            req.body.resize(start + size, 0);
            r.read_exact(&mut req.body[start..]).ok()?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).ok()?;
        }
    } else if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > MAX_BODY {
            return None;
        }
        req.body.resize(len, 0);
        r.read_exact(&mut req.body).ok()?;
    }
    Some(req)
}

/// The reason phrase of the statuses the server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

/// Writes a complete JSON answer with `content-length` (the connection may be kept open).
pub(super) fn send_json(
    out: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &Value,
    request_id: u64,
) -> std::io::Result<()> {
    let body = body.to_string();
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: req_scripted_{request_id:06}\r\n",
        reason(status),
        body.len(),
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body.as_bytes())?;
    out.flush()
}

/// How fast a model answers: the wait before the first content token, and between content
/// events after it. Events that open a stream (`message_start`, `response.created`) go out
/// at once, as a real API's do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Time to first token (also the wait before a whole non-streaming answer).
    pub first_token: Duration,
    /// Gap between content events once the first has gone.
    pub gap: Duration,
}

impl Pace {
    /// No waiting at all: for tests about something other than timing.
    pub const INSTANT: Pace = Pace {
        first_token: Duration::ZERO,
        gap: Duration::ZERO,
    };

    /// A model as agent CLIs meet it: 3 s to the first token, then 20 ms between events
    /// (a 2 kB answer in 16-character deltas streams for about 2.5 s more).
    pub const REALISTIC: Pace = Pace {
        first_token: Duration::from_secs(3),
        gap: Duration::from_millis(20),
    };

    /// The pace of side requests (titles, routers): quick but not instant.
    pub const SIDE: Pace = Pace {
        first_token: Duration::from_millis(300),
        gap: Duration::ZERO,
    };
}

/// A Server-Sent Events answer being written at a [`Pace`].
pub(super) struct Sse<'a> {
    out: &'a mut TcpStream,
    pace: Pace,
    content_started: bool,
}

impl<'a> Sse<'a> {
    /// Writes the head of a `text/event-stream` answer (`connection: close`).
    pub fn open(out: &'a mut TcpStream, pace: Pace) -> std::io::Result<Sse<'a>> {
        out.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        )?;
        out.flush()?;
        Ok(Sse {
            out,
            pace,
            content_started: false,
        })
    }

    /// An event that goes out at once (stream bookkeeping). `event` `None` writes a
    /// `data:`-only frame (Gemini's format).
    pub fn meta(&mut self, event: Option<&str>, data: &Value) -> std::io::Result<()> {
        let frame = match event {
            Some(e) => format!("event: {e}\ndata: {data}\n\n"),
            None => format!("data: {data}\r\n\r\n"),
        };
        self.out.write_all(frame.as_bytes())?;
        self.out.flush()
    }

    /// A content event: the first waits the time to first token, the rest the gap.
    pub fn content(&mut self, event: Option<&str>, data: &Value) -> std::io::Result<()> {
        let wait = if self.content_started {
            self.pace.gap
        } else {
            self.pace.first_token
        };
        self.content_started = true;
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        self.meta(event, data)
    }

    /// Closes the connection in the middle of the stream.
    pub fn cut(self) -> std::io::Result<()> {
        self.out.flush()?;
        self.out.shutdown(Shutdown::Both)
    }
}

/// Sends the head of a JSON answer and a few bytes of its body, then closes the socket.
pub(super) fn cut_json(out: &mut TcpStream) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n{\"id\":",
    )?;
    out.flush()?;
    out.shutdown(Shutdown::Both)
}

/// Pieces of `s` of about `n` chars, split on char boundaries, so deltas arrive in several
/// events the way a real stream does.
pub(super) fn pieces(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}
