//! What `GenAiMiddleware` adds to a real HTTP call: reqwest-middleware over loopback
//! (keep-alive) to an axum server answering `POST /v1/chat/completions` with a
//! ~600-byte chat completion, read to its end as a caller does.
//!
//! In one run:
//! 1. before any `tracing` subscriber or provider exists: the bare
//!    `ClientWithMiddleware` and the same client with `GenAiMiddleware`;
//! 2. with the pipeline (registry + tracing-opentelemetry, SDK tracer provider with a
//!    batch processor into a no-op exporter, SDK meter provider with a periodic reader
//!    (every 60 s) into memory, both global, the meter provider declared the SDK's as
//!    `aitrace::init()` does; one case without that declaration): bare, `GenAiMiddleware`, `GenAiMiddleware` + `ClientMiddleware`,
//!    and the floor: the bare call inside one span made with the SDK tracer directly,
//!    with the attributes `GenAiMiddleware` records for this call;
//! 3. that raw SDK span alone, without the HTTP call, so the middleware's added time
//!    can be compared with it.
//!
//! Loopback round trips vary by microseconds on a shared machine, more than the
//! middleware's own cost; so each case also runs in process: the same client, request
//! and response, with a last middleware answering at once instead of the network
//! (`in_process_*` groups). Those isolate what the middleware adds.
//!
//! `cargo bench -p aitrace-llm --bench genai_http -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;

use aitrace_llm::{GenAiConfig, GenAiMiddleware};
use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

const REQUEST: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hi."}],"temperature":0.2,"max_tokens":64}"#;

/// A chat completion as OpenAI sends it (~600 bytes).
const COMPLETION: &str = r#"{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hi! How can I help you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_06737a9306"}"#;

fn server(rt: &tokio::runtime::Runtime) -> SocketAddr {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(|_body: axum::body::Bytes| async {
                (
                    [(http::header::CONTENT_TYPE, "application/json")],
                    COMPLETION,
                )
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    })
}

async fn call(client: &ClientWithMiddleware, url: &str) -> usize {
    match client
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(REQUEST)
        .send()
        .await
    {
        Ok(r) => r.bytes().await.map(|b| b.len()).unwrap_or(0),
        Err(_) => 0,
    }
}

/// The last middleware of the in-process clients: answers as the server does.
struct Answer;

#[async_trait::async_trait]
impl Middleware for Answer {
    async fn handle(
        &self,
        _req: reqwest::Request,
        _extensions: &mut http::Extensions,
        _next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let response = http::Response::builder()
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CONTENT_LENGTH, COMPLETION.len())
            .body(COMPLETION)
            .map_err(reqwest_middleware::Error::middleware)?;
        Ok(reqwest::Response::from(response))
    }
}

fn client(genai: bool, http: bool, in_process: bool) -> ClientWithMiddleware {
    let mut builder = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
    if genai {
        builder = builder.with(GenAiMiddleware::new(GenAiConfig::default()));
    }
    if http {
        builder = builder.with(aitrace_http::ClientMiddleware::new());
    }
    if in_process {
        builder = builder.with(Answer);
    }
    builder.build()
}

/// The span `GenAiMiddleware` records for this call, made with the SDK tracer alone:
/// the same name, kind and attributes (start and end).
#[inline(never)]
fn raw_sdk_span(tracer: &opentelemetry_sdk::trace::SdkTracer, port: i64) {
    let mut span = tracer
        .span_builder("chat gpt-4o-mini")
        .with_kind(SpanKind::Client)
        .with_attributes(vec![
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "openai"),
            KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
            KeyValue::new("gen_ai.request.max_tokens", 64_i64),
            KeyValue::new("gen_ai.request.temperature", 0.2_f64),
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", port),
        ])
        .start(tracer);
    span.set_attributes([
        KeyValue::new("http.response.status_code", 200_i64),
        KeyValue::new(
            "gen_ai.response.id",
            "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        ),
        KeyValue::new("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
        KeyValue::new(
            "gen_ai.response.finish_reasons",
            opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("stop")].into()),
        ),
        KeyValue::new("openai.response.service_tier", "default"),
        KeyValue::new("openai.response.system_fingerprint", "fp_06737a9306"),
        KeyValue::new("gen_ai.usage.input_tokens", 19_i64),
        KeyValue::new("gen_ai.usage.output_tokens", 10_i64),
        KeyValue::new("gen_ai.usage.cache_read.input_tokens", 0_i64),
        KeyValue::new("gen_ai.usage.cost", 0.000_008_85_f64),
    ]);
    span.end();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let addr = server(&rt);
    let url = format!("http://{addr}/v1/chat/completions");
    let port = i64::from(addr.port());
    let bare = client(false, false, false);
    let genai = client(true, false, false);
    let both = client(true, true, false);
    let local = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let in_process = [
        ("bare", client(false, false, true)),
        ("GenAiMiddleware", client(true, false, true)),
        (
            "GenAiMiddleware + ClientMiddleware",
            client(true, true, true),
        ),
    ];

    let mut group = c.benchmark_group("genai_http_no_subscriber");
    group.bench_function("bare", |b| b.to_async(&rt).iter(|| call(&bare, &url)));
    group.bench_function("GenAiMiddleware", |b| {
        b.to_async(&rt).iter(|| call(&genai, &url))
    });
    group.finish();
    let mut group = c.benchmark_group("in_process_no_subscriber");
    for (name, client) in &in_process[..2] {
        group.bench_function(*name, |b| b.to_async(&local).iter(|| call(client, &url)));
    }
    group.finish();

    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(NoopExporter).build())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    opentelemetry::global::set_meter_provider(meters.clone());
    // As `aitrace::init()` does for the provider it installs: the metric points go
    // through bound instruments (one case below measures them unbound).
    aitrace_core::emit::set_sdk_meter_provider(true);
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")))
        .init();
    let tracer = provider.tracer("floor");

    let mut group = c.benchmark_group("genai_http_pipeline");
    group.bench_function("bare", |b| b.to_async(&rt).iter(|| call(&bare, &url)));
    group.bench_function("GenAiMiddleware", |b| {
        b.to_async(&rt).iter(|| call(&genai, &url))
    });
    group.bench_function("GenAiMiddleware + ClientMiddleware", |b| {
        b.to_async(&rt).iter(|| call(&both, &url))
    });
    group.bench_function("bare + raw SDK span (floor)", |b| {
        b.to_async(&rt).iter(|| async {
            let n = call(&bare, &url).await;
            raw_sdk_span(&tracer, port);
            n
        })
    });
    group.finish();

    let mut group = c.benchmark_group("in_process_pipeline");
    for (name, client) in &in_process {
        group.bench_function(*name, |b| b.to_async(&local).iter(|| call(client, &url)));
    }
    // A meter provider not declared the SDK's: every metric point looked up by the SDK.
    aitrace_core::emit::set_sdk_meter_provider(false);
    group.bench_function("GenAiMiddleware, metrics unbound", |b| {
        b.to_async(&local).iter(|| call(&in_process[1].1, &url))
    });
    aitrace_core::emit::set_sdk_meter_provider(true);
    group.bench_function("bare + raw SDK span (floor)", |b| {
        b.to_async(&local).iter(|| async {
            let n = call(&in_process[0].1, &url).await;
            raw_sdk_span(&tracer, port);
            n
        })
    });
    group.finish();

    let mut group = c.benchmark_group("genai_http_span_alone");
    group.bench_function("raw SDK span", |b| b.iter(|| raw_sdk_span(&tracer, port)));
    group.finish();

    let _ = provider.shutdown();
    let _ = meters.shutdown();
}

criterion_group!(benches, bench);
criterion_main!(benches);
