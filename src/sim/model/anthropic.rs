//! The Anthropic Messages API as Claude Code uses it (`POST /v1/messages`, streaming).
//!
//! A stream is the events Anthropic documents
//! (<https://docs.anthropic.com/en/api/messages-streaming>): `message_start`,
//! `content_block_start`, `ping`, `content_block_delta` carrying `text_delta` /
//! `input_json_delta`, `content_block_stop`, `message_delta` with `stop_reason` `end_turn` or
//! `tool_use`, `message_stop`.

use std::net::TcpStream;

use serde_json::{Value, json};

use super::http::{Sse, cut_json, pieces, send_json};
use super::{Shared, Turn};

/// Anthropic's error body: `{"type": "error", "error": {type, message}}`.
pub(super) fn error_body(kind: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// True for a request of Claude Code's agent loop: it always declares its tools (27 in
/// 2.1.197); side requests (the session title) declare none.
pub(super) fn is_main(body: &Value) -> bool {
    body.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
}

/// The content blocks (complete, as in a non-streaming reply) and the stop reason.
fn content_blocks(turn: &Turn, shared: &Shared) -> (Vec<Value>, &'static str) {
    match turn {
        Turn::Text(t) => (vec![json!({ "type": "text", "text": t })], "end_turn"),
        Turn::ToolUse { text, name, input } => {
            let mut blocks = vec![];
            if let Some(t) = text {
                blocks.push(json!({ "type": "text", "text": t }));
            }
            blocks.push(json!({
                "type": "tool_use",
                "id": format!("toolu_scripted_{:06}", shared.next_id()),
                "name": name,
                "input": input,
            }));
            (blocks, "tool_use")
        }
        // Errors are answered before this; a delay is never popped as an answer.
        Turn::Error { .. } | Turn::UsageLimit { .. } | Turn::Delay(_) | Turn::Drop => {
            (vec![], "end_turn")
        }
    }
}

/// Tokens every answer says it wrote to the prompt cache (its reads are half its input).
const CACHE_WRITE: u64 = 64;

/// Sends `turn` (text, tool call or a dropped connection) as a Messages answer; returns
/// whether the connection may be kept open. `reported` gets the usage the answer reports,
/// unless it is dropped.
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
    let id = format!("msg_scripted_{:06}", shared.next_id());
    let start = json!({ "type": "message_start", "message": {
        "id": id, "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": CACHE_WRITE,
            "cache_read_input_tokens": input_tokens / 2,
            "output_tokens": 1,
        },
    }});
    if *turn == Turn::Drop {
        if !stream {
            cut_json(out)?;
            return Ok(false);
        }
        let mut sse = Sse::open(out, pace)?;
        sse.meta(Some("message_start"), &start)?;
        sse.cut()?;
        return Ok(false);
    }
    let (blocks, stop_reason) = content_blocks(turn, shared);
    let output_tokens = blocks
        .iter()
        .map(|b| b.to_string().len() as u64 / 4)
        .sum::<u64>()
        .max(1);
    // What this answer reports, as the CLI's record should count it.
    *reported = Some(crate::provider::usage::Usage {
        input: i64::try_from(input_tokens).unwrap_or(0),
        output: i64::try_from(output_tokens).unwrap_or(0),
        cache_read: i64::try_from(input_tokens / 2).unwrap_or(0),
        cache_write: i64::try_from(CACHE_WRITE).unwrap_or(0),
        reasoning: 0,
    });
    if !stream {
        std::thread::sleep(pace.first_token);
        let body = json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": CACHE_WRITE,
                "cache_read_input_tokens": input_tokens / 2,
                "output_tokens": output_tokens,
            },
        });
        send_json(out, 200, &[], &body, shared.next_id())?;
        return Ok(true);
    }
    let mut sse = Sse::open(out, pace)?;
    sse.meta(Some("message_start"), &start)?;
    for (index, block) in blocks.iter().enumerate() {
        let opening = match block["type"].as_str() {
            Some("text") => json!({ "type": "text", "text": "" }),
            _ => {
                json!({ "type": "tool_use", "id": block["id"], "name": block["name"], "input": {} })
            }
        };
        sse.meta(
            Some("content_block_start"),
            &json!({ "type": "content_block_start", "index": index, "content_block": opening }),
        )?;
        if index == 0 {
            sse.meta(Some("ping"), &json!({ "type": "ping" }))?;
        }
        let deltas: Vec<Value> = match block["type"].as_str() {
            Some("text") => pieces(block["text"].as_str().unwrap_or(""), 16)
                .into_iter()
                .map(|p| json!({ "type": "text_delta", "text": p }))
                .collect(),
            _ => std::iter::once(String::new())
                .chain(pieces(&block["input"].to_string(), 24))
                .map(|p| json!({ "type": "input_json_delta", "partial_json": p }))
                .collect(),
        };
        for delta in deltas {
            sse.content(
                Some("content_block_delta"),
                &json!({ "type": "content_block_delta", "index": index, "delta": delta }),
            )?;
        }
        sse.meta(
            Some("content_block_stop"),
            &json!({ "type": "content_block_stop", "index": index }),
        )?;
    }
    sse.meta(
        Some("message_delta"),
        &json!({ "type": "message_delta",
                 "delta": { "stop_reason": stop_reason, "stop_sequence": null },
                 "usage": { "output_tokens": output_tokens } }),
    )?;
    sse.meta(Some("message_stop"), &json!({ "type": "message_stop" }))?;
    Ok(false)
}
