//! A parent-based sampler drops the trace: our spans are not recorded, yet the
//! caller's trace id (with its not-sampled flag) reaches the next service.

mod common;

use std::sync::OnceLock;

use aitrace_http::{ClientMiddleware, ServerLayer};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use common::{parse_traceparent, serve, spans_of};
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
            .with_simple_exporter(exporter.clone())
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")))
            .init();
        exporter
    })
}

#[tokio::test]
async fn a_sampled_out_trace_still_propagates() {
    let exporter = exporter();
    let echo = serve(Router::new().fallback(|headers: HeaderMap| async move {
        headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned()
    }))
    .await;
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
    let trace_id = TraceId::from_hex("5b8efff798038103d269b633813fc60c").expect("hex");
    let caller = SpanId::from_hex("eee19b7ec3c1b174").expect("hex");
    // Flags 00: the caller did not sample this trace, so neither do we.
    let downstream = reqwest::Client::new()
        .get(format!("http://{addr}/work"))
        .header("traceparent", format!("00-{trace_id}-{caller}-00"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    let (tp_trace, _, flags) = parse_traceparent(&downstream);
    assert_eq!(tp_trace, trace_id, "the trace id was lost");
    assert_eq!(flags, 0, "the not-sampled decision was lost");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(spans_of(exporter, trace_id).is_empty());
}
