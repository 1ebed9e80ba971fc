//! The reader decodes OTLP/JSON straight into span records; these tests hold it to
//! exactly what decoding into opentelemetry-proto's types and converting with
//! `tracefile::spans_of` gives, line by line: on files the real file exporter wrote,
//! on the synthetic bench file, and on lines with every kind of value and odd layout.
//! A line one decoder rejects, the other rejects too.
#![allow(missing_docs)]

#[path = "support/demo.rs"]
mod demo;
#[path = "support/synthetic.rs"]
mod synthetic;

use aitrace_insight::tracefile::{self, parse_lines, SpanRecord};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// What the opentelemetry-proto decoding gives for one line (`None`: rejected).
fn via_proto(line: &str) -> Option<Vec<SpanRecord>> {
    serde_json::from_str::<ExportTraceServiceRequest>(line)
        .ok()
        .map(tracefile::spans_of)
}

/// What the reader gives for one line (`None`: counted as a bad line).
fn via_reader(line: &str) -> Option<Vec<SpanRecord>> {
    let read = parse_lines(line.as_bytes());
    (read.stats.bad_lines == 0).then_some(read.spans)
}

/// Keys kept by the projected readings here: some of the synthetic and odd lines'
/// keys (of every value kind), and one no line has.
const KEPT: &[&str] = &[
    "gen_ai.operation.name",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.cost",
    "error.type",
    "s",
    "i",
    "a",
    "k",
    "two",
    "none",
    "absent",
];

/// What a reader keeping only [`KEPT`] and no events gives for one line.
fn via_projected_reader(line: &str) -> Option<Vec<SpanRecord>> {
    let mut reader = tracefile::SpanReader::new(line.as_bytes())
        .only_attributes(KEPT)
        .keep_events(false);
    let spans: Vec<SpanRecord> = reader.by_ref().collect();
    (reader.stats().bad_lines == 0).then_some(spans)
}

/// Spans as a projected reading must give them: the attributes with kept keys, in
/// order, and no events.
fn projected(spans: Option<Vec<SpanRecord>>) -> Option<Vec<SpanRecord>> {
    let mut spans = spans?;
    for span in &mut spans {
        span.attributes
            .retain(|(key, _)| KEPT.contains(&key.as_str()));
        span.events.clear();
    }
    Some(spans)
}

fn assert_same(line: &str) {
    let full = via_reader(line);
    assert_eq!(full, via_proto(line), "line: {line}");
    assert_eq!(
        via_projected_reader(line),
        projected(full),
        "projected, line: {line}"
    );
}

#[test]
fn files_of_the_file_exporter_read_as_through_the_proto_types() {
    let dir = demo::temp_dir("decoding-demo");
    let demo = demo::write(&dir);
    let mut lines = 0;
    for file in [&demo.agent_file, &demo.search_file] {
        let text = std::fs::read_to_string(file).expect("read");
        for line in text.lines() {
            assert!(via_reader(line).is_some_and(|s| !s.is_empty()));
            assert_same(line);
            lines += 1;
        }
    }
    assert!(lines >= 5, "{lines} lines");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_synthetic_file_reads_as_through_the_proto_types() {
    let mut out = Vec::new();
    let expected = synthetic::write(&mut out, 8, 40);
    let text = String::from_utf8(out).expect("utf-8");
    let mut spans = 0;
    for line in text.lines() {
        assert_same(line);
        spans += via_reader(line).map_or(0, |s| s.len());
    }
    assert_eq!(spans as u64, expected.spans);
}

const IDS: &str = r#""traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331""#;

/// Lines with every kind of value and odd layouts, one line each.
fn odd_lines() -> Vec<String> {
    let lines = [
        // Every AnyValue kind, nested arrays and lists, empty and unknown values.
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{IDS},"name":"s","attributes":[
            {{"key":"s","value":{{"stringValue":"text \"quoted\" \u00e9"}}}},
            {{"key":"i","value":{{"intValue":"-42"}}}},
            {{"key":"n","value":{{"intValue":7}}}},
            {{"key":"d","value":{{"doubleValue":0.25}}}},
            {{"key":"d1","value":{{"doubleValue":3}}}},
            {{"key":"b","value":{{"boolValue":true}}}},
            {{"key":"a","value":{{"arrayValue":{{"values":[{{"stringValue":"x"}},{{"intValue":"1"}},{{}},{{"arrayValue":{{"values":[]}}}}]}}}}}},
            {{"key":"k","value":{{"kvlistValue":{{"values":[{{"key":"a","value":{{"intValue":3}}}},{{"key":"b","value":{{"kvlistValue":{{"values":[]}}}}}}]}}}}}},
            {{"key":"by","value":{{"bytesValue":"AQL/"}}}},
            {{"key":"e","value":{{}}}},
            {{"key":"nul","value":null}},
            {{"key":"none"}},
            {{"key":"u","value":{{"futureValue":{{"x":[1,2]}}}}}},
            {{"key":"two","value":{{"stringValue":"first","intValue":"2"}}}},
            {{"key":"sn","value":{{"stringValue":null}}}}
            ]}}]}}]}}]}}"#
        ),
        // Upper-case and 0x ids, numbers as JSON numbers, status, events, kinds, links,
        // unknown fields everywhere, the resource after its spans.
        r#"{"future":{"a":1},"resourceSpans":[{"scopeSpans":[{"scope":{"name":"lib","version":"1"},"schemaUrl":"x","spans":[{"traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"0xB7AD6B7169203331","parentSpanId":"","traceState":"a=b","flags":257,"name":"client","kind":3,"startTimeUnixNano":5,"endTimeUnixNano":"9","droppedAttributesCount":2,"links":[{"traceId":"00","spanId":"11"}],"status":{"code":2,"message":"boom"},"events":[{"name":"exception","timeUnixNano":"7","attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}],"droppedAttributesCount":0},{"name":"bare"}],"newField":[1,{"b":null}]},{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00f067aa0ba902b7","parentSpanId":"b7ad6b7169203331","name":"child","status":null}]}],"resource":{"attributes":[{"key":"host.name","value":{"stringValue":"h"}},{"key":"service.name","value":{"stringValue":"svc"}},{"key":"service.name","value":{"stringValue":"second"}}],"droppedAttributesCount":0}},{"resource":{"attributes":[{"key":"service.name","value":{"intValue":"12"}}]},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"1111111111111111","name":"other"}]}]},{"resource":null,"scopeSpans":[]}]}"#.to_owned(),
        // A key that is kept once its escape is decoded, and one that is not.
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{IDS},"attributes":[{{"key":"gen_ai.operation\u002ename","value":{{"stringValue":"chat"}}}},{{"key":"gen_ai.operation\u002enam","value":{{"stringValue":"x"}}}}]}}]}}]}}]}}"#
        ),
        // Escaped field names, empty objects.
        format!(r#"{{"resource\u0053pans":[{{"scope\u0053pans":[{{"spans":[{{{IDS},"na\u006de":"escaped"}}]}}]}}]}}"#),
        r#"{}"#.to_owned(),
        r#"{"resourceSpans":[]}"#.to_owned(),
        r#"{"resourceSpans":[{}]}"#.to_owned(),
        r#"{"resourceSpans":[{"scopeSpans":[{}]}]}"#.to_owned(),
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]}"#.to_owned(),
    ];
    lines
        .iter()
        .map(|line| line.lines().map(str::trim).collect())
        .collect()
}

#[test]
fn every_value_kind_and_layout_reads_as_through_the_proto_types() {
    for line in odd_lines() {
        assert!(via_reader(&line).is_some(), "rejected: {line}");
        assert_same(&line);
    }
}

/// Deterministic pseudo-random numbers (xorshift), so a failure names its input.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A line refused for a value of an attribute or event not kept is refused all the
/// same: keeping fewer attributes never turns a bad line into spans.
#[test]
fn values_not_kept_are_still_checked() {
    let bad_values = [
        r#"{"intValue":"1.5"}"#,
        r#"{"intValue":1e3}"#,
        r#"{"doubleValue":"x"}"#,
        r#"{"boolValue":1}"#,
        r#"{"stringValue":7}"#,
        r#"{"bytesValue":"***"}"#,
        r#"{"arrayValue":{"values":[{"intValue":"x"}]}}"#,
        r#"{"stringValue":"\x"}"#,
        r#"{"stringValue":"\ud83d"}"#,
    ];
    for value in bad_values {
        for line in [
            format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{IDS},"attributes":[{{"key":"not.kept","value":{value}}}]}}]}}]}}]}}"#
            ),
            format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{IDS},"events":[{{"name":"e","attributes":[{{"key":"s","value":{value}}}]}}]}}]}}]}}]}}"#
            ),
        ] {
            assert_eq!(via_proto(&line), None, "the proto types accept {line}");
            assert_eq!(via_reader(&line), None, "the reader accepts {line}");
            assert_eq!(
                via_projected_reader(&line),
                None,
                "the projected reader accepts {line}"
            );
        }
    }
}

/// The reader takes most lines through a scanner of the fields it keeps and leaves the
/// rest to serde: on edits of real lines (a character dropped, or pieces of JSON and of
/// escapes inserted, anywhere) it gives what the serde reading of `LineSpans` gives, and
/// refuses what it refuses.
#[test]
fn edited_lines_read_as_the_serde_reading_reads_them() {
    const PIECES: &[&str] = &[
        "\\",
        "\\n",
        "\\u0041",
        "\\ud83d",
        "\\x",
        "\"",
        " ",
        "\t",
        "\u{1}",
        "é",
        ",",
        ":",
        "{",
        "}",
        "[",
        "]",
        "0",
        "-",
        ".5",
        "e3",
        "null",
        "1",
        "A",
        "0x",
        "\"x\":1,",
        "{}",
        "\"stringValue\":\"s\",",
        "\"intValue\":\"9\",",
        "\"doubleValue\":1e400,",
    ];
    let mut out = Vec::new();
    synthetic::write(&mut out, 2, 4);
    let mut seeds: Vec<String> = String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect();
    seeds.extend(odd_lines());
    let mut rng = Rng(0x853c_49e6_748f_ea9b);
    let (mut tried, mut read) = (0, 0);
    for seed in &seeds {
        for _ in 0..600 {
            let mut line = seed.clone();
            for _ in 0..1 + rng.below(2) {
                let mut at = rng.below(line.len() + 1);
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                if rng.below(3) == 0 && at < line.len() {
                    let mut end = at + 1;
                    while !line.is_char_boundary(end) {
                        end += 1;
                    }
                    line.replace_range(at..end, "");
                } else {
                    line.insert_str(at, PIECES[rng.below(PIECES.len())]);
                }
            }
            if line.trim().is_empty() {
                // A blank line: skipped by the reader, not decoded.
                continue;
            }
            let serde = serde_json::from_str::<tracefile::LineSpans>(&line)
                .ok()
                .map(|spans| spans.0);
            // With `sonic-rs` (the command's decoder), a line the scanner leaves is read
            // by sonic-rs first; it passes over the contents of unknown fields without
            // checking their escapes, so it takes some lines serde refuses.
            #[cfg(feature = "sonic-rs")]
            let serde = sonic_rs::from_str::<tracefile::LineSpans>(&line)
                .ok()
                .map(|spans| spans.0)
                .or(serde);
            let ours = via_reader(&line);
            assert_eq!(ours, serde, "line: {line}");
            // Kept or not, an attribute is read alike: the same lines refused.
            assert_eq!(
                via_projected_reader(&line),
                projected(serde),
                "projected, line: {line}"
            );
            tried += 1;
            read += usize::from(ours.is_some());
        }
    }
    assert!(read * 4 > tried, "only {read} of {tried} edited lines read");
}

#[test]
fn lines_the_proto_types_reject_are_rejected() {
    let bad = [
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc","spanId":"b7ad6b7169203331"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"b7ad6b7169203331"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":7}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":-1}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_CLIENT"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"value":{"stringValue":"no key"}}]}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"i","value":{"intValue":"1.5"}}]}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"i","value":{"intValue":1.5}}]}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"b","value":{"bytesValue":"***"}}]}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":3}]}]}]}"#,
        r#"{"resourceSpans":{"scopeSpans":[]}}"#,
        r#"{"resourceSpans":null}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"cut"#,
    ];
    for line in bad {
        assert_eq!(via_proto(line), None, "the proto types accept {line}");
        assert_eq!(via_reader(line), None, "the reader accepts {line}");
    }
}

/// Spans and counts of a reader over `text` with `threads` decoding threads.
fn read_with(text: &str, threads: usize) -> (Vec<SpanRecord>, tracefile::ReadStats) {
    let input = std::io::BufReader::with_capacity(4096, text.as_bytes());
    let mut reader = tracefile::SpanReader::new(input)
        .threads(threads)
        .max_line_bytes(200_000);
    let spans: Vec<_> = reader.by_ref().collect();
    (spans, reader.into_stats())
}

#[test]
fn decoding_on_several_threads_gives_the_spans_and_counts_of_one() {
    // About 7 MB: several batches, each shared among threads, with bad, blank and
    // over-long lines spread over them and a partial last line.
    let mut out = Vec::new();
    synthetic::write(&mut out, 80, 100);
    let text = String::from_utf8(out).expect("utf-8");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let good = lines.len();
    lines.insert(3, "not json".to_owned());
    lines.insert(10, String::new());
    lines.insert(
        20,
        format!("{{\"resourceSpans\":[],\"x\":\"{}\"}}", "a".repeat(300_000)),
    );
    lines.insert(
        45,
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\"}]}]}]}".to_owned(),
    );
    lines.insert(70, "   ".to_owned());
    let mut text = lines.join("\n");
    text.push('\n');
    let last = &lines[lines.len() - 1];
    text.push_str(&last[..last.len() / 2]);
    assert!(text.len() > 6_000_000, "{} bytes", text.len());

    let (one, one_stats) = read_with(&text, 1);
    let (many, many_stats) = read_with(&text, 4);
    assert_eq!(many_stats, one_stats);
    assert!(many == one, "the spans differ");
    // Projected, on several threads: the spans projected, the counts the same.
    let input = std::io::BufReader::with_capacity(4096, text.as_bytes());
    let mut reader = tracefile::SpanReader::new(input)
        .threads(4)
        .max_line_bytes(200_000)
        .only_attributes(KEPT)
        .keep_events(false);
    let some: Vec<SpanRecord> = reader.by_ref().collect();
    assert_eq!(reader.stats(), &one_stats);
    assert!(
        Some(some) == projected(Some(one.clone())),
        "the projected spans differ"
    );
    assert_eq!(one.len(), good * 100);
    assert_eq!(
        (
            one_stats.bad_lines,
            one_stats.oversized_lines,
            one_stats.spans
        ),
        (4, 1, (good * 100) as u64)
    );
    assert!(one_stats.truncated_last_line);
    // The first bad line is the first in the file, whichever thread decoded it.
    assert_eq!(one_stats.first_error.as_ref().map(|e| e.line), Some(4));
    // And the spans are those of the lines decoded one by one, in file order.
    let by_line: Vec<SpanRecord> = lines
        .iter()
        .filter_map(|l| via_proto(l))
        .flatten()
        .collect();
    assert!(one == by_line, "not the spans of the lines in order");
}

/// Input that fails after `left` bytes, as a disk or a pipe can.
struct FailingAfter<'a> {
    text: &'a [u8],
    left: usize,
}

impl std::io::Read for FailingAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("the disk went away"));
        }
        let n = buf.len().min(self.left).min(self.text.len());
        buf[..n].copy_from_slice(&self.text[..n]);
        self.text = &self.text[n..];
        self.left -= n;
        Ok(n)
    }
}

/// An I/O error in the middle of a file, after batches were decoded on several
/// threads, ends the reading where it happened: the spans of every whole line before
/// it, the same on one thread as on several, and the error reported.
#[test]
fn an_io_error_mid_file_keeps_the_lines_before_it() {
    let mut out = Vec::new();
    synthetic::write(&mut out, 80, 100);
    let text = String::from_utf8(out).expect("utf-8");
    // Beyond two batches of two threads (2 MiB each), in the middle of a line.
    let cut = 5_300_000;
    assert!(text.len() > cut + 100_000, "{} bytes", text.len());
    let whole_lines = text[..cut].matches('\n').count();
    let expected: Vec<SpanRecord> = text
        .lines()
        .take(whole_lines)
        .filter_map(via_proto)
        .flatten()
        .collect();
    let read = |threads: usize| {
        let input = FailingAfter {
            text: text.as_bytes(),
            left: cut,
        };
        let mut reader =
            tracefile::SpanReader::new(std::io::BufReader::new(input)).threads(threads);
        let spans: Vec<SpanRecord> = reader.by_ref().collect();
        (spans, reader.into_stats())
    };
    let (one, one_stats) = read(1);
    let (two, two_stats) = read(2);
    assert_eq!(one_stats.io_error.as_deref(), Some("the disk went away"));
    assert_eq!(two_stats, one_stats);
    assert_eq!(one_stats.lines, whole_lines as u64);
    assert_eq!(one_stats.bad_lines, 0);
    assert!(
        one == expected,
        "one thread: not the spans of the whole lines"
    );
    assert!(
        two == expected,
        "two threads: not the spans of the whole lines"
    );
}
