//! A caller's oversized `tracestate` is cut to the W3C limits on the way in (what our
//! spans carry, as exported) and on the way out (what the next service receives).

mod common;

use aitrace_http::{ClientMiddleware, ServerLayer};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use common::{serve, telemetry, wait_for_spans};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

/// A server that answers with the `tracestate` it received (or `none`).
async fn echo_server() -> std::net::SocketAddr {
    serve(Router::new().fallback(|headers: HeaderMap| async move {
        headers
            .get("tracestate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned()
    }))
    .await
}

/// Sends `tracestate` to a traced service that calls the echo server; returns what the
/// echo server received and the trace state of the exported server span.
async fn forward(trace_hex: &str, tracestate: &str) -> (String, String) {
    let t = telemetry();
    let echo = echo_server().await;
    let client: ClientWithMiddleware = ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::new())
        .build();
    let app = Router::new()
        .route(
            "/work",
            get(
                |State((client, echo)): State<(ClientWithMiddleware, std::net::SocketAddr)>| async move {
                    client
                        .get(format!("http://{echo}/downstream"))
                        .send()
                        .await
                        .expect("request")
                        .text()
                        .await
                        .expect("body")
                },
            ),
        )
        .with_state((client, echo))
        .layer(ServerLayer::new());
    let addr = serve(app).await;
    let trace_id = TraceId::from_hex(trace_hex).expect("hex");
    let caller = SpanId::from_hex("b7ad6b7169203331").expect("hex");
    let downstream = reqwest::Client::new()
        .get(format!("http://{addr}/work"))
        .header("traceparent", format!("00-{trace_id}-{caller}-01"))
        .header("tracestate", tracestate)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    let spans = wait_for_spans(&t.exporter, trace_id, 2).await;
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("server span");
    (downstream, server.span_context.trace_state().header())
}

#[tokio::test]
async fn oversized_members_are_dropped_in_and_out() {
    // 1 small member and 31 of ~507 bytes (a 250-character key, a 255-character value:
    // each part within what the SDK's parser accepts).
    let mut members = vec!["congo=t61rcWkgMzE".to_owned()];
    members.extend((0..31).map(|i| format!("k{i:02}{}={}", "k".repeat(247), "v".repeat(255))));
    let header = members.join(",");
    assert!(header.len() > 15_000);
    let (downstream, on_span) = forward("0af7651916cd43dd8448eb211c80319c", &header).await;
    assert_eq!(on_span, "congo=t61rcWkgMzE");
    assert_eq!(downstream, "congo=t61rcWkgMzE");
}

#[tokio::test]
async fn many_members_are_cut_to_512_characters() {
    let members: Vec<String> = (0..32)
        .map(|i| format!("vendor{i:02}={}", "x".repeat(30)))
        .collect();
    let (downstream, on_span) =
        forward("1af7651916cd43dd8448eb211c80319c", &members.join(",")).await;
    for kept in [&downstream, &on_span] {
        assert!(kept.len() <= 512, "{}", kept.len());
        assert!(kept.starts_with("vendor00="), "{kept}");
        assert_eq!(kept.split(',').count(), 512 / 40, "{kept}");
    }
}
