//! Logs with no collector: the application's `tracing` events go to a `logs-*.jsonl`
//! file next to the trace file as OTLP/JSON, each carrying the trace and span id of the
//! span it happened in. Alone in its test binary (the global subscriber).

use aitrace::insight::tracefile;
use aitrace::{Exporter, Telemetry};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn an_event_in_a_span_lands_in_the_logs_file_with_the_span_ids() {
    let dir = std::env::temp_dir().join(format!("aitrace-logs-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("logs-file")
        .exporter(Exporter::File { dir: dir.clone() })
        .log_layer(false)
        .metrics(false)
        .print_tree(false)
        .init()
        .expect("setup");
    assert!(guard.logger_provider().is_some());
    let log_file = guard.log_file().expect("a logs file").to_path_buf();
    assert!(
        !log_file.exists(),
        "created with the first record, not before"
    );
    {
        let span = tracing::info_span!("checkout");
        let _s = span.enter();
        tracing::info!(order = 42, "the order was placed");
    }
    tracing::debug!("below the default filter: not exported");
    let trace_file = guard.shutdown().expect("trace file");

    let spans = tracefile::read_file(&trace_file).expect("trace file");
    let span = spans.iter().find(|s| s.name == "checkout").expect("span");

    let text = std::fs::read_to_string(&log_file).expect("logs file");
    let mut records = Vec::new();
    for line in text.lines() {
        let request: ExportLogsServiceRequest = serde_json::from_str(line).expect("OTLP/JSON");
        for rl in request.resource_logs {
            let service = rl
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.clone()?.value);
            assert_eq!(service, Some(Value::StringValue("logs-file".into())));
            for sl in rl.scope_logs {
                records.extend(sl.log_records);
            }
        }
    }
    assert_eq!(records.len(), 1, "{text}");
    let record = &records[0];
    assert_eq!(
        record.body.clone().and_then(|b| b.value),
        Some(Value::StringValue("the order was placed".into()))
    );
    assert_eq!(record.severity_text, "INFO");
    assert_eq!(hex(&record.trace_id), span.trace_id);
    assert_eq!(hex(&record.span_id), span.span_id);
    assert!(record.attributes.iter().any(|kv| kv.key == "order"
        && kv.value.clone().and_then(|v| v.value) == Some(Value::IntValue(42))));
    std::fs::remove_dir_all(&dir).ok();
}
