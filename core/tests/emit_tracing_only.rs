//! A user with a tracing-opentelemetry subscriber but no global tracer provider still
//! sees our spans (through the `tracing` fallback).

use aitrace_core::emit::OtelSpan;
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn spans_arrive_without_a_global_provider() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")));
    tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("user request");
        let _e = outer.enter();
        let ours = OtelSpan::start(
            "execute_tool search",
            SpanKind::Internal,
            vec![KeyValue::new("gen_ai.tool.name", "search")],
        );
        assert!(ours.is_recording());
        ours.set_error("timeout", "tool timed out");
    });
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let ours = spans
        .iter()
        .find(|s| s.name == "execute_tool search")
        .expect("our span");
    let outer = spans.iter().find(|s| s.name == "user request").unwrap();
    assert_eq!(ours.parent_span_id, outer.span_context.span_id());
    assert!(ours
        .attributes
        .contains(&KeyValue::new("gen_ai.tool.name", "search")));
    assert!(ours
        .attributes
        .contains(&KeyValue::new("error.type", "timeout")));
    assert_eq!(ours.status, Status::error("tool timed out"));
}

#[test]
fn no_subscriber_records_nothing_but_keeps_the_parent_context() {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    let parent_sc = SpanContext::new(
        TraceId::from(0x0af7651916cd43dd8448eb211c80319c_u128),
        SpanId::from(0xb7ad6b7169203331_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let parent = opentelemetry::Context::new().with_remote_span_context(parent_sc.clone());
    let span = OtelSpan::start_with_parent(&parent, "GET", SpanKind::Client, vec![]);
    assert!(!span.is_recording());
    assert_eq!(span.context().span().span_context(), &parent_sc);
}
