//! OTLP logs as a collector receives them: a `tracing::info!` inside a span arrives at
//! the local OTLP/HTTP receiver as a log record carrying that span's trace and span id,
//! next to the span itself. Alone in its test binary (the global subscriber).

mod common;

use std::time::{Duration, Instant};

use aitrace::{Exporter, Protocol, Telemetry};
use common::receiver::Receiver;
use opentelemetry_proto::tonic::common::v1::any_value::Value;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_in_a_span_arrives_as_a_log_record_with_the_span_ids() {
    let receiver = Receiver::start().await;
    let guard = Telemetry::builder()
        .service_name("otlp-logs")
        .exporter(Exporter::Otlp {
            endpoint: Some(receiver.endpoint()),
            protocol: Protocol::HttpProtobuf,
        })
        .log_layer(false)
        .metrics(false)
        .init()
        .expect("setup");
    assert!(guard.logger_provider().is_some());
    {
        let span = tracing::info_span!("checkout");
        let _s = span.enter();
        tracing::info!(order = 42, "the order was placed");
    }
    let started = Instant::now();
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .expect("shutdown");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "bounded shutdown"
    );

    let spans = receiver.received.decoded.lock().unwrap().clone();
    let span = spans
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .find(|s| s.name == "checkout")
        .cloned()
        .expect("the span arrived");
    let records = receiver.log_records();
    let record = records
        .iter()
        .find(|r| {
            r.body.clone().and_then(|b| b.value)
                == Some(Value::StringValue("the order was placed".into()))
        })
        .unwrap_or_else(|| panic!("the log record arrived: {records:?}"));
    assert_eq!(hex(&record.trace_id), hex(&span.trace_id));
    assert_eq!(hex(&record.span_id), hex(&span.span_id));
    assert_eq!(record.severity_text, "INFO");
    // The exporter's own events (its HTTP client, the SDK) are not fed back into the
    // export: every record comes from this test's target.
    let scopes: Vec<String> = receiver
        .received
        .logs
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|rl| &rl.scope_logs)
        .map(|sl| {
            sl.scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default()
        })
        .collect();
    assert!(scopes.iter().all(|s| s == "otlp_logs"), "{scopes:?}");
}
