//! A trace opened for the viewer: its spans as a tree, with the raw OTLP data the
//! context explorer shows (resource, scope, links), and the JSON of the views built
//! from it (`/api/traces/<id>`, `.../spans/<id>`, `.../flow`).

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{json, Map, Value};

use aitrace_core::conventions as c;

use super::diff;
use super::index::Summary;
use crate::cost::span_cost;
use crate::tracefile::{spans_of, AttrValue, SpanRecord, Text};
use crate::Trace;

/// Longest attribute value sent in a span's JSON; longer ones are cut, flagged
/// `truncated`, and served whole by `.../attr/<key>`.
pub(crate) const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The OTLP data of one span besides what [`SpanRecord`] holds.
pub(crate) struct RawSpan {
    pub resource: Vec<KeyValue>,
    pub scope_name: String,
    pub scope_version: String,
    pub span: Span,
}

/// One opened trace.
pub(crate) struct Opened {
    pub trace: Trace,
    pub raw: HashMap<String, RawSpan>,
    /// Index in `trace.spans` by span id.
    pub by_id: HashMap<Text, usize>,
    /// The trace's earliest start (every span's offset is taken from it: computed once,
    /// not per span).
    start: u64,
}

impl Opened {
    pub fn new(requests: Vec<ExportTraceServiceRequest>) -> Option<Opened> {
        let mut raw = HashMap::new();
        let mut records = Vec::new();
        for request in requests {
            for rs in &request.resource_spans {
                let resource = rs
                    .resource
                    .as_ref()
                    .map(|r| r.attributes.clone())
                    .unwrap_or_default();
                for ss in &rs.scope_spans {
                    let (scope_name, scope_version) = ss
                        .scope
                        .as_ref()
                        .map(|s| (s.name.clone(), s.version.clone()))
                        .unwrap_or_default();
                    for span in &ss.spans {
                        raw.entry(hex(&span.span_id)).or_insert_with(|| RawSpan {
                            resource: resource.clone(),
                            scope_name: scope_name.clone(),
                            scope_version: scope_version.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
            records.extend(spans_of(request));
        }
        let trace = Trace::group(records).into_iter().next()?;
        let by_id = trace
            .spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span.span_id.clone(), i))
            .collect();
        let start = trace.start_unix_nano();
        Some(Opened {
            trace,
            raw,
            by_id,
            start,
        })
    }

    pub fn start(&self) -> u64 {
        self.start
    }

    fn offset(&self, at: u64) -> u64 {
        at.saturating_sub(self.start())
    }

    /// Spans on the critical path: from each root, the child that ended last, then
    /// the one that ended last before that child started, and so on down.
    fn critical(&self) -> Vec<bool> {
        let spans = &self.trace.spans;
        let n = spans.len();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, s) in spans.iter().enumerate() {
            if let Some(p) = s.parent {
                children[p].push(i);
            }
        }
        let mut critical = vec![false; n];
        // The trace's critical path runs through the root that ends last.
        let Some(root) = (0..n)
            .filter(|&i| spans[i].parent.is_none())
            .max_by_key(|&i| spans[i].span.end_unix_nano)
        else {
            return critical;
        };
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            critical[i] = true;
            let mut kids = children[i].clone();
            kids.sort_by_key(|&k| std::cmp::Reverse(spans[k].span.end_unix_nano));
            let mut cursor = spans[i].span.end_unix_nano;
            for k in kids {
                if spans[k].span.end_unix_nano <= cursor {
                    stack.push(k);
                    cursor = spans[k].span.start_unix_nano;
                }
            }
        }
        critical
    }

    /// `/api/traces/<id>`.
    /// `/api/traces/<id>`, written as JSON text a span at a time: only one span's
    /// JSON value exists at once, so a trace of 100k spans costs its text, not a tree
    /// of values ten times that size.
    pub fn trace_json_text(&self, summary: &Summary) -> String {
        let spans = &self.trace.spans;
        let critical = self.critical();
        let n = spans.len();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut rollups = vec![Rollup::default(); n];
        for (i, s) in spans.iter().enumerate() {
            if let Some(p) = s.parent {
                children[p].push(i);
            }
            rollups[i].add_span(&s.span);
        }
        // Children come after their parents in tree order: add up from the end.
        for i in (0..n).rev() {
            if let Some(p) = spans[i].parent {
                let r = rollups[i].clone();
                rollups[p].add(&r);
            }
        }
        let item = |i: usize| -> Value {
            let s = &spans[i];
            let span = &s.span;
            let mut item = brief(span, self.offset(span.start_unix_nano));
            let o = item.as_object_mut().expect("an object");
            o.insert(
                "parent_span_id".into(),
                s.parent
                    .map(|p| Value::from(spans[p].span.span_id.as_str()))
                    .unwrap_or(Value::Null),
            );
            o.insert("depth".into(), s.depth.into());
            o.insert("orphan".into(), s.orphan.into());
            o.insert("critical".into(), critical[i].into());
            o.insert("badges".into(), badges(span));
            o.insert(
                "rollup".into(),
                if children[i].is_empty() {
                    Value::Null
                } else {
                    rollups[i].to_json()
                },
            );
            o.insert(
                "children".into(),
                children[i]
                    .iter()
                    .map(|&k| Value::from(spans[k].span.span_id.as_str()))
                    .collect(),
            );
            item
        };
        let head = json!({
            "trace_id": self.trace.trace_id,
            "start_unix_nano": self.start().to_string(),
            "duration_ns": self.trace.end_unix_nano().saturating_sub(self.start()),
            "summary": summary_json(summary),
            // Spans whose id repeats one already read (invalid data, kept out of the tree;
            // the list row counts every line's spans).
            "duplicates": self.trace.duplicates,
        });
        let mut spans_text = JsonArrayText::with_capacity(n * 512);
        for i in 0..n {
            spans_text.push(&item(i));
        }
        spans_text.into_field_of(&head, "spans")
    }

    /// `/api/traces/<id>/spans/<span_id>`.
    pub fn span_json(&self, span_id: &str) -> Option<Value> {
        let &i = self.by_id.get(span_id)?;
        let record = &self.trace.spans[i].span;
        let raw = self.raw.get(span_id)?;
        let mut item = brief(record, self.offset(record.start_unix_nano));
        let o = item.as_object_mut().expect("an object");
        o.insert(
            "parent_span_id".into(),
            if record.parent_span_id.is_empty() {
                Value::Null
            } else {
                Value::from(record.parent_span_id.as_str())
            },
        );
        o.insert("badges".into(), badges(record));
        o.insert("attributes".into(), key_values(&raw.span.attributes));
        o.insert("resource".into(), key_values(&raw.resource));
        o.insert(
            "scope".into(),
            json!({"name": raw.scope_name, "version": raw.scope_version}),
        );
        o.insert(
            "events".into(),
            raw.span
                .events
                .iter()
                .map(|e| {
                    json!({
                        "name": e.name,
                        "offset_ns": self.offset(e.time_unix_nano),
                        "attributes": key_values(&e.attributes),
                    })
                })
                .collect(),
        );
        o.insert(
            "links".into(),
            raw.span
                .links
                .iter()
                .map(|l| {
                    json!({
                        "trace_id": hex(&l.trace_id),
                        "span_id": hex(&l.span_id),
                        "attributes": key_values(&l.attributes),
                    })
                })
                .collect(),
        );
        o.insert("conversation".into(), conversation(record));
        o.insert("states".into(), self.states_of(span_id));
        o.insert("tool_call_links".into(), self.tool_call_links(i));
        Some(item)
    }

    /// The full value of one attribute of a span, as text.
    pub fn attr_text(&self, span_id: &str, key: &str) -> Option<String> {
        let raw = self.raw.get(span_id)?;
        let kv = raw.span.attributes.iter().find(|kv| kv.key == key)?;
        Some(match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            other => any_json(other).to_string(),
        })
    }

    /// Every state snapshot of the trace in time order: (span id, time, state).
    fn all_states(&self) -> Vec<(&str, u64, Value)> {
        let mut out = Vec::new();
        for s in &self.trace.spans {
            for e in &s.span.events {
                if e.name != c::AITRACE_AGENT_STATE {
                    continue;
                }
                let state = e
                    .attributes
                    .iter()
                    .find(|(k, _)| k == c::AITRACE_AGENT_STATE)
                    .map(|(_, v)| match v {
                        AttrValue::Str(text) => serde_json::from_str(text)
                            .unwrap_or_else(|_| Value::from(text.as_str())),
                        other => serde_json::to_value(other).unwrap_or(Value::Null),
                    })
                    .unwrap_or(Value::Null);
                out.push((s.span.span_id.as_str(), e.time_unix_nano, state));
            }
        }
        out.sort_by_key(|(_, at, _)| *at);
        out
    }

    fn states_of(&self, span_id: &str) -> Value {
        let all = self.all_states();
        let mut previous: Option<&Value> = None;
        let mut out = Vec::new();
        for (id, at, state) in &all {
            if *id == span_id {
                let changes = match previous {
                    Some(before) => diff::json_diff(before, state),
                    None => diff::json_diff(&Value::Null, state),
                };
                out.push(json!({
                    "offset_ns": self.offset(*at),
                    "state": state,
                    "diff": changes,
                }));
            }
            previous = Some(state);
        }
        Value::Array(out)
    }

    /// For a chat span, the tool spans that ran the calls it asked for; for a tool
    /// span, the chat span that asked. Matched by `gen_ai.tool.call.id` in the chat
    /// span's output messages; without captured content, the LLM call that ended last
    /// before the tool started under the same parent is taken (`inferred: true`).
    fn tool_call_links(&self, i: usize) -> Value {
        let span = &self.trace.spans[i].span;
        let mut out = Vec::new();
        if span.is_inference() {
            for (j, s) in self.trace.spans.iter().enumerate() {
                if s.span.operation() != Some("execute_tool") {
                    continue;
                }
                if let Some((asker, inferred)) = self.asker(j) {
                    if asker == i {
                        out.push(json!({
                            "tool_call_id": s.span.attr_str(c::GEN_AI_TOOL_CALL_ID),
                            "span_id": s.span.span_id,
                            "name": s.span.attr_str(c::GEN_AI_TOOL_NAME).unwrap_or(&s.span.name),
                            "inferred": inferred,
                        }));
                    }
                }
            }
        } else if let Some((asker, inferred)) = self.asker(i) {
            let asker = &self.trace.spans[asker].span;
            out.push(json!({
                "tool_call_id": span.attr_str(c::GEN_AI_TOOL_CALL_ID),
                "span_id": asker.span_id,
                "name": asker.name,
                "inferred": inferred,
            }));
        }
        Value::Array(out)
    }

    /// The LLM call that asked for tool span `i` (index in tree order), and whether
    /// that was inferred from timing rather than read from the call's output.
    fn asker(&self, i: usize) -> Option<(usize, bool)> {
        let tool = &self.trace.spans[i];
        if tool.span.operation() != Some("execute_tool") {
            return None;
        }
        if let Some(id) = tool.span.attr_str(c::GEN_AI_TOOL_CALL_ID) {
            let by_id = self.trace.spans.iter().position(|s| {
                s.span.is_inference()
                    && asked_tool_calls(&s.span).iter().any(|(call, _)| call == id)
            });
            if let Some(j) = by_id {
                return Some((j, false));
            }
        }
        // No content to match by: a chat call asks for tools only in its output, so
        // it is the one that ended last before the tool started, under the same parent,
        // provided it has no captured output (which would have named its calls).
        self.trace
            .spans
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.parent == tool.parent
                    && s.span.is_inference()
                    && s.span.end_unix_nano <= tool.span.start_unix_nano
            })
            .max_by_key(|(_, s)| s.span.end_unix_nano)
            .filter(|(_, s)| s.span.attr(c::GEN_AI_OUTPUT_MESSAGES).is_none())
            .map(|(j, _)| (j, true))
    }

    /// `/api/traces/<id>/flow`: the agent loop as steps.
    pub fn flow_json(&self) -> Value {
        let mut steps = Vec::new();
        let mut edges = Vec::new();
        let spans: Vec<&SpanRecord> = self.trace.spans.iter().map(|s| &s.span).collect();
        let mut ordered = spans.clone();
        ordered.sort_by_key(|s| s.start_unix_nano);
        let root = self.trace.spans.first().map(|s| &s.span);
        // The request: the trace's root (the server span or the agent itself).
        if let Some(root) = root {
            let question = root
                .attr_str(c::INPUT_VALUE)
                .map(str::to_owned)
                .or_else(|| {
                    spans
                        .iter()
                        .find_map(|s| s.attr_str(c::INPUT_VALUE).map(str::to_owned))
                })
                .unwrap_or_default();
            steps.push(step(
                "request",
                root,
                self.offset(root.start_unix_nano),
                short(&question),
            ));
        }
        let mut last_agent_output: Option<(&SpanRecord, String)> = None;
        for s in &ordered {
            if root.is_some_and(|r| r.span_id == s.span_id) && !s.is_agent() {
                continue;
            }
            let offset = self.offset(s.start_unix_nano);
            if s.is_agent() {
                let question = s.attr_str(c::INPUT_VALUE).unwrap_or_default();
                steps.push(step("agent", s, offset, short(question)));
                if let Some(answer) = s.attr_str(c::OUTPUT_VALUE) {
                    last_agent_output = Some((s, answer.to_owned()));
                }
            } else if s.is_inference() {
                let mut item = step("llm", s, offset, short(&llm_carries(s)));
                let o = item.as_object_mut().expect("an object");
                let tokens = attr_u64(s, c::GEN_AI_USAGE_INPUT_TOKENS)
                    + attr_u64(s, c::GEN_AI_USAGE_OUTPUT_TOKENS);
                o.insert("tokens".into(), tokens.into());
                o.insert(
                    "cost_usd".into(),
                    span_cost(s).map_or(Value::Null, |c| c.usd().into()),
                );
                steps.push(item);
            } else if s.operation() == Some("execute_tool") {
                let args = s
                    .attr_str(c::GEN_AI_TOOL_CALL_ARGUMENTS)
                    .unwrap_or_default();
                let result = s.attr_str(c::GEN_AI_TOOL_CALL_RESULT).unwrap_or_default();
                let name = s.attr_str(c::GEN_AI_TOOL_NAME).unwrap_or(&s.name);
                let carries = if args.is_empty() && result.is_empty() {
                    String::new()
                } else {
                    format!("{name}({args}) -> {result}")
                };
                let mut item = step("tool", s, offset, short(&carries));
                let o = item.as_object_mut().expect("an object");
                if let Some(id) = s.attr_str(c::GEN_AI_TOOL_CALL_ID) {
                    o.insert("tool_call_id".into(), id.into());
                }
                let asker = self
                    .by_id
                    .get(s.span_id.as_str())
                    .and_then(|&i| self.asker(i));
                if let Some((asker, inferred)) = asker {
                    o.insert(
                        "asked_by".into(),
                        self.trace.spans[asker].span.span_id.as_str().into(),
                    );
                    o.insert("asked_by_inferred".into(), inferred.into());
                }
                steps.push(item);
            }
        }
        if let Some((agent, answer)) = last_agent_output {
            steps.push(step(
                "answer",
                agent,
                self.offset(agent.end_unix_nano),
                short(&answer),
            ));
            if let Some(last) = steps.last_mut() {
                last["duration_ns"] = 0.into();
            }
        }
        for pair in steps.windows(2) {
            let label = match pair[1]["kind"].as_str() {
                Some("tool") => "calls",
                Some("llm") => "asks",
                Some("answer") => "answers",
                _ => "then",
            };
            edges.push(
                json!({"from": pair[0]["span_id"], "to": pair[1]["span_id"], "label": label}),
            );
        }
        for s in &steps {
            if let Some(asker) = s.get("asked_by") {
                edges.push(json!({"from": asker, "to": s["span_id"], "label": "asked for"}));
            }
        }
        json!({"steps": steps, "edges": edges})
    }
}

fn step(kind: &str, s: &SpanRecord, offset: u64, carries: String) -> Value {
    json!({
        "kind": kind,
        "span_id": s.span_id,
        "label": s.name,
        "offset_ns": offset,
        "duration_ns": s.duration_nanos(),
        "error": s.is_error(),
        "carries": carries,
    })
}

/// What an LLM call produced: the tool calls it asked for, else its answer text.
fn llm_carries(s: &SpanRecord) -> String {
    let Some(output) = s
        .attr_str(c::GEN_AI_OUTPUT_MESSAGES)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    else {
        return String::new();
    };
    let mut calls = Vec::new();
    for part in parts(&output) {
        if part["type"] == "tool_call" {
            let name = part["name"].as_str().unwrap_or_default();
            calls.push(format!("{name}({})", compact(&part["arguments"])));
        }
    }
    if !calls.is_empty() {
        return calls.join(", ");
    }
    message_text(&output)
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parts(messages: &Value) -> impl Iterator<Item = &Value> {
    messages
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["parts"].as_array())
        .flatten()
}

/// The text parts of GenAI messages, joined.
pub(crate) fn message_text(messages: &Value) -> String {
    let mut text = String::new();
    for part in parts(messages) {
        if let Some(t) = part["content"].as_str() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(t);
        }
    }
    text
}

/// The tool calls an inference span's output asked for: (call id, tool name).
fn asked_tool_calls(s: &SpanRecord) -> Vec<(String, String)> {
    let Some(output) = s
        .attr_str(c::GEN_AI_OUTPUT_MESSAGES)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    else {
        return Vec::new();
    };
    parts(&output)
        .filter(|p| p["type"] == "tool_call")
        .filter_map(|p| {
            Some((
                p["id"].as_str()?.to_owned(),
                p["name"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn short(text: &str) -> String {
    const MAX: usize = 300;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn attr_u64(s: &SpanRecord, key: &str) -> u64 {
    s.attr(key)
        .and_then(AttrValue::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// Tokens, cost and calls added up over a subtree (inference spans only).
#[derive(Debug, Clone, Default)]
struct Rollup {
    input_tokens: u64,
    output_tokens: u64,
    cached_tokens: u64,
    cost_pico: Option<u128>,
    llm_calls: u64,
    tool_calls: u64,
}

impl Rollup {
    fn add_span(&mut self, s: &SpanRecord) {
        if s.is_inference() {
            self.llm_calls += 1;
            self.input_tokens += attr_u64(s, c::GEN_AI_USAGE_INPUT_TOKENS);
            self.output_tokens += attr_u64(s, c::GEN_AI_USAGE_OUTPUT_TOKENS);
            self.cached_tokens += attr_u64(s, c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS);
            if let Some(cost) = span_cost(s) {
                self.cost_pico = Some(self.cost_pico.unwrap_or(0) + cost.picodollars());
            }
        }
        if s.operation() == Some("execute_tool") {
            self.tool_calls += 1;
        }
    }

    fn add(&mut self, other: &Rollup) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_tokens += other.cached_tokens;
        self.llm_calls += other.llm_calls;
        self.tool_calls += other.tool_calls;
        self.cost_pico = match (self.cost_pico, other.cost_pico) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    fn to_json(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cost_usd": self.cost_pico.map(|p| p as f64 / 1e12),
            "llm_calls": self.llm_calls,
            "tool_calls": self.tool_calls,
        })
    }
}

/// The fields every span item has (list of a trace, span detail, compare rows).
pub(crate) fn brief(s: &SpanRecord, offset: u64) -> Value {
    let status = match s.status_code {
        1 => "ok",
        2 => "error",
        _ => "unset",
    };
    let cancelled =
        s.attr(c::AITRACE_CANCELLED).is_some() || s.attr_str(c::ERROR_TYPE) == Some("cancelled");
    json!({
        "span_id": s.span_id,
        "name": s.name,
        "kind": crate::chrome::kind_name(s.kind),
        "service": s.service,
        "start_offset_ns": offset,
        "duration_ns": s.duration_nanos(),
        "status": status,
        "status_message": s.status_message,
        "error": s.is_error(),
        "error_text": s.error_text(),
        "cancelled": cancelled,
        "operation": s.operation(),
        "model": s.model().map(|m| m.to_string()),
    })
}

/// A JSON array written as text an item at a time, so that only one item's value
/// exists at once (a 100k-span answer is its text, not a tree of values).
pub(crate) struct JsonArrayText(String);

impl JsonArrayText {
    pub fn with_capacity(bytes: usize) -> JsonArrayText {
        let mut text = String::with_capacity(bytes + 2);
        text.push('[');
        JsonArrayText(text)
    }

    pub fn push(&mut self, item: &Value) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&item.to_string());
    }

    /// `fields` (an object) with this array added as `key`, as JSON text.
    pub fn into_field_of(mut self, fields: &Value, key: &str) -> String {
        self.0.push(']');
        let fields = fields.to_string();
        let mut out = String::with_capacity(fields.len() + key.len() + self.0.len() + 4);
        // `{...fields...,"key":[...]}`
        out.push_str(fields.strip_suffix('}').unwrap_or(&fields));
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&Value::from(key).to_string());
        out.push(':');
        out.push_str(&self.0);
        out.push('}');
        out
    }
}

fn badges(s: &SpanRecord) -> Value {
    if !s.is_inference() {
        return json!({"input_tokens": null, "output_tokens": null, "cached_tokens": null, "cost_usd": null, "ttft_ms": null});
    }
    let opt = |key: &str| {
        s.attr(key)
            .and_then(AttrValue::as_i64)
            .map_or(Value::Null, Value::from)
    };
    json!({
        "input_tokens": opt(c::GEN_AI_USAGE_INPUT_TOKENS),
        "output_tokens": opt(c::GEN_AI_USAGE_OUTPUT_TOKENS),
        "cached_tokens": opt(c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        "cost_usd": span_cost(s).map(|c| c.usd()),
        "ttft_ms": s
            .attr(c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
            .and_then(AttrValue::as_f64)
            .map(|secs| secs * 1000.0),
    })
}

/// A list row.
pub(crate) fn summary_json(s: &Summary) -> Value {
    json!({
        "trace_id": s.trace_id,
        "service": s.service,
        "root_name": s.root_name,
        "start_unix_nano": s.start.to_string(),
        "duration_ns": s.duration(),
        "spans": s.spans,
        "llm_calls": s.llm_calls,
        "tool_calls": s.tool_calls,
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "cached_tokens": s.cached_tokens,
        "cost_usd": s.cost_usd(),
        "cost_text": s.cost_text(),
        "errors": s.errors,
        "models": s.models,
    })
}

/// The parsed GenAI content of a span (`null` fields when absent or not JSON).
fn conversation(s: &SpanRecord) -> Value {
    let parse = |key: &str| {
        s.attr_str(key)
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .filter(Value::is_array)
            .unwrap_or(Value::Null)
    };
    json!({
        "system_instructions": parse(c::GEN_AI_SYSTEM_INSTRUCTIONS),
        "input_messages": parse(c::GEN_AI_INPUT_MESSAGES),
        "output_messages": parse(c::GEN_AI_OUTPUT_MESSAGES),
        "tool_definitions": parse(c::GEN_AI_TOOL_DEFINITIONS),
    })
}

fn key_values(kvs: &[KeyValue]) -> Value {
    kvs.iter()
        .map(|kv| {
            let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
            let mut item = Map::new();
            item.insert("key".into(), kv.key.clone().into());
            match value {
                Some(any_value::Value::StringValue(s)) if s.len() > MAX_VALUE_BYTES => {
                    let mut end = MAX_VALUE_BYTES;
                    while !s.is_char_boundary(end) {
                        end -= 1;
                    }
                    item.insert("value".into(), s[..end].into());
                    item.insert("truncated".into(), true.into());
                    item.insert("full_bytes".into(), s.len().into());
                }
                other => {
                    item.insert("value".into(), any_json(other));
                }
            }
            Value::Object(item)
        })
        .collect()
}

/// An OTLP value as JSON (bytes as hex, key-value lists as objects).
fn any_json(value: Option<&any_value::Value>) -> Value {
    match value {
        Some(any_value::Value::StringValue(s)) => s.clone().into(),
        Some(any_value::Value::BoolValue(b)) => (*b).into(),
        Some(any_value::Value::IntValue(i)) => (*i).into(),
        Some(any_value::Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or_else(|| d.to_string().into(), Value::Number)
        }
        Some(any_value::Value::ArrayValue(a)) => a
            .values
            .iter()
            .map(|v: &AnyValue| any_json(v.value.as_ref()))
            .collect(),
        Some(any_value::Value::KvlistValue(list)) => Value::Object(
            list.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        any_json(kv.value.as_ref().and_then(|v| v.value.as_ref())),
                    )
                })
                .collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => hex(b).into(),
        Some(other) => format!("{other:?}").into(),
        None => Value::Null,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::JsonArrayText;
    use serde_json::{json, Value};

    #[test]
    fn an_array_written_as_text_is_the_same_json_as_the_value() {
        let fields = json!({"trace_id": "ab", "n": 2});
        let mut items = JsonArrayText::with_capacity(0);
        items.push(&json!({"name": "a\"<b>"}));
        items.push(&json!(null));
        let text = items.into_field_of(&fields, "spans");
        let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(
            parsed,
            json!({"trace_id": "ab", "n": 2, "spans": [{"name": "a\"<b>"}, null]})
        );
        // No items, no other fields.
        let text = JsonArrayText::with_capacity(0).into_field_of(&json!({}), "rows");
        assert_eq!(text, r#"{"rows":[]}"#);
    }
}
