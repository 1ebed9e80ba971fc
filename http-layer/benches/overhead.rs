//! Overhead of the server and client layers: bare service vs layered, in-process, with
//! the pipeline (registry + tracing-opentelemetry + SDK simple processor + a
//! no-op exporter, as the global tracer provider too), and the peers in the same run:
//! tower-otel, tower-http's TraceLayer and axum-tracing-opentelemetry (server), tower-otel
//! (client). The floor of each: the bare service plus the span the layer records for the
//! request (same name, kind, parent and attributes, the trace context extracted or
//! injected), made with the SDK tracer directly.
//! Plus reqwest over loopback, bare vs with `ClientMiddleware`.
//!
//! `cargo bench -p aitrace-http --bench overhead -- --warm-up-time 1 --measurement-time 3`

mod common;

use std::net::SocketAddr;

use aitrace_http::{ClientLayer, ClientMiddleware, ServerLayer};
use common::{call_server, client_request, current_thread, handler, server_request};
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::BodyExt as _;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
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

/// Installs the pipeline; the SDK tracer of the floors.
fn install_pipeline() -> SdkTracer {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(NoopExporter)
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")))
        .init();
    provider.tracer("floor")
}

/// A request's headers, read by the propagator.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A request's headers, written by the propagator.
struct HeadersMut<'a>(&'a mut http::HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The bare service and the span `ServerLayer` records for `server_request()`, made
/// with the SDK tracer alone: the incoming context extracted, the same name, kind and
/// attributes, ended when the body is read.
async fn server_floor(tracer: &SdkTracer) {
    let req = server_request();
    let parent =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(req.headers())));
    let mut span = tracer
        .span_builder("GET /v1/users/{id}")
        .with_kind(SpanKind::Server)
        .with_attributes(vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/v1/users/{id}"),
            KeyValue::new("url.path", "/v1/users/42"),
            KeyValue::new("url.query", "page=2"),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", 8080_i64),
            KeyValue::new("user_agent.original", "bench/1.0"),
            KeyValue::new("network.protocol.version", "1.1"),
        ])
        .start_with_context(tracer, &parent);
    let Ok(resp) = handler(req).await;
    let _ = resp.into_body().collect().await;
    span.set_attribute(KeyValue::new("http.response.status_code", 200_i64));
    span.end();
}

/// The bare service and the span `ClientLayer` records for `client_request()`, made
/// with the SDK tracer alone: a child of the current context, its context injected
/// into the request, the same name, kind and attributes, ended with the response.
async fn client_floor(tracer: &SdkTracer) {
    let mut req = client_request();
    let span = tracer
        .span_builder("GET")
        .with_kind(SpanKind::Client)
        .with_attributes(vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new(
                "url.full",
                "http://api.example.com:8080/v1/models?key=REDACTED",
            ),
            KeyValue::new("server.address", "api.example.com"),
            KeyValue::new("server.port", 8080_i64),
        ])
        .start_with_context(tracer, &Context::current());
    let cx = Context::current_with_span(span);
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeadersMut(req.headers_mut()));
    });
    let _ = handler(req).await;
    let span = cx.span();
    span.set_attribute(KeyValue::new("http.response.status_code", 200_i64));
    span.set_attribute(KeyValue::new("network.protocol.version", "1.1"));
    span.end();
}

fn server(c: &mut Criterion, tracer: &SdkTracer) {
    let rt = current_thread();
    let mut group = c.benchmark_group("server");
    let bare = service_fn(handler);
    group.bench_function("bare", |b| b.to_async(&rt).iter(|| call_server(&bare)));
    group.bench_function("bare + raw SDK span (floor)", |b| {
        b.to_async(&rt).iter(|| server_floor(tracer))
    });
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

fn client_tower(c: &mut Criterion, tracer: &SdkTracer) {
    let rt = current_thread();
    let mut group = c.benchmark_group("client_tower");
    let bare = service_fn(handler);
    group.bench_function("bare", |b| {
        b.to_async(&rt)
            .iter(|| async { bare.oneshot(client_request()).await })
    });
    group.bench_function("bare + raw SDK span (floor)", |b| {
        b.to_async(&rt).iter(|| client_floor(tracer))
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
    let tracer = install_pipeline();
    server(c, &tracer);
    client_tower(c, &tracer);
    client_reqwest(c);
}

criterion_group!(overhead, benches);
criterion_main!(overhead);
