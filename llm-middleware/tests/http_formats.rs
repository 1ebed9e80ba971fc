//! GenAiMiddleware against a mock provider on loopback, for each wire format, JSON and
//! SSE: the exported span (name, kind, attributes) and the metrics, and that the
//! caller receives exactly what the server sent.

mod common;

use aitrace_core::conventions::{self as c, Provider};
use aitrace_core::cost::PriceTable;
use aitrace_core::usage::Usage;
use aitrace_llm::{GenAiConfig, GenAiMiddleware};
use common::{float, has, int, string};
use futures_util::StreamExt;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Array, KeyValue, Value};
use reqwest_middleware::ClientWithMiddleware;
use serde_json::json;
use tracing::Instrument;

fn client(config: GenAiConfig) -> ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(config))
        .build()
}

async fn post(client: &ClientWithMiddleware, url: &str, body: serde_json::Value) -> (u16, String) {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

fn expected_cost(provider: Provider, model: &str, usage: Usage) -> f64 {
    PriceTable::embedded()
        .cost(Some(&provider), model, &usage)
        .expect("priced")
        .usd()
}

fn strings(v: &[&str]) -> Value {
    Value::Array(Array::String(
        v.iter().map(|s| (*s).to_owned().into()).collect(),
    ))
}

#[tokio::test]
async fn openai_chat_json() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("openai_chat_json");
    let client = client(GenAiConfig::default());
    let (status, text) = post(
        &client,
        &server.url("/v1/chat/completions"),
        json!({"model":"gpt-4o-mini","temperature":0.5,"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}),
    )
    .instrument(root)
    .await;
    assert_eq!(status, 200);
    assert!(text.contains("\"Hello!\""));

    let s = common::span(trace, "chat ").await;
    assert_eq!(s.name, "chat gpt-4o-mini");
    assert_eq!(s.span_kind, SpanKind::Client);
    assert_eq!(string(&s, c::GEN_AI_OPERATION_NAME), "chat");
    assert_eq!(string(&s, c::GEN_AI_PROVIDER_NAME), "openai");
    assert_eq!(string(&s, c::GEN_AI_REQUEST_MODEL), "gpt-4o-mini");
    assert_eq!(
        string(&s, c::GEN_AI_RESPONSE_MODEL),
        "gpt-4o-mini-2024-07-18"
    );
    assert_eq!(string(&s, c::GEN_AI_RESPONSE_ID), "chatcmpl-1");
    assert_eq!(float(&s, c::GEN_AI_REQUEST_TEMPERATURE), 0.5);
    assert_eq!(int(&s, c::GEN_AI_REQUEST_MAX_TOKENS), 100);
    assert_eq!(
        common::attr(&s, c::GEN_AI_RESPONSE_FINISH_REASONS),
        Some(strings(&["stop"]))
    );
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 1200);
    assert_eq!(int(&s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 300);
    assert_eq!(int(&s, c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS), 1000);
    assert_eq!(int(&s, c::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS), 100);
    assert_eq!(string(&s, c::SERVER_ADDRESS), "127.0.0.1");
    assert_eq!(int(&s, c::SERVER_PORT), i64::from(server.addr.port()));
    assert_eq!(int(&s, c::HTTP_RESPONSE_STATUS_CODE), 200);
    let usage = Usage::new(1200, 300)
        .with_cache_read(1000)
        .with_reasoning(100);
    assert_eq!(
        float(&s, c::GEN_AI_USAGE_COST),
        expected_cost(Provider::OpenAi, "gpt-4o-mini", usage)
    );
    assert!(!has(&s, c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK));
    assert!(
        !has(&s, c::GEN_AI_INPUT_MESSAGES),
        "content is off by default"
    );
    // The span is a child of the caller's span.
    let root_span = common::span(trace, "test root").await;
    assert_eq!(s.parent_span_id, root_span.span_context.span_id());

    let model = KeyValue::new(c::GEN_AI_REQUEST_MODEL, "gpt-4o-mini");
    let (count, _) = common::histogram(c::METRIC_OPERATION_DURATION, std::slice::from_ref(&model));
    assert!(count >= 1);
    let (_, input) = common::histogram(
        c::METRIC_TOKEN_USAGE,
        &[model.clone(), KeyValue::new(c::GEN_AI_TOKEN_TYPE, "input")],
    );
    assert!(input >= 1200.0 && input % 1200.0 == 0.0, "{input}");
}

#[tokio::test]
async fn openai_chat_stream_with_usage_injection() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("openai_chat_stream");
    let client = client(GenAiConfig::default().with_stream_usage(true));
    let mut received = Vec::new();
    async {
        let resp = client
            .post(server.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(json!({"model":"gpt-4o-mini","stream":true,"messages":[]}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            received.extend_from_slice(&chunk.unwrap());
        }
    }
    .instrument(root)
    .await;
    assert_eq!(
        server.last_request()["stream_options"]["include_usage"],
        true
    );
    let text = String::from_utf8(received).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(
        text.matches("data: ").count(),
        6,
        "every event reached the caller"
    );

    let s = common::span(trace, "chat ").await;
    assert_eq!(
        common::attr(&s, c::GEN_AI_REQUEST_STREAM),
        Some(Value::Bool(true))
    );
    let ttfc = float(&s, c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK);
    assert!(ttfc > 0.0 && ttfc < 5.0, "{ttfc}");
    assert_eq!(int(&s, c::AITRACE_STREAM_CHUNKS), 6);
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 1200);
    assert_eq!(
        common::attr(&s, c::GEN_AI_RESPONSE_FINISH_REASONS),
        Some(strings(&["stop"]))
    );
    assert!(has(&s, c::GEN_AI_USAGE_COST));
    let (count, sum) = common::histogram(
        c::METRIC_TIME_TO_FIRST_CHUNK,
        &[KeyValue::new(c::GEN_AI_REQUEST_MODEL, "gpt-4o-mini")],
    );
    assert!(count >= 1 && sum > 0.0);
}

#[tokio::test]
async fn openai_stream_without_usage_says_so() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("openai_stream_no_usage");
    let client = client(GenAiConfig::default());
    let (_, text) = post(
        &client,
        &server.url("/v1/chat/completions"),
        json!({"model":"gpt-4o-mini","stream":true,"messages":[]}),
    )
    .instrument(root)
    .await;
    assert!(text.contains("[DONE]"));
    let s = common::span(trace, "chat ").await;
    assert_eq!(
        common::attr(&s, c::AITRACE_USAGE_KNOWN),
        Some(Value::Bool(false))
    );
    assert_eq!(string(&s, c::AITRACE_COST_UNAVAILABLE), "usage_unknown");
    assert!(!has(&s, c::GEN_AI_USAGE_COST));
    assert_eq!(
        common::attr(&s, c::GEN_AI_RESPONSE_FINISH_REASONS),
        Some(strings(&["stop"]))
    );
}

#[tokio::test]
async fn anthropic_json_and_stream() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("anthropic");
    let client = client(GenAiConfig::default().with_provider(Provider::Anthropic));
    let body = json!({"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"salut"}]});
    let (_, text) = post(&client, &server.url("/v1/messages"), body.clone())
        .instrument(root.clone())
        .await;
    assert!(text.contains("Bonjour"));
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let (_, sse) = post(&client, &server.url("/v1/messages"), streamed)
        .instrument(root)
        .await;
    assert!(sse.contains("message_stop"));

    let spans: Vec<_> = common::spans(trace)
        .into_iter()
        .filter(|s| s.name == "chat claude-sonnet-4-5")
        .collect();
    assert_eq!(spans.len(), 2);
    let usage = Usage::from_anthropic(20, 1000, 100, 50);
    for s in &spans {
        assert_eq!(string(s, c::GEN_AI_PROVIDER_NAME), "anthropic");
        assert_eq!(
            string(s, c::GEN_AI_RESPONSE_MODEL),
            "claude-sonnet-4-5-20250929"
        );
        assert_eq!(int(s, c::GEN_AI_USAGE_INPUT_TOKENS), 1120);
        assert_eq!(int(s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 50);
        assert_eq!(int(s, c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS), 1000);
        assert_eq!(int(s, c::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS), 100);
        // The pre-v0.1 name only with `gen_ai_legacy`.
        assert!(!has(s, c::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS));
        assert_eq!(
            common::attr(s, c::GEN_AI_RESPONSE_FINISH_REASONS),
            Some(strings(&["end_turn"]))
        );
        assert_eq!(
            float(s, c::GEN_AI_USAGE_COST),
            expected_cost(Provider::Anthropic, "claude-sonnet-4-5", usage)
        );
    }
    let streamed = spans
        .iter()
        .find(|s| has(s, c::GEN_AI_REQUEST_STREAM))
        .unwrap();
    assert!(float(streamed, c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0.0);
}

#[tokio::test]
async fn gemini_json_and_stream() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("gemini");
    let client = client(GenAiConfig::default());
    let body = json!({"contents":[{"role":"user","parts":[{"text":"hallo"}]}],"generationConfig":{"temperature":0.1,"maxOutputTokens":64}});
    post(
        &client,
        &server.url("/v1beta/models/gemini-2.5-flash:generateContent"),
        body.clone(),
    )
    .instrument(root.clone())
    .await;
    let (_, sse) = post(
        &client,
        &server.url("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
        body,
    )
    .instrument(root)
    .await;
    assert!(sse.contains("finishReason"));
    let spans: Vec<_> = common::spans(trace)
        .into_iter()
        .filter(|s| s.name == "generate_content gemini-2.5-flash")
        .collect();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let usage = Usage::new(40, 20).with_reasoning(8).with_cache_read(16);
    for s in &spans {
        // 127.0.0.1 is not Google's host: the format's provider is used.
        assert_eq!(string(s, c::GEN_AI_PROVIDER_NAME), "gcp.gemini");
        assert_eq!(int(s, c::GEN_AI_USAGE_INPUT_TOKENS), 40);
        assert_eq!(int(s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 20);
        assert_eq!(int(s, c::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS), 8);
        assert_eq!(int(s, c::GEN_AI_REQUEST_MAX_TOKENS), 64);
        assert_eq!(
            common::attr(s, c::GEN_AI_RESPONSE_FINISH_REASONS),
            Some(strings(&["STOP"]))
        );
        assert_eq!(
            float(s, c::GEN_AI_USAGE_COST),
            expected_cost(Provider::Gemini, "gemini-2.5-flash", usage)
        );
    }
}

#[tokio::test]
async fn responses_api_json_and_stream_and_embeddings() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("responses");
    let client = client(GenAiConfig::default());
    post(
        &client,
        &server.url("/v1/responses"),
        json!({"model":"gpt-4.1","input":"do it"}),
    )
    .instrument(root.clone())
    .await;
    post(
        &client,
        &server.url("/v1/responses"),
        json!({"model":"gpt-4.1","input":"do it","stream":true}),
    )
    .instrument(root.clone())
    .await;
    post(
        &client,
        &server.url("/v1/embeddings"),
        json!({"model":"text-embedding-3-small","input":"x"}),
    )
    .instrument(root)
    .await;
    let all = common::spans(trace);
    let responses: Vec<_> = all.iter().filter(|s| s.name == "chat gpt-4.1").collect();
    assert_eq!(responses.len(), 2);
    for s in responses {
        assert_eq!(string(s, c::GEN_AI_RESPONSE_ID), "resp_1");
        assert_eq!(int(s, c::GEN_AI_USAGE_INPUT_TOKENS), 500);
        assert_eq!(int(s, c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS), 100);
        assert_eq!(
            common::attr(s, c::GEN_AI_RESPONSE_FINISH_REASONS),
            Some(strings(&["stop"]))
        );
        assert!(has(s, c::GEN_AI_USAGE_COST));
    }
    let emb = all
        .iter()
        .find(|s| s.name == "embeddings text-embedding-3-small")
        .unwrap();
    assert_eq!(string(emb, c::GEN_AI_OPERATION_NAME), "embeddings");
    assert_eq!(int(emb, c::GEN_AI_USAGE_INPUT_TOKENS), 8);
    assert!(has(emb, c::GEN_AI_USAGE_COST));
}

#[tokio::test]
async fn provider_errors_are_recorded_and_passed_through() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("errors");
    let client = client(GenAiConfig::default());
    let (status, text) = post(
        &client,
        &server.url("/v1/chat/completions"),
        json!({"model":"error-429","messages":[]}),
    )
    .instrument(root.clone())
    .await;
    assert_eq!(status, 429);
    assert!(text.contains("Rate limit reached"));
    let (status, text) = post(
        &client,
        &server.url("/v1/messages"),
        json!({"model":"overloaded","max_tokens":1,"messages":[]}),
    )
    .instrument(root)
    .await;
    assert_eq!(status, 529);
    assert!(text.contains("overloaded_error"));

    let s = common::span(trace, "chat error-429").await;
    assert_eq!(string(&s, c::ERROR_TYPE), "rate_limit_exceeded");
    assert_eq!(int(&s, c::HTTP_RESPONSE_STATUS_CODE), 429);
    assert!(
        matches!(s.status, opentelemetry::trace::Status::Error { ref description } if description.contains("Rate limit reached"))
    );
    let s = common::span(trace, "chat overloaded").await;
    assert_eq!(string(&s, c::ERROR_TYPE), "overloaded_error");
    assert_eq!(string(&s, c::GEN_AI_PROVIDER_NAME), "anthropic");
    let (count, _) = common::histogram(
        c::METRIC_OPERATION_DURATION,
        &[KeyValue::new(c::ERROR_TYPE, "overloaded_error")],
    );
    assert_eq!(count, 1);
}

#[tokio::test]
async fn malformed_json_is_marked_and_the_caller_gets_the_same_bytes() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("malformed");
    let client = client(GenAiConfig::default());
    let (status, text) = post(
        &client,
        &server.url("/v1/chat/completions"),
        json!({"model":"malformed","messages":[]}),
    )
    .instrument(root)
    .await;
    assert_eq!(status, 200);
    assert_eq!(text, r#"{"id":"x","choices":[{"#);
    let s = common::span(trace, "chat malformed").await;
    assert_eq!(
        string(&s, c::AITRACE_RESPONSE_PARSE_ERROR),
        "malformed_json"
    );
    assert_eq!(
        common::attr(&s, c::AITRACE_USAGE_KNOWN),
        Some(Value::Bool(false))
    );
    assert!(!has(&s, c::GEN_AI_USAGE_COST));
}

#[tokio::test]
async fn a_broken_stream_ends_the_span_in_error() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("broken");
    let client = client(GenAiConfig::default());
    let (_, text) = post(
        &client,
        &server.url("/v1/chat/completions"),
        json!({"model":"broken-stream","stream":true}),
    )
    .instrument(root)
    .await;
    assert!(
        text.ends_with("\"choi"),
        "the caller gets the cut stream as it was"
    );
    let s = common::span(trace, "chat broken-stream").await;
    assert_eq!(string(&s, c::ERROR_TYPE), "stream_truncated");
    assert_eq!(string(&s, c::GEN_AI_RESPONSE_ID), "c1");
}

#[tokio::test]
async fn a_stream_dropped_after_three_chunks_is_cancelled() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("dropped");
    let client = client(GenAiConfig::default());
    async {
        let resp = client
            .post(server.url("/v1/chat/completions"))
            .body(json!({"model":"slow-stream","stream":true}).to_string())
            .send()
            .await
            .unwrap();
        let mut body = resp.bytes_stream();
        let mut events = 0;
        while let Some(chunk) = body.next().await {
            events += String::from_utf8_lossy(&chunk.unwrap())
                .matches("data: ")
                .count();
            if events >= 3 {
                break;
            }
        }
        drop(body);
    }
    .instrument(root)
    .await;
    let s = common::span(trace, "chat slow-stream").await;
    assert_eq!(string(&s, c::ERROR_TYPE), "cancelled");
    assert_eq!(
        common::attr(&s, c::AITRACE_CANCELLED),
        Some(Value::Bool(true))
    );
    let chunks = int(&s, c::AITRACE_STREAM_CHUNKS);
    assert!((3..50).contains(&chunks), "{chunks}");
    assert!(s.events.iter().any(|e| e.name == "stream_cancelled"));
}

#[tokio::test]
async fn an_unknown_model_has_no_cost_and_says_why() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("unknown");
    let client = client(GenAiConfig::default());
    post(
        &client,
        &server.url("/v1/chat/completions"),
        json!({"model":"mystery-model-9","messages":[]}),
    )
    .instrument(root)
    .await;
    let s = common::span(trace, "chat mystery-model-9").await;
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 1200);
    assert!(!has(&s, c::GEN_AI_USAGE_COST));
    assert_eq!(string(&s, c::AITRACE_COST_UNAVAILABLE), "unknown_model");
}

#[tokio::test]
async fn content_is_captured_only_on_request_and_redacted() {
    use aitrace_core::content::{CaptureMode, ContentPolicy};
    let server = common::mock::start().await;
    let (root, trace) = common::root("content");
    let client = client(
        GenAiConfig::default()
            .with_content(ContentPolicy::default().with_mode(CaptureMode::SpanOnly)),
    );
    post(
        &client,
        &server.url("/v1/chat/completions"),
        json!({"model":"gpt-4o-mini","messages":[{"role":"system","content":"be nice"},
               {"role":"user","content":"my key is sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"}]}),
    )
    .instrument(root)
    .await;
    let s = common::span(trace, "chat ").await;
    let input = string(&s, c::GEN_AI_INPUT_MESSAGES);
    assert!(!input.contains("ABCDEFGHIJKLMNOP"), "{input}");
    assert!(input.contains("[REDACTED]"));
    let parsed: serde_json::Value = serde_json::from_str(&input).unwrap();
    // A Chat Completions system message is part of the history: kept in order.
    assert_eq!(parsed[0]["role"], "system");
    assert_eq!(parsed[0]["parts"][0]["content"], "be nice");
    assert_eq!(parsed[1]["role"], "user");
    assert!(!has(&s, c::GEN_AI_SYSTEM_INSTRUCTIONS));
    let output: serde_json::Value =
        serde_json::from_str(&string(&s, c::GEN_AI_OUTPUT_MESSAGES)).unwrap();
    assert_eq!(output[0]["parts"][0]["content"], "Hello!");
    assert_eq!(output[0]["finish_reason"], "stop");
}

#[tokio::test]
async fn other_requests_pass_through_untouched() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("passthrough");
    let client = client(GenAiConfig::default());
    let resp = client
        .get(server.url("/v1/chat/completions"))
        .send()
        .instrument(root)
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(
        common::spans(trace)
            .iter()
            .filter(|s| s.name != "test root")
            .count(),
        0
    );
}
