//! The scripted model server (Anthropic Messages API and OpenAI Responses API), spoken to
//! over real TCP with a minimal HTTP/1.1 client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bosun::sim::model::Pace;

use bosun::sim::model::{Answer, EXHAUSTED_TEXT, ModelServer, SIDE_TEXT, Scenario, Turn};
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
    let server = instant([Turn::text(text)]);
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
    let server = instant([Turn::tool_use("Write", input.clone())]);
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
    let server = instant([Turn::ToolUse {
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
    let server = instant([Turn::write_file("/w/hello.txt", "hi"), Turn::text("done")]);
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
    let server = instant(Scenario::new().then(Turn::text("unused")));
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
    let server = instant([Turn::rate_limited(7), Turn::text("after the limit")]);
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
    let server = instant([Turn::overloaded()]);
    let resp = request(&server, "POST", "/v1/messages", Some(&messages(true)));
    assert_eq!(resp.status, 529);
    assert_eq!(resp.header("retry-after"), None);
    assert_eq!(resp.json()["error"]["type"], "overloaded_error");
}

#[test]
fn no_retry_errors_carry_x_should_retry_false() {
    let server = instant([Turn::overloaded().no_retry(), Turn::overloaded()]);
    let resp = request(&server, "POST", "/v1/messages", Some(&messages(false)));
    assert_eq!(resp.status, 529);
    assert_eq!(resp.header("x-should-retry"), Some("false"));
    let resp = request(&server, "POST", "/v1/messages", Some(&messages(false)));
    assert_eq!(resp.header("x-should-retry"), None);
}

#[test]
fn side_requests_without_tools_do_not_consume_turns() {
    let server = instant([Turn::text("the real answer")]);
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
    let server = instant(Scenario::new());
    let resp = request(&server, "GET", "/v1/organizations?limit=100", None);
    assert_eq!(resp.status, 404);
    assert_eq!(resp.json()["error"]["type"], "not_found_error");
    let bad = request(&server, "POST", "/v1/messages", None);
    assert_eq!(bad.status, 400);
    let reqs = server.requests();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", "/v1/organizations?limit=100")
    );
    assert_eq!(reqs[0].answer, Answer::NotFound);
    assert_eq!(reqs[1].answer, Answer::BadRequest);
}

#[test]
fn a_delay_holds_back_the_next_answer() {
    let delay = Duration::from_millis(300);
    let server = instant([Turn::delay(delay), Turn::text("late")]);
    let t0 = std::time::Instant::now();
    let events = request(&server, "POST", "/v1/messages", Some(&messages(true))).events();
    // A lower bound only: the answer cannot come before the scripted delay.
    assert!(t0.elapsed() >= delay);
    assert_eq!(text_of(&events), "late");
    assert_eq!(server.answered(), 1);
}

#[test]
fn keep_alive_connections_serve_several_requests() {
    let server = instant(Scenario::new());
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
    let server = instant(Scenario::new());
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
    let server = instant([Turn::text("ok")]);
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
    let server = instant(Scenario::new());
    let addr = server.addr();
    drop(server);
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens after drop"
    );
}

/// A Codex-like Responses API request: tools declared, streaming.
fn responses(stream: bool) -> Value {
    json!({
        "model": "gpt-5.5",
        "stream": stream,
        "tool_choice": "auto",
        "tools": [{ "type": "function", "name": "exec_command", "parameters": {} },
                  { "type": "custom", "name": "apply_patch" }],
        "input": [{ "type": "message", "role": "user",
                    "content": [{ "type": "input_text", "text": "make hello.txt" }] }],
    })
}

/// The `response.output_item.done` items of a Responses stream.
fn done_items(events: &[(String, Value)]) -> Vec<Value> {
    events
        .iter()
        .filter(|(e, _)| e == "response.output_item.done")
        .map(|(_, d)| d["item"].clone())
        .collect()
}

/// The concatenated deltas of events named `name`.
fn deltas(events: &[(String, Value)], name: &str) -> String {
    events
        .iter()
        .filter(|(e, _)| e == name)
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect()
}

#[test]
fn streams_a_text_turn_as_responses_sse() {
    let text = "Hello from the scripted model — ünïcødé, several deltas long.";
    let server = instant([Turn::text(text)]);
    let resp = request(&server, "POST", "/v1/responses", Some(&responses(true)));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let events = resp.events();
    let names = event_names(&events);
    assert_eq!(
        &names[..5],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
        ]
    );
    assert_eq!(
        &names[names.len() - 4..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert!(
        names
            .iter()
            .filter(|n| **n == "response.output_text.delta")
            .count()
            > 1,
        "text arrives in several deltas"
    );
    assert_eq!(deltas(&events, "response.output_text.delta"), text);
    let seqs: Vec<u64> = events
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().expect("sequence_number"))
        .collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    let items = done_items(&events);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["type"], "message");
    assert_eq!(items[0]["role"], "assistant");
    assert_eq!(items[0]["content"][0]["type"], "output_text");
    assert_eq!(items[0]["content"][0]["text"], text);
    let created = &events[0].1["response"];
    let completed = &events.last().expect("events").1["response"];
    assert_eq!(created["id"], completed["id"]);
    assert!(
        completed["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("resp_"))
    );
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["model"], "gpt-5.5");
    let usage = &completed["usage"];
    assert!(usage["input_tokens"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(
            usage["input_tokens"].as_u64().unwrap_or(0)
                + usage["output_tokens"].as_u64().unwrap_or(0)
        )
    );
    assert_eq!(server.requests()[0].answer, Answer::Scripted(0));
}

#[test]
fn a_shell_turn_is_an_exec_command_function_call() {
    let cmd = "printf 'hello\\n' > hello.txt";
    let server = instant([Turn::shell(cmd), Turn::text("Created hello.txt.")]);
    let events = request(&server, "POST", "/v1/responses", Some(&responses(true))).events();
    let items = done_items(&events);
    assert_eq!(items.len(), 1);
    let call = &items[0];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "exec_command");
    assert!(
        call["call_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("call_"))
    );
    let args: Value =
        serde_json::from_str(call["arguments"].as_str().expect("arguments string")).expect("JSON");
    assert_eq!(args, json!({ "cmd": cmd }));
    assert_eq!(
        deltas(&events, "response.function_call_arguments.delta"),
        call["arguments"].as_str().expect("arguments")
    );
    let added = events
        .iter()
        .find(|(e, _)| e == "response.output_item.added")
        .expect("item added");
    assert_eq!(added.1["item"]["arguments"], "");
    assert_eq!(added.1["item"]["call_id"], call["call_id"]);
    // The tool's output comes back in the next request, which takes the next turn.
    let events = request(&server, "POST", "/v1/responses", Some(&responses(true))).events();
    assert_eq!(
        deltas(&events, "response.output_text.delta"),
        "Created hello.txt."
    );
}

#[test]
fn an_escalated_shell_turn_asks_for_approval_in_its_arguments() {
    let server = instant([Turn::shell_escalated("touch x", "May I create x?")]);
    let events = request(&server, "POST", "/v1/responses", Some(&responses(true))).events();
    let args: Value = serde_json::from_str(
        done_items(&events)[0]["arguments"]
            .as_str()
            .expect("arguments"),
    )
    .expect("JSON");
    assert_eq!(args["sandbox_permissions"], "require_escalated");
    assert_eq!(args["justification"], "May I create x?");
}

#[test]
fn an_apply_patch_turn_is_a_custom_tool_call_with_the_raw_patch() {
    let patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n";
    let server = instant([Turn::apply_patch(patch)]);
    let events = request(&server, "POST", "/v1/responses", Some(&responses(true))).events();
    let items = done_items(&events);
    assert_eq!(items[0]["type"], "custom_tool_call");
    assert_eq!(items[0]["name"], "apply_patch");
    assert_eq!(items[0]["input"], patch);
    assert_eq!(
        deltas(&events, "response.custom_tool_call_input.delta"),
        patch
    );
}

#[test]
fn text_before_a_tool_call_is_its_own_output_item() {
    let server = instant([Turn::ToolUse {
        text: Some("Running it.".into()),
        name: "exec_command".into(),
        input: json!({ "cmd": "true" }),
    }]);
    let events = request(&server, "POST", "/v1/responses", Some(&responses(true))).events();
    let items = done_items(&events);
    let kinds: Vec<&str> = items.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(kinds, ["message", "function_call"]);
    let indexes: Vec<u64> = events
        .iter()
        .filter(|(e, _)| e == "response.output_item.done")
        .filter_map(|(_, d)| d["output_index"].as_u64())
        .collect();
    assert_eq!(indexes, [0, 1]);
}

#[test]
fn non_streaming_responses_requests_get_one_response_object() {
    let server = instant([Turn::text("plain")]);
    let resp = request(&server, "POST", "/v1/responses", Some(&responses(false)));
    assert_eq!(resp.status, 200);
    let body = resp.json();
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["content"][0]["text"], "plain");
    assert!(body["usage"]["output_tokens"].as_u64().is_some());
}

#[test]
fn rate_limit_on_responses_is_429_with_retry_after_and_openai_error_json() {
    let server = instant([Turn::rate_limited(3), Turn::overloaded()]);
    let resp = request(&server, "POST", "/v1/responses", Some(&responses(true)));
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("retry-after"), Some("3"));
    let err = resp.json();
    assert!(err.get("type").is_none(), "no Anthropic envelope: {err}");
    assert_eq!(err["error"]["type"], "requests");
    assert_eq!(err["error"]["code"], "rate_limit_exceeded");
    assert_eq!(err["error"]["param"], Value::Null);
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let resp = request(&server, "POST", "/v1/responses", Some(&responses(true)));
    assert_eq!(resp.status, 529);
    assert_eq!(resp.json()["error"]["code"], "server_is_overloaded");
}

#[test]
fn codex_title_requests_get_schema_json_and_do_not_consume_turns() {
    let server = instant([Turn::text("the real answer")]);
    let mut title = responses(true);
    title["text"] = json!({ "verbosity": "low", "format": {
        "type": "json_schema", "strict": true, "name": "codex_output_schema",
        "schema": { "type": "object", "properties": {
            "title": { "type": "string", "minLength": 1, "maxLength": 36 } },
            "required": ["title"], "additionalProperties": false } } });
    let events = request(&server, "POST", "/v1/responses", Some(&title)).events();
    let text = deltas(&events, "response.output_text.delta");
    let parsed: Value = serde_json::from_str(&text).expect("the text is JSON");
    assert_eq!(parsed, json!({ "title": SIDE_TEXT }));
    let events = request(&server, "POST", "/v1/responses", Some(&responses(true))).events();
    assert_eq!(
        deltas(&events, "response.output_text.delta"),
        "the real answer"
    );
    let answers: Vec<Answer> = server.requests().into_iter().map(|r| r.answer).collect();
    assert_eq!(answers, [Answer::Side, Answer::Scripted(0)]);
}

#[test]
fn model_listing_answers_without_consuming_turns() {
    let server = instant([Turn::text("kept")]);
    let resp = request(&server, "GET", "/v1/models", None);
    assert_eq!(resp.status, 200);
    let list = resp.json();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"gpt-5.5"), "{ids:?}");
    assert_eq!(server.requests()[0].answer, Answer::Models);
    assert_eq!(server.remaining(), 1);
}

#[test]
fn a_dropped_responses_stream_ends_after_response_created() {
    let server = instant([Turn::dropped(), Turn::text("after the drop")]);
    let resp = request(&server, "POST", "/v1/responses", Some(&responses(true)));
    assert_eq!(resp.status, 200);
    let events = resp.events();
    assert_eq!(event_names(&events), ["response.created"]);
    let events = request(&server, "POST", "/v1/responses", Some(&responses(true))).events();
    assert_eq!(
        deltas(&events, "response.output_text.delta"),
        "after the drop"
    );
    let answers: Vec<Answer> = server.requests().into_iter().map(|r| r.answer).collect();
    assert_eq!(answers, [Answer::Scripted(0), Answer::Scripted(1)]);
}

#[test]
fn a_dropped_messages_stream_ends_after_message_start() {
    let server = instant([Turn::dropped(), Turn::text("after the drop")]);
    let resp = request(&server, "POST", "/v1/messages", Some(&messages(true)));
    assert_eq!(resp.status, 200);
    assert_eq!(event_names(&resp.events()), ["message_start"]);
    let events = request(&server, "POST", "/v1/messages", Some(&messages(true))).events();
    assert_eq!(text_of(&events), "after the drop");
}

#[test]
fn a_dropped_json_answer_is_cut_short() {
    let server = instant([Turn::dropped()]);
    let mut conn = TcpStream::connect(server.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let body = responses(false).to_string();
    let head = format!(
        "POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).expect("write head");
    conn.write_all(body.as_bytes()).expect("write body");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)
        .expect("EOF: the server closed the connection");
    let raw = String::from_utf8_lossy(&raw);
    let (_, body) = raw.split_once("\r\n\r\n").expect("head sent");
    assert!(
        body.len() < 4096,
        "fewer bytes than the content-length promised"
    );
    assert!(serde_json::from_str::<Value>(body).is_err());
}

/// A server answering at once (these tests are about the wire format, not timing).
fn instant(scenario: impl Into<Scenario>) -> ModelServer {
    let server = ModelServer::start(scenario).expect("model server");
    server.set_pace(Pace::INSTANT);
    server
}

/// A main request of Gemini CLI's agent loop: streaming, tools declared.
fn gemini_main() -> Value {
    json!({
        "contents": [{ "role": "user", "parts": [{ "text": "create hello.txt" }] }],
        "systemInstruction": { "role": "user", "parts": [{ "text": "You are Gemini CLI" }] },
        "tools": [{ "functionDeclarations": [{ "name": "write_file", "parametersJsonSchema": {} }] }],
        "generationConfig": { "temperature": 1 },
    })
}

/// The JSON of each `data:` frame of a Gemini stream, checking the framing.
fn gemini_chunks(body: &str) -> Vec<Value> {
    assert!(
        body.ends_with("\r\n\r\n"),
        "frames end with CRLF CRLF: {body:?}"
    );
    body.trim_end()
        .split("\r\n\r\n")
        .map(|frame| {
            let data = frame.strip_prefix("data: ").expect("a data: frame");
            serde_json::from_str(data).expect("frame is JSON")
        })
        .collect()
}

#[test]
fn streams_gemini_text_and_function_calls_the_way_gemini_cli_reads_them() {
    let server = instant([
        Turn::text("Hello from the scripted model, in several chunks."),
        Turn::tool_use(
            "write_file",
            json!({ "file_path": "hello.txt", "content": "hi\n" }),
        ),
    ]);
    let path = "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse";
    let r = request(&server, "POST", path, Some(&gemini_main()));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let chunks = gemini_chunks(&r.body);
    assert!(chunks.len() > 1, "text streams in pieces");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from the scripted model, in several chunks.");
    let last = chunks.last().expect("last");
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        last["modelVersion"], "gemini-3.8-flash",
        "the model from the path"
    );
    assert!(last["usageMetadata"]["promptTokenCount"].is_u64());
    for c in &chunks[..chunks.len() - 1] {
        assert!(c["candidates"][0]["finishReason"].is_null());
        assert_eq!(c["candidates"][0]["content"]["role"], "model");
    }
    let r = request(&server, "POST", path, Some(&gemini_main()));
    let chunks = gemini_chunks(&r.body);
    let call =
        &chunks.last().expect("chunk")["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "write_file");
    assert_eq!(call["args"]["file_path"], "hello.txt");
    assert_eq!(server.answered(), 2);
}

#[test]
fn gemini_router_and_summary_requests_are_side_requests() {
    let server = instant([Turn::text("the real answer")]);
    let router = json!({
        "contents": [{ "role": "user", "parts": [{ "text": "create hello.txt" }] }],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseJsonSchema": { "type": "OBJECT", "properties": {
                "complexity_reasoning": { "type": "STRING" },
                "complexity_score": { "type": "INTEGER" } } },
        },
    });
    let r = request(
        &server,
        "POST",
        "/v1beta/models/gemini-3.5-flash-lite:generateContent",
        Some(&router),
    );
    assert_eq!(r.status, 200);
    let text = r.json()["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .expect("text")
        .to_string();
    let answer: Value = serde_json::from_str(&text).expect("JSON text");
    assert_eq!(answer["complexity_score"], 10);
    assert_eq!(answer["complexity_reasoning"], SIDE_TEXT);
    let summary = json!({ "contents": [{ "role": "user", "parts": [{ "text": "Summarize the user's primary intent" }] }] });
    let r = request(
        &server,
        "POST",
        "/v1beta/models/gemini-3.5-flash-lite:generateContent",
        Some(&summary),
    );
    assert_eq!(
        r.json()["candidates"][0]["content"]["parts"][0]["text"],
        SIDE_TEXT
    );
    assert_eq!(server.answered(), 0, "no scripted turn consumed");
    assert!(server.requests().iter().all(|q| q.answer == Answer::Side));
}

#[test]
fn a_gemini_rate_limit_is_429_with_googles_error_json() {
    let server = instant([Turn::rate_limited(3)]);
    let r = request(
        &server,
        "POST",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        Some(&gemini_main()),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    let e = r.json();
    assert_eq!(e["error"]["code"], 429);
    assert_eq!(e["error"]["status"], "RESOURCE_EXHAUSTED");
}

#[test]
fn a_realistic_pace_holds_the_first_token_and_records_the_last_byte() {
    let server = ModelServer::start([Turn::text("slow")]).expect("server");
    server.set_pace(Pace {
        first_token: Duration::from_millis(300),
        gap: Duration::ZERO,
    });
    let r = request(&server, "POST", "/v1/messages", Some(&messages(true)));
    assert_eq!(r.status, 200);
    let req = server.requests().remove(0);
    let took = req.finished.expect("finished") - req.received;
    assert!(
        took >= Duration::from_millis(300),
        "answered after {took:?}"
    );
    assert_eq!(server.last_main_finished(), req.finished);
}
