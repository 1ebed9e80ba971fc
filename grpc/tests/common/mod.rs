//! Shared test helpers: one global telemetry setup per test binary, span look-ups.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();

/// A global tracer provider exporting to memory, and a tracing subscriber on it
/// (installed once per test binary).
pub fn exporter() -> &'static InMemorySpanExporter {
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")))
            .init();
        exporter
    })
}

/// Every finished span.
pub fn finished() -> Vec<SpanData> {
    exporter().get_finished_spans().unwrap_or_default()
}

/// The finished spans of one trace.
pub fn spans_of(trace_id: TraceId) -> Vec<SpanData> {
    finished()
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace_id)
        .collect()
}

/// Waits (up to 5 s) for a finished span matching `pred` (consumers end their spans on
/// their own tasks).
pub async fn wait_for(pred: impl Fn(&SpanData) -> bool) -> SpanData {
    for _ in 0..500 {
        if let Some(s) = finished().into_iter().find(|s| pred(s)) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "no matching span among {:#?}",
        finished().iter().map(|s| &s.name).collect::<Vec<_>>()
    );
}

/// The attribute `key` of `span`.
pub fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from(key.to_owned()))
        .map(|kv| kv.value.clone())
}

/// The string attribute `key` of `span`.
pub fn str_attr(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

/// The integer attribute `key` of `span`.
pub fn int_attr(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(Value::I64(n)) => Some(n),
        _ => None,
    }
}

/// The span with id `id`, among the finished ones.
pub fn by_id(id: SpanId) -> SpanData {
    finished()
        .into_iter()
        .find(|s| s.span_context.span_id() == id)
        .expect("span exported")
}
