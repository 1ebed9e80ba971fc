//! Reading OTLP/JSON trace files back, and printing a trace as a tree.
//!
//! The file holds one `ExportTraceServiceRequest` per line (what the embedded file
//! exporter writes, and what other OTLP tools write). Reading goes line by line and
//! survives a partial last line (a crash mid-write): bad lines are counted, not fatal.
//!
//! ```
//! use aitrace_core::tracefile::{parse_lines, render_tree};
//!
//! let line = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat gpt-4o","kind":3,"startTimeUnixNano":"1000000","endTimeUnixNano":"251000000","attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}}]}]}]}]}"#;
//! let read = parse_lines(line.as_bytes());
//! assert_eq!(read.spans.len(), 1);
//! assert!(render_tree(&read.spans).contains("chat gpt-4o"));
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;

use crate::conventions as c;

/// An attribute value as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// An array of values.
    Array(Vec<AttrValue>),
    /// Anything else (bytes, key-value lists), as text.
    Other(String),
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

/// One span as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// Trace id, lower-case hex.
    pub trace_id: String,
    /// Span id, lower-case hex.
    pub span_id: String,
    /// Parent span id, hex; empty for a root.
    pub parent_span_id: String,
    /// Span name.
    pub name: String,
    /// Span kind (OTLP numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// Start, nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_unix_nano: u64,
    /// Status code (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
    /// `service.name` of the resource.
    pub service: String,
    /// Attributes in file order.
    pub attributes: Vec<(String, AttrValue)>,
    /// Event names in file order.
    pub events: Vec<String>,
}

impl SpanRecord {
    /// An attribute's value.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Duration in nanoseconds (0 when the end precedes the start).
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    /// Whether the span ended in error.
    pub fn is_error(&self) -> bool {
        self.status_code == 2
    }
}

/// What reading a trace file gave.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    /// Spans, in file order.
    pub spans: Vec<SpanRecord>,
    /// Lines that were not valid OTLP/JSON (a partial last line, say).
    pub bad_lines: usize,
}

/// Reads a trace file.
pub fn read_file(path: impl AsRef<Path>) -> std::io::Result<Vec<SpanRecord>> {
    let file = std::fs::File::open(path)?;
    Ok(parse_lines(std::io::BufReader::new(file)).spans)
}

/// Reads OTLP/JSON lines from any reader, skipping (and counting) bad lines.
pub fn parse_lines(reader: impl BufRead) -> ReadResult {
    let mut out = ReadResult::default();
    for line in reader.split(b'\n') {
        let Ok(line) = line else {
            out.bad_lines += 1;
            break;
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<ExportTraceServiceRequest>(&line) {
            Ok(request) => push_request(request, &mut out.spans),
            Err(_) => out.bad_lines += 1,
        }
    }
    out
}

fn push_request(request: ExportTraceServiceRequest, spans: &mut Vec<SpanRecord>) {
    for rs in request.resource_spans {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
            .and_then(|kv| kv.value.as_ref())
            .map(|v| convert(v.value.as_ref()).to_string())
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for span in ss.spans {
                let status = span.status.unwrap_or_default();
                spans.push(SpanRecord {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    kind: span.kind,
                    start_unix_nano: span.start_time_unix_nano,
                    end_unix_nano: span.end_time_unix_nano,
                    status_code: status.code,
                    status_message: status.message,
                    service: service.clone(),
                    attributes: span
                        .attributes
                        .into_iter()
                        .map(|kv| {
                            let v = convert(kv.value.as_ref().and_then(|v| v.value.as_ref()));
                            (kv.key, v)
                        })
                        .collect(),
                    events: span.events.into_iter().map(|e| e.name).collect(),
                });
            }
        }
    }
}

fn convert(value: Option<&any_value::Value>) -> AttrValue {
    match value {
        Some(any_value::Value::StringValue(s)) => AttrValue::Str(s.clone()),
        Some(any_value::Value::IntValue(i)) => AttrValue::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => AttrValue::Double(*d),
        Some(any_value::Value::BoolValue(b)) => AttrValue::Bool(*b),
        Some(any_value::Value::ArrayValue(a)) => {
            AttrValue::Array(a.values.iter().map(|v| convert(v.value.as_ref())).collect())
        }
        Some(other) => AttrValue::Other(format!("{other:?}")),
        None => AttrValue::Other(String::new()),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Whether a span is an inference (LLM) span, whose usage counts toward totals.
fn is_inference(span: &SpanRecord) -> bool {
    matches!(
        span.attr(c::GEN_AI_OPERATION_NAME)
            .and_then(AttrValue::as_str),
        Some("chat" | "text_completion" | "generate_content" | "embeddings")
    )
}

/// Renders every trace as a tree: name, duration, model, tokens, cost, errors; then the
/// trace's totals over its inference spans. Spans whose parent is missing are shown
/// as extra roots marked `(orphan)`; a parent cycle cannot loop.
pub fn render_tree(spans: &[SpanRecord]) -> String {
    let mut out = String::new();
    let mut traces: Vec<&str> = Vec::new();
    let mut by_trace: HashMap<&str, Vec<&SpanRecord>> = HashMap::new();
    for span in spans {
        let list = by_trace.entry(span.trace_id.as_str()).or_default();
        if list.is_empty() {
            traces.push(span.trace_id.as_str());
        }
        list.push(span);
    }
    for trace_id in traces {
        let list = &by_trace[trace_id];
        let ids: HashSet<&str> = list.iter().map(|s| s.span_id.as_str()).collect();
        let mut children: HashMap<&str, Vec<&SpanRecord>> = HashMap::new();
        let mut roots: Vec<&SpanRecord> = Vec::new();
        for span in list {
            if span.parent_span_id.is_empty() || !ids.contains(span.parent_span_id.as_str()) {
                roots.push(span);
            } else {
                children
                    .entry(span.parent_span_id.as_str())
                    .or_default()
                    .push(span);
            }
        }
        for kids in children.values_mut() {
            kids.sort_by_key(|s| s.start_unix_nano);
        }
        roots.sort_by_key(|s| s.start_unix_nano);
        let _ = writeln!(out, "trace {trace_id}");
        let mut seen = HashSet::new();
        for (i, root) in roots.iter().enumerate() {
            let orphan = !root.parent_span_id.is_empty();
            render_node(
                &mut out,
                root,
                &children,
                "",
                i + 1 == roots.len(),
                orphan,
                &mut seen,
            );
        }
        // Spans only reachable through a cycle were never printed: show them too.
        for span in list {
            if !seen.contains(span.span_id.as_str()) {
                render_node(&mut out, span, &children, "", true, true, &mut seen);
            }
        }
        let (mut input, mut output, mut cost, mut calls) = (0i64, 0i64, 0f64, 0usize);
        for span in list.iter().filter(|s| is_inference(s)) {
            calls += 1;
            input += span
                .attr(c::GEN_AI_USAGE_INPUT_TOKENS)
                .and_then(AttrValue::as_i64)
                .unwrap_or(0);
            output += span
                .attr(c::GEN_AI_USAGE_OUTPUT_TOKENS)
                .and_then(AttrValue::as_i64)
                .unwrap_or(0);
            cost += span
                .attr(c::GEN_AI_USAGE_COST)
                .and_then(AttrValue::as_f64)
                .unwrap_or(0.0);
        }
        if calls > 0 {
            let _ = writeln!(
                out,
                "totals: {calls} LLM call(s), {input} input + {output} output tokens, ${cost:.6}"
            );
        }
    }
    out
}

fn render_node<'a>(
    out: &mut String,
    span: &'a SpanRecord,
    children: &HashMap<&str, Vec<&'a SpanRecord>>,
    prefix: &str,
    last: bool,
    orphan: bool,
    seen: &mut HashSet<&'a str>,
) {
    if !seen.insert(span.span_id.as_str()) {
        return;
    }
    let branch = if last { "└─ " } else { "├─ " };
    let _ = write!(
        out,
        "{prefix}{branch}{}  {}",
        span.name,
        format_duration(span.duration_nanos())
    );
    if let Some(model) = span
        .attr(c::GEN_AI_RESPONSE_MODEL)
        .or_else(|| span.attr(c::GEN_AI_REQUEST_MODEL))
    {
        let _ = write!(out, "  model={model}");
    }
    let input = span
        .attr(c::GEN_AI_USAGE_INPUT_TOKENS)
        .and_then(AttrValue::as_i64);
    let output = span
        .attr(c::GEN_AI_USAGE_OUTPUT_TOKENS)
        .and_then(AttrValue::as_i64);
    if input.is_some() || output.is_some() {
        let _ = write!(
            out,
            "  tokens={}in/{}out",
            input.unwrap_or(0),
            output.unwrap_or(0)
        );
    }
    if let Some(cost) = span.attr(c::GEN_AI_USAGE_COST).and_then(AttrValue::as_f64) {
        let _ = write!(out, "  cost=${cost:.6}");
    }
    if let Some(ttft) = span
        .attr(c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        .and_then(AttrValue::as_f64)
    {
        let _ = write!(out, "  ttft={}", format_duration((ttft * 1e9) as u64));
    }
    if let Some(status) = span.attr(c::HTTP_RESPONSE_STATUS_CODE) {
        let _ = write!(out, "  status={status}");
    }
    if span.is_error() {
        let error = span
            .attr(c::ERROR_TYPE)
            .map(ToString::to_string)
            .unwrap_or_else(|| span.status_message.clone());
        let _ = write!(out, "  ERROR({error})");
    }
    if orphan {
        out.push_str("  (orphan)");
    }
    out.push('\n');
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    if let Some(kids) = children.get(span.span_id.as_str()) {
        for (i, kid) in kids.iter().enumerate() {
            render_node(
                out,
                kid,
                children,
                &child_prefix,
                i + 1 == kids.len(),
                false,
                seen,
            );
        }
    }
}

/// `850µs`, `12.3ms`, `1.24s`.
pub fn format_duration(nanos: u64) -> String {
    if nanos < 1_000_000 {
        format!("{}µs", nanos / 1_000)
    } else if nanos < 1_000_000_000 {
        format!("{:.1}ms", nanos as f64 / 1e6)
    } else {
        format!("{:.2}s", nanos as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: &str, name: &str) -> SpanRecord {
        SpanRecord {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: name.into(),
            kind: 1,
            start_unix_nano: 0,
            end_unix_nano: 2_000_000,
            status_code: 0,
            status_message: String::new(),
            service: String::new(),
            attributes: Vec::new(),
            events: Vec::new(),
        }
    }

    #[test]
    fn orphans_are_shown_and_cycles_do_not_loop() {
        let spans = vec![
            span("a", "", "root"),
            span("b", "a", "child"),
            span("c", "missing", "lost"),
            span("x", "y", "cycle-x"),
            span("y", "x", "cycle-y"),
        ];
        let tree = render_tree(&spans);
        assert!(tree.contains("└─ child"), "{tree}");
        assert!(tree.contains("lost  2.0ms  (orphan)"), "{tree}");
        assert!(
            tree.contains("cycle-x") && tree.contains("cycle-y"),
            "{tree}"
        );
    }

    #[test]
    fn partial_lines_are_counted_not_fatal() {
        let text = "{\"resourceSpans\":[]}\n{\"resourceSp";
        let read = parse_lines(text.as_bytes());
        assert_eq!(read.bad_lines, 1);
        assert!(read.spans.is_empty());
    }
}
