//! Overhead of the GenAI layer on an in-process service, against the bare service and
//! against the floor: one hand-written `tracing` span with the same attributes in the
//! same pipeline (registry + tracing-opentelemetry + SDK batch processor + no-op
//! exporter). Also the stream wrapper over 1,000 chunks (in-memory chunks, and chunks
//! decoded from JSON as a client makes them), SSE extraction throughput, and reading a
//! chat completion against serde_json's own floors.
//!
//! `cargo bench -p aitrace-llm --bench genai_layer`
#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aitrace_core::conventions::{Operation, Provider};
use aitrace_core::usage::Usage;
use aitrace_llm::sse::SseParser;
use aitrace_llm::wire::{self, WireFormat};
use aitrace_llm::{
    GenAiChunk, GenAiConfig, GenAiLayer, GenAiRequest, GenAiResponse, GenAiStreamLayer,
    RequestInfo, ResponseInfo,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::{stream, StreamExt};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use tower::{service_fn, Layer, Service};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

struct Ask;
impl GenAiRequest for Ask {
    fn gen_ai_request(&self) -> RequestInfo {
        RequestInfo::new(
            Provider::OpenAi,
            Operation::Chat,
            Some("gpt-4o-mini".to_owned()),
        )
    }
}

struct Answer;
impl GenAiResponse for Answer {
    fn gen_ai_response(&self) -> ResponseInfo {
        ResponseInfo {
            id: Some("chatcmpl-1".to_owned()),
            model: Some("gpt-4o-mini-2024-07-18".to_owned()),
            finish_reasons: vec!["stop".to_owned()],
            usage: Some(Usage::new(1200, 300).with_cache_read(1000)),
            output_messages: None,
            ..ResponseInfo::default()
        }
    }
}

struct Chunk(u32);
impl GenAiChunk for Chunk {
    fn fold_into(&self, acc: &mut ResponseInfo) {
        if self.0 == 999 {
            acc.usage = Some(Usage::new(10, 1000));
        }
    }
}

/// Polls a future that is ready at once (in-process services are).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn pipeline() -> (SdkTracerProvider, impl tracing::Subscriber + Send + Sync) {
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(NoopExporter).build())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    (provider, subscriber)
}

fn bench_layer(c: &mut Criterion) {
    let bare = service_fn(|_: Ask| async { Ok::<_, std::io::Error>(Answer) });
    let mut layered = GenAiLayer::new(GenAiConfig::default()).layer(bare);
    let mut bare = bare;
    let mut group = c.benchmark_group("genai_layer");
    group.bench_function("bare", |b| b.iter(|| now(bare.call(black_box(Ask)))));
    // Before any subscriber exists in this process.
    group.bench_function("layered_no_subscriber", |b| {
        b.iter(|| now(layered.call(black_box(Ask))))
    });
    let (provider, subscriber) = pipeline();
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("layered_otel_pipeline", |b| {
            b.iter(|| now(layered.call(black_box(Ask))))
        });
        group.bench_function("handwritten_tracing_span_floor", |b| {
            b.iter(|| {
                let span = tracing::info_span!(
                    "chat gpt-4o-mini",
                    otel.kind = "client",
                    gen_ai.operation.name = "chat",
                    gen_ai.provider.name = "openai",
                    gen_ai.request.model = "gpt-4o-mini",
                    gen_ai.response.model = "gpt-4o-mini-2024-07-18",
                    gen_ai.response.id = "chatcmpl-1",
                    gen_ai.usage.input_tokens = 1200_i64,
                    gen_ai.usage.output_tokens = 300_i64,
                    gen_ai.usage.cost = 0.000_33_f64,
                );
                let _e = span.enter();
                now(bare.call(black_box(Ask)))
            })
        });
    });
    group.finish();
    let _ = provider.shutdown();
}

fn drain<S: futures_util::Stream<Item = Result<Chunk, std::io::Error>>>(s: S) -> u32 {
    now(async move {
        let mut s = pin!(s);
        let mut n = 0u32;
        while let Some(Ok(c)) = s.next().await {
            n = n.wrapping_add(black_box(&c).0);
        }
        n
    })
}

fn bench_stream(c: &mut Criterion) {
    let chunks = || stream::iter((0..1000).map(|i| Ok::<_, std::io::Error>(Chunk(i))));
    let bare = service_fn(move |_: Ask| async move { Ok::<_, std::io::Error>(chunks()) });
    let mut layered = GenAiStreamLayer::new(GenAiConfig::default()).layer(bare);
    let mut bare = bare;
    // The same 1,000 chunks as a client makes them: each one decoded from its JSON.
    let lines: Vec<String> = (0..1000)
        .map(|i| format!("{{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {i} \"}},\"finish_reason\":null}}]}}"))
        .collect();
    let lines = std::sync::Arc::new(lines);
    let decoded = {
        let lines = lines.clone();
        move || {
            let lines = lines.clone();
            stream::iter(0..1000usize).map(move |i| {
                let v: serde_json::Value =
                    serde_json::from_str(&lines[i]).map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(Chunk(
                    v["choices"][0]["index"].as_u64().unwrap_or(0) as u32 + i as u32,
                ))
            })
        }
    };
    let decoded_bare = {
        let decoded = decoded.clone();
        service_fn(move |_: Ask| {
            let s = decoded();
            async move { Ok::<_, std::io::Error>(s) }
        })
    };
    let mut decoded_layered =
        GenAiStreamLayer::new(GenAiConfig::default()).layer(decoded_bare.clone());
    let mut decoded_bare = decoded_bare;

    let (provider, subscriber) = pipeline();
    let mut group = c.benchmark_group("stream_1000_chunks");
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("bare", |b| {
            b.iter(|| drain(now(bare.call(Ask)).unwrap_or_else(|_| unreachable!())))
        });
        group.bench_function("instrumented", |b| {
            b.iter(|| drain(now(layered.call(Ask)).unwrap_or_else(|_| unreachable!())))
        });
        group.bench_function("decoded_bare", |b| {
            b.iter(|| drain(now(decoded_bare.call(Ask)).unwrap_or_else(|_| unreachable!())))
        });
        group.bench_function("decoded_instrumented", |b| {
            b.iter(|| drain(now(decoded_layered.call(Ask)).unwrap_or_else(|_| unreachable!())))
        });
    });
    group.finish();
    let _ = provider.shutdown();
}

fn openai_stream(chunks: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..chunks {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {i} \"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":1000}}\n\ndata: [DONE]\n\n");
    s.into_bytes()
}

fn anthropic_stream(chunks: usize) -> Vec<u8> {
    let mut s = String::from("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n");
    for i in 0..chunks {
        s.push_str(&format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"token {i} \"}}}}\n\n"
        ));
    }
    s.push_str("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1000}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s.into_bytes()
}

/// The capture limit of the SSE benches' capture-on cases.
const CAPTURE_LIMIT: usize = 4096;

fn bench_sse(c: &mut Criterion) {
    let mut group = c.benchmark_group("sse_extraction");
    for (name, format, bytes) in [
        ("openai", WireFormat::OpenAiChat, openai_stream(10_000)),
        (
            "anthropic",
            WireFormat::AnthropicMessages,
            anthropic_stream(10_000),
        ),
    ] {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        // Without content capture, and with it (text kept up to a 4 KiB limit, which
        // 10,000 deltas of about 10 bytes overrun: memory stays at the limit).
        let extract = |capture: bool| {
            let mut parser = SseParser::new(1 << 20);
            let mut acc = wire::stream_accumulator(&format, capture);
            acc.set_capture_limit(CAPTURE_LIMIT);
            // Network-sized reads.
            for chunk in bytes.chunks(16 * 1024) {
                parser.feed(chunk, |e| {
                    let _ = acc.on_event(e);
                });
            }
            acc.finish()
        };
        let kept = extract(true)
            .output_messages
            .map_or(0, |m| m.to_string().len());
        assert!(
            kept > CAPTURE_LIMIT / 2 && kept < CAPTURE_LIMIT + 1024,
            "{name}: {kept} bytes captured"
        );
        group.bench_function(name, |b| b.iter(|| black_box(extract(false))));
        group.bench_function(format!("{name}, capture on"), |b| {
            b.iter(|| black_box(extract(true)))
        });
    }
    group.finish();
}

/// The `genai_http` bench's answer: a 600-byte chat completion as OpenAI sends it.
const COMPLETION: &str = r#"{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hi! How can I help you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_06737a9306"}"#;

fn bench_response(c: &mut Criterion) {
    let body = COMPLETION.as_bytes();
    let mut group = c.benchmark_group("chat_response");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let info = wire::openai::parse_chat_response(body, false).expect("a valid response");
    assert_eq!(info.usage.map(|u| u.output_tokens), Some(10));
    group.bench_function("parse_chat_response", |b| {
        b.iter(|| black_box(wire::openai::parse_chat_response(black_box(body), false)))
    });
    // serde_json checking the syntax and building nothing, and building a `Value`.
    group.bench_function("serde_json, IgnoredAny", |b| {
        b.iter(|| {
            black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(
                body,
            )))
        })
    });
    group.bench_function("serde_json, Value", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(body))))
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_layer,
    bench_stream,
    bench_sse,
    bench_response
);
criterion_main!(benches);
