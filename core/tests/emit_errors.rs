//! Every error message recorded on a span, through any of core's helpers, reaches the
//! exporter with its URLs and secrets redacted: `OtelSpan::set_error`, `record_error`,
//! `set_status`, and `span::set_error` on `tracing` spans.

use aitrace_core::emit::OtelSpan;
use aitrace_core::span;
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// A key without a provider prefix: only URL redaction can find it.
const KEY: &str = "PLANTEDbareKEY0123";

#[test]
fn error_messages_are_redacted_where_spans_record_them() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")))
        .init();

    let refused = format!(
        "error sending request for url (http://127.0.0.1:9/v1/chat/completions?key={KEY}): \
         client error (Connect): tcp connect error: Connection refused (os error 111)"
    );
    let status =
        format!("HTTP status client error (404 Not Found) for url (http://h/x?appid={KEY})");
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQTEFOVEVEIn0.c2lnbmF0dXJlMDEyMzQ1";

    let s = OtelSpan::start("chat m", SpanKind::Client, vec![]);
    s.record_error("connect", &refused);
    s.end();
    let s = OtelSpan::start("execute_tool fetch", SpanKind::Internal, vec![]);
    s.set_error("404", status.clone());
    s.end();
    let s = OtelSpan::start("invoke_agent a", SpanKind::Internal, vec![]);
    s.set_status(Status::error(format!(
        "agent failed: {status}; token {jwt}"
    )));
    s.end();
    let t = tracing::info_span!("user span");
    span::set_error(&t, "boom", format!("{refused} accessToken={KEY}"));
    drop(t);
    // Fixed texts are kept as they are.
    let s = OtelSpan::start("fixed", SpanKind::Internal, vec![]);
    s.set_error("cancelled", "dropped before completion");
    s.end();

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 5);
    for span in &spans {
        let Status::Error { description } = &span.status else {
            panic!("{}: not an error: {:?}", span.name, span.status)
        };
        assert!(!description.contains(KEY), "{}: {description}", span.name);
        assert!(
            !description.contains("PLANTED"),
            "{}: {description}",
            span.name
        );
        assert!(!description.contains("eyJ"), "{}: {description}", span.name);
        if span.name != "fixed" {
            assert!(
                description.contains("REDACTED"),
                "{}: {description}",
                span.name
            );
        }
    }
    let chat = spans.iter().find(|s| s.name == "chat m").unwrap();
    assert_eq!(
        chat.status,
        Status::error(
            "error sending request for url (http://127.0.0.1:9/v1/chat/completions?key=REDACTED): \
             client error (Connect): tcp connect error: Connection refused (os error 111)"
        )
    );
}
