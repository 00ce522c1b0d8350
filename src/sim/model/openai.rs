//! The OpenAI Responses API as Codex uses it (`POST /v1/responses`, streaming).
//!
//! A stream is the events OpenAI documents
//! (<https://platform.openai.com/docs/api-reference/responses-streaming>) and Codex consumes:
//! `response.created`, `response.in_progress`, per output item `response.output_item.added`,
//! its deltas — `response.content_part.added`, `response.output_text.delta`…,
//! `response.output_text.done`, `response.content_part.done` for a message;
//! `response.function_call_arguments.delta`… / `.done` for a function call;
//! `response.custom_tool_call_input.delta`… / `.done` for a custom (freeform) tool call — and
//! `response.output_item.done`, then `response.completed` with `usage`. Every event has a
//! `sequence_number`.

use std::net::TcpStream;

use serde_json::{Value, json};

use super::http::{Sse, cut_json, pieces, send_json};
use super::{SIDE_TEXT, Shared, Turn};

/// Models listed by `GET /v1/models`.
pub const MODELS: &[&str] = &["gpt-5.5", "claude-opus-4-8"];

/// OpenAI's error body `{"error": {message, type, param, code}}` for an error given by its
/// Anthropic type (the [`Turn::Error`] `kind`): `rate_limit_error` becomes type `requests`,
/// code `rate_limit_exceeded`; `overloaded_error` becomes `server_error` /
/// `server_is_overloaded`; a kind that is not an Anthropic type is used as OpenAI's type,
/// without a code.
pub(super) fn error_body(status: u16, kind: &str, message: &str) -> Value {
    let (kind, code) = match kind {
        "rate_limit_error" => ("requests".to_string(), Some("rate_limit_exceeded")),
        "overloaded_error" => ("server_error".into(), Some("server_is_overloaded")),
        "api_error" => ("server_error".into(), None),
        "not_found_error" => ("invalid_request_error".into(), Some("not_found")),
        "authentication_error" => ("invalid_request_error".into(), Some("invalid_api_key")),
        _ if status == 429 && kind.is_empty() => ("requests".into(), Some("rate_limit_exceeded")),
        other => (other.to_string(), None),
    };
    json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
}

/// The model list `GET /v1/models` answers.
pub(super) fn model_list() -> Value {
    json!({
        "object": "list",
        "data": MODELS.iter().map(|id| json!({
            "id": id, "object": "model", "created": 1_700_000_000, "owned_by": "scripted",
        })).collect::<Vec<_>>(),
    })
}

/// A side request of Codex: one with a JSON-schema output format (`text.format.type =
/// "json_schema"`), which Codex uses for the thread title and nothing in the agent loop.
pub(super) fn is_side(body: &Value) -> bool {
    body["text"]["format"]["type"].as_str() == Some("json_schema")
}

/// JSON text satisfying a side request's output schema: every string property gets
/// [`SIDE_TEXT`] (Codex's title schema is `{"title": string}`).
pub(super) fn side_json(body: &Value) -> String {
    schema_filler(&body["text"]["format"]["schema"])
}

/// A JSON object filling `schema`'s properties: strings with [`SIDE_TEXT`], numbers 0,
/// booleans false, arrays empty.
fn schema_filler(schema: &Value) -> String {
    let mut out = serde_json::Map::new();
    if let Some(props) = schema["properties"].as_object() {
        for (k, v) in props {
            let value = match v["type"].as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("string") => Value::String(SIDE_TEXT.to_string()),
                Some("boolean") => Value::Bool(false),
                Some("number" | "integer") => json!(0),
                Some("array") => json!([]),
                _ => Value::Null,
            };
            out.insert(k.clone(), value);
        }
    }
    Value::Object(out).to_string()
}

/// A Responses API `response` object.
fn response_object(
    id: &str,
    model: &str,
    status: &str,
    output: &[Value],
    usage: Option<&Value>,
) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": 1_700_000_000,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "usage": usage,
    })
}

/// The output items of a turn, complete: an assistant `message` with one `output_text`
/// part, then for a tool call a `function_call` (object input, JSON-encoded into
/// `arguments`) or a `custom_tool_call` (string input, e.g. `apply_patch`).
fn output_items(turn: &Turn, shared: &Shared) -> Vec<Value> {
    let message = |text: &str, shared: &Shared| {
        json!({
            "type": "message",
            "id": format!("msg_scripted_{:06}", shared.next_id()),
            "status": "completed",
            "role": "assistant",
            "content": [{ "type": "output_text", "text": text, "annotations": [] }],
        })
    };
    match turn {
        Turn::Text(t) => vec![message(t, shared)],
        Turn::ToolUse { text, name, input } => {
            let mut items = vec![];
            if let Some(t) = text {
                items.push(message(t, shared));
            }
            let n = shared.next_id();
            items.push(match input {
                Value::String(raw) => json!({
                    "type": "custom_tool_call",
                    "id": format!("ctc_scripted_{n:06}"),
                    "status": "completed",
                    "call_id": format!("call_scripted_{n:06}"),
                    "name": name,
                    "input": raw,
                }),
                other if name == super::script::TOOL_SEARCH => json!({
                    "type": "tool_search_call",
                    "id": format!("tsc_scripted_{n:06}"),
                    "status": "completed",
                    "call_id": format!("call_scripted_{n:06}"),
                    "execution": "client",
                    "arguments": other,
                }),
                other => {
                    let mut call = json!({
                        "type": "function_call",
                        "id": format!("fc_scripted_{n:06}"),
                        "status": "completed",
                        "call_id": format!("call_scripted_{n:06}"),
                        "name": name,
                        "arguments": other.to_string(),
                    });
                    if let Some((ns, short)) = name.split_once(super::script::NAMESPACE_SEPARATOR) {
                        call["namespace"] = json!(ns);
                        call["name"] = json!(short);
                    }
                    call
                }
            });
            items
        }
        // Errors are answered before this; a delay is never popped as an answer.
        Turn::Error { .. } | Turn::UsageLimit { .. } | Turn::Delay(_) | Turn::Drop => vec![],
    }
}

/// Sends `turn` as a Responses answer; returns whether the connection may be kept open.
pub(super) fn send(
    out: &mut TcpStream,
    shared: &Shared,
    ask: &super::Ask<'_>,
    reported: &mut Option<crate::provider::usage::Usage>,
) -> std::io::Result<bool> {
    let super::Ask {
        turn,
        stream,
        model,
        input_tokens,
        pace,
    } = *ask;
    let id = format!("resp_scripted_{:06}", shared.next_id());
    let pending = response_object(&id, model, "in_progress", &[], None);
    if *turn == Turn::Drop {
        if !stream {
            cut_json(out)?;
            return Ok(false);
        }
        let mut sse = Sse::open(out, pace)?;
        let first =
            json!({ "type": "response.created", "sequence_number": 0, "response": pending });
        sse.meta(Some("response.created"), &first)?;
        sse.cut()?;
        return Ok(false);
    }
    let items = output_items(turn, shared);
    let output_tokens = items
        .iter()
        .map(|b| b.to_string().len() as u64 / 4)
        .sum::<u64>()
        .max(1);
    // Half the input read from the cache, a quarter of the output reasoning (both parts
    // of their totals, as the Responses API counts them).
    let usage = json!({
        "input_tokens": input_tokens,
        "input_tokens_details": { "cached_tokens": input_tokens / 2 },
        "output_tokens": output_tokens,
        "output_tokens_details": { "reasoning_tokens": output_tokens / 4 },
        "total_tokens": input_tokens + output_tokens,
    });
    *reported = Some(crate::provider::usage::Usage {
        input: i64::try_from(input_tokens - input_tokens / 2).unwrap_or(0),
        output: i64::try_from(output_tokens).unwrap_or(0),
        cache_read: i64::try_from(input_tokens / 2).unwrap_or(0),
        cache_write: 0,
        reasoning: i64::try_from(output_tokens / 4).unwrap_or(0),
    });
    if !stream {
        std::thread::sleep(pace.first_token);
        let body = response_object(&id, model, "completed", &items, Some(&usage));
        send_json(out, 200, &[], &body, shared.next_id())?;
        return Ok(true);
    }
    let mut sse = Sse::open(out, pace)?;
    let mut seq = 0u64;
    // Writes one event with the next sequence number; `content` events are paced.
    let mut emit = |sse: &mut Sse, content: bool, mut data: Value| -> std::io::Result<()> {
        data["sequence_number"] = json!(seq);
        seq += 1;
        let event = data["type"].as_str().unwrap_or("").to_string();
        if content {
            sse.content(Some(&event), &data)
        } else {
            sse.meta(Some(&event), &data)
        }
    };
    emit(
        &mut sse,
        false,
        json!({ "type": "response.created", "response": pending }),
    )?;
    emit(
        &mut sse,
        false,
        json!({ "type": "response.in_progress", "response": pending }),
    )?;
    for (index, item) in items.iter().enumerate() {
        let item_id = item["id"].clone();
        match item["type"].as_str() {
            Some("message") => {
                let text = item["content"][0]["text"].as_str().unwrap_or("");
                let mut added = item.clone();
                added["status"] = json!("in_progress");
                added["content"] = json!([]);
                emit(
                    &mut sse,
                    false,
                    json!({ "type": "response.output_item.added", "output_index": index, "item": added }),
                )?;
                emit(
                    &mut sse,
                    false,
                    json!({ "type": "response.content_part.added", "item_id": item_id,
                            "output_index": index, "content_index": 0,
                            "part": { "type": "output_text", "text": "", "annotations": [] } }),
                )?;
                for p in pieces(text, 16) {
                    emit(
                        &mut sse,
                        true,
                        json!({ "type": "response.output_text.delta", "item_id": item_id,
                                "output_index": index, "content_index": 0, "delta": p }),
                    )?;
                }
                emit(
                    &mut sse,
                    false,
                    json!({ "type": "response.output_text.done", "item_id": item_id,
                            "output_index": index, "content_index": 0, "text": text }),
                )?;
                emit(
                    &mut sse,
                    false,
                    json!({ "type": "response.content_part.done", "item_id": item_id,
                            "output_index": index, "content_index": 0,
                            "part": item["content"][0] }),
                )?;
            }
            // A tool search is sent whole, in its `output_item.done`.
            Some("tool_search_call") => {}
            Some(kind) => {
                let (field, delta_event, done_event) = if kind == "custom_tool_call" {
                    (
                        "input",
                        "response.custom_tool_call_input.delta",
                        "response.custom_tool_call_input.done",
                    )
                } else {
                    (
                        "arguments",
                        "response.function_call_arguments.delta",
                        "response.function_call_arguments.done",
                    )
                };
                let full = item[field].as_str().unwrap_or("").to_string();
                let mut added = item.clone();
                added["status"] = json!("in_progress");
                added[field] = json!("");
                emit(
                    &mut sse,
                    false,
                    json!({ "type": "response.output_item.added", "output_index": index, "item": added }),
                )?;
                for p in pieces(&full, 24) {
                    emit(
                        &mut sse,
                        true,
                        json!({ "type": delta_event, "item_id": item_id,
                                "output_index": index, "delta": p }),
                    )?;
                }
                emit(
                    &mut sse,
                    false,
                    json!({ "type": done_event, "item_id": item_id,
                            "output_index": index, field: full }),
                )?;
            }
            None => {}
        }
        emit(
            &mut sse,
            false,
            json!({ "type": "response.output_item.done", "output_index": index, "item": item }),
        )?;
    }
    let done = response_object(&id, model, "completed", &items, Some(&usage));
    emit(
        &mut sse,
        false,
        json!({ "type": "response.completed", "response": done }),
    )?;
    Ok(false)
}
