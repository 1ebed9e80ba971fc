//! Export to the Chrome trace event format, which Perfetto (<https://ui.perfetto.dev>)
//! and `chrome://tracing` load.
//!
//! Layout: one process (`pid`) per `service.name`, one thread (`tid`) per trace in it,
//! named after the trace's root span. Each span is a complete event (`"ph":"X"`) with
//! `ts` and `dur` in whole microseconds of Unix time and `args` holding the ids, kind,
//! status and all attributes; span events are instant events (`"ph":"i"`).
//!
//! Events on one thread must nest exactly (Perfetto does not draw overlapping slices),
//! so:
//! - times are rounded down to whole microseconds on both ends (`dur` is the rounded end
//!   minus the rounded start): integers stay exact in every reader, and rounding down
//!   keeps every nesting (a fractional or rounded-per-field `dur` could push a child's
//!   end past its parent's by a nanosecond);
//! - spans that overlap without nesting (concurrent tool calls, say) go to extra
//!   threads of the same trace (`... (2)`), never dropped.
//!
//! ```
//! use aitrace_insight::{chrome, Filter};
//! use aitrace_insight::tracefile::parse_lines;
//!
//! let text = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat gpt-4o","startTimeUnixNano":"1000","endTimeUnixNano":"3500"}]}]}]}"#;
//! let traces = Filter::default().apply(parse_lines(text.as_bytes()).spans);
//! let json: serde_json::Value = serde_json::from_str(&chrome::to_string(&traces)).unwrap();
//! let span = json["traceEvents"].as_array().unwrap().iter().find(|e| e["ph"] == "X").unwrap();
//! assert_eq!((span["ts"].as_u64(), span["dur"].as_u64()), (Some(1), Some(2)));
//! assert_eq!(span["args"]["span_id"], "b7ad6b7169203331");
//! ```

use std::collections::HashMap;
use std::io::{self, Write};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::tracefile::{EventRecord, SpanRecord};

use crate::Trace;

/// Name of the process of spans without `service.name`.
const UNKNOWN_SERVICE: &str = "unknown_service";

enum Args<'a> {
    Name(&'a str),
    SortIndex(u64),
    Span(&'a SpanRecord),
    Event(&'a EventRecord),
}

impl Serialize for Args<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Args::Name(name) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("name", name)?;
                map.end()
            }
            Args::SortIndex(index) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("sort_index", index)?;
                map.end()
            }
            Args::Span(span) => {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("trace_id", &span.trace_id)?;
                map.serialize_entry("span_id", &span.span_id)?;
                if !span.parent_span_id.is_empty() {
                    map.serialize_entry("parent_span_id", &span.parent_span_id)?;
                }
                map.serialize_entry("span.kind", kind_name(span.kind))?;
                let status = match span.status_code {
                    1 => "ok",
                    2 => "error",
                    _ => "unset",
                };
                map.serialize_entry("status", status)?;
                if !span.status_message.is_empty() {
                    map.serialize_entry("status_message", &span.status_message)?;
                }
                for (key, value) in &span.attributes {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Args::Event(event) => {
                let mut map = serializer.serialize_map(Some(event.attributes.len()))?;
                for (key, value) in &event.attributes {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

#[derive(Serialize)]
struct Event<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'a str>,
    ph: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<u64>,
    pid: u32,
    tid: u32,
    /// Scope of an instant event: `t`, the thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'static str>,
    args: Args<'a>,
}

/// The OTLP span kind's name, lower case (the viewer shows it too).
pub(crate) fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

/// Whole microseconds, rounded down (a monotone map: what nests still nests).
fn micros(nanos: u64) -> u64 {
    nanos / 1000
}

/// Writes the events as they come: `{"traceEvents":[...]}` without holding them all.
struct EventWriter<'w> {
    out: &'w mut dyn Write,
    first: bool,
    count: usize,
}

impl EventWriter<'_> {
    fn event(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.out
            .write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        self.count += 1;
        serde_json::to_writer(&mut *self.out, event).map_err(io::Error::other)
    }
}

/// Puts spans on threads where they nest: returns each span's lane (0 = the trace's
/// first thread). `order` lists span indices by start, longest first on ties.
fn lanes(trace: &Trace, order: &[usize]) -> HashMap<usize, usize> {
    // Per lane, the ends of the spans still open in it, innermost last.
    let mut open: Vec<Vec<u64>> = Vec::new();
    let mut lane_of: HashMap<usize, usize> = HashMap::with_capacity(order.len());
    for &i in order {
        let span = &trace.spans[i].span;
        let (start, end) = (
            span.start_unix_nano,
            span.end_unix_nano.max(span.start_unix_nano),
        );
        let preferred = trace.spans[i].parent.and_then(|p| lane_of.get(&p).copied());
        let fits = |stack: &mut Vec<u64>| {
            while stack.last().is_some_and(|&top| top <= start && top < end) {
                stack.pop();
            }
            stack.last().is_none_or(|&top| top >= end)
        };
        let mut chosen = None;
        if let Some(p) = preferred {
            if fits(&mut open[p]) {
                chosen = Some(p);
            }
        }
        if chosen.is_none() {
            chosen = (0..open.len()).find(|&l| fits(&mut open[l]));
        }
        let lane = chosen.unwrap_or_else(|| {
            open.push(Vec::new());
            open.len() - 1
        });
        open[lane].push(end);
        lane_of.insert(i, lane);
    }
    lane_of
}

/// Writes traces as a Chrome trace event JSON object.
pub fn write_chrome(out: &mut dyn Write, traces: &[Trace]) -> io::Result<()> {
    out.write_all(b"{\"traceEvents\":[")?;
    let mut w = EventWriter {
        out,
        first: true,
        count: 0,
    };
    let mut pids: HashMap<&str, u32> = HashMap::new();
    let mut next_tid: HashMap<u32, u32> = HashMap::new();
    let mut span_count = 0usize;
    for trace in traces {
        // Spans of each service, by start (longest first on ties, so parents lead).
        let mut by_service: Vec<(u32, Vec<usize>)> = Vec::new();
        for (i, s) in trace.spans.iter().enumerate() {
            let service = match s.span.service.as_str() {
                "" => UNKNOWN_SERVICE,
                name => name,
            };
            let pid = match pids.get(service) {
                Some(&pid) => pid,
                None => {
                    let pid = pids.len() as u32 + 1;
                    pids.insert(service, pid);
                    w.event(&Event {
                        name: "process_name",
                        cat: None,
                        ph: "M",
                        ts: None,
                        dur: None,
                        pid,
                        tid: 0,
                        s: None,
                        args: Args::Name(service),
                    })?;
                    w.event(&Event {
                        name: "process_sort_index",
                        cat: None,
                        ph: "M",
                        ts: None,
                        dur: None,
                        pid,
                        tid: 0,
                        s: None,
                        args: Args::SortIndex(u64::from(pid)),
                    })?;
                    pid
                }
            };
            match by_service.iter_mut().find(|(p, _)| *p == pid) {
                Some((_, list)) => list.push(i),
                None => by_service.push((pid, vec![i])),
            }
        }
        for (pid, mut order) in by_service {
            order.sort_by(|&a, &b| {
                let (a, b) = (&trace.spans[a].span, &trace.spans[b].span);
                a.start_unix_nano
                    .cmp(&b.start_unix_nano)
                    .then_with(|| b.end_unix_nano.cmp(&a.end_unix_nano))
            });
            let lane_of = lanes(trace, &order);
            let lane_count = lane_of.values().max().map_or(0, |m| m + 1);
            let tid_base = *next_tid.get(&pid).unwrap_or(&1);
            next_tid.insert(pid, tid_base + lane_count as u32);
            let root = order
                .first()
                .map_or("", |&i| trace.spans[i].span.name.as_str());
            let short_id: String = trace.trace_id.chars().take(8).collect();
            for lane in 0..lane_count {
                let tid = tid_base + lane as u32;
                let name = if lane == 0 {
                    format!("{root} {short_id}")
                } else {
                    format!("{root} {short_id} ({})", lane + 1)
                };
                w.event(&Event {
                    name: "thread_name",
                    cat: None,
                    ph: "M",
                    ts: None,
                    dur: None,
                    pid,
                    tid,
                    s: None,
                    args: Args::Name(&name),
                })?;
                w.event(&Event {
                    name: "thread_sort_index",
                    cat: None,
                    ph: "M",
                    ts: None,
                    dur: None,
                    pid,
                    tid,
                    s: None,
                    args: Args::SortIndex(u64::from(tid)),
                })?;
            }
            for &i in &order {
                let span = &trace.spans[i].span;
                let tid = tid_base + lane_of.get(&i).copied().unwrap_or(0) as u32;
                span_count += 1;
                w.event(&Event {
                    name: &span.name,
                    cat: Some(span.operation().unwrap_or(kind_name(span.kind))),
                    ph: "X",
                    ts: Some(micros(span.start_unix_nano)),
                    dur: Some(
                        micros(span.end_unix_nano.max(span.start_unix_nano))
                            - micros(span.start_unix_nano),
                    ),
                    pid,
                    tid,
                    s: None,
                    args: Args::Span(span),
                })?;
                for event in &span.events {
                    w.event(&Event {
                        name: &event.name,
                        cat: Some("event"),
                        ph: "i",
                        ts: Some(micros(event.time_unix_nano)),
                        dur: None,
                        pid,
                        tid,
                        s: Some("t"),
                        args: Args::Event(event),
                    })?;
                }
            }
        }
    }
    write!(
        w.out,
        "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{{\"generator\":\"aitrace\",\"traces\":{},\"spans\":{span_count}}}}}",
        traces.len()
    )?;
    writeln!(w.out)
}

/// The Chrome trace event JSON as a string.
pub fn to_string(traces: &[Trace]) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_chrome(&mut out, traces);
    String::from_utf8_lossy(&out).into_owned()
}
