//! Shared test helpers: one global telemetry setup per test binary, span look-ups by
//! trace id, loopback servers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use opentelemetry::trace::{SpanId, Status, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What the tests read spans from.
pub struct Telemetry {
    pub exporter: InMemorySpanExporter,
    pub provider: SdkTracerProvider,
}

static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();

/// A global tracer provider exporting to memory, and a tracing subscriber with a
/// tracing-opentelemetry layer on the same provider (installed once per binary).
pub fn telemetry() -> &'static Telemetry {
    TELEMETRY.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")))
            .init();
        Telemetry { exporter, provider }
    })
}

/// The finished spans of one trace.
pub fn spans_of(exporter: &InMemorySpanExporter, trace_id: TraceId) -> Vec<SpanData> {
    exporter
        .get_finished_spans()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace_id)
        .collect()
}

/// Waits (up to 5 s) until the trace has at least `n` finished spans: server spans end
/// on the server's task, after the client may already have its response.
pub async fn wait_for_spans(
    exporter: &InMemorySpanExporter,
    trace_id: TraceId,
    n: usize,
) -> Vec<SpanData> {
    for _ in 0..500 {
        let spans = spans_of(exporter, trace_id);
        if spans.len() >= n {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let spans = spans_of(exporter, trace_id);
    panic!(
        "expected {n} spans in trace {trace_id}, got {}: {:#?}",
        spans.len(),
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
}

/// The span named `name` among `spans`.
pub fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one span named {name:?} in {:#?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    found[0]
}

/// An attribute of a span.
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// A string attribute of a span.
pub fn attr_str(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

/// An integer attribute of a span.
pub fn attr_i64(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(Value::I64(v)) => Some(*v),
        other => panic!("{key} is not an i64: {other:?}"),
    }
}

/// Whether the span's status is an error.
pub fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}

/// The trace and span id of a `tracing` span (as tracing-opentelemetry exports it).
pub fn ids_of(span: &tracing::Span) -> (TraceId, SpanId) {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    (sc.trace_id(), sc.span_id())
}

/// Parses `00-{trace}-{span}-{flags}`.
pub fn parse_traceparent(value: &str) -> (TraceId, SpanId, u8) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "bad traceparent {value:?}");
    assert_eq!(parts[0], "00");
    (
        TraceId::from_hex(parts[1]).expect("trace id"),
        SpanId::from_hex(parts[2]).expect("span id"),
        u8::from_str_radix(parts[3], 16).expect("flags"),
    )
}

/// Serves `router` on 127.0.0.1 (any port) with `ConnectInfo`; returns its address.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

/// A loopback address nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    addr
}
