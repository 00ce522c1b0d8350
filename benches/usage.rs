//! Reading a run's usage from a large session record (issue 22): a Claude Code transcript of
//! `SIZE` MB (default 1024) read whole once, as on a run's first reading; then 1 MB appended
//! and read again from the saved offset and reader state (the run's [`RunReader`], as
//! `supervisor::usage` saves it), as after a restart. The second reading should cost what is
//! new, not the file's size.
//!
//! Run: `cargo bench --bench usage [-- SIZE_MB]`. Prints both times and their ratio.

use std::io::{BufWriter, Write};
use std::time::Instant;

use bosun::provider::subagents::RunReader;
use bosun::provider::transcript::TranscriptFormat;
use bosun::provider::usage::UsageReader;

const CHUNK: usize = 4 << 20;

/// Appends `bytes` of assistant lines (three per response, as Claude Code writes content
/// blocks) to `path`, numbering responses from `first`; the next number.
fn write(path: &std::path::Path, bytes: u64, first: u64) -> u64 {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    let mut w = BufWriter::new(f);
    let filler = "x".repeat(600);
    let (mut n, mut written) = (first, 0u64);
    while written < bytes {
        for out in [3, 9, 9] {
            let line = format!(
                "{{\"type\":\"assistant\",\"requestId\":\"req_{n}\",\"message\":{{\"id\":\"msg_{n}\",\"model\":\"claude-opus-5-5\",\"content\":[{{\"type\":\"text\",\"text\":\"{filler}\"}}],\"usage\":{{\"input_tokens\":100,\"output_tokens\":{out},\"cache_read_input_tokens\":2000,\"cache_creation_input_tokens\":50}}}}}}\n"
            );
            w.write_all(line.as_bytes()).expect("write");
            written += line.len() as u64;
        }
        n += 1;
    }
    w.flush().expect("flush");
    n
}

/// Reads `path` from `offset` into `reader`; the new offset.
fn read(path: &std::path::Path, mut offset: u64, reader: &mut UsageReader) -> u64 {
    loop {
        let (bytes, _) = bosun::untrusted::read_from(path, offset, CHUNK).expect("read");
        if bytes.is_empty() {
            return offset;
        }
        reader.feed(TranscriptFormat::Claude, &bytes);
        offset += bytes.len() as u64;
    }
}

fn main() {
    let mb: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1024);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let path = tmp.path().join("session.jsonl");
    let next = write(&path, mb << 20, 0);
    let began = Instant::now();
    let mut run = RunReader::default();
    let offset = read(&path, 0, &mut run.main);
    let whole = began.elapsed();
    let saved = run.save().expect("save");
    let reader = run.main;
    let responses = next;
    write(&path, 1 << 20, next);
    let began = Instant::now();
    let mut again = RunReader::load(&saved).main;
    let end = read(&path, offset, &mut again);
    let incremental = began.elapsed();
    println!(
        "usage of a {mb} MB transcript ({responses} responses): whole {:.2} s ({:.0} MB/s); \
         after a restart, 1 MB new: {:.1} ms incl. loading the saved state ({} bytes); ratio \
         {:.0}x; output {} -> {}",
        whole.as_secs_f64(),
        mb as f64 / whole.as_secs_f64(),
        incremental.as_secs_f64() * 1000.0,
        saved.len(),
        whole.as_secs_f64() / incremental.as_secs_f64().max(1e-9),
        reader.usage().output,
        again.usage().output
    );
    assert_eq!(end, std::fs::metadata(&path).expect("len").len());
}
