#![no_main]
//! The trace-file reader (its scanner of the fields read, serde where it declines)
//! against the serde reading of `LineSpans` alone, on any one line: the same spans,
//! or both refuse it. Inputs worth keeping go to `insight/tests/decoding.rs` as cases.

use aitrace_insight::tracefile::{parse_lines, LineSpans};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if line.contains(['\n', '\r']) || line.trim().is_empty() {
        return;
    }
    let read = parse_lines(line.as_bytes());
    let ours = (read.stats.bad_lines == 0).then_some(read.spans);
    // The reader drops a byte-order mark before the first line.
    let json = line.strip_prefix('\u{feff}').unwrap_or(line);
    let serde = serde_json::from_str::<LineSpans>(json).ok().map(|spans| spans.0);
    assert_eq!(ours, serde, "line: {line}");
});
