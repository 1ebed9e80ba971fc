//! Against a real nats-server (`scripts/nats.sh start`; `AITRACE_NATS_URL`): spans on
//! exported data for publish/subscribe, request/reply with a carried run, JetStream
//! publish acks and consumer acks, and messages with missing, garbage or oversized
//! context. Ignored in a plain `cargo test`; `scripts/test-all.sh` starts the server
//! and runs them.

mod common;

use std::time::Duration;

use aitrace_core::cost::Cost;
use aitrace_core::run::Run;
use aitrace_core::usage::Usage;
use aitrace_messaging::attributes as a;
use aitrace_messaging::nats::{Nats, MESSAGE_ID_HEADER};
use async_nats::jetstream;
use async_nats::HeaderMap;
use common::{exporter, int_attr, str_attr, wait_for};
use futures_util::StreamExt;
use opentelemetry::context::FutureExt;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt};
use opentelemetry::Context;

async fn connect() -> async_nats::Client {
    let _ = exporter();
    let url = std::env::var("AITRACE_NATS_URL")
        .expect("AITRACE_NATS_URL: start nats-server with scripts/nats.sh start");
    async_nats::connect(url)
        .await
        .expect("nats-server reachable")
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}.{}.{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs nats-server: scripts/nats.sh start"]
async fn a_published_message_is_processed_in_the_publishers_trace() {
    let client = connect().await;
    let nats = Nats::new(client.clone());
    let subject = unique("orders");
    let mut sub = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();

    let mut headers = HeaderMap::new();
    headers.insert(MESSAGE_ID_HEADER, "order-7");
    nats.publish_with_headers(subject.clone(), headers, "hello".into())
        .await
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    let process = nats.process(&message);
    let process_id = process.context().span().span_context().span_id();
    async {
        // The handler's own span nests under `process`.
        aitrace_core::emit::OtelSpan::start("handle order", SpanKind::Internal, vec![]).end();
    }
    .with_context(process.context())
    .await;
    process.end();

    let publish = wait_for(|s| s.name == format!("publish {subject}")).await;
    let consumer = wait_for(|s| s.span_context.span_id() == process_id).await;
    let handler = wait_for(|s| s.name == "handle order" && s.parent_span_id == process_id).await;

    assert_eq!(publish.span_kind, SpanKind::Producer);
    assert_eq!(publish.parent_span_id, SpanId::INVALID);
    assert_eq!(
        str_attr(&publish, a::MESSAGING_SYSTEM).as_deref(),
        Some("nats")
    );
    assert_eq!(
        str_attr(&publish, a::MESSAGING_OPERATION_NAME).as_deref(),
        Some("publish")
    );
    assert_eq!(
        str_attr(&publish, a::MESSAGING_OPERATION_TYPE).as_deref(),
        Some("send")
    );
    assert_eq!(
        str_attr(&publish, a::MESSAGING_DESTINATION_NAME),
        Some(subject.clone())
    );
    assert_eq!(
        str_attr(&publish, a::MESSAGING_MESSAGE_ID).as_deref(),
        Some("order-7")
    );
    assert_eq!(int_attr(&publish, a::MESSAGING_MESSAGE_BODY_SIZE), Some(5));

    assert_eq!(consumer.name, format!("process {subject}"));
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(
        consumer.span_context.trace_id(),
        publish.span_context.trace_id()
    );
    assert_eq!(consumer.parent_span_id, publish.span_context.span_id());
    assert_eq!(
        str_attr(&consumer, a::MESSAGING_SYSTEM).as_deref(),
        Some("nats")
    );
    assert_eq!(
        str_attr(&consumer, a::MESSAGING_OPERATION_TYPE).as_deref(),
        Some("process")
    );
    assert_eq!(
        str_attr(&consumer, a::MESSAGING_MESSAGE_ID).as_deref(),
        Some("order-7")
    );
    assert_eq!(int_attr(&consumer, a::MESSAGING_MESSAGE_BODY_SIZE), Some(5));
    assert_eq!(
        handler.span_context.trace_id(),
        publish.span_context.trace_id()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs nats-server: scripts/nats.sh start"]
async fn a_request_carries_the_run_and_the_reply_brings_its_totals_back() {
    let client = connect().await;
    let nats = Nats::new(client.clone()).carry_run(true);
    let subject = unique("jobs");
    let mut sub = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();

    // The worker: an LLM call made while processing adds to the carried run.
    let worker = tokio::spawn({
        let nats = nats.clone();
        async move {
            let message = sub.next().await.unwrap();
            let process = nats.process(&message);
            async {
                let run = Run::current().expect("the run travelled with the message");
                assert_eq!(run.name(), "planner");
                run.record_llm_call(Some(Usage::new(30, 7)), Some(Cost::from_picodollars(700)));
            }
            .with_context(process.context())
            .await;
            nats.respond(&process, &message, "done".into())
                .await
                .unwrap();
            process.context().span().span_context().span_id()
        }
    });

    let run = Run::new("planner");
    run.record_llm_call(
        Some(Usage::new(100, 20)),
        Some(Cost::from_picodollars(2_000)),
    );
    let reply = nats
        .request(subject.clone(), "summarize".into())
        .with_context(run.in_context(&Context::current()))
        .await
        .unwrap();
    assert_eq!(&reply.payload[..], b"done");
    let process_id = worker.await.unwrap();

    let totals = run.totals();
    assert_eq!(totals.llm_calls, 2);
    assert_eq!(totals.usage.input_tokens, 130);
    assert_eq!(totals.usage.output_tokens, 27);
    assert_eq!(totals.cost, Cost::from_picodollars(2_700));

    let send = wait_for(|s| s.name == format!("send {subject}")).await;
    assert_eq!(send.span_kind, SpanKind::Producer);
    assert_eq!(
        str_attr(&send, a::MESSAGING_OPERATION_NAME).as_deref(),
        Some("send")
    );
    let process = wait_for(|s| s.span_context.span_id() == process_id).await;
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(
        process.span_context.trace_id(),
        send.span_context.trace_id()
    );
    // The request span lasts until the reply.
    assert!(send.end_time >= process.end_time);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs nats-server: scripts/nats.sh start"]
async fn messages_without_usable_context_are_processed_in_new_traces() {
    let client = connect().await;
    let nats = Nats::new(client.clone()).carry_run(true);
    let subject = unique("bad");
    let mut sub = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();

    // Sent by an uninstrumented (or broken, or hostile) producer.
    client
        .publish(subject.clone(), "no headers".into())
        .await
        .unwrap();
    let mut garbage = HeaderMap::new();
    garbage.insert("traceparent", "00-zzzz-not-hex-01");
    garbage.insert(a::RUN_TOTALS_HEADER, "v1;in=99999");
    client
        .publish_with_headers(subject.clone(), garbage, "garbage".into())
        .await
        .unwrap();
    let mut oversized = HeaderMap::new();
    let big = format!(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01{}",
        "0".repeat(60_000)
    );
    oversized.insert("traceparent", big.as_str());
    oversized.insert(a::RUN_HEADER, "r".repeat(20_000).as_str());
    client
        .publish_with_headers(subject.clone(), oversized, "oversized".into())
        .await
        .unwrap();
    client
        .publish_with_headers(subject.clone(), HeaderMap::new(), "empty headers".into())
        .await
        .unwrap();

    for _ in 0..4 {
        let message = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        let process = nats.process(&message);
        assert!(process.run().is_none());
        let id = process.context().span().span_context().span_id();
        process.end();
        let span = wait_for(|s| s.span_context.span_id() == id).await;
        assert_eq!(span.name, format!("process {subject}"));
        assert_eq!(
            span.parent_span_id,
            SpanId::INVALID,
            "{:?}",
            message.payload
        );
        assert!(span.links.is_empty());
        assert_eq!(span.status, Status::Unset);
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs nats-server: scripts/nats.sh start"]
async fn jetstream_publish_waits_for_the_ack_and_the_consumer_acks() {
    let client = connect().await;
    let nats = Nats::new(client.clone());
    let js = jetstream::new(client.clone());
    let subject = unique("stream");
    let name = subject.replace('.', "_");
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .unwrap();

    let ack = nats
        .jetstream_publish(&js, subject.clone(), HeaderMap::new(), "job".into())
        .await
        .unwrap();
    assert_eq!(ack.stream, name);

    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("worker".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap();
    let message = batch.next().await.unwrap().unwrap();
    let process = nats.process(&message);
    let process_id = process.context().span().span_context().span_id();
    nats.ack(&process, &message).await.unwrap();
    process.end();

    let publish = wait_for(|s| s.name == format!("publish {subject}")).await;
    assert_eq!(publish.status, Status::Unset);
    let consumer_span = wait_for(|s| s.span_context.span_id() == process_id).await;
    assert_eq!(consumer_span.parent_span_id, publish.span_context.span_id());
    assert_eq!(consumer_span.status, Status::Unset);

    // A subject no stream listens on: the publish fails, and so does its span.
    let nowhere = unique("nostream");
    let err = nats
        .jetstream_publish(&js, nowhere.clone(), HeaderMap::new(), "lost".into())
        .await;
    assert!(err.is_err());
    let failed = wait_for(|s| s.name == format!("publish {nowhere}")).await;
    assert!(str_attr(&failed, "error.type").is_some());
    assert!(matches!(failed.status, Status::Error { .. }));
    js.delete_stream(&name).await.unwrap();
}
