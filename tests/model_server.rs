//! The scripted Anthropic Messages API server, spoken to over real TCP with a minimal
//! HTTP/1.1 client.

#[path = "support/model_server.rs"]
mod model_server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use model_server::{Answer, EXHAUSTED_TEXT, ModelServer, SIDE_TEXT, Scenario, Turn};
use serde_json::{Value, json};

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }

    /// `(event, data)` pairs of an SSE body, checking the framing on the way.
    fn events(&self) -> Vec<(String, Value)> {
        assert!(
            self.body.ends_with("\n\n"),
            "SSE body ends with a blank line"
        );
        self.body
            .trim_end()
            .split("\n\n")
            .map(|frame| {
                let lines: Vec<&str> = frame.lines().collect();
                assert_eq!(
                    lines.len(),
                    2,
                    "frame is one event line and one data line: {frame:?}"
                );
                let event = lines[0].strip_prefix("event: ").expect("event line");
                let data = lines[1].strip_prefix("data: ").expect("data line");
                let data: Value = serde_json::from_str(data).expect("data is JSON");
                assert_eq!(data["type"], event, "data.type matches the event name");
                (event.to_string(), data)
            })
            .collect()
    }
}

fn request(server: &ModelServer, method: &str, path: &str, body: Option<&Value>) -> Response {
    let mut conn = TcpStream::connect(server.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nx-api-key: sk-test\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        server.addr(),
        body.len()
    );
    conn.write_all(head.as_bytes()).expect("write head");
    conn.write_all(body.as_bytes()).expect("write body");
    let mut raw = String::new();
    conn.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("head/body separator");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .expect("status line")
        .split(' ')
        .nth(1)
        .expect("status code");
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header");
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect::<Vec<_>>();
    let resp = Response {
        status: status.parse().expect("numeric status"),
        headers,
        body: body.into(),
    };
    if let Some(len) = resp.header("content-length") {
        assert_eq!(
            len.parse::<usize>().expect("length"),
            resp.body.len(),
            "content-length is exact"
        );
    }
    resp
}

fn tools() -> Value {
    json!([{ "name": "Write", "description": "write a file",
             "input_schema": { "type": "object", "properties": {} } }])
}

fn messages(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": stream,
        "tools": tools(),
        "messages": [{ "role": "user", "content": "make hello.txt" }],
    })
}

/// The concatenated `text_delta`s of a stream.
fn text_of(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect()
}

fn event_names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(e, _)| e.as_str()).collect()
}

#[test]
fn streams_a_text_turn_as_anthropic_sse() {
    let text = "Done: hello.txt now says hi — ünïcødé included.";
    let server = ModelServer::start([Turn::text(text)]);
    let resp = request(&server, "POST", "/v1/messages", Some(&messages(true)));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let events = resp.events();
    let names = event_names(&events);
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[1..3], ["content_block_start", "ping"]);
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    let start = &events[0].1["message"];
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["model"], "claude-sonnet-4-5");
    assert!(
        start["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_"))
    );
    assert_eq!(
        events[1].1["content_block"],
        json!({ "type": "text", "text": "" })
    );
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|(e, _)| e == "content_block_delta")
        .map(|(_, d)| d)
        .collect();
    assert!(deltas.len() > 1, "text arrives in several deltas");
    let streamed: String = deltas
        .iter()
        .map(|d| {
            assert_eq!(d["index"], 0);
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().expect("text")
        })
        .collect();
    assert_eq!(streamed, text);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().is_some());

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].route(), "/v1/messages");
    assert_eq!(reqs[0].header("X-Api-Key"), Some("sk-test"));
    assert_eq!(reqs[0].json()["messages"][0]["content"], "make hello.txt");
    assert_eq!(reqs[0].answer, Answer::Scripted(0));
}

#[test]
fn streams_a_tool_use_turn_whose_partial_json_reassembles_to_the_input() {
    let input = json!({ "file_path": "/tmp/x/hello.txt", "content": "hello from the script\n" });
    let server = ModelServer::start([Turn::tool_use("Write", input.clone())]);
    let events = request(&server, "POST", "/v1/messages", Some(&messages(true))).events();
    let start = &events[1].1;
    assert_eq!(start["type"], "content_block_start");
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["name"], "Write");
    assert_eq!(start["content_block"]["input"], json!({}));
    assert!(
        start["content_block"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("toolu_"))
    );
    let partial: String = events
        .iter()
        .filter(|(e, _)| e == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().expect("partial_json")
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&partial).expect("reassembled JSON"),
        input
    );
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(event_names(&events).last(), Some(&"message_stop"));
}

#[test]
fn text_before_a_tool_call_is_its_own_block() {
    let server = ModelServer::start([Turn::ToolUse {
        text: Some("Writing it.".into()),
        name: "Write".into(),
        input: json!({ "file_path": "a", "content": "b" }),
    }]);
    let events = request(&server, "POST", "/v1/messages", Some(&messages(true))).events();
    let starts: Vec<&Value> = events
        .iter()
        .filter(|(e, _)| e == "content_block_start")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        (
            starts[0]["index"].clone(),
            starts[0]["content_block"]["type"].clone()
        ),
        (json!(0), json!("text"))
    );
    assert_eq!(
        (
            starts[1]["index"].clone(),
            starts[1]["content_block"]["type"].clone()
        ),
        (json!(1), json!("tool_use"))
    );
    let stops = events
        .iter()
        .filter(|(e, _)| e == "content_block_stop")
        .count();
    assert_eq!(stops, 2);
}

#[test]
fn non_streaming_requests_get_one_message_object() {
    let server = ModelServer::start([Turn::write_file("/w/hello.txt", "hi"), Turn::text("done")]);
    let first = request(&server, "POST", "/v1/messages", Some(&messages(false)));
    assert_eq!(first.status, 200);
    let m = first.json();
    assert_eq!(m["type"], "message");
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["content"][0]["type"], "tool_use");
    assert_eq!(
        m["content"][0]["input"],
        json!({ "file_path": "/w/hello.txt", "content": "hi" })
    );
    let second = request(&server, "POST", "/v1/messages", Some(&messages(false))).json();
    assert_eq!(second["stop_reason"], "end_turn");
    assert_eq!(
        second["content"],
        json!([{ "type": "text", "text": "done" }])
    );
    let third = request(&server, "POST", "/v1/messages", Some(&messages(false))).json();
    assert_eq!(third["content"][0]["text"], EXHAUSTED_TEXT);
    let answers: Vec<Answer> = server.requests().into_iter().map(|r| r.answer).collect();
    assert_eq!(
        answers,
        [Answer::Scripted(0), Answer::Scripted(1), Answer::Exhausted]
    );
}

#[test]
fn count_tokens_answers_input_tokens() {
    let server = ModelServer::start(Scenario::new().then(Turn::text("unused")));
    let resp = request(
        &server,
        "POST",
        "/v1/messages/count_tokens?beta=true",
        Some(&messages(false)),
    );
    assert_eq!(resp.status, 200);
    let n = resp.json()["input_tokens"].as_u64().expect("input_tokens");
    assert!(n > 0);
    assert_eq!(
        server.remaining(),
        1,
        "count_tokens does not consume a turn"
    );
}

#[test]
fn rate_limit_is_429_with_retry_after_and_anthropic_error_json() {
    let server = ModelServer::start([Turn::rate_limited(7), Turn::text("after the limit")]);
    let resp = request(&server, "POST", "/v1/messages", Some(&messages(true)));
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("retry-after"), Some("7"));
    assert!(resp.header("request-id").is_some());
    let err = resp.json();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "rate_limit_error");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let events = request(&server, "POST", "/v1/messages", Some(&messages(true))).events();
    assert_eq!(text_of(&events), "after the limit");
}

#[test]
fn overloaded_is_529_overloaded_error() {
    let server = ModelServer::start([Turn::overloaded()]);
    let resp = request(&server, "POST", "/v1/messages", Some(&messages(true)));
    assert_eq!(resp.status, 529);
    assert_eq!(resp.header("retry-after"), None);
    assert_eq!(resp.json()["error"]["type"], "overloaded_error");
}

#[test]
fn no_retry_errors_carry_x_should_retry_false() {
    let server = ModelServer::start([Turn::overloaded().no_retry(), Turn::overloaded()]);
    let resp = request(&server, "POST", "/v1/messages", Some(&messages(false)));
    assert_eq!(resp.status, 529);
    assert_eq!(resp.header("x-should-retry"), Some("false"));
    let resp = request(&server, "POST", "/v1/messages", Some(&messages(false)));
    assert_eq!(resp.header("x-should-retry"), None);
}

#[test]
fn side_requests_without_tools_do_not_consume_turns() {
    let server = ModelServer::start([Turn::text("the real answer")]);
    let probe = json!({ "model": "claude-haiku-4-5", "max_tokens": 1,
                        "messages": [{ "role": "user", "content": "quota" }] });
    let resp = request(&server, "POST", "/v1/messages?beta=true", Some(&probe));
    assert_eq!(resp.json()["content"][0]["text"], SIDE_TEXT);
    let events = request(&server, "POST", "/v1/messages", Some(&messages(true))).events();
    assert_eq!(text_of(&events), "the real answer");
    let answers: Vec<Answer> = server.requests().into_iter().map(|r| r.answer).collect();
    assert_eq!(answers, [Answer::Side, Answer::Scripted(0)]);
}

#[test]
fn unknown_paths_are_404_json_and_recorded() {
    let server = ModelServer::start(Scenario::new());
    let resp = request(&server, "GET", "/v1/models?limit=100", None);
    assert_eq!(resp.status, 404);
    assert_eq!(resp.json()["error"]["type"], "not_found_error");
    let bad = request(&server, "POST", "/v1/messages", None);
    assert_eq!(bad.status, 400);
    let reqs = server.requests();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", "/v1/models?limit=100")
    );
    assert_eq!(reqs[0].answer, Answer::NotFound);
    assert_eq!(reqs[1].answer, Answer::BadRequest);
}

#[test]
fn a_delay_holds_back_the_next_answer() {
    let delay = Duration::from_millis(300);
    let server = ModelServer::start([Turn::delay(delay), Turn::text("late")]);
    let t0 = std::time::Instant::now();
    let events = request(&server, "POST", "/v1/messages", Some(&messages(true))).events();
    // A lower bound only: the answer cannot come before the scripted delay.
    assert!(t0.elapsed() >= delay);
    assert_eq!(text_of(&events), "late");
    assert_eq!(server.answered(), 1);
}

#[test]
fn keep_alive_connections_serve_several_requests() {
    let server = ModelServer::start(Scenario::new());
    let mut conn = TcpStream::connect(server.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let body = json!({ "messages": [] }).to_string();
    for _ in 0..2 {
        let req = format!(
            "POST /v1/messages/count_tokens HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        conn.write_all(req.as_bytes()).expect("write");
    }
    assert!(
        server.wait_for(Duration::from_secs(20), |r| r.len() == 2),
        "both requests served"
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.answer == Answer::CountTokens && r.json()["messages"] == json!([]))
    );
}

#[test]
fn dropping_the_server_closes_open_keep_alive_connections() {
    let server = ModelServer::start(Scenario::new());
    let mut conn = TcpStream::connect(server.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let body = json!({ "messages": [] }).to_string();
    let req = format!(
        "POST /v1/messages/count_tokens HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).expect("write");
    assert!(server.wait_for(Duration::from_secs(20), |r| r.len() == 1));
    drop(server);
    // EOF (after whatever of the response made it out) instead of a hang until the timeout.
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest)
        .expect("EOF after drop, not a read timeout");
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let server = ModelServer::start([Turn::text("ok")]);
    let mut conn = TcpStream::connect(server.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let body = messages(false).to_string();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).expect("write head");
    let mut interim = [0u8; 25];
    conn.read_exact(&mut interim).expect("interim response");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_all(body.as_bytes()).expect("write body");
    let mut rest = String::new();
    conn.read_to_string(&mut rest).expect("response");
    assert!(rest.starts_with("HTTP/1.1 200 OK"), "{rest}");
    assert!(rest.contains(r#""text":"ok""#), "{rest}");
}

#[test]
fn dropping_the_server_stops_listening() {
    let server = ModelServer::start(Scenario::new());
    let addr = server.addr();
    drop(server);
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens after drop"
    );
}
