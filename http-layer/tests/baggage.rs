//! Session and user ids across services: a client inside an
//! `aitrace_core::context::scope()` that opts into baggage sends them as W3C `baggage`,
//! and the downstream server's span (and every span of ours under it) records them. A
//! scope that does not opt in sends nothing. With the propagators the pipeline
//! installs (trace context + baggage). Alone in its binary (the global propagator).

mod common;

use aitrace_core::context;
use aitrace_http::{ClientMiddleware, ServerLayer};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use common::*;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{FutureExt as _, TraceContextExt};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use reqwest_middleware::ClientBuilder;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[tokio::test]
async fn opted_in_ids_travel_as_baggage_and_land_on_the_server_span() {
    let t = telemetry();
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    let addr = serve(
        Router::new()
            .route(
                "/who",
                get(|headers: HeaderMap| async move {
                    headers
                        .get("baggage")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("none")
                        .to_owned()
                }),
            )
            .layer(ServerLayer::new()),
    )
    .await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::new())
        .build();

    for opt_in in [true, false] {
        let root = tracing::info_span!("root");
        let trace_id = root.context().span().span_context().trace_id();
        let cx = {
            let _entered = root.enter();
            context::scope()
                .session_id("chat-42")
                .user_id("user-7")
                .propagate_in_baggage(opt_in)
                .context()
        };
        let sent = client
            .get(format!("http://{addr}/who"))
            .send()
            .with_context(cx)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        drop(root);
        let spans = wait_for_spans(&t.exporter, trace_id, 2).await;
        let server = named(&spans, "GET /who");
        if opt_in {
            assert!(sent.contains("session.id=chat-42"), "{sent}");
            assert!(sent.contains("user.id=user-7"), "{sent}");
            assert_eq!(attr_str(server, "session.id").as_deref(), Some("chat-42"));
            assert_eq!(attr_str(server, "user.id").as_deref(), Some("user-7"));
        } else {
            assert_eq!(sent, "none");
            assert_eq!(attr_str(server, "session.id"), None);
        }
        // The client span is in the scope either way.
        let client_span = spans
            .iter()
            .find(|s| s.name.starts_with("GET") && s.name != "GET /who")
            .expect("client span");
        assert_eq!(
            attr_str(client_span, "session.id").as_deref(),
            Some("chat-42")
        );
    }
}
