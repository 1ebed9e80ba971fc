//! The cost of the layers when nothing records spans (no `tracing` subscriber, no
//! tracer provider, no propagator): what an application pays before telemetry is set
//! up. Trace context is still extracted and attached (server) and injected (client).
//!
//! `cargo bench -p aitrace-http --bench no_subscriber -- --warm-up-time 1 --measurement-time 3`

mod common;

use aitrace_http::{ClientLayer, ServerLayer};
use common::{call_server, client_request, current_thread, handler};
use criterion::{criterion_group, criterion_main, Criterion};
use tower::{service_fn, ServiceBuilder, ServiceExt};

fn benches(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("no_subscriber");
    let bare = service_fn(handler);
    group.bench_function("server bare", |b| {
        b.to_async(&rt).iter(|| call_server(&bare))
    });
    let ours = ServiceBuilder::new()
        .layer(ServerLayer::new())
        .service(service_fn(handler));
    group.bench_function("server aitrace ServerLayer", |b| {
        b.to_async(&rt).iter(|| call_server(&ours))
    });
    let tower_otel = ServiceBuilder::new()
        .layer(tower_otel::trace::HttpLayer::server(tracing::Level::INFO))
        .service(service_fn(handler));
    group.bench_function("server tower-otel HttpLayer::server", |b| {
        b.to_async(&rt).iter(|| call_server(&tower_otel))
    });
    let tower_http = ServiceBuilder::new()
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .service(service_fn(handler));
    group.bench_function("server tower-http TraceLayer", |b| {
        b.to_async(&rt).iter(|| call_server(&tower_http))
    });
    let client = ServiceBuilder::new()
        .layer(ClientLayer::new())
        .service(service_fn(handler));
    group.bench_function("client bare", |b| {
        b.to_async(&rt)
            .iter(|| async { bare.oneshot(client_request()).await })
    });
    group.bench_function("client aitrace ClientLayer", |b| {
        b.to_async(&rt)
            .iter(|| async { client.clone().oneshot(client_request()).await })
    });
    group.finish();
}

criterion_group!(no_subscriber, benches);
criterion_main!(no_subscriber);
