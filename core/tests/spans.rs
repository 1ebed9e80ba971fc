//! Usage, cost, errors and events recorded on `tracing` spans, as exported.

use aitrace_core::conventions::{self as c, NameSet};
use aitrace_core::usage::Usage;
use aitrace_core::{events, span};
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

fn capture(f: impl FnOnce()) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, f);
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

#[test]
fn usage_cost_and_error_reach_the_exported_span() {
    let spans = capture(|| {
        let s = tracing::info_span!("chat gpt-4o");
        Usage::from_anthropic(10, 100, 5, 40).record(&s, NameSet { legacy: true });
        span::set_attributes(&s, [KeyValue::new(c::GEN_AI_USAGE_COST, 0.0125)]);
        span::set_error(&s, "rate_limited", "429 from provider");
    });
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!(attr(s, c::GEN_AI_USAGE_INPUT_TOKENS), Some(Value::I64(115)));
    assert_eq!(
        attr(s, c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        Some(Value::I64(100))
    );
    assert_eq!(
        attr(s, c::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
        Some(Value::I64(5))
    );
    assert_eq!(
        attr(s, c::GEN_AI_USAGE_PROMPT_TOKENS),
        Some(Value::I64(115))
    );
    assert_eq!(attr(s, c::GEN_AI_USAGE_COST), Some(Value::F64(0.0125)));
    assert_eq!(attr(s, c::ERROR_TYPE), Some(Value::from("rate_limited")));
    assert_eq!(s.status, Status::error("429 from provider"));
}

#[test]
fn events_land_on_the_current_span() {
    let spans = capture(|| {
        let s = tracing::info_span!("execute_tool lookup");
        let _e = s.enter();
        events::add(
            events::TOOL_NOT_FOUND,
            [KeyValue::new(c::GEN_AI_TOOL_NAME, "lookup")],
        );
    });
    let s = &spans[0];
    let names: Vec<&str> = s.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["tool_not_found"]);
    assert_eq!(
        s.events.iter().next().unwrap().attributes[0],
        KeyValue::new(c::GEN_AI_TOOL_NAME, "lookup")
    );
}

#[test]
fn events_without_any_span_are_dropped_quietly() {
    events::add(events::RETRY, []);
    let spans = capture(|| events::add(events::RETRY, []));
    assert!(spans.is_empty());
}
