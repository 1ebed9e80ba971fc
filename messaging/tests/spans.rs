//! Producer and consumer spans on exported data, with a `HashMap` carrier (any broker).

mod common;

use std::collections::HashMap;

use aitrace_core::cost::Cost;
use aitrace_core::run::Run;
use aitrace_core::usage::Usage;
use aitrace_messaging::{attributes as a, Messaging};
use common::{attr, by_id, exporter, int_attr, str_attr};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry::Context;
use opentelemetry_sdk::trace::SpanData;

fn run_named(name: &str) -> SpanData {
    let _ = exporter();
    common::finished()
        .into_iter()
        .rev()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn a_single_message_continues_the_producers_trace() {
    let _ = exporter();
    let queue = Messaging::new("rabbitmq");
    let mut headers: HashMap<String, String> = HashMap::new();
    let publish = queue.publish("orders.single", &mut headers);
    publish.set_message_id("m-1");
    let producer_cx = publish.context();
    publish.end();
    assert!(headers.contains_key("traceparent"));

    // The consumer runs inside its own receive-loop span: linked, not the parent.
    let ambient = aitrace_core::emit::OtelSpan::start("receive loop", SpanKind::Internal, vec![]);
    let ambient_sc = ambient.context().span().span_context().clone();
    let process = {
        let _in_loop = ambient.context().attach();
        queue.process("orders.single", &headers)
    };
    let process_sc = process.context().span().span_context().clone();
    process.end();
    ambient.end();

    let producer = by_id(producer_cx.span().span_context().span_id());
    assert_eq!(producer.name, "publish orders.single");
    assert_eq!(producer.span_kind, SpanKind::Producer);
    assert_eq!(
        str_attr(&producer, a::MESSAGING_SYSTEM).as_deref(),
        Some("rabbitmq")
    );
    assert_eq!(
        str_attr(&producer, a::MESSAGING_OPERATION_NAME).as_deref(),
        Some("publish")
    );
    assert_eq!(
        str_attr(&producer, a::MESSAGING_OPERATION_TYPE).as_deref(),
        Some("send")
    );
    assert_eq!(
        str_attr(&producer, a::MESSAGING_DESTINATION_NAME).as_deref(),
        Some("orders.single")
    );
    assert_eq!(
        str_attr(&producer, a::MESSAGING_MESSAGE_ID).as_deref(),
        Some("m-1")
    );

    let consumer = by_id(process_sc.span_id());
    assert_eq!(consumer.name, "process orders.single");
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(
        consumer.span_context.trace_id(),
        producer.span_context.trace_id()
    );
    assert_eq!(consumer.parent_span_id, producer.span_context.span_id());
    assert_eq!(
        str_attr(&consumer, a::MESSAGING_OPERATION_NAME).as_deref(),
        Some("process")
    );
    assert_eq!(
        str_attr(&consumer, a::MESSAGING_OPERATION_TYPE).as_deref(),
        Some("process")
    );
    let links: Vec<_> = consumer
        .links
        .iter()
        .map(|l| l.span_context.clone())
        .collect();
    assert_eq!(links, vec![ambient_sc]);
}

#[test]
fn a_batch_links_every_message_and_counts_them() {
    let _ = exporter();
    let queue = Messaging::new("kafka");
    let mut all = Vec::new();
    let mut producers = Vec::new();
    for _ in 0..3 {
        let mut headers: HashMap<String, String> = HashMap::new();
        let publish = queue.send("orders.batch", &mut headers);
        producers.push(publish.context().span().span_context().clone());
        publish.end();
        all.push(headers);
    }
    // One message with no context: counted, not linked.
    all.push(HashMap::new());
    let carriers: Vec<&dyn opentelemetry::propagation::Extractor> = all
        .iter()
        .map(|h| h as &dyn opentelemetry::propagation::Extractor)
        .collect();
    let process = queue.process_batch("orders.batch", &carriers);
    let id = process.context().span().span_context().span_id();
    process.end();

    let consumer = by_id(id);
    assert_eq!(consumer.name, "process orders.batch");
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(
        int_attr(&consumer, a::MESSAGING_BATCH_MESSAGE_COUNT),
        Some(4)
    );
    let ids = |scs: Vec<&opentelemetry::trace::SpanContext>| {
        scs.into_iter()
            .map(|sc| (sc.trace_id(), sc.span_id()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(consumer.links.iter().map(|l| &l.span_context).collect()),
        ids(producers.iter().collect())
    );
    // A batch is not parented to any one message.
    assert!(producers
        .iter()
        .all(|p| p.trace_id() != consumer.span_context.trace_id()));
    let producer = by_id(producers[0].span_id());
    assert_eq!(producer.name, "send orders.batch");
    assert_eq!(
        str_attr(&producer, a::MESSAGING_OPERATION_NAME).as_deref(),
        Some("send")
    );
}

fn process_root(headers: &HashMap<String, String>, destination: &str) -> SpanData {
    let queue = Messaging::new("rabbitmq");
    let process = queue.process(destination, headers);
    let id = process.context().span().span_context().span_id();
    process.end();
    let span = by_id(id);
    assert_eq!(span.name, format!("process {destination}"));
    span
}

#[test]
fn missing_garbage_or_oversized_context_starts_a_new_trace() {
    let _ = exporter();
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let cases: Vec<(&str, HashMap<String, String>)> = vec![
        ("none", HashMap::new()),
        (
            "garbage",
            HashMap::from([("traceparent".into(), "zz-not-a-traceparent".into())]),
        ),
        (
            "zero-ids",
            HashMap::from([(
                "traceparent".into(),
                "00-00000000000000000000000000000000-0000000000000000-01".into(),
            )]),
        ),
        (
            "oversized",
            HashMap::from([(
                "traceparent".into(),
                format!("{valid}{}", "-x".repeat(50_000)),
            )]),
        ),
        (
            "binary",
            HashMap::from([("traceparent".into(), "\u{0}\u{fffd}\u{7f}".repeat(20))]),
        ),
    ];
    for (case, headers) in cases {
        let span = process_root(&headers, case);
        assert_eq!(
            span.parent_span_id,
            opentelemetry::trace::SpanId::INVALID,
            "{case}"
        );
        assert!(span.links.is_empty(), "{case}");
        assert_ne!(
            span.span_context.trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            "{case}"
        );
        assert_eq!(span.status, Status::Unset, "{case}");
    }

    // A valid traceparent with an oversized tracestate: the trace continues, the
    // state is dropped.
    let headers = HashMap::from([
        ("traceparent".to_string(), valid.to_string()),
        (
            "tracestate".to_string(),
            format!("k={}", "v".repeat(100_000)),
        ),
    ]);
    let span = process_root(&headers, "big-state");
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(span.span_context.trace_state().header(), "");
}

#[test]
fn a_carried_run_collects_the_consumers_calls_and_reports_them_back() {
    let _ = exporter();
    let queue = Messaging::new("nats").carry_run(true);
    let run = Run::new("planner");
    run.record_llm_call(
        Some(Usage::new(100, 10)),
        Some(Cost::from_picodollars(1_000)),
    );

    let mut headers: HashMap<String, String> = HashMap::new();
    let send = {
        let _attached = run.attach();
        queue.send("jobs.run", &mut headers)
    };
    assert_eq!(
        headers.get(a::RUN_HEADER).map(String::as_str),
        Some("planner")
    );

    // The consumer: an LLM layer records into the run of the current context.
    let process = queue.process("jobs.run", &headers);
    {
        let _attached = process.context().attach();
        let consumer_run = Run::current().expect("the message carried the run");
        assert_eq!(consumer_run.name(), "planner");
        consumer_run.record_llm_call(Some(Usage::new(40, 5)), Some(Cost::from_picodollars(300)));
        consumer_run.record_tool_call();
    }
    let mut reply: HashMap<String, String> = HashMap::new();
    process.reply_headers(&mut reply);
    process.end();

    assert!(send.record_reply(&reply));
    send.end();
    let totals = run.totals();
    assert_eq!(totals.llm_calls, 2);
    assert_eq!(totals.tool_calls, 1);
    assert_eq!(totals.usage.input_tokens, 140);
    assert_eq!(totals.usage.output_tokens, 15);
    assert_eq!(totals.cost, Cost::from_picodollars(1_300));

    // Garbage totals in a reply are ignored, never half-applied.
    let garbage = HashMap::from([(a::RUN_TOTALS_HEADER.to_string(), "v1;in=999".to_string())]);
    let send = {
        let _attached = run.attach();
        queue.send("jobs.run", &mut HashMap::new())
    };
    assert!(!send.record_reply(&garbage));
    assert_eq!(run.totals().llm_calls, 2);
    let _ = run_named("send jobs.run");
}

#[test]
fn runs_travel_only_when_asked() {
    let _ = exporter();
    let queue = Messaging::new("nats");
    let run = Run::new("planner");
    let mut headers: HashMap<String, String> = HashMap::new();
    let _attached = run.attach();
    let send = queue.send("jobs.norun", &mut headers);
    assert!(!headers.contains_key(a::RUN_HEADER));
    let process = queue.process("jobs.norun", &headers);
    assert!(process.run().is_none());
    let mut reply: HashMap<String, String> = HashMap::new();
    process.reply_headers(&mut reply);
    assert!(reply.is_empty());
    drop(process);
    assert!(!send.record_reply(&reply));
}

#[test]
fn run_names_that_cannot_be_a_header_value_do_not_travel() {
    let _ = exporter();
    let queue = Messaging::new("nats").carry_run(true);
    for name in ["line\r\nbreak".to_string(), "x".repeat(300), String::new()] {
        let run = Run::new(name.clone());
        let _attached = run.attach();
        let mut headers: HashMap<String, String> = HashMap::new();
        queue.send("jobs.badname", &mut headers).end();
        assert!(!headers.contains_key(a::RUN_HEADER), "{name:?}");
        assert!(headers.contains_key("traceparent"));
    }
}

#[test]
fn errors_mark_the_span() {
    let _ = exporter();
    let queue = Messaging::new("rabbitmq");
    let process = queue.process("orders.fail", &HashMap::<String, String>::new());
    let id = process.context().span().span_context().span_id();
    process.record_error(
        "handler",
        "bad order for key sk-abcdefghijklmnopqrstuvwxyz123456",
    );
    process.end();
    let span = by_id(id);
    assert_eq!(str_attr(&span, "error.type").as_deref(), Some("handler"));
    match &span.status {
        Status::Error { description } => assert!(!description.contains("sk-abcdefghij")),
        other => panic!("expected an error status, got {other:?}"),
    }
    assert!(attr(&span, a::MESSAGING_BATCH_MESSAGE_COUNT).is_none());
    let _ = Context::current();
}
