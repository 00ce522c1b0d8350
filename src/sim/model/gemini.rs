//! The Gemini API as Gemini CLI uses it: `POST /v1beta/models/<model>:streamGenerateContent
//! ?alt=sse` (and `:generateContent`, `:countTokens`), authenticated by `x-goog-api-key`.
//!
//! A stream is `data: <GenerateContentResponse JSON>` frames
//! (<https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent>): each
//! has `candidates[0].content` with `role: "model"` and `parts` (`{text}` or
//! `{functionCall: {name, args}}`); the last adds `finishReason: "STOP"` and
//! `usageMetadata`. The CLI sends the tool results back as `functionResponse` parts.

use std::net::TcpStream;

use serde_json::{Value, json};

use super::http::{Sse, cut_json, pieces, send_json};
use super::{SIDE_TEXT, Shared, Turn};

/// Which Gemini method a route calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `:streamGenerateContent`
    Stream,
    /// `:generateContent`
    Generate,
    /// `:countTokens`
    CountTokens,
}

/// The model and method of a `/v1beta/models/<model>:<method>` route.
pub(super) fn method(route: &str) -> Option<(String, Method)> {
    let rest = route
        .strip_prefix("/v1beta/models/")
        .or_else(|| route.strip_prefix("/v1alpha/models/"))?;
    let (model, method) = rest.rsplit_once(':')?;
    let method = match method {
        "streamGenerateContent" => Method::Stream,
        "generateContent" => Method::Generate,
        "countTokens" => Method::CountTokens,
        _ => return None,
    };
    Some((model.to_string(), method))
}

/// Google's error body `{"error": {code, message, status}}`.
pub(super) fn error_body(status: u16, message: &str) -> Value {
    let name = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };
    json!({ "error": { "code": status, "message": message, "status": name } })
}

/// The answer to a side request, or `None` for a request of the agent loop. Gemini CLI
/// 0.61.0's side requests ask for JSON (`generationConfig.responseMimeType =
/// "application/json"` with a `responseJsonSchema`: the model router before each prompt,
/// `complexity_reasoning` + `complexity_score`; the classifier, `model_choice`; the
/// next-speaker check, `next_speaker`), answered by filling the schema; or are non-streaming
/// calls without tools (the session summary), answered with text. The agent loop always
/// streams and always declares its tools.
pub(super) fn side_reply(body: &Value, method: Method) -> Option<String> {
    let config = &body["generationConfig"];
    if config["responseMimeType"].as_str() == Some("application/json") {
        let schema = if config["responseJsonSchema"].is_object() {
            &config["responseJsonSchema"]
        } else {
            &config["responseSchema"]
        };
        return Some(fill(schema).to_string());
    }
    let has_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    (method == Method::Generate && !has_tools).then(|| SIDE_TEXT.to_string())
}

/// A JSON value satisfying `schema` (types in either case, as Gemini CLI writes them): an
/// enum's first value, [`SIDE_TEXT`] for strings, 10 for numbers (a low router complexity
/// score: the flash model), false, empty arrays, objects filled recursively.
fn fill(schema: &Value) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"]
        .as_str()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("string") => json!(SIDE_TEXT),
        Some("integer" | "number") => json!(10),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        _ => {
            let mut out = serde_json::Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (k, v) in props {
                    out.insert(k.clone(), fill(v));
                }
            }
            Value::Object(out)
        }
    }
}

/// The parts of a turn: text, then a function call.
fn parts(turn: &Turn) -> Vec<Value> {
    match turn {
        Turn::Text(t) => vec![json!({ "text": t })],
        Turn::ToolUse { text, name, input } => {
            let mut parts = vec![];
            if let Some(t) = text {
                parts.push(json!({ "text": t }));
            }
            parts.push(json!({ "functionCall": { "name": name, "args": input } }));
            parts
        }
        Turn::Error { .. } | Turn::UsageLimit { .. } | Turn::Delay(_) | Turn::Drop => vec![],
    }
}

/// One `GenerateContentResponse` with `parts`; `last` adds the finish reason and usage.
fn chunk(parts: Vec<Value>, model: &str, last: bool, usage: &Value) -> Value {
    let mut candidate = json!({ "content": { "role": "model", "parts": parts }, "index": 0 });
    let mut out = json!({ "modelVersion": model, "responseId": "scripted" });
    if last {
        candidate["finishReason"] = json!("STOP");
        out["usageMetadata"] = usage.clone();
    }
    out["candidates"] = json!([candidate]);
    out
}

/// Sends `turn` as a Gemini answer; returns whether the connection may be kept open.
pub(super) fn send(
    out: &mut TcpStream,
    _shared: &Shared,
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
    let parts = parts(turn);
    let output_tokens = parts
        .iter()
        .map(|p| p.to_string().len() as u64 / 4)
        .sum::<u64>()
        .max(1);
    // Half the prompt cached (part of it), thoughts besides the candidates (Gemini API,
    // `UsageMetadata`).
    let thoughts = output_tokens / 4;
    let usage = json!({
        "promptTokenCount": input_tokens,
        "cachedContentTokenCount": input_tokens / 2,
        "candidatesTokenCount": output_tokens,
        "thoughtsTokenCount": thoughts,
        "totalTokenCount": input_tokens + output_tokens + thoughts,
    });
    if *turn != Turn::Drop {
        *reported = Some(crate::provider::usage::Usage {
            input: i64::try_from(input_tokens - input_tokens / 2).unwrap_or(0),
            output: i64::try_from(output_tokens + thoughts).unwrap_or(0),
            cache_read: i64::try_from(input_tokens / 2).unwrap_or(0),
            cache_write: 0,
            reasoning: i64::try_from(thoughts).unwrap_or(0),
        });
    }
    if *turn == Turn::Drop {
        if !stream {
            cut_json(out)?;
            return Ok(false);
        }
        let mut sse = Sse::open(out, pace)?;
        sse.meta(
            None,
            &chunk(vec![json!({ "text": "" })], model, false, &usage),
        )?;
        sse.cut()?;
        return Ok(false);
    }
    if !stream {
        std::thread::sleep(pace.first_token);
        send_json(out, 200, &[], &chunk(parts, model, true, &usage), 0)?;
        return Ok(true);
    }
    // Text streams in pieces; a function call comes whole in the last frame.
    let mut frames: Vec<Vec<Value>> = vec![];
    let mut calls = vec![];
    for p in parts {
        match p["text"].as_str() {
            Some(t) => frames.extend(
                pieces(t, 16)
                    .into_iter()
                    .map(|piece| vec![json!({ "text": piece })]),
            ),
            None => calls.push(p),
        }
    }
    if !calls.is_empty() || frames.is_empty() {
        frames.push(calls);
    }
    let mut sse = Sse::open(out, pace)?;
    let n = frames.len();
    for (i, frame) in frames.into_iter().enumerate() {
        sse.content(None, &chunk(frame, model, i + 1 == n, &usage))?;
    }
    Ok(false)
}
