//! `OtelSpan` with a global tracer provider and a tracing-opentelemetry subscriber:
//! both nesting directions, attributes, and context propagation.

use aitrace_core::emit::OtelSpan;
use opentelemetry::trace::{FutureExt, SpanKind, TraceContextExt, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::test]
async fn our_spans_and_user_spans_nest_both_ways() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")))
        .init();

    let user_outer = tracing::info_span!("user handler");
    {
        let _e = user_outer.enter();
        let ours = OtelSpan::start(
            "chat gpt-4o",
            SpanKind::Client,
            vec![KeyValue::new("gen_ai.operation.name", "chat")],
        );
        assert!(ours.is_recording());
        ours.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 7_i64));
        // Work run under our context: the user's spans nest under ours.
        async {
            let inner = tracing::info_span!("user tool code");
            let _i = inner.enter();
        }
        .with_context(ours.context())
        .await;
        ours.end();
    }
    drop(user_outer);
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let by_name = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("{n} missing: {spans:?}"))
    };
    let outer = by_name("user handler");
    let ours = by_name("chat gpt-4o");
    let inner = by_name("user tool code");
    assert_eq!(ours.parent_span_id, outer.span_context.span_id());
    assert_eq!(inner.parent_span_id, ours.span_context.span_id());
    assert_eq!(ours.span_kind, SpanKind::Client);
    assert_eq!(ours.instrumentation_scope.name(), "aitrace");
    assert!(ours
        .attributes
        .contains(&KeyValue::new("gen_ai.usage.input_tokens", 7_i64)));
    assert!(ours
        .attributes
        .contains(&KeyValue::new("gen_ai.operation.name", "chat")));
    // One trace.
    assert_eq!(inner.span_context.trace_id(), outer.span_context.trace_id());
    let _ = opentelemetry::Context::current().span();
}
