//! Caller-controlled names reach the exporter bounded: a 16 KiB model name in a span's
//! start attributes, set later, and in its name.

use aitrace_core::bound::MAX_NAME_BYTES;
use aitrace_core::conventions::{self as c, Operation};
use aitrace_core::emit::OtelSpan;
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[test]
fn long_model_names_are_cut_and_marked() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")))
        .init();

    let model = format!("PLANTEDmodel{}", "m".repeat(16 * 1024));
    let span = OtelSpan::start(
        c::inference_span_name(Operation::Chat, Some(&model)),
        SpanKind::Client,
        vec![KeyValue::new(c::GEN_AI_REQUEST_MODEL, model.clone())],
    );
    span.set_attribute(KeyValue::new(c::GEN_AI_RESPONSE_MODEL, model.clone()));
    span.set_attributes([KeyValue::new(c::ERROR_TYPE, model.clone())]);
    span.end();
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let span = &spans[0];
    assert!(
        span.name.len() <= "chat ".len() + MAX_NAME_BYTES,
        "{}",
        span.name.len()
    );
    assert!(span.name.starts_with("chat PLANTEDmodel") && span.name.ends_with('…'));
    for key in [
        c::GEN_AI_REQUEST_MODEL,
        c::GEN_AI_RESPONSE_MODEL,
        c::ERROR_TYPE,
    ] {
        let value = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
            .unwrap_or_else(|| panic!("{key} missing"));
        assert!(value.len() <= MAX_NAME_BYTES, "{key}: {}", value.len());
        assert!(
            value.starts_with("PLANTEDmodel") && value.ends_with('…'),
            "{key}"
        );
    }
}
