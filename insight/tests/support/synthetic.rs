//! Synthetic agent traces in the OTLP JSON encoding, written with opentelemetry-proto's
//! serde types (the encoding the file exporter writes). Shared by the insight bench and
//! tests (`#[path]`-included).
//!
//! Each trace: an `invoke_agent planner` root with run totals, then steps of
//! `chat` (inference, tokens and cost) / `execute_tool search` / `GET` (HTTP client,
//! inside the tool), filled up with chat spans to the requested size. Every 7th trace
//! has a failing tool call. One trace per line.
#![allow(dead_code)]

use std::io::Write;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

/// What the generated file holds, to check reports against.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub traces: u64,
    pub spans: u64,
    pub llm_calls: u64,
    pub failed_tool_calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_picodollars: u128,
}

pub const BASE_TIME: u64 = 1_700_000_000_000_000_000;
pub const TRACE_SPACING: u64 = 10_000_000_000;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn i(key: &str, value: u64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value as i64))
}

fn d(key: &str, value: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(value))
}

pub fn trace_id(t: u64) -> Vec<u8> {
    let mut id = vec![0xab; 16];
    id[8..].copy_from_slice(&(t + 1).to_be_bytes());
    id
}

fn span_id(t: u64, n: u64) -> Vec<u8> {
    ((t << 20) | (n + 1)).to_be_bytes().to_vec()
}

/// One trace of `size` spans (at least 1).
pub fn trace(t: u64, size: u64, expected: &mut Expected) -> ExportTraceServiceRequest {
    let base = BASE_TIME + t * TRACE_SPACING;
    let root_id = span_id(t, 0);
    let mut spans = Vec::with_capacity(size as usize);
    let mut run_in = 0;
    let mut run_out = 0;
    let mut run_cost = 0u128;
    let mut n = 1;
    let mut step = 0;
    while n < size {
        let at = base + 1_000_000 + step * 30_000_000;
        let provider = if step % 2 == 0 { "openai" } else { "anthropic" };
        let model = if step % 2 == 0 {
            "gpt-4o-mini"
        } else {
            "claude-sonnet-4"
        };
        let input = 1_000 + (t * 7 + step * 13) % 500;
        let output = 100 + (t * 3 + step * 5) % 200;
        let cached = if step % 3 == 0 { 512 } else { 0 };
        let reasoning = if step % 4 == 1 { 32 } else { 0 };
        let cost = u128::from(input) * 150_000 + u128::from(output) * 600_000;
        run_in += input;
        run_out += output;
        run_cost += cost;
        expected.llm_calls += 1;
        expected.input_tokens += input;
        expected.output_tokens += output;
        expected.cached_tokens += cached;
        expected.reasoning_tokens += reasoning;
        expected.cost_picodollars += cost;
        let mut attributes = vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", provider),
            s("gen_ai.request.model", model),
            s("gen_ai.response.model", model),
            s("gen_ai.response.id", &format!("resp-{t}-{step}")),
            i("gen_ai.usage.input_tokens", input),
            i("gen_ai.usage.output_tokens", output),
            d("gen_ai.usage.cost", cost as f64 / 1e12),
            kv(
                "gen_ai.response.finish_reasons",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::StringValue("tool_calls".into())),
                    }],
                }),
            ),
            s("server.address", "api.example.com"),
            i("server.port", 443),
        ];
        if cached > 0 {
            attributes.push(i("gen_ai.usage.cache_read.input_tokens", cached));
        }
        if reasoning > 0 {
            attributes.push(i("gen_ai.usage.reasoning.output_tokens", reasoning));
        }
        let chat_id = span_id(t, n);
        spans.push(Span {
            trace_id: trace_id(t),
            span_id: chat_id,
            parent_span_id: root_id.clone(),
            name: format!("chat {model}"),
            kind: 3,
            start_time_unix_nano: at,
            end_time_unix_nano: at + 20_000_000,
            attributes,
            ..Default::default()
        });
        n += 1;
        if n + 1 < size {
            let failed = t % 7 == 3 && step == 1;
            let tool_id = span_id(t, n);
            let mut attributes = vec![
                s("gen_ai.operation.name", "execute_tool"),
                s("gen_ai.tool.name", "search"),
                s("gen_ai.tool.call.id", &format!("call-{t}-{step}")),
                s("gen_ai.tool.type", "function"),
            ];
            let mut status = None;
            if failed {
                expected.failed_tool_calls += 1;
                attributes.push(s("error.type", "timeout"));
                status = Some(Status {
                    code: 2,
                    message: "tool timed out".into(),
                });
            }
            spans.push(Span {
                trace_id: trace_id(t),
                span_id: tool_id.clone(),
                parent_span_id: root_id.clone(),
                name: "execute_tool search".into(),
                kind: 1,
                start_time_unix_nano: at + 21_000_000,
                end_time_unix_nano: at + 29_000_000,
                attributes,
                status,
                events: vec![span::Event {
                    time_unix_nano: at + 22_000_000,
                    name: "tool started".into(),
                    attributes: vec![s("query", "weather")],
                    ..Default::default()
                }],
                ..Default::default()
            });
            spans.push(Span {
                trace_id: trace_id(t),
                span_id: span_id(t, n + 1),
                parent_span_id: tool_id,
                name: "GET".into(),
                kind: 3,
                start_time_unix_nano: at + 22_000_000,
                end_time_unix_nano: at + 27_000_000,
                attributes: vec![
                    s("http.request.method", "GET"),
                    s("url.full", "https://search.example.com/q?text=weather"),
                    s("server.address", "search.example.com"),
                    i("server.port", 443),
                    i("http.response.status_code", if failed { 504 } else { 200 }),
                ],
                ..Default::default()
            });
            n += 2;
        }
        step += 1;
    }
    let end = base + 1_000_000 + step * 30_000_000 + 1_000_000;
    let mut attributes = vec![
        s("gen_ai.operation.name", "invoke_agent"),
        s("gen_ai.agent.name", "planner"),
        s("gen_ai.conversation.id", &format!("conv-{t}")),
    ];
    if step > 0 {
        // Run totals, as the agent layer records them: never to be added to the calls.
        attributes.push(i("gen_ai.usage.input_tokens", run_in));
        attributes.push(i("gen_ai.usage.output_tokens", run_out));
        attributes.push(d("gen_ai.usage.cost", run_cost as f64 / 1e12));
        attributes.push(i("aitrace.run.llm_calls", step));
    }
    spans.insert(
        0,
        Span {
            trace_id: trace_id(t),
            span_id: root_id,
            name: "invoke_agent planner".into(),
            kind: 1,
            start_time_unix_nano: base,
            end_time_unix_nano: end,
            attributes,
            ..Default::default()
        },
    );
    expected.traces += 1;
    expected.spans += spans.len() as u64;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "bench-agent")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Writes `traces` traces of `spans_per_trace` spans, one trace per line.
pub fn write(out: &mut impl Write, traces: u64, spans_per_trace: u64) -> Expected {
    let mut expected = Expected::default();
    for t in 0..traces {
        let request = trace(t, spans_per_trace, &mut expected);
        serde_json::to_writer(&mut *out, &request).expect("encode");
        out.write_all(b"\n").expect("write");
    }
    expected
}

/// Writes the file at `path` (buffered).
pub fn write_file(path: &std::path::Path, traces: u64, spans_per_trace: u64) -> Expected {
    let file = std::fs::File::create(path).expect("create the synthetic trace file");
    let mut out = std::io::BufWriter::new(file);
    let expected = write(&mut out, traces, spans_per_trace);
    out.flush().expect("flush");
    expected
}
