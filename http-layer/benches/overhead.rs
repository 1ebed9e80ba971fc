//! Overhead of the server and client layers: bare service vs layered, in-process, with
//! the pipeline (registry + tracing-opentelemetry + SDK simple processor + a
//! no-op exporter, as the global tracer provider too), and the peers in the same run:
//! tower-otel, tower-http's TraceLayer and axum-tracing-opentelemetry (server), tower-otel
//! (client).
//! Plus reqwest over loopback, bare vs with `ClientMiddleware`.
//!
//! `cargo bench -p aitrace-http --bench overhead -- --warm-up-time 1 --measurement-time 3`

mod common;

use std::net::SocketAddr;

use aitrace_http::{ClientLayer, ClientMiddleware, ServerLayer};
use common::{call_server, client_request, current_thread, handler};
use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

fn install_pipeline() {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(NoopExporter)
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")))
        .init();
}

fn server(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("server");
    let bare = service_fn(handler);
    group.bench_function("bare", |b| b.to_async(&rt).iter(|| call_server(&bare)));
    let ours = ServiceBuilder::new()
        .layer(ServerLayer::new())
        .service(service_fn(handler));
    group.bench_function("aitrace ServerLayer", |b| {
        b.to_async(&rt).iter(|| call_server(&ours))
    });
    let tower_otel = ServiceBuilder::new()
        .layer(tower_otel::trace::HttpLayer::server(tracing::Level::INFO))
        .service(service_fn(handler));
    group.bench_function("tower-otel HttpLayer::server", |b| {
        b.to_async(&rt).iter(|| call_server(&tower_otel))
    });
    let tower_http = ServiceBuilder::new()
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .service(service_fn(handler));
    group.bench_function("tower-http TraceLayer", |b| {
        b.to_async(&rt).iter(|| call_server(&tower_http))
    });
    let axum_otel = ServiceBuilder::new()
        .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
        .service(service_fn(handler));
    group.bench_function("axum-tracing-opentelemetry OtelAxumLayer", |b| {
        b.to_async(&rt).iter(|| call_server(&axum_otel))
    });
    group.finish();
}

fn client_tower(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("client_tower");
    let bare = service_fn(handler);
    group.bench_function("bare", |b| {
        b.to_async(&rt)
            .iter(|| async { bare.oneshot(client_request()).await })
    });
    let ours = ServiceBuilder::new()
        .layer(ClientLayer::new())
        .service(service_fn(handler));
    group.bench_function("aitrace ClientLayer", |b| {
        b.to_async(&rt)
            .iter(|| async { ours.clone().oneshot(client_request()).await })
    });
    let tower_otel = ServiceBuilder::new()
        .layer(tower_otel::trace::HttpLayer::client(tracing::Level::INFO))
        .service(service_fn(handler));
    group.bench_function("tower-otel HttpLayer::client", |b| {
        b.to_async(&rt)
            .iter(|| async { tower_otel.clone().oneshot(client_request()).await })
    });
    group.finish();
}

fn client_reqwest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let addr: SocketAddr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let app = axum::Router::new().route("/v1/models", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    let url = format!("http://{addr}/v1/models");
    let mut group = c.benchmark_group("client_reqwest_loopback");
    let bare = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    group.bench_function("bare", |b| {
        b.to_async(&rt).iter(|| async {
            if let Ok(r) = bare.get(&url).send().await {
                let _ = r.bytes().await;
            }
        })
    });
    let ours = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::new())
        .build();
    group.bench_function("aitrace ClientMiddleware", |b| {
        b.to_async(&rt).iter(|| async {
            if let Ok(r) = ours.get(&url).send().await {
                let _ = r.bytes().await;
            }
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    install_pipeline();
    server(c);
    client_tower(c);
    client_reqwest(c);
}

criterion_group!(overhead, benches);
criterion_main!(overhead);
