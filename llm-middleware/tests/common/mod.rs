//! Shared test harness: one telemetry pipeline per test binary that captures what a
//! collector would receive (spans and metrics), and a mock LLM provider server.
#![allow(dead_code)]

pub mod mock;

use std::sync::OnceLock;

use opentelemetry::trace::{TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub struct Harness {
    logs: opentelemetry_sdk::logs::InMemoryLogExporter,
    logger_provider: opentelemetry_sdk::logs::SdkLoggerProvider,
    spans: InMemorySpanExporter,
    tracer_provider: SdkTracerProvider,
    metrics: InMemoryMetricExporter,
    meter_provider: SdkMeterProvider,
}

pub fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let spans = InMemorySpanExporter::default();
        let tracer_provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        opentelemetry::global::set_tracer_provider(tracer_provider.clone());
        let metrics = InMemoryMetricExporter::default();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        opentelemetry::global::set_meter_provider(meter_provider.clone());
        // An SDK provider, declared as `aitrace::init()` declares its own: the metric
        // assertions read points recorded through bound instruments.
        aitrace_core::emit::set_sdk_meter_provider(true);
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("test")))
            .init();
        let logs = opentelemetry_sdk::logs::InMemoryLogExporter::default();
        let logger_provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_simple_exporter(logs.clone())
            .build();
        aitrace_core::logs::install(&logger_provider);
        Harness {
            logs,
            logger_provider,
            spans,
            tracer_provider,
            metrics,
            meter_provider,
        }
    })
}

/// A root span to run a test under; its trace id selects the test's spans.
pub fn root(name: &'static str) -> (tracing::Span, TraceId) {
    harness();
    let span = tracing::info_span!("test root", test = name);
    let trace_id = span.context().span().span_context().trace_id();
    (span, trace_id)
}

/// Every log record (event) of the trace, as the exporter received it.
pub fn logs(
    trace_id: TraceId,
) -> Vec<opentelemetry_sdk::logs::in_memory_exporter::LogDataWithResource> {
    let h = harness();
    let _ = h.logger_provider.force_flush();
    h.logs
        .get_emitted_logs()
        .unwrap()
        .into_iter()
        .filter(|l| l.record.trace_context().map(|t| t.trace_id) == Some(trace_id))
        .collect()
}

/// A log record's attribute.
pub fn log_attr<'a>(
    log: &'a opentelemetry_sdk::logs::in_memory_exporter::LogDataWithResource,
    key: &str,
) -> Option<&'a opentelemetry::logs::AnyValue> {
    log.record
        .attributes_iter()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
}

/// Every finished span of the trace.
pub fn spans(trace_id: TraceId) -> Vec<SpanData> {
    let h = harness();
    h.tracer_provider.force_flush().unwrap();
    h.spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace_id)
        .collect()
}

/// The one span of the trace whose name starts with `prefix` (waits briefly: bodies
/// finish on the caller's side, spans may end a moment later).
pub async fn span(trace_id: TraceId, prefix: &str) -> SpanData {
    for _ in 0..100 {
        let found: Vec<SpanData> = spans(trace_id)
            .into_iter()
            .filter(|s| s.name.starts_with(prefix))
            .collect();
        if found.len() == 1 {
            return found.into_iter().next().unwrap();
        }
        assert!(found.len() < 2, "more than one `{prefix}` span: {found:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no `{prefix}` span in {:#?}", spans(trace_id));
}

pub fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

pub fn has(span: &SpanData, key: &str) -> bool {
    attr(span, key).is_some()
}

pub fn int(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::I64(v)) => v,
        other => panic!("{key} is {other:?} on {}", span.name),
    }
}

pub fn float(span: &SpanData, key: &str) -> f64 {
    match attr(span, key) {
        Some(Value::F64(v)) => v,
        other => panic!("{key} is {other:?} on {}", span.name),
    }
}

pub fn string(span: &SpanData, key: &str) -> String {
    match attr(span, key) {
        Some(Value::String(v)) => v.to_string(),
        other => panic!("{key} is {other:?} on {}", span.name),
    }
}

/// (count, sum) over the points of a histogram whose attributes include `with`.
pub fn histogram(name: &str, with: &[KeyValue]) -> (u64, f64) {
    let h = harness();
    h.meter_provider.force_flush().unwrap();
    let all = h.metrics.get_finished_metrics().unwrap();
    // Cumulative temporality: the latest export holds the totals.
    let Some(latest) = all.last() else {
        return (0, 0.0);
    };
    let with: Vec<&KeyValue> = with.iter().collect();
    let (_, count, sum) = points(latest, name, &with);
    (count, sum)
}

/// (data points, count, sum) of `name`'s points in one export whose attributes include
/// `with` (a sum's point counts once).
pub fn points(rm: &ResourceMetrics, name: &str, with: &[&KeyValue]) -> (usize, u64, f64) {
    let mut out = (0, 0, 0.0);
    let matches = |attrs: Vec<&KeyValue>| with.iter().all(|w| attrs.contains(w));
    for sm in rm.scope_metrics() {
        for m in sm.metrics().filter(|m| m.name() == name) {
            match m.data() {
                AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                    for p in h
                        .data_points()
                        .filter(|p| matches(p.attributes().collect()))
                    {
                        out = (out.0 + 1, out.1 + p.count(), out.2 + p.sum());
                    }
                }
                AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                    for p in h
                        .data_points()
                        .filter(|p| matches(p.attributes().collect()))
                    {
                        out = (out.0 + 1, out.1 + p.count(), out.2 + p.sum() as f64);
                    }
                }
                AggregatedMetrics::F64(MetricData::Sum(s)) => {
                    for p in s
                        .data_points()
                        .filter(|p| matches(p.attributes().collect()))
                    {
                        out = (out.0 + 1, out.1 + 1, out.2 + p.value());
                    }
                }
                other => panic!("unexpected aggregation for {name}: {other:?}"),
            }
        }
    }
    out
}

/// Every metrics export so far (flushed first).
pub fn finished_metrics() -> Vec<opentelemetry_sdk::metrics::data::ResourceMetrics> {
    let h = harness();
    h.meter_provider.force_flush().unwrap();
    h.metrics.get_finished_metrics().unwrap()
}
