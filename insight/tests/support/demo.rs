//! An agent run written by the real file exporter (`FileSpanExporter`), across two
//! services (two files), with fixed times so reports are exact. Shared by the core and
//! CLI tests (`#[path]`-included).
//!
//! ```text
//! agent-svc   invoke_agent planner   0..100 ms  run totals (never to be added again)
//! agent-svc   ├─ chat gpt-4o          5..35     1200 in (1000 cached) / 300 out, $0.0045
//! agent-svc   ├─ execute_tool search 36..80     failed: timeout; event "retrying" at 50
//! search-svc  │  └─ GET              40..78     504
//! agent-svc   ├─ execute_tool fetch  60..90     overlaps search (concurrent)
//! agent-svc   └─ chat local-llama    91..99     500 in / 120 out, unknown model: no cost
//! ```
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aitrace::FileSpanExporter;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

/// 2026-01-01T00:00:00Z.
pub const T0_UNIX_NANO: u64 = 1_767_225_600_000_000_000;

pub struct Demo {
    pub agent_file: PathBuf,
    pub search_file: PathBuf,
    pub trace_id: String,
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(T0_UNIX_NANO) + Duration::from_millis(ms)
}

fn provider(dir: &Path, service: &str) -> (SdkTracerProvider, PathBuf) {
    let exporter = FileSpanExporter::create_in(dir, service).expect("trace file");
    let path = exporter.path().to_path_buf();
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name(service.to_owned())
                .build(),
        )
        .with_simple_exporter(exporter)
        .build();
    (provider, path)
}

/// Writes the run into two new files in `dir`.
pub fn write(dir: &Path) -> Demo {
    std::fs::create_dir_all(dir).expect("dir");
    let (agent_provider, agent_file) = provider(dir, "agent-svc");
    let (search_provider, search_file) = provider(dir, "search-svc");
    let tracer = agent_provider.tracer("demo");
    let search_tracer = search_provider.tracer("demo");

    let mut agent = tracer
        .span_builder("invoke_agent planner")
        .with_kind(SpanKind::Internal)
        .with_start_time(at(0))
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "invoke_agent"),
            KeyValue::new("gen_ai.agent.name", "planner"),
        ])
        .start(&tracer);
    let trace_id = agent.span_context().trace_id().to_string();
    // The agent layer's run totals: the same calls again, to be ignored by sums.
    agent.set_attributes([
        KeyValue::new("gen_ai.usage.input_tokens", 1700i64),
        KeyValue::new("gen_ai.usage.output_tokens", 420i64),
        KeyValue::new("aitrace.cost.unavailable", "partial"),
        KeyValue::new("aitrace.run.llm_calls", 2i64),
    ]);
    let cx = Context::current_with_span(agent);

    let mut chat = tracer
        .span_builder("chat gpt-4o")
        .with_kind(SpanKind::Client)
        .with_start_time(at(5))
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "openai"),
            KeyValue::new("gen_ai.request.model", "gpt-4o"),
            KeyValue::new("gen_ai.response.model", "gpt-4o-2024-08-06"),
            KeyValue::new("gen_ai.usage.input_tokens", 1200i64),
            KeyValue::new("gen_ai.usage.output_tokens", 300i64),
            KeyValue::new("gen_ai.usage.cache_read.input_tokens", 1000i64),
            KeyValue::new("gen_ai.usage.cost", 0.0045),
            KeyValue::new("gen_ai.response.time_to_first_chunk", 0.012),
            KeyValue::new(
                "gen_ai.response.finish_reasons",
                Value::Array(Array::String(vec![StringValue::from("tool_calls")])),
            ),
            KeyValue::new("some.vendor.attribute", "kept"),
        ])
        .start_with_context(&tracer, &cx);
    chat.end_with_timestamp(at(35));

    let mut search = tracer
        .span_builder("execute_tool search")
        .with_start_time(at(36))
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", "search"),
        ])
        .start_with_context(&tracer, &cx);
    search.add_event_with_timestamp("retrying", at(50), vec![KeyValue::new("attempt", 2i64)]);
    let search_cx = cx.with_span(search);
    let mut get = search_tracer
        .span_builder("GET")
        .with_kind(SpanKind::Client)
        .with_start_time(at(40))
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.response.status_code", 504i64),
            KeyValue::new("error.type", "504"),
        ])
        .start_with_context(&search_tracer, &search_cx);
    get.set_status(Status::error("gateway timeout"));
    get.end_with_timestamp(at(78));
    let search = search_cx.span();
    search.set_attribute(KeyValue::new("error.type", "timeout"));
    search.set_status(Status::error("upstream timeout"));
    search.end_with_timestamp(at(80));

    let mut fetch = tracer
        .span_builder("execute_tool fetch")
        .with_start_time(at(60))
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", "fetch"),
        ])
        .start_with_context(&tracer, &cx);
    fetch.end_with_timestamp(at(90));

    let mut local = tracer
        .span_builder("chat local-llama")
        .with_kind(SpanKind::Client)
        .with_start_time(at(91))
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "ollama"),
            KeyValue::new("gen_ai.request.model", "local-llama"),
            KeyValue::new("gen_ai.usage.input_tokens", 500i64),
            KeyValue::new("gen_ai.usage.output_tokens", 120i64),
            KeyValue::new("aitrace.cost.unavailable", "unknown_model"),
        ])
        .start_with_context(&tracer, &cx);
    local.end_with_timestamp(at(99));

    cx.span().end_with_timestamp(at(100));
    agent_provider.shutdown().expect("flush agent-svc");
    search_provider.shutdown().expect("flush search-svc");
    Demo {
        agent_file,
        search_file,
        trace_id,
    }
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aitrace-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
