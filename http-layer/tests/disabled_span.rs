//! The user's filter disables AITrace's spans (`aitrace=off`) and no global tracer
//! provider is set (only a tracing-opentelemetry subscriber): our spans are not
//! recorded, yet trace context still flows through them, both ways.

mod common;

use std::sync::OnceLock;

use aitrace_http::{ClientMiddleware, ServerLayer};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use common::{ids_of, parse_traceparent, serve, spans_of, wait_for_spans};
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        tracing_subscriber::registry()
            .with(EnvFilter::new("info,aitrace=off"))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")))
            .init();
        exporter
    })
}

/// A server that answers with the `traceparent` it received (or `none`).
async fn echo_server() -> std::net::SocketAddr {
    serve(Router::new().fallback(|headers: HeaderMap| async move {
        headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned()
    }))
    .await
}

fn traced_client() -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::new())
        .build()
}

#[tokio::test]
async fn a_disabled_client_span_still_propagates() {
    let exporter = exporter();
    let echo = echo_server().await;
    let client = traced_client();
    let handler = tracing::info_span!("user handler");
    let seen = async {
        client
            .get(format!("http://{echo}/v1/models"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body")
    }
    .instrument(handler.clone())
    .await;
    let (trace_id, handler_id) = ids_of(&handler);
    drop(handler);
    assert_ne!(seen, "none", "a disabled span stopped propagation");
    let (tp_trace, tp_parent, flags) = parse_traceparent(&seen);
    // Our span is disabled: the header carries the user's span.
    assert_eq!(tp_trace, trace_id);
    assert_eq!(tp_parent, handler_id);
    assert_eq!(flags, 1);
    let spans = wait_for_spans(exporter, trace_id, 1).await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names,
        vec!["user handler"],
        "our spans must be filtered out"
    );
}

#[tokio::test]
async fn a_disabled_server_span_still_hands_the_callers_context_on() {
    let exporter = exporter();
    let echo = echo_server().await;
    let app = Router::new()
        .route(
            "/work",
            get(
                |State((client, echo)): State<(ClientWithMiddleware, std::net::SocketAddr)>| {
                    async move {
                        client
                            .get(format!("http://{echo}/downstream"))
                            .send()
                            .await
                            .expect("request")
                            .text()
                            .await
                            .expect("body")
                    }
                    .instrument(tracing::info_span!("handler work"))
                },
            ),
        )
        .with_state((traced_client(), echo))
        .layer(ServerLayer::new().traceresponse(true));
    let addr = serve(app).await;
    let trace_id = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("hex");
    let caller = SpanId::from_hex("b7ad6b7169203331").expect("hex");
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/work"))
        .header("traceparent", format!("00-{trace_id}-{caller}-01"))
        .send()
        .await
        .expect("request");
    // No server span recorded: no traceresponse.
    assert!(response.headers().get("traceresponse").is_none());
    let downstream = response.text().await.expect("body");
    let spans = wait_for_spans(exporter, trace_id, 1).await;
    let work = spans
        .iter()
        .find(|s| s.name == "handler work")
        .expect("the user's handler span");
    // The user's span continues the caller's trace through our disabled server span...
    assert_eq!(work.parent_span_id, caller);
    // ...and the outgoing call carries it on through our disabled client span.
    let (tp_trace, tp_parent, _) = parse_traceparent(&downstream);
    assert_eq!(tp_trace, trace_id);
    assert_eq!(tp_parent, work.span_context.span_id());
    assert_eq!(spans_of(exporter, trace_id).len(), 1);
}
