//! The `gen_ai.client.inference.operation.details` event end to end: the demo's agent
//! run with content capture set to events, exported by the real pipeline over
//! OTLP/HTTP to the local receiver. Each LLM call arrives as one log record carrying
//! the call span's trace and span ids and its messages in structured form (OTLP
//! arrays and key-value lists, not JSON strings); the spans carry no content. Alone in
//! its test binary (the global subscriber).

mod common;

use aitrace::core::content::{CaptureMode, ContentPolicy};
use aitrace::{Exporter, Protocol, Telemetry};
use aitrace_examples::demo::{self, DemoOptions};
use common::receiver::Receiver;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::AnyValue;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attr<'a>(
    attrs: &'a [opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn field<'a>(v: &'a AnyValue, key: &str) -> Option<&'a Value> {
    match v.value.as_ref()? {
        Value::KvlistValue(kv) => attr(&kv.values, key),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_llm_call_arrives_as_one_structured_details_record() {
    let receiver = Receiver::start().await;
    let guard = Telemetry::builder()
        .service_name("otlp-details")
        .exporter(Exporter::Otlp {
            endpoint: Some(receiver.endpoint()),
            protocol: Protocol::HttpProtobuf,
        })
        .log_layer(false)
        .metrics(false)
        .init()
        .expect("setup");
    let answer = demo::run(DemoOptions {
        question: Some("What is the weather in Lisbon?".into()),
        content: Some(ContentPolicy::default().with_mode(CaptureMode::EventOnly)),
    })
    .await
    .expect("the demo runs");
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .expect("shutdown");

    let spans: Vec<_> = receiver
        .received
        .decoded
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .filter(|s| hex(&s.trace_id) == answer.trace_id)
        .cloned()
        .collect();
    let chats: Vec<_> = spans
        .iter()
        .filter(|s| s.name.starts_with("chat "))
        .collect();
    assert_eq!(
        chats.len(),
        2,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    // EVENT_ONLY: no content on any span.
    for s in &spans {
        assert!(
            attr(&s.attributes, "gen_ai.input.messages").is_none(),
            "{}",
            s.name
        );
        assert!(attr(&s.attributes, "input.value").is_none(), "{}", s.name);
    }
    let details: Vec<_> = receiver
        .log_records()
        .into_iter()
        .filter(|r| r.event_name == "gen_ai.client.inference.operation.details")
        .collect();
    assert_eq!(details.len(), 2, "one record per LLM call");
    for chat in chats {
        let record = details
            .iter()
            .find(|r| r.span_id == chat.span_id)
            .unwrap_or_else(|| panic!("no details record for {}", chat.name));
        assert_eq!(hex(&record.trace_id), answer.trace_id);
        assert_eq!(record.severity_text, "DEBUG");
        assert_eq!(
            attr(&record.attributes, "gen_ai.operation.name"),
            Some(&Value::StringValue("chat".into()))
        );
        assert!(matches!(
            attr(&record.attributes, "gen_ai.usage.input_tokens"),
            Some(Value::IntValue(n)) if *n > 0
        ));
        let Some(Value::ArrayValue(input)) = attr(&record.attributes, "gen_ai.input.messages")
        else {
            panic!("input messages are not an array: {record:?}")
        };
        // The system message first, in order, as a structured message.
        assert_eq!(
            field(&input.values[0], "role"),
            Some(&Value::StringValue("system".into()))
        );
        let user = input
            .values
            .iter()
            .find(|m| field(m, "role") == Some(&Value::StringValue("user".into())))
            .expect("the user's message");
        let Some(Value::ArrayValue(parts)) = field(user, "parts") else {
            panic!("parts are not an array")
        };
        assert_eq!(
            field(&parts.values[0], "content"),
            Some(&Value::StringValue("What is the weather in Lisbon?".into()))
        );
        assert!(matches!(
            attr(&record.attributes, "gen_ai.output.messages"),
            Some(Value::ArrayValue(_))
        ));
        assert!(matches!(
            attr(&record.attributes, "gen_ai.tool.definitions"),
            Some(Value::ArrayValue(_))
        ));
    }
}
