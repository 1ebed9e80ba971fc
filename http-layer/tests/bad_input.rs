//! Requests and responses with bytes that are not valid strings (header values, paths,
//! a garbage `traceparent`): the layers record what they can, leave out what is not
//! text, never panic, and change nothing the other side sees.

mod common;

use std::time::Duration;

use aitrace_core::conventions as c;
use aitrace_http::{ClientConfig, ClientMiddleware, ServerLayer};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use common::*;
use opentelemetry::trace::TraceContextExt;
use reqwest_middleware::ClientBuilder;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Echoes the body and the bad header back, adding a response header that is not text.
async fn echo(headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let seen = headers
        .get("x-custom")
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let mut out = HeaderMap::new();
    out.insert(
        "x-binary",
        HeaderValue::from_bytes(b"\xfa\xfb obs-text").unwrap(),
    );
    (out, [seen, body.to_vec()].concat())
}

async fn server() -> std::net::SocketAddr {
    serve(Router::new().route("/items/{id}", post(echo)).layer(
        ServerLayer::new().capture_request_headers(["x-custom", "user-agent", "x-request-id"]),
    ))
    .await
}

#[tokio::test]
async fn header_values_that_are_not_strings_are_left_out_and_passed_through() {
    let t = telemetry();
    let addr = server().await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::with_config(
            ClientConfig::new().capture_request_headers(["x-custom", "x-request-id"]),
        ))
        .build();
    let root = tracing::info_span!("test root");
    let trace_id = root.context().span().span_context().trace_id();
    let body = b"\x00\x01 body \xff".to_vec();
    let resp = client
        .post(format!("http://{addr}/items/%FF%FE?q=%C3%28"))
        .header(
            "x-custom",
            HeaderValue::from_bytes(b"\xff\xfe caf\xe9").unwrap(),
        )
        .header(
            "user-agent",
            HeaderValue::from_bytes(b"agent/\xff1.0").unwrap(),
        )
        .header("x-request-id", "req-1")
        .body(body.clone())
        .send()
        .instrument(root)
        .await
        .expect("the call succeeds");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("x-binary").unwrap().as_bytes(),
        b"\xfa\xfb obs-text",
        "the caller's headers are unchanged"
    );
    let got = resp.bytes().await.unwrap();
    assert_eq!(
        got.as_ref(),
        [b"\xff\xfe caf\xe9".as_ref(), body.as_ref()]
            .concat()
            .as_slice(),
        "the server got the header and body unchanged, and the caller its answer"
    );

    let spans = wait_for_spans(&t.exporter, trace_id, 3).await;
    let server = named(&spans, "POST /items/{id}");
    let client = named(&spans, "POST");
    for span in [server, client] {
        // Text headers are recorded, the others left out.
        assert!(attr(span, "http.request.header.x-request-id").is_some());
        assert!(attr(span, "http.request.header.x-custom").is_none());
        assert!(!is_error(span));
        assert_eq!(attr_i64(span, c::HTTP_RESPONSE_STATUS_CODE), Some(200));
    }
    assert!(attr(server, c::USER_AGENT_ORIGINAL).is_none());
    assert_eq!(
        attr_str(server, c::URL_PATH).as_deref(),
        Some("/items/%FF%FE")
    );
}

#[tokio::test]
async fn a_garbage_traceparent_starts_a_new_trace() {
    let t = telemetry();
    let addr = server().await;
    for garbage in [
        &b"00-\xff\xfe-zz-01"[..],
        b"00-00000000000000000000000000000000-0000000000000000-01",
        b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        b"",
    ] {
        let mut request = reqwest::Client::new()
            .post(format!("http://{addr}/items/garbage"))
            .header("x-request-id", "garbage-traceparent")
            .body("ok");
        if let Ok(v) = HeaderValue::from_bytes(garbage) {
            request = request.header("traceparent", v);
        }
        let resp = request.send().await.expect("the call succeeds");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), b"ok");
    }
    // Four server spans, each a root of its own valid trace.
    let mut found = Vec::new();
    for _ in 0..100 {
        found = t
            .exporter
            .get_finished_spans()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| {
                s.name == "POST /items/{id}"
                    && attr_str(s, c::URL_PATH).as_deref() == Some("/items/garbage")
            })
            .collect();
        if found.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(found.len(), 4);
    for s in &found {
        assert!(s.span_context.is_valid());
        assert_eq!(s.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    }
}
