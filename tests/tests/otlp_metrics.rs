//! The GenAI client metrics end to end: the demo's agent run exported by the real
//! pipeline (`init()`, metrics on) over OTLP/HTTP to the local receiver. `init()`
//! declares its meter provider the SDK's, so the layers record through bound
//! instruments; what the collector receives must match the spans: one duration point
//! per LLM call and token sums equal to the spans' usage. Alone in its test binary (the
//! global subscriber and providers).

mod common;

use aitrace::{Exporter, Protocol, Telemetry};
use aitrace_examples::demo::{self, DemoOptions};
use common::peers::{hex, str_attr, trace_spans};
use common::receiver::Receiver;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_receives_one_duration_point_per_call_and_the_spans_tokens() {
    let receiver = Receiver::start().await;
    let guard = Telemetry::builder()
        .service_name("otlp-metrics")
        .exporter(Exporter::Otlp {
            endpoint: Some(receiver.endpoint()),
            protocol: Protocol::HttpProtobuf,
        })
        .log_layer(false)
        .metrics(true)
        .init()
        .expect("setup");
    assert!(
        aitrace::core::emit::sdk_meter_provider(),
        "init() declares its meter provider"
    );
    let answer = demo::run(DemoOptions {
        question: Some("What is the weather in Lisbon?".into()),
        content: None,
    })
    .await
    .expect("the demo runs");
    // Shutting down exports the metrics one last time.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .expect("shutdown");

    let chats: Vec<_> = trace_spans(&receiver, &hex(&answer.trace_id))
        .into_iter()
        .filter(|g| g.span.name.starts_with("chat "))
        .collect();
    assert!(!chats.is_empty(), "the demo makes LLM calls");
    let tokens_of = |key: &str| -> i64 {
        chats
            .iter()
            .map(|g| {
                g.int(key)
                    .unwrap_or_else(|| panic!("{key} on {}", g.span.name))
            })
            .sum()
    };
    let span_input = tokens_of("gen_ai.usage.input_tokens");
    let span_output = tokens_of("gen_ai.usage.output_tokens");

    // The metric exports (the receiver keeps every body; trace bodies do not decode
    // into these metric names). Cumulative: the last export holds the totals.
    let bodies = receiver.received.all_bodies.lock().unwrap().clone();
    let exports: Vec<ExportMetricsServiceRequest> = bodies
        .iter()
        .filter_map(|b| ExportMetricsServiceRequest::decode(b.as_ref()).ok())
        .filter(|r| {
            r.resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .any(|m| m.name == "gen_ai.client.operation.duration")
        })
        .collect();
    let last = exports
        .last()
        .expect("a metrics export with the GenAI metrics");
    let metrics: Vec<_> = last
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .collect();
    let histogram = |name: &str| {
        metrics
            .iter()
            .filter(|m| m.name == name)
            .flat_map(|m| match &m.data {
                Some(Data::Histogram(h)) => h.data_points.clone(),
                other => panic!("{name}: {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let chat_points: Vec<_> = histogram("gen_ai.client.operation.duration")
        .into_iter()
        .filter(|p| str_attr(&p.attributes, "gen_ai.operation.name") == Some("chat"))
        .collect();
    let calls: u64 = chat_points.iter().map(|p| p.count).sum();
    assert_eq!(
        calls,
        chats.len() as u64,
        "one duration point per chat call"
    );
    assert!(chat_points.iter().all(|p| p.count > 0), "no empty series");
    let tokens = histogram("gen_ai.client.token.usage");
    let sum_of = |kind: &str| -> f64 {
        tokens
            .iter()
            .filter(|p| str_attr(&p.attributes, "gen_ai.token.type") == Some(kind))
            .filter(|p| str_attr(&p.attributes, "gen_ai.operation.name") == Some("chat"))
            .map(|p| p.sum.unwrap_or(0.0))
            .sum()
    };
    assert_eq!(sum_of("input"), span_input as f64);
    assert_eq!(sum_of("output"), span_output as f64);
}
