//! bosun's Gemini CLI settings layer merged into the user's own `settings.json`, for the
//! per-run home ([`super::layer`]) whose `.gemini/settings.json` Gemini CLI reads as the
//! user's settings.
//!
//! The user's settings stay in force: hook lists are concatenated per event (the user's own
//! hooks keep running next to bosun's), `mcpServers` gains `bosun`, and of bosun's scalar keys
//! only those bosun needs win (`ui.errorVerbosity = "full"`, else Gemini CLI retries a 429
//! forever). A user who switched hooks off (`hooksConfig.enabled = false`) keeps theirs off:
//! only bosun's run. An `mcp.allowed` list gets `bosun`, an `mcp.excluded` one loses it.

use serde_json::{Map, Value, json};

/// `text` with its `//` and `/* */` comments blanked out, strings left alone: the JSON Gemini
/// CLI reads after `strip-json-comments` (its settings files may hold comments).
pub fn strip_json_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                // To the end of the line; the newline itself stays.
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = '\0';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    if n == '\n' {
                        out.push('\n');
                    }
                    prev = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The user's Gemini CLI settings from the text of their `settings.json` (comments allowed,
/// as Gemini CLI allows them); an empty file is no settings.
///
/// # Errors
/// Why it is not a JSON object, in words (Gemini CLI itself refuses to start on it).
pub fn parse_user_settings(text: &str) -> Result<Value, String> {
    let stripped = strip_json_comments(text);
    if stripped.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(&stripped) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("it is not a JSON object".into()),
        Err(e) => Err(format!("it is not valid JSON: {e}")),
    }
}

/// `user`'s settings with bosun's `layer` ([`super::gemini_settings_with`]) merged in, as
/// the module docs say.
pub fn merge(user: &Value, layer: &Value) -> Value {
    let mut out = match user {
        Value::Object(_) => user.clone(),
        _ => json!({}),
    };
    let Some(root) = out.as_object_mut() else {
        return layer.clone();
    };
    if let Some(hooks) = layer.get("hooks").and_then(Value::as_object) {
        let user_off = root
            .get("hooksConfig")
            .and_then(|c| c.get("enabled"))
            .is_some_and(|e| e == &Value::Bool(false));
        let mut mine = take_object(root, "hooks");
        if user_off {
            // Theirs stay off; bosun's need the hook system on.
            mine.clear();
            let mut config = take_object(root, "hooksConfig");
            config.insert("enabled".into(), json!(true));
            root.insert("hooksConfig".into(), Value::Object(config));
        }
        for (event, groups) in hooks {
            let mut list = match mine.remove(event) {
                Some(Value::Array(a)) => a,
                Some(Value::Null) | None => Vec::new(),
                Some(other) => vec![other],
            };
            list.extend(groups.as_array().cloned().unwrap_or_default());
            mine.insert(event.clone(), Value::Array(list));
        }
        root.insert("hooks".into(), Value::Object(mine));
    }
    if let Some(servers) = layer.get("mcpServers").and_then(Value::as_object) {
        let mut mine = take_object(root, "mcpServers");
        for (name, server) in servers {
            mine.insert(name.clone(), server.clone());
        }
        root.insert("mcpServers".into(), Value::Object(mine));
        let mut mcp = take_object(root, "mcp");
        for name in servers.keys() {
            if let Some(Value::Array(allowed)) = mcp.get_mut("allowed")
                && !allowed.iter().any(|a| a == name.as_str())
            {
                allowed.push(json!(name));
            }
            if let Some(Value::Array(excluded)) = mcp.get_mut("excluded") {
                excluded.retain(|e| e != name.as_str());
            }
        }
        if !mcp.is_empty() {
            root.insert("mcp".into(), Value::Object(mcp));
        }
    }
    if let Some(verbosity) = layer.get("ui").and_then(|u| u.get("errorVerbosity")) {
        let mut ui = take_object(root, "ui");
        ui.insert("errorVerbosity".into(), verbosity.clone());
        root.insert("ui".into(), Value::Object(ui));
    }
    out
}

/// The object under `key`, taken out of `map` (an empty one when it is missing or not an
/// object); the caller puts it back.
fn take_object(map: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match map.remove(key) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn layer() -> Value {
        super::super::gemini_settings_with("/opt/bosun", Path::new("/d/b.db"), 7, true)
    }

    #[test]
    fn the_users_hooks_run_next_to_bosuns() {
        let user = parse_user_settings(
            r#"{
              // my own hooks
              "hooks": { "AfterAgent": [{ "hooks": [{ "type": "command", "command": "notify-send done" }] }],
                         "AfterTool": [{ "hooks": [{ "type": "command", "command": "log // not a comment" }] }] },
              /* the rest */
              "ui": { "theme": "GitHub", "errorVerbosity": "low" },
              "mcpServers": { "mine": { "command": "my-mcp" } },
              "mcp": { "allowed": ["mine"], "excluded": ["bosun"] },
              "security": { "auth": { "selectedType": "gemini-api-key" } }
            }"#,
        )
        .expect("parses");
        let merged = merge(&user, &layer());
        let after = merged["hooks"]["AfterAgent"].as_array().expect("list");
        assert_eq!(after.len(), 2, "{merged}");
        assert_eq!(after[0]["hooks"][0]["command"], "notify-send done");
        assert_eq!(
            after[1]["hooks"][0]["command"],
            "/opt/bosun --db /d/b.db hook --run 7"
        );
        assert_eq!(
            merged["hooks"]["AfterTool"][0]["hooks"][0]["command"],
            "log // not a comment"
        );
        for event in super::super::GEMINI_SUBSCRIBED {
            assert!(merged["hooks"][event].as_array().is_some(), "{event}");
        }
        assert_eq!(merged["ui"]["theme"], "GitHub");
        assert_eq!(merged["ui"]["errorVerbosity"], "full", "bosun needs it");
        assert_eq!(merged["mcpServers"]["mine"]["command"], "my-mcp");
        assert_eq!(merged["mcpServers"]["bosun"]["command"], "/opt/bosun");
        assert_eq!(merged["mcp"]["allowed"], json!(["mine", "bosun"]));
        assert_eq!(merged["mcp"]["excluded"], json!([]));
        assert_eq!(merged["security"]["auth"]["selectedType"], "gemini-api-key");
        assert!(!merged.to_string().contains("hooksConfig"));
    }

    #[test]
    fn hooks_the_user_switched_off_stay_off_and_bosuns_run() {
        let user = json!({
            "hooksConfig": { "enabled": false },
            "hooks": { "AfterAgent": [{ "hooks": [{ "type": "command", "command": "mine" }] }] },
        });
        let merged = merge(&user, &layer());
        assert_eq!(merged["hooksConfig"]["enabled"], true);
        assert_eq!(
            merged["hooks"]["AfterAgent"].as_array().map(Vec::len),
            Some(1)
        );
        assert!(!merged.to_string().contains("\"mine\""));
    }

    #[test]
    fn no_user_settings_is_bosuns_layer() {
        assert_eq!(parse_user_settings("  \n// nothing\n"), Ok(json!({})));
        assert_eq!(merge(&json!({}), &layer()), layer());
        assert!(parse_user_settings("[1]").is_err());
        assert!(
            parse_user_settings("{ \"a\": }")
                .expect_err("bad")
                .starts_with("it is not valid JSON")
        );
        assert_eq!(
            strip_json_comments("{\"a\": \"x\\\"//y\" /* c\n */ }"),
            "{\"a\": \"x\\\"//y\" \n  }"
        );
    }
}
