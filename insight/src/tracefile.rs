//! Reading OTLP/JSON trace files back, and printing a trace as a tree.
//!
//! The file holds one `ExportTraceServiceRequest` per line in the OTLP JSON encoding
//! (what the embedded file exporter writes, and what the OpenTelemetry Collector's file
//! exporter and other OTLP tools write). [`SpanReader`] streams it in batches of lines:
//!
//! - memory is bounded: a batch of about [`BATCH_BYTES_PER_THREAD`] per decoding
//!   thread, and lines up to [`SpanReader::max_line_bytes`] (a longer line is skipped
//!   without being buffered),
//! - a batch's lines are decoded on every core at once ([`SpanReader::threads`]);
//!   spans come out in file order, and lines decode straight into [`SpanRecord`]s
//!   ([`LineSpans`]),
//! - a line that is not OTLP/JSON (a partial last line after a crash mid-write, say) is
//!   counted in [`ReadStats`], never fatal,
//! - unknown fields and attributes are kept or ignored, never an error.
//!
//! This module reads only: [`tree`](crate::tree) draws the spans, and the crate root
//! shows the whole pipeline (filters, cost report, Chrome trace export).
//!
//! ```
//! use aitrace_insight::tracefile::parse_lines;
//! use aitrace_insight::tree::render_spans;
//!
//! let line = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat gpt-4o","kind":3,"startTimeUnixNano":"1000000","endTimeUnixNano":"251000000","attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}}]}]}]}]}"#;
//! let read = parse_lines(line.as_bytes());
//! assert_eq!(read.spans.len(), 1);
//! assert_eq!(read.stats.bad_lines, 0);
//! assert!(render_spans(&read.spans).contains("chat gpt-4o"));
//! ```

use std::fmt::Write as _;
use std::io::{BufRead, Read as _};
use std::path::Path;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};

use aitrace_core::conventions as c;

mod scan;
mod text;
mod wire;

pub use text::Text;
pub use wire::LineSpans;

/// Longest line read by default (64 MiB). A longer line is skipped and counted, so one
/// runaway line cannot take all the memory.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

/// An attribute value as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(Text),
    /// An integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// An array of values.
    Array(Vec<AttrValue>),
    /// Anything else (bytes as hex, key-value lists as `{k: v}`), as text.
    Other(Text),
}

impl AttrValue {
    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer (strings of digits count too).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            AttrValue::Str(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The value as a double (integers count too).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Double(d) => Some(*d),
            AttrValue::Int(i) => Some(*i as f64),
            AttrValue::Str(s) => s.parse().ok(),
            _ => None,
        }
    }
}

impl std::fmt::Display for AttrValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrValue::Str(s) | AttrValue::Other(s) => f.write_str(s),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Double(d) => write!(f, "{d}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl serde::Serialize for AttrValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AttrValue::Str(s) | AttrValue::Other(s) => serializer.serialize_str(s),
            AttrValue::Int(i) => serializer.serialize_i64(*i),
            // JSON has no NaN or infinities: those go as text.
            AttrValue::Double(d) if d.is_finite() => serializer.serialize_f64(*d),
            AttrValue::Double(d) => serializer.collect_str(d),
            AttrValue::Bool(b) => serializer.serialize_bool(*b),
            AttrValue::Array(items) => serializer.collect_seq(items),
        }
    }
}

/// A span event (a log record attached to the span, an exception, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Event name.
    pub name: Text,
    /// When it happened, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Attributes in file order.
    pub attributes: Vec<(Text, AttrValue)>,
}

/// One span as read from a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanRecord {
    /// Trace id, lower-case hex.
    pub trace_id: Text,
    /// Span id, lower-case hex.
    pub span_id: Text,
    /// Parent span id, hex; empty for a root.
    pub parent_span_id: Text,
    /// Span name.
    pub name: Text,
    /// Span kind (OTLP numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// Start, nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_unix_nano: u64,
    /// Status code (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// Status message.
    pub status_message: Text,
    /// `service.name` of the resource (empty when the resource has none).
    pub service: Text,
    /// Attributes in file order.
    pub attributes: Vec<(Text, AttrValue)>,
    /// Events in file order.
    pub events: Vec<EventRecord>,
}

impl SpanRecord {
    /// An attribute's value.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// A string attribute.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(AttrValue::as_str)
    }

    /// Duration in nanoseconds (0 when the end precedes the start).
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    /// Whether the span failed: status error, or an `error.type` recorded (the GenAI
    /// and HTTP conventions set it on every failure, also where the status stays unset).
    pub fn is_error(&self) -> bool {
        self.status_code == 2 || self.attr(c::ERROR_TYPE).is_some()
    }

    /// Why the span failed: `error.type`, else the status message, else `error`.
    pub fn error_text(&self) -> Option<String> {
        if !self.is_error() {
            return None;
        }
        Some(match self.attr(c::ERROR_TYPE) {
            Some(v) => v.to_string(),
            None if !self.status_message.is_empty() => self.status_message.to_string(),
            None => "error".to_owned(),
        })
    }

    /// `gen_ai.operation.name`, if recorded.
    pub fn operation(&self) -> Option<&str> {
        self.attr_str(c::GEN_AI_OPERATION_NAME)
    }

    /// Whether this is an inference (LLM call) span: operation `chat`,
    /// `text_completion`, `generate_content` or `embeddings`. Token and cost totals
    /// add up these spans only (agent spans carry run totals of the same calls).
    pub fn is_inference(&self) -> bool {
        matches!(
            self.operation(),
            Some("chat" | "text_completion" | "generate_content" | "embeddings")
        )
    }

    /// Whether this is an agent run span (operation `invoke_agent`, or named
    /// `invoke_agent ...`).
    pub fn is_agent(&self) -> bool {
        match self.operation() {
            Some(op) => op == "invoke_agent",
            None => self.name == "invoke_agent" || self.name.starts_with("invoke_agent "),
        }
    }

    /// The model that answered, else the one requested.
    pub fn model(&self) -> Option<&AttrValue> {
        self.attr(c::GEN_AI_RESPONSE_MODEL)
            .or_else(|| self.attr(c::GEN_AI_REQUEST_MODEL))
    }
}

/// Where a bad line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the input.
    pub line: u64,
    /// What was wrong.
    pub message: String,
}

/// What reading gave besides spans: how many lines were read and which were bad.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Non-blank lines seen.
    pub lines: u64,
    /// Lines that were not OTLP/JSON, over-long lines and a partial last line included.
    pub bad_lines: u64,
    /// Lines longer than the limit, skipped unread.
    pub oversized_lines: u64,
    /// The input ended in the middle of a line that does not parse (the writer
    /// stopped mid-line, e.g. a crash): that line is one of the bad lines.
    pub truncated_last_line: bool,
    /// The first bad line and why.
    pub first_error: Option<LineError>,
    /// Spans read.
    pub spans: u64,
    /// An I/O error that stopped reading early.
    pub io_error: Option<String>,
}

impl ReadStats {
    /// Adds the counts of another read (another file) to these.
    pub fn merge(&mut self, other: &ReadStats) {
        self.lines += other.lines;
        self.bad_lines += other.bad_lines;
        self.oversized_lines += other.oversized_lines;
        self.truncated_last_line |= other.truncated_last_line;
        self.spans += other.spans;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        if self.io_error.is_none() {
            self.io_error.clone_from(&other.io_error);
        }
    }
}

/// What reading a trace file gave.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    /// Spans, in file order.
    pub spans: Vec<SpanRecord>,
    /// Lines read, bad lines and why.
    pub stats: ReadStats,
}

/// Streams the spans of OTLP/JSON lines, a bounded batch of lines in memory at a time.
///
/// Lines are read ahead in batches of about [`BATCH_BYTES_PER_THREAD`] per core the
/// machine has, and a batch's lines are decoded on that many threads at once; spans
/// come out in file order, and the counts are the same as line by line.
///
/// ```
/// use aitrace_insight::tracefile::SpanReader;
///
/// let text = "{\"resourceSpans\":[]}\n{\"resourceSp"; // the writer died mid-line
/// let mut reader = SpanReader::new(text.as_bytes());
/// assert_eq!(reader.by_ref().count(), 0);
/// assert_eq!(reader.stats().bad_lines, 1);
/// assert!(reader.stats().truncated_last_line);
/// ```
#[derive(Debug)]
pub struct SpanReader<R> {
    reader: R,
    line_no: u64,
    batch: Batch,
    /// The decoded batch's spans, one list per run of lines decoded together (see
    /// `decode_parallel`), handed out as they were decoded (not copied into one list).
    pending: std::iter::Flatten<std::vec::IntoIter<Vec<SpanRecord>>>,
    max_line_bytes: usize,
    threads: usize,
    fields: Fields,
    stats: ReadStats,
    done: bool,
}

/// Which parts of each span a [`SpanReader`] keeps: every attribute and event unless
/// told otherwise ([`SpanReader::only_attributes`], [`SpanReader::keep_events`]).
#[derive(Debug, Clone, Default)]
struct Fields {
    /// The keys of the attributes kept; `None` keeps all.
    attributes: Option<std::sync::Arc<[Box<str>]>>,
    /// Events dropped.
    no_events: bool,
}

impl Fields {
    /// Whether an attribute with this key is kept.
    #[inline]
    fn keeps(&self, key: &str) -> bool {
        match &self.attributes {
            None => true,
            // A short list, compared length first: quicker than hashing the key.
            Some(keys) => keys.iter().any(|k| **k == *key),
        }
    }

    /// Drops from spans what is not kept (after a reading that kept everything).
    fn project(&self, spans: &mut [SpanRecord]) {
        if self.attributes.is_none() && !self.no_events {
            return;
        }
        for span in spans {
            span.attributes.retain(|(key, _)| self.keeps(key));
            if self.no_events {
                span.events = Vec::new();
            }
        }
    }
}

/// Bytes of lines read ahead per decoding thread (1 MiB). Together with the longest
/// line ([`DEFAULT_MAX_LINE_BYTES`] by default), this bounds the reader's memory.
pub const BATCH_BYTES_PER_THREAD: usize = 1 << 20;

/// A batch smaller than this is decoded on the calling thread alone.
const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// Lines read ahead, to be decoded together.
#[derive(Debug, Default)]
struct Batch {
    /// The lines' bytes, one after the other.
    text: Vec<u8>,
    lines: Vec<BatchLine>,
}

#[derive(Debug)]
struct BatchLine {
    /// Where the line's JSON is in `text` (empty for a skipped over-long line).
    range: std::ops::Range<usize>,
    line_no: u64,
    /// Longer than the limit: not read, counted as bad.
    too_long: bool,
    /// The input ended in this line, without a newline.
    last: bool,
}

/// Decodes one line's JSON, appending its spans to `spans` (how many, or why the line
/// is not OTLP/JSON): by the scanner of the fields the reports read (`scan`), or by
/// serde where the scanner declines (the same spans either way).
fn decode_line(json: &[u8], fields: &Fields, spans: &mut Vec<SpanRecord>) -> Result<usize, String> {
    let first = spans.len();
    if let Some(()) = std::str::from_utf8(json)
        .ok()
        .and_then(|text| scan::line_spans(text, fields, spans))
    {
        return Ok(spans.len() - first);
    }
    #[cfg(feature = "sonic-rs")]
    let fast = sonic_rs::from_slice::<LineSpans>(json).ok();
    #[cfg(not(feature = "sonic-rs"))]
    let fast: Option<LineSpans> = None;
    // Without the feature the decoder; with it, what says why a line is bad (in the
    // words the reader has always used) and the decoder of any line sonic-rs refuses.
    let LineSpans(decoded) = match fast {
        Some(decoded) => decoded,
        None => serde_json::from_slice::<LineSpans>(json).map_err(|e| e.to_string())?,
    };
    spans.extend(decoded);
    fields.project(&mut spans[first..]);
    Ok(spans.len() - first)
}

/// A run of a batch's lines, decoded: their spans in one list (which grows as a whole,
/// not line by line), and each line's count of spans or error, in order.
#[derive(Debug)]
struct Decoded {
    spans: Vec<SpanRecord>,
    lines: Vec<Result<usize, String>>,
}

/// Decodes a run of a batch's lines, in order.
fn decode_lines(text: &[u8], lines: &[BatchLine], fields: &Fields) -> Decoded {
    let mut decoded = Decoded {
        spans: Vec::new(),
        lines: Vec::with_capacity(lines.len()),
    };
    for l in lines {
        let result = if l.too_long {
            Ok(0)
        } else {
            decode_line(&text[l.range.clone()], fields, &mut decoded.spans)
        };
        decoded.lines.push(result);
    }
    decoded
}

impl<R: BufRead> SpanReader<R> {
    /// A reader over OTLP/JSON lines.
    pub fn new(reader: R) -> SpanReader<R> {
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(8);
        SpanReader {
            reader,
            line_no: 0,
            batch: Batch::default(),
            pending: Vec::new().into_iter().flatten(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            threads,
            fields: Fields::default(),
            stats: ReadStats::default(),
            done: false,
        }
    }

    /// Decoding threads to use at most (default: one per core, up to 8); 1 decodes on
    /// the calling thread only.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Longest line to read (default [`DEFAULT_MAX_LINE_BYTES`]); longer lines are
    /// skipped without being held in memory, and counted as bad.
    pub fn max_line_bytes(mut self, max: usize) -> Self {
        self.max_line_bytes = max.max(1);
        self
    }

    /// Keeps only the span attributes with these keys (default: all). The others are
    /// still read, so a line is refused or taken exactly as with all attributes kept
    /// (the same spans, the same counts), but they are not kept (and in the layout the
    /// file exporter writes, strings, numbers and booleans are not even copied out): a
    /// report that reads a few attributes of each span reads the file faster and keeps
    /// less of it in memory. [`REPORT_ATTRIBUTES`](crate::REPORT_ATTRIBUTES) lists the
    /// attributes of the tree, the cost report and the filters. Resource attributes
    /// are not span attributes: `service.name` is read whatever the keys.
    ///
    /// ```
    /// use aitrace_insight::tracefile::SpanReader;
    ///
    /// let line = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"chat","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.prompt","value":{"stringValue":"a long prompt"}}]}]}]}]}"#;
    /// let spans: Vec<_> = SpanReader::new(line.as_bytes())
    ///     .only_attributes(["gen_ai.operation.name"])
    ///     .collect();
    /// assert_eq!(spans[0].operation(), Some("chat"));
    /// assert_eq!(spans[0].attributes.len(), 1);
    /// ```
    pub fn only_attributes<K: AsRef<str>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        let mut kept: Vec<Box<str>> = Vec::new();
        for key in keys {
            let key = key.as_ref();
            if !kept.iter().any(|k| **k == *key) {
                kept.push(key.into());
            }
        }
        self.fields.attributes = Some(kept.into());
        self
    }

    /// Whether to keep span events (default: yes). Events not kept are read all the
    /// same (a line is refused or taken as when they are kept), then dropped.
    ///
    /// ```
    /// use aitrace_insight::tracefile::SpanReader;
    ///
    /// let line = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"tool","events":[{"name":"started","timeUnixNano":"5"}]}]}]}]}"#;
    /// let with: Vec<_> = SpanReader::new(line.as_bytes()).collect();
    /// let without: Vec<_> = SpanReader::new(line.as_bytes()).keep_events(false).collect();
    /// assert_eq!((with[0].events.len(), without[0].events.len()), (1, 0));
    /// ```
    pub fn keep_events(mut self, keep: bool) -> Self {
        self.fields.no_events = !keep;
        self
    }

    /// Keeps what the reports read, as `aitrace tree` and `aitrace cost` read files:
    /// the attributes of [`REPORT_ATTRIBUTES`](crate::REPORT_ATTRIBUTES) and no events
    /// ([`only_attributes`](SpanReader::only_attributes) and
    /// [`keep_events`](SpanReader::keep_events)).
    ///
    /// ```
    /// use aitrace_insight::tracefile::SpanReader;
    ///
    /// let line = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"chat","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.prompt","value":{"stringValue":"a long prompt"}}]}]}]}]}"#;
    /// let spans: Vec<_> = SpanReader::new(line.as_bytes()).for_reports().collect();
    /// assert_eq!(spans[0].operation(), Some("chat"));
    /// assert_eq!(spans[0].attributes.len(), 1);
    /// ```
    pub fn for_reports(self) -> Self {
        self.only_attributes(crate::REPORT_ATTRIBUTES)
            .keep_events(false)
    }

    /// Counts so far (final once the iterator has returned `None`).
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// The counts, consuming the reader.
    pub fn into_stats(self) -> ReadStats {
        self.stats
    }

    fn bad_line(&mut self, line: u64, message: String) {
        self.stats.bad_lines += 1;
        if self.stats.first_error.is_none() {
            self.stats.first_error = Some(LineError { line, message });
        }
    }

    /// Reads lines into the batch until it holds enough to share among the threads,
    /// or the input ends.
    fn fill_batch(&mut self) {
        self.batch.text.clear();
        self.batch.lines.clear();
        let want = BATCH_BYTES_PER_THREAD * self.threads;
        // Lines are read straight into the batch, not copied there from a line buffer.
        let mut text = std::mem::take(&mut self.batch.text);
        while text.len() < want {
            let start = text.len();
            let Some(end) = self.read_line(&mut text) else {
                self.done = true;
                break;
            };
            if let LineEnd::TooLong = end {
                self.stats.lines += 1;
                self.batch.lines.push(BatchLine {
                    range: start..start,
                    line_no: self.line_no,
                    too_long: true,
                    last: false,
                });
                continue;
            }
            let line = &text[start..];
            if line.iter().all(u8::is_ascii_whitespace) {
                text.truncate(start);
                continue;
            }
            self.stats.lines += 1;
            // A byte-order mark, as some Windows tools write, is not JSON.
            let bom = self.line_no == 1 && line.starts_with(b"\xef\xbb\xbf");
            self.batch.lines.push(BatchLine {
                range: if bom { start + 3 } else { start }..text.len(),
                line_no: self.line_no,
                too_long: false,
                last: matches!(end, LineEnd::EndOfInput),
            });
        }
        // What one long line grew is not kept for the next batches.
        if text.capacity() > 4 * want {
            text.shrink_to(2 * want);
        }
        self.batch.text = text;
    }

    /// Decodes the batch (on several threads when it is large enough) and queues its
    /// spans; counts bad lines in file order.
    fn decode_batch(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let parts = if self.threads > 1
            && batch.lines.len() > 1
            && batch.text.len() >= PARALLEL_MIN_BYTES
        {
            decode_parallel(&batch.text, &batch.lines, &self.fields, self.threads)
        } else {
            vec![decode_lines(&batch.text, &batch.lines, &self.fields)]
        };
        let mut spans = Vec::with_capacity(parts.len());
        let mut results = Vec::with_capacity(batch.lines.len());
        for part in parts {
            spans.push(part.spans);
            results.extend(part.lines);
        }
        for (line, result) in batch.lines.iter().zip(results) {
            if line.too_long {
                self.stats.oversized_lines += 1;
                let max = self.max_line_bytes;
                self.bad_line(
                    line.line_no,
                    format!("line longer than {max} bytes, skipped"),
                );
                continue;
            }
            match result {
                Ok(n) => self.stats.spans += n as u64,
                Err(e) => {
                    if line.last {
                        self.stats.truncated_last_line = true;
                    }
                    self.bad_line(line.line_no, format!("not OTLP/JSON: {e}"));
                }
            }
        }
        self.batch = batch;
        self.pending = spans.into_iter().flatten();
    }

    /// Appends the next line to `text`. `None` at the end of the input. An over-long
    /// line is not kept: `text` is as it was, and the rest of the line is skipped.
    fn read_line(&mut self, text: &mut Vec<u8>) -> Option<LineEnd> {
        let start = text.len();
        let limit = self.max_line_bytes as u64 + 1;
        loop {
            match (&mut self.reader).take(limit).read_until(b'\n', text) {
                Ok(0) => return None,
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.stats.io_error = Some(e.to_string());
                    text.truncate(start);
                    return None;
                }
            }
        }
        self.line_no += 1;
        if text.last() == Some(&b'\n') {
            return Some(LineEnd::Newline);
        }
        if (text.len() - start) as u64 >= limit {
            // Too long: drop what we have and skip to the next newline.
            text.truncate(start);
            loop {
                let (found, used) = match self.reader.fill_buf() {
                    Ok([]) => (true, 0),
                    Ok(buf) => match buf.iter().position(|&b| b == b'\n') {
                        Some(i) => (true, i + 1),
                        None => (false, buf.len()),
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => (false, 0),
                    Err(e) => {
                        self.stats.io_error = Some(e.to_string());
                        (true, 0)
                    }
                };
                self.reader.consume(used);
                if found {
                    break;
                }
            }
            return Some(LineEnd::TooLong);
        }
        Some(LineEnd::EndOfInput)
    }
}

enum LineEnd {
    Newline,
    EndOfInput,
    TooLong,
}

impl<R: BufRead> Iterator for SpanReader<R> {
    type Item = SpanRecord;

    fn next(&mut self) -> Option<SpanRecord> {
        loop {
            if let Some(span) = self.pending.next() {
                return Some(span);
            }
            if self.done {
                return None;
            }
            self.fill_batch();
            self.decode_batch();
        }
    }
}

/// Decodes a batch's lines on up to `threads` threads, each taking a run of lines of
/// about the same size; the runs in line order. Where a thread cannot be started, its
/// lines are decoded on the calling thread.
fn decode_parallel(
    text: &[u8],
    lines: &[BatchLine],
    fields: &Fields,
    threads: usize,
) -> Vec<Decoded> {
    let share = text.len() / threads + 1;
    let mut parts = Vec::with_capacity(threads);
    let mut first = 0;
    while first < lines.len() {
        let start = lines[first].range.start;
        let mut end = first + 1;
        while end < lines.len() && lines[end].range.end - start < share {
            end += 1;
        }
        parts.push(&lines[first..end]);
        first = end;
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .skip(1)
            .map(|part| {
                std::thread::Builder::new()
                    .name("aitrace-insight-decode".into())
                    .spawn_scoped(scope, move || decode_lines(text, part, fields))
                    .map_err(|_| *part)
            })
            .collect();
        let mut decoded = Vec::with_capacity(parts.len());
        if let Some(part) = parts.first() {
            decoded.push(decode_lines(text, part, fields));
        }
        for handle in handles {
            decoded.push(match handle {
                Ok(h) => match h.join() {
                    Ok(d) => d,
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                Err(part) => decode_lines(text, part, fields),
            });
        }
        decoded
    })
}

/// Reads a trace file. Bad lines are skipped; [`read_file_with_stats`] tells how many.
pub fn read_file(path: impl AsRef<Path>) -> std::io::Result<Vec<SpanRecord>> {
    Ok(read_file_with_stats(path)?.spans)
}

/// Reads a trace file, with the counts of lines read and skipped. An I/O error after
/// opening (a directory, a failing disk) is an error too.
pub fn read_file_with_stats(path: impl AsRef<Path>) -> std::io::Result<ReadResult> {
    let file = std::fs::File::open(path)?;
    let read = parse_lines(std::io::BufReader::with_capacity(256 * 1024, file));
    match &read.stats.io_error {
        Some(e) if read.stats.lines == 0 => Err(std::io::Error::other(e.clone())),
        _ => Ok(read),
    }
}

/// Reads OTLP/JSON lines from any reader, skipping (and counting) bad lines.
pub fn parse_lines(reader: impl BufRead) -> ReadResult {
    let mut reader = SpanReader::new(reader);
    let spans = reader.by_ref().collect();
    ReadResult {
        spans,
        stats: reader.into_stats(),
    }
}

/// The spans of one decoded `ExportTraceServiceRequest` (one line of a trace file), in
/// file order.
pub fn spans_of(request: ExportTraceServiceRequest) -> Vec<SpanRecord> {
    let count = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    let mut spans = Vec::with_capacity(count);
    for rs in request.resource_spans {
        let service = rs
            .resource
            .and_then(|r| r.attributes.into_iter().find(|kv| kv.key == "service.name"))
            .map(|kv| match convert(kv.value.and_then(|v| v.value)) {
                AttrValue::Str(text) => text,
                other => other.to_string().into(),
            })
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for span in ss.spans {
                let status = span.status.unwrap_or_default();
                spans.push(SpanRecord {
                    trace_id: hex(&span.trace_id).into(),
                    span_id: hex(&span.span_id).into(),
                    parent_span_id: hex(&span.parent_span_id).into(),
                    name: span.name.into(),
                    kind: span.kind,
                    start_unix_nano: span.start_time_unix_nano,
                    end_unix_nano: span.end_time_unix_nano,
                    status_code: status.code,
                    status_message: status.message.into(),
                    service: service.clone(),
                    attributes: attributes(span.attributes),
                    events: span
                        .events
                        .into_iter()
                        .map(|e| EventRecord {
                            name: e.name.into(),
                            time_unix_nano: e.time_unix_nano,
                            attributes: attributes(e.attributes),
                        })
                        .collect(),
                });
            }
        }
    }
    spans
}

fn attributes(kvs: Vec<KeyValue>) -> Vec<(Text, AttrValue)> {
    kvs.into_iter()
        .map(|kv| (kv.key.into(), convert(kv.value.and_then(|v| v.value))))
        .collect()
}

fn convert(value: Option<any_value::Value>) -> AttrValue {
    match value {
        Some(any_value::Value::StringValue(s)) => AttrValue::Str(s.into()),
        Some(any_value::Value::IntValue(i)) => AttrValue::Int(i),
        Some(any_value::Value::DoubleValue(d)) => AttrValue::Double(d),
        Some(any_value::Value::BoolValue(b)) => AttrValue::Bool(b),
        Some(any_value::Value::ArrayValue(a)) => {
            AttrValue::Array(a.values.into_iter().map(|v| convert(v.value)).collect())
        }
        Some(any_value::Value::BytesValue(b)) => AttrValue::Other(hex(&b).into()),
        Some(any_value::Value::KvlistValue(list)) => {
            let mut text = String::from("{");
            for (i, kv) in list.values.into_iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                let _ = write!(
                    text,
                    "{}: {}",
                    kv.key,
                    convert(kv.value.and_then(|v| v.value))
                );
            }
            text.push('}');
            AttrValue::Other(text.into())
        }
        // Kinds added to OTLP later (e.g. string-table indices): shown, not lost.
        Some(other) => AttrValue::Other(format!("{other:?}").into()),
        None => AttrValue::Other(Text::new()),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// The name a file of a rotated set shares with the set's other parts: `stem` for
/// `stem.jsonl` and `stem.3.jsonl` (the file exporter starts `stem.1.jsonl`, ... when a
/// file reaches its size limit). `None` for names that are not `.jsonl`.
///
/// ```
/// use aitrace_insight::tracefile::set_stem;
///
/// assert_eq!(set_stem("trace-svc-1-2.jsonl"), Some("trace-svc-1-2"));
/// assert_eq!(set_stem("trace-svc-1-2.12.jsonl"), Some("trace-svc-1-2"));
/// assert_eq!(set_stem("notes.txt"), None);
/// ```
pub fn set_stem(file_name: &str) -> Option<&str> {
    let base = file_name.strip_suffix(".jsonl")?;
    match base.rsplit_once('.') {
        Some((stem, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => Some(stem),
        _ => Some(base),
    }
}

/// The part number of a file of a rotated set (0 for the first part).
fn part_number(file_name: &str) -> u64 {
    file_name
        .strip_suffix(".jsonl")
        .and_then(|b| b.rsplit_once('.'))
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

/// Every existing part of the rotated set `path` belongs to, oldest first, so a set
/// reads as one file. A file outside any set is its own set.
pub fn rotated_set(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return vec![path.to_path_buf()];
    };
    let Some(stem) = set_stem(name) else {
        return vec![path.to_path_buf()];
    };
    let dir = if dir.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![path.to_path_buf()];
    };
    let mut parts: Vec<(u64, std::path::PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_owned();
            (set_stem(&n) == Some(stem)).then(|| (part_number(&n), dir.join(&n)))
        })
        .collect();
    if parts.is_empty() {
        return vec![path.to_path_buf()];
    }
    parts.sort();
    parts.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPAN: &str = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"s","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    #[test]
    fn partial_lines_are_counted_not_fatal() {
        let text = "{\"resourceSpans\":[]}\n{\"resourceSp";
        let read = parse_lines(text.as_bytes());
        assert_eq!(read.stats.bad_lines, 1);
        assert!(read.stats.truncated_last_line);
        assert_eq!(read.stats.first_error.as_ref().map(|e| e.line), Some(2));
        assert!(read.spans.is_empty());
    }

    #[test]
    fn a_last_line_without_newline_that_parses_is_kept() {
        let read = parse_lines(SPAN.as_bytes());
        assert_eq!(read.spans.len(), 1);
        assert!(!read.stats.truncated_last_line);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let read = parse_lines(format!("\u{feff}{SPAN}\n{SPAN}").as_bytes());
        assert_eq!((read.spans.len(), read.stats.bad_lines), (2, 0));
    }

    #[test]
    fn over_long_lines_are_skipped_and_the_next_line_read() {
        let long = format!("{{\"resourceSpans\":[],\"x\":\"{}\"}}", "a".repeat(10_000));
        let text = format!("{long}\n{SPAN}\r\n\n   \n{long}");
        let mut reader = SpanReader::new(std::io::BufReader::with_capacity(64, text.as_bytes()))
            .max_line_bytes(SPAN.len() + 2);
        let spans: Vec<_> = reader.by_ref().collect();
        assert_eq!(spans.len(), 1);
        let stats = reader.stats();
        assert_eq!(
            (stats.lines, stats.bad_lines, stats.oversized_lines),
            (3, 2, 2)
        );
        assert!(!stats.truncated_last_line);
        assert_eq!(stats.first_error.as_ref().map(|e| e.line), Some(1));
    }

    #[test]
    fn unknown_fields_and_odd_values_are_read() {
        let line = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"future":1,"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"s","startTimeUnixNano":5,"endTimeUnixNano":"9","newField":{"a":[1]},"attributes":[{"key":"k","value":{"kvlistValue":{"values":[{"key":"a","value":{"intValue":3}}]}}},{"key":"b","value":{"bytesValue":"AQI="}},{"key":"e","value":{}},{"key":"u","value":{"futureValue":1}}]}]}]}]}"#;
        let read = parse_lines(line.as_bytes());
        assert_eq!(read.stats.bad_lines, 0, "{:?}", read.stats);
        let span = &read.spans[0];
        assert_eq!(span.service, "svc");
        assert_eq!(span.start_unix_nano, 5);
        assert_eq!(span.attr("k"), Some(&AttrValue::Other("{a: 3}".into())));
        assert_eq!(span.attr("b"), Some(&AttrValue::Other("0102".into())));
        assert_eq!(span.attr("u"), Some(&AttrValue::Other(Text::new())));
    }
}
