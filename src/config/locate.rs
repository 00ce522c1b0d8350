//! Locating config errors: the file, 1-based line and column, and dotted key of a byte
//! offset in a TOML text. Shared by `bosun.toml`, themes and the keymap so every file error
//! reads the same: `file:line:column: key: message`.

use std::path::{Path, PathBuf};

/// An error located in a file.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{column}: {key}: {message}", file.display())]
pub struct Located {
    /// The file (`<built-in>…` for embedded defaults).
    pub file: PathBuf,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Dotted path of the key, arrays of tables indexed from 0, e.g. `stages[3].gates[0].to`.
    pub key: String,
    /// What is wrong and, where it helps, what to write instead.
    pub message: String,
}

impl Located {
    /// The error at byte `offset` of `text`, read from `file`.
    pub fn new(file: &Path, text: &str, offset: usize, key: String, message: String) -> Located {
        let (line, column) = line_col(text, offset);
        Located {
            file: file.to_path_buf(),
            line,
            column,
            key,
            message,
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The key at `offset`, for errors from the TOML parser (which name the key only in the
/// message): the key on that line, prefixed with the table above it; an array-of-tables
/// header counts as `name[i]`, 0-based like the other error keys.
pub fn key_at(text: &str, offset: usize) -> String {
    let offset = floor_boundary(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[start..end].trim();
    let above = &text[..start];
    let table = |l: &str, upto: &str| -> Option<String> {
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            return Some(array_path(name.trim(), upto));
        }
        l.strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .map(|n| n.trim().to_string())
    };
    if line.starts_with('[') {
        return table(line, &text[..end]).unwrap_or_default();
    }
    let key = line.split_once('=').map_or(line, |(k, _)| k).trim();
    let header = above
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim().starts_with('['))
        .last();
    let header = header.and_then(|(i, l)| {
        let upto: String = above.lines().take(i + 1).collect::<Vec<_>>().join("\n");
        table(l.trim(), &upto)
    });
    match header {
        Some(t) if !key.is_empty() => format!("{t}.{key}"),
        Some(t) => t,
        None => key.to_string(),
    }
}

/// `a.b.c` of an array-of-tables header, each part that is itself an array of tables given
/// its 0-based index: `[[stages.gates]]` under the second `[[stages]]` is `stages[1].gates[0]`.
/// `upto` is the text up to and including the header's line.
fn array_path(name: &str, upto: &str) -> String {
    let parts: Vec<&str> = name.split('.').map(str::trim).collect();
    let mut scope = upto;
    let mut out = Vec::new();
    for n in 1..=parts.len() {
        let header = format!("[[{}]]", parts[..n].join("."));
        let starts: Vec<usize> = line_starts(scope)
            .filter(|&i| scope[i..].trim_start().starts_with(&header))
            .collect();
        match starts.last() {
            Some(&last) => {
                out.push(format!("{}[{}]", parts[n - 1], starts.len() - 1));
                scope = &scope[last..];
            }
            None => out.push(parts[n - 1].to_string()),
        }
    }
    out.join(".")
}

/// Byte offsets where the lines of `text` start.
fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(
        text.match_indices('\n')
            .map(|(i, _)| i + 1)
            .filter(move |&i| i < text.len()),
    )
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut o = offset.min(text.len());
    while !text.is_char_boundary(o) {
        o -= 1;
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_at_names_tables_and_arrays() {
        let text = "a = 1\n[t]\nb = 2\n[[keys]]\nk = 1\n[[keys]]\nk = 2\n";
        assert_eq!(key_at(text, 0), "a");
        assert_eq!(key_at(text, text.find("b =").unwrap()), "t.b");
        assert_eq!(key_at(text, text.rfind("k = 2").unwrap()), "keys[1].k");
        assert_eq!(key_at(text, text.find("k = 1").unwrap()), "keys[0].k");
        let nested = "[[s]]\nn = 1\n[[s]]\nn = 2\n[[s.g]]\nk = 1\n[[s.g]]\nk = 2\n";
        assert_eq!(
            key_at(nested, nested.rfind("k = 2").unwrap()),
            "s[1].g[1].k"
        );
        assert_eq!(key_at(nested, nested.find("k = 1").unwrap()), "s[1].g[0].k");
        assert_eq!(key_at(nested, nested.find("n = 1").unwrap()), "s[0].n");
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("x", 99), (1, 2));
    }
}
