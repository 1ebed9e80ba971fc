//! Bad input through `GenAiMiddleware`, against a provider on loopback that answers
//! badly: every case ends with a clear marker on the span (or an error status), never a
//! panic, and the caller always gets exactly the bytes the server sent.
//!
//! (Truncated JSON, a stream cut mid-event, a dropped stream and an unknown model are
//! in `http_formats.rs`.)

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use aitrace_core::conventions::{self as c, Provider};
use aitrace_llm::{GenAiConfig, GenAiMiddleware, DEFAULT_MAX_BODY_BYTES};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing;
use axum::Router;
use common::{has, int, string};
use futures_util::stream;
use opentelemetry::Value;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::json;
use tracing::Instrument;

/// What the bad provider answers, chosen by the request's model.
fn answer(model: &str) -> Response {
    let json = |body: Vec<u8>| {
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    match model {
        "wrong-shape" => json(
            br#"{"id":7,"choices":"none","usage":{"prompt_tokens":"ten","completion_tokens":[1]}}"#
                .to_vec(),
        ),
        "json-array" => json(br#"[1,2,3]"#.to_vec()),
        "non-utf8" => {
            let mut body = br#"{"id":"c1","model":"m","choices":[{"message":{"content":""#.to_vec();
            body.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
            body.extend_from_slice(br#""}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#);
            json(body)
        }
        "negative-usage" => json(
            br#"{"id":"c1","model":"gpt-4o-mini","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":-5,"completion_tokens":2}}"#
                .to_vec(),
        ),
        "absurd-usage" => json(
            br#"{"id":"c1","model":"gpt-4o-mini","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":9007199254740993,"completion_tokens":1e300}}"#
                .to_vec(),
        ),
        "huge" => json(huge_body()),
        "mystery-model-x" => json(
            br#"{"id":"c1","model":"mystery-model-x-2031","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#
                .to_vec(),
        ),
        "bad-header" => {
            let mut r = json(
                br#"{"id":"c1","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#
                    .to_vec(),
            );
            // Header values that are not strings (obs-text bytes).
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_bytes(b"application/json; charset=\xff\xfe").unwrap(),
            );
            r.headers_mut()
                .insert("x-weird", HeaderValue::from_bytes(b"\xc3\x28\x80").unwrap());
            r
        }
        "huge-event" | "non-utf8-stream" => {
            let events: Vec<Vec<u8>> = if model == "huge-event" {
                vec![
                    b"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n".to_vec(),
                    // One event larger than the 1 MiB event limit, in many chunks.
                    format!("data: {{\"id\":\"c1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}}}}]}}\n\n", "x".repeat(2 << 20)).into_bytes(),
                    b"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n".to_vec(),
                    b"data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\n".to_vec(),
                    b"data: [DONE]\n\n".to_vec(),
                ]
            } else {
                vec![
                    b"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xff\xfe\"}}]}\n\n".to_vec(),
                    b"data: \xc3\x28 not json\n\n".to_vec(),
                    b"data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\n".to_vec(),
                    b"data: [DONE]\n\n".to_vec(),
                ]
            };
            let chunks: Vec<Result<Bytes, Infallible>> = events
                .into_iter()
                .flat_map(|e| e.chunks(64 * 1024).map(Bytes::copy_from_slice).collect::<Vec<_>>())
                .map(Ok)
                .collect();
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(stream::iter(chunks)))
                .unwrap()
        }
        _ => Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Body::from("unknown case"))
            .unwrap(),
    }
}

/// 10 MiB of valid JSON, its usage at the very end (past the buffering cap).
fn huge_body() -> Vec<u8> {
    let head = br#"{"id":"c1","model":"gpt-4o-mini","choices":[{"message":{"content":""#;
    let tail = br#""},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":6}}"#;
    let fill = 10 * 1024 * 1024 - head.len() - tail.len();
    let mut body = Vec::with_capacity(10 * 1024 * 1024);
    body.extend_from_slice(head);
    body.extend((0..fill).map(|i| b'a' + (i % 26) as u8));
    body.extend_from_slice(tail);
    body
}

async fn start() -> SocketAddr {
    let app = Router::new().route(
        "/v1/chat/completions",
        routing::post(|body: Bytes| async move {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            answer(v["model"].as_str().unwrap_or("not-json"))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn client(config: GenAiConfig) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(config))
        .build()
}

/// Posts `body`; returns the status, headers and body bytes the caller got.
async fn post(
    client: &ClientWithMiddleware,
    addr: SocketAddr,
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = client
        .post(format!("http://{addr}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the call succeeds");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("the body reads").to_vec();
    (status, headers, bytes)
}

fn request(model: &str) -> Vec<u8> {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .into_bytes()
}

/// The same bytes, straight from the server (no middleware).
async fn direct(addr: SocketAddr, body: Vec<u8>) -> Vec<u8> {
    reqwest::Client::new()
        .post(format!("http://{addr}/v1/chat/completions"))
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

async fn case(model: &str, config: GenAiConfig) -> (Vec<u8>, opentelemetry_sdk::trace::SpanData) {
    let addr = start().await;
    let (root, trace) = common::root("bad input");
    let (status, _, bytes) = post(&client(config), addr, request(model))
        .instrument(root)
        .await;
    assert_eq!(status, 200, "{model}");
    assert_eq!(
        bytes,
        direct(addr, request(model)).await,
        "{model}: the caller's bytes changed"
    );
    let span = common::span(trace, "chat ").await;
    (bytes, span)
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_marked() {
    for model in ["wrong-shape", "json-array"] {
        let (_, s) = case(model, GenAiConfig::default()).await;
        assert_eq!(
            string(&s, c::AITRACE_RESPONSE_PARSE_ERROR),
            "malformed_json",
            "{model}"
        );
        assert_eq!(
            common::attr(&s, c::AITRACE_USAGE_KNOWN),
            Some(Value::Bool(false))
        );
        assert!(!has(&s, c::GEN_AI_USAGE_COST));
        assert!(!has(&s, c::GEN_AI_USAGE_INPUT_TOKENS));
    }
}

#[tokio::test]
async fn a_request_body_that_is_not_json_is_marked_and_sent_unchanged() {
    let addr = start().await;
    let (root, trace) = common::root("bad request");
    let body = b"{\"model\": \"gpt-4o\", \"messages\": [\xff\xfe".to_vec();
    let (status, _, bytes) = post(&client(GenAiConfig::default()), addr, body)
        .instrument(root)
        .await;
    // The server could not read it either: its own answer comes back as it was.
    assert_eq!(status, 400);
    assert_eq!(bytes, b"unknown case");
    let s = common::span(trace, "chat").await;
    assert_eq!(string(&s, "aitrace.request.parse_error"), "malformed_json");
    assert_eq!(string(&s, c::ERROR_TYPE), "400");
}

#[tokio::test]
async fn non_utf8_bytes_are_marked_and_passed_through() {
    use aitrace_core::content::{CaptureMode, ContentPolicy};
    // Content not captured: the invalid text is skipped unread, the usage is found.
    let (bytes, s) = case("non-utf8", GenAiConfig::default()).await;
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the caller gets the raw bytes"
    );
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 3);
    // Content captured: the text must be read, and cannot be: marked.
    let capture = GenAiConfig::default()
        .with_content(ContentPolicy::default().with_mode(CaptureMode::SpanOnly));
    let (bytes, s) = case("non-utf8", capture).await;
    assert!(std::str::from_utf8(&bytes).is_err());
    assert_eq!(
        string(&s, c::AITRACE_RESPONSE_PARSE_ERROR),
        "malformed_json"
    );
    assert!(!has(&s, c::GEN_AI_OUTPUT_MESSAGES));

    // In a stream: the broken events are skipped and marked, the rest is read.
    let (bytes, s) = case("non-utf8-stream", GenAiConfig::default()).await;
    assert!(bytes.windows(2).any(|w| w == [0xff, 0xfe]));
    assert_eq!(
        string(&s, c::AITRACE_RESPONSE_PARSE_ERROR),
        "malformed_json"
    );
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 7);
    assert_eq!(int(&s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 3);
    assert_eq!(s.status, opentelemetry::trace::Status::Unset);
}

#[tokio::test]
async fn negative_and_absurd_token_counts_are_rejected() {
    for model in ["negative-usage", "absurd-usage"] {
        let (_, s) = case(model, GenAiConfig::default()).await;
        let marker = string(&s, c::AITRACE_RESPONSE_PARSE_ERROR);
        assert!(
            marker == "invalid_usage" || marker == "malformed_json",
            "{model}: {marker}"
        );
        assert!(
            !has(&s, c::GEN_AI_USAGE_INPUT_TOKENS),
            "{model}: no made-up tokens"
        );
        assert!(!has(&s, c::GEN_AI_USAGE_COST), "{model}: no made-up cost");
        assert_eq!(
            common::attr(&s, c::AITRACE_USAGE_KNOWN),
            Some(Value::Bool(false))
        );
    }
    // Negative counts are named as such.
    let (_, s) = case("negative-usage", GenAiConfig::default()).await;
    assert_eq!(string(&s, c::AITRACE_RESPONSE_PARSE_ERROR), "invalid_usage");
}

#[tokio::test]
async fn a_10_mib_body_is_passed_whole_and_buffered_only_up_to_the_cap() {
    let (bytes, s) = case("huge", GenAiConfig::default()).await;
    assert_eq!(bytes.len(), 10 * 1024 * 1024);
    assert_eq!(bytes, huge_body(), "byte-identical");
    const { assert!(10 * 1024 * 1024 > DEFAULT_MAX_BODY_BYTES) };
    assert_eq!(
        common::attr(&s, c::AITRACE_RESPONSE_TRUNCATED),
        Some(Value::Bool(true))
    );
    assert_eq!(
        common::attr(&s, c::AITRACE_USAGE_KNOWN),
        Some(Value::Bool(false))
    );
    assert_eq!(s.status, opentelemetry::trace::Status::Unset);

    // Under a larger cap, the same body is read to its usage.
    let (_, s) = case(
        "huge",
        GenAiConfig::default().with_max_body_bytes(16 * 1024 * 1024),
    )
    .await;
    assert!(!has(&s, c::AITRACE_RESPONSE_TRUNCATED));
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 5);
}

#[tokio::test]
async fn an_sse_event_larger_than_the_limit_is_skipped_and_counted() {
    let (bytes, s) = case("huge-event", GenAiConfig::default()).await;
    assert!(bytes.len() > 2 << 20, "the caller gets the whole event");
    assert_eq!(int(&s, c::AITRACE_STREAM_OVERSIZED_EVENTS), 1);
    // The events after it are still read.
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 7);
    assert_eq!(int(&s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 3);
    assert_eq!(string(&s, c::GEN_AI_RESPONSE_ID), "c1");
}

#[tokio::test]
async fn header_values_that_are_not_strings_change_nothing() {
    let addr = start().await;
    let (root, trace) = common::root("bad header");
    let client = client(GenAiConfig::default());
    let (status, headers, bytes) = post(&client, addr, request("bad-header"))
        .instrument(root)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("x-weird").map(|v| v.as_bytes().to_vec()),
        Some(b"\xc3\x28\x80".to_vec()),
        "the caller's headers are unchanged"
    );
    assert_eq!(
        headers.get("content-type").map(|v| v.as_bytes().to_vec()),
        Some(b"application/json; charset=\xff\xfe".to_vec())
    );
    assert_eq!(bytes, direct(addr, request("bad-header")).await);
    // An unreadable content type is read as JSON: the usage is still found.
    let s = common::span(trace, "chat bad-header").await;
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 4);
}

#[tokio::test]
async fn an_unknown_provider_and_model_get_no_cost_and_say_why() {
    let addr = start().await;
    let (root, trace) = common::root("unknown provider");
    let config = GenAiConfig::default().with_provider(Provider::Other("my-own-llm".into()));
    post(&client(config), addr, request("mystery-model-x"))
        .instrument(root)
        .await;
    let s = common::span(trace, "chat mystery-model-x").await;
    assert_eq!(string(&s, c::GEN_AI_PROVIDER_NAME), "my-own-llm");
    assert_eq!(string(&s, c::GEN_AI_RESPONSE_MODEL), "mystery-model-x-2031");
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 4);
    assert!(!has(&s, c::GEN_AI_USAGE_COST), "never a made-up cost");
    assert_eq!(string(&s, c::AITRACE_COST_UNAVAILABLE), "unknown_model");
    assert_eq!(s.status, opentelemetry::trace::Status::Unset);
}
