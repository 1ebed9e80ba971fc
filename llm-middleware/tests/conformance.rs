//! Conformance with the GenAI semantic conventions (semantic-conventions-genai), checked
//! on what a collector receives: the exported spans, log records (events) and metric
//! points of calls made through `GenAiMiddleware` to a mock provider on loopback.
//! Also how streams and bodies end: at their terminal event, when a client drops them
//! after it, when data follows it, when it never comes, and when a gateway forwards a
//! known-length body.

mod common;

use aitrace_core::content::{CaptureMode, ContentPolicy};
use aitrace_core::conventions::{self as c};
use aitrace_llm::{GenAiConfig, GenAiMiddleware};
use common::{has, int, log_attr, string};
use futures_util::StreamExt;
use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{FutureExt as _, Status, TraceContextExt};
use opentelemetry::{Array, Key, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::json;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

fn client(config: GenAiConfig) -> ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(config))
        .build()
}

fn capture(mode: CaptureMode) -> GenAiConfig {
    GenAiConfig::default().with_content(ContentPolicy::default().with_mode(mode))
}

async fn post(client: &ClientWithMiddleware, url: &str, body: serde_json::Value) -> String {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Reads a streamed body until `marker` has been seen, then drops it, as async-openai
/// does at `data: [DONE]`.
async fn read_until_then_drop(response: reqwest::Response, marker: &str) {
    let mut seen = String::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if seen.contains(marker) {
            break;
        }
    }
    assert!(seen.contains(marker), "{seen}");
    drop(body);
}

fn assert_ok(s: &SpanData) {
    assert_eq!(s.status, Status::Unset, "{}: {:?}", s.name, s.status);
    assert!(!has(s, c::ERROR_TYPE), "{s:#?}");
    assert!(!has(s, c::AITRACE_CANCELLED), "{s:#?}");
    assert!(
        s.events.iter().all(|e| e.name != "stream_cancelled"),
        "{s:#?}"
    );
}

fn strings(s: &SpanData, key: &str) -> Vec<String> {
    match common::attr(s, key) {
        Some(Value::Array(Array::String(v))) => v.iter().map(|s| s.to_string()).collect(),
        other => panic!("{key} is {other:?}"),
    }
}

#[tokio::test]
async fn a_stream_dropped_after_its_terminal_event_ended_normally_in_every_format() {
    let server = common::mock::start().await;
    let client = client(GenAiConfig::default());
    let cases = [
        (
            "/v1/chat/completions",
            json!({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}),
            "[DONE]",
            "chat gpt-4o-mini",
        ),
        (
            "/v1/messages",
            json!({"model":"claude-sonnet-4-5","stream":true,"max_tokens":10,"messages":[]}),
            "message_stop",
            "chat claude-sonnet-4-5",
        ),
        (
            "/v1/responses",
            json!({"model":"gpt-4.1","stream":true,"input":"hi"}),
            "response.completed",
            "chat gpt-4.1",
        ),
        (
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            json!({"contents":[]}),
            "finishReason",
            "generate_content gemini-2.5-flash",
        ),
    ];
    for (path, body, marker, name) in cases {
        let (root, trace) = common::root(name);
        async {
            let response = client
                .post(server.url(path))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            read_until_then_drop(response, marker).await;
        }
        .instrument(root)
        .await;
        let s = common::span(trace, name).await;
        assert_ok(&s);
        assert!(int(&s, c::GEN_AI_USAGE_OUTPUT_TOKENS) > 0, "{name}");
        let point = common::histogram(
            c::METRIC_OPERATION_DURATION,
            &[KeyValue::new(
                c::GEN_AI_REQUEST_MODEL,
                body["model"]
                    .as_str()
                    .unwrap_or("gemini-2.5-flash")
                    .to_owned(),
            )],
        );
        assert!(point.0 >= 1, "{name}");
    }
}

#[tokio::test]
async fn a_stream_dropped_before_its_end_is_still_cancelled() {
    let server = common::mock::start().await;
    let client = client(GenAiConfig::default());
    let (root, trace) = common::root("early drop");
    async {
        let response = client
            .post(server.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(json!({"model":"slow-stream","stream":true,"messages":[]}).to_string())
            .send()
            .await
            .unwrap();
        read_until_then_drop(response, "\"w\"").await;
    }
    .instrument(root)
    .await;
    let s = common::span(trace, "chat slow-stream").await;
    assert_eq!(string(&s, c::ERROR_TYPE), c::ERROR_TYPE_CANCELLED);
    assert!(matches!(s.status, Status::Error { .. }));
}

#[tokio::test]
async fn data_after_done_is_ignored() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("after done");
    post(
        &client(capture(CaptureMode::SpanOnly)),
        &server.url("/v1/chat/completions"),
        json!({"model":"after-done","stream":true,"stream_options":{"include_usage":true},"messages":[]}),
    )
    .instrument(root)
    .await;
    let s = common::span(trace, "chat after-done").await;
    assert_ok(&s);
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 1200);
    assert_eq!(int(&s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 300);
    assert_eq!(strings(&s, c::GEN_AI_RESPONSE_FINISH_REASONS), ["stop"]);
    let output: serde_json::Value =
        serde_json::from_str(&string(&s, c::GEN_AI_OUTPUT_MESSAGES)).unwrap();
    assert_eq!(output[0]["finish_reason"], "stop");
    assert_eq!(output[0]["parts"][0]["content"], "Hello!");
}

#[tokio::test]
async fn a_stream_that_ends_before_its_terminal_event_is_incomplete() {
    let server = common::mock::start().await;
    let client = client(GenAiConfig::default());
    let (root, trace) = common::root("incomplete");
    async {
        post(
            &client,
            &server.url("/v1/chat/completions"),
            json!({"model":"no-done","stream":true,"messages":[]}),
        )
        .await;
        post(
            &client,
            &server.url("/v1/messages"),
            json!({"model":"no-stop","stream":true,"max_tokens":10,"messages":[]}),
        )
        .await;
    }
    .instrument(root)
    .await;
    for name in ["chat no-done", "chat no-stop"] {
        let s = common::span(trace, name).await;
        assert_eq!(
            string(&s, c::ERROR_TYPE),
            c::ERROR_TYPE_INCOMPLETE_STREAM,
            "{name}"
        );
        assert!(matches!(s.status, Status::Error { .. }), "{name}");
    }
    let s = common::span(trace, "chat no-done").await;
    assert_eq!(strings(&s, c::GEN_AI_RESPONSE_FINISH_REASONS), ["error"]);
    // Anthropic said why it stopped before the stream broke off: that reason stays.
    let s = common::span(trace, "chat no-stop").await;
    assert_eq!(strings(&s, c::GEN_AI_RESPONSE_FINISH_REASONS), ["end_turn"]);
}

#[derive(Clone)]
struct Gateway {
    llm: ClientWithMiddleware,
    upstream: String,
    cx: opentelemetry::Context,
}

/// The gateway's handler: the provider's response, body and all, to its own client.
async fn forward(
    axum::extract::State(g): axum::extract::State<Gateway>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let resp = g
        .llm
        .post(g.upstream.clone())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .with_context(g.cx.clone())
        .await
        .unwrap();
    let resp: http::Response<reqwest::Body> = resp.into();
    resp.map(axum::body::Body::new)
}

/// An LLM gateway: an axum handler that returns the provider's response (through our
/// middleware) to its own client. hyper stops polling a known-length body once its
/// bytes are written, and never asks for its end.
#[tokio::test]
async fn a_gateway_forwarding_a_known_length_body_records_the_call() {
    use axum::routing::post as route_post;
    let server = common::mock::start().await;
    let (root, trace) = common::root("gateway");
    let upstream = server.url("/v1/chat/completions");
    let cx = root.context();
    let llm = client(GenAiConfig::default());
    let app = axum::Router::new()
        .route("/proxy", route_post(forward))
        .with_state(Gateway { llm, upstream, cx });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let text = reqwest::Client::new()
        .post(format!("http://{addr}/proxy"))
        .header("content-type", "application/json")
        .body(json!({"model":"gpt-4o-mini","messages":[]}).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("Hello!"), "{text}");
    let s = common::span(trace, "chat gpt-4o-mini").await;
    assert_ok(&s);
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 1200);
    assert!(has(&s, c::GEN_AI_USAGE_COST));
}

#[tokio::test]
async fn responses_output_messages_have_a_finish_reason() {
    let server = common::mock::start().await;
    let client = client(capture(CaptureMode::SpanOnly));
    let (root, trace) = common::root("responses finish");
    async {
        post(
            &client,
            &server.url("/v1/responses"),
            json!({"model":"gpt-4.1","input":"hi","previous_response_id":"resp_0","reasoning":{"effort":"low"}}),
        )
        .await;
        post(
            &client,
            &server.url("/v1/responses"),
            json!({"model":"gpt-4.1","input":"hi","stream":true}),
        )
        .await;
    }
    .instrument(root)
    .await;
    let spans: Vec<SpanData> = common::spans(trace)
        .into_iter()
        .filter(|s| s.name == "chat gpt-4.1")
        .collect();
    assert_eq!(spans.len(), 2);
    for s in &spans {
        let output: serde_json::Value =
            serde_json::from_str(&string(s, c::GEN_AI_OUTPUT_MESSAGES)).unwrap();
        assert_eq!(output[0]["role"], "assistant");
        assert_eq!(output[0]["finish_reason"], "stop", "{output}");
        assert_eq!(string(s, c::OPENAI_API_TYPE), "responses");
    }
    let first = spans
        .iter()
        .find(|s| !has(s, c::GEN_AI_REQUEST_STREAM))
        .unwrap();
    assert_eq!(
        string(first, c::GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID),
        "resp_0"
    );
    assert_eq!(string(first, c::GEN_AI_REQUEST_REASONING_LEVEL), "low");
    // A previous response is not a conversation.
    assert!(!has(first, c::GEN_AI_CONVERSATION_ID));
}

#[tokio::test]
async fn openai_attributes_on_spans_and_metric_points() {
    let server = common::mock::start().await;
    let client = client(GenAiConfig::default());
    let (root, trace) = common::root("openai attrs");
    async {
        post(
            &client,
            &server.url("/v1/chat/completions"),
            json!({"model":"o3","service_tier":"flex","reasoning_effort":"high","messages":[]}),
        )
        .await;
        post(
            &client,
            &server.url("/v1/chat/completions"),
            json!({"model":"gpt-4o-mini","service_tier":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[]}),
        )
        .await;
    }
    .instrument(root)
    .await;
    let s = common::span(trace, "chat o3").await;
    assert_eq!(string(&s, c::OPENAI_API_TYPE), "chat_completions");
    assert_eq!(string(&s, c::OPENAI_REQUEST_SERVICE_TIER), "flex");
    assert_eq!(string(&s, c::OPENAI_RESPONSE_SERVICE_TIER), "default");
    assert_eq!(string(&s, c::OPENAI_RESPONSE_SYSTEM_FINGERPRINT), "fp_x");
    assert_eq!(string(&s, c::GEN_AI_REQUEST_REASONING_LEVEL), "high");
    let streamed = common::span(trace, "chat gpt-4o-mini").await;
    // `auto` is not recorded (the conventions' condition).
    assert!(!has(&streamed, c::OPENAI_REQUEST_SERVICE_TIER));
    assert_eq!(
        string(&streamed, c::OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
        "fp_stream"
    );
    let (count, _) = common::histogram(
        c::METRIC_OPERATION_DURATION,
        &[
            KeyValue::new(c::GEN_AI_REQUEST_MODEL, "o3"),
            KeyValue::new(c::OPENAI_RESPONSE_SERVICE_TIER, "default"),
            KeyValue::new(c::OPENAI_RESPONSE_SYSTEM_FINGERPRINT, "fp_x"),
        ],
    );
    assert_eq!(count, 1);
}

#[tokio::test]
async fn embeddings_record_encoding_formats_and_no_output_tokens() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("embeddings");
    post(
        &client(GenAiConfig::default()),
        &server.url("/v1/embeddings"),
        json!({"model":"text-embedding-conformance","input":"hi","encoding_format":"base64"}),
    )
    .instrument(root)
    .await;
    let s = common::span(trace, "embeddings text-embedding-conformance").await;
    assert_eq!(strings(&s, c::GEN_AI_REQUEST_ENCODING_FORMATS), ["base64"]);
    assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 8);
    assert!(!has(&s, c::GEN_AI_USAGE_OUTPUT_TOKENS), "{s:#?}");
    let model = KeyValue::new(c::GEN_AI_REQUEST_MODEL, "text-embedding-conformance");
    let input = common::histogram(
        c::METRIC_TOKEN_USAGE,
        &[model.clone(), KeyValue::new(c::GEN_AI_TOKEN_TYPE, "input")],
    );
    let output = common::histogram(
        c::METRIC_TOKEN_USAGE,
        &[model, KeyValue::new(c::GEN_AI_TOKEN_TYPE, "output")],
    );
    assert_eq!(input, (1, 8.0));
    assert_eq!(output.0, 0, "no output token point");
}

#[tokio::test]
async fn tool_call_arguments_are_objects_and_tool_definitions_are_recorded() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("tools");
    post(
        &client(capture(CaptureMode::SpanOnly)),
        &server.url("/v1/chat/completions"),
        json!({"model":"tool-call",
               "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather by city",
                         "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
               "messages":[{"role":"user","content":"weather?"},
                           {"role":"assistant","tool_calls":[{"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
                           {"role":"tool","tool_call_id":"call_0","content":"sunny"},
                           {"role":"assistant","tool_calls":[{"id":"call_x","type":"function","function":{"name":"get_weather","arguments":"not json"}}]}]}),
    )
    .instrument(root)
    .await;
    let s = common::span(trace, "chat tool-call").await;
    let input: serde_json::Value =
        serde_json::from_str(&string(&s, c::GEN_AI_INPUT_MESSAGES)).unwrap();
    assert_eq!(input[1]["parts"][0]["arguments"], json!({"city": "Rome"}));
    assert_eq!(input[2]["parts"][0]["type"], "tool_call_response");
    assert_eq!(input[2]["parts"][0]["response"], "sunny");
    // Arguments that are not JSON stay the string sent.
    assert_eq!(input[3]["parts"][0]["arguments"], "not json");
    let output: serde_json::Value =
        serde_json::from_str(&string(&s, c::GEN_AI_OUTPUT_MESSAGES)).unwrap();
    assert_eq!(output[0]["parts"][0]["arguments"], json!({"city": "Paris"}));
    assert_eq!(output[0]["finish_reason"], "tool_calls");
    let tools: serde_json::Value =
        serde_json::from_str(&string(&s, c::GEN_AI_TOOL_DEFINITIONS)).unwrap();
    assert_eq!(
        tools,
        json!([{"type":"function","name":"get_weather","description":"Weather by city",
                "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}])
    );
}

#[tokio::test]
async fn tool_definitions_are_not_recorded_without_capture() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("tools off");
    post(
        &client(GenAiConfig::default()),
        &server.url("/v1/chat/completions"),
        json!({"model":"tool-call","tools":[{"type":"function","function":{"name":"secret_tool"}}],"messages":[]}),
    )
    .instrument(root)
    .await;
    let s = common::span(trace, "chat tool-call").await;
    assert!(!has(&s, c::GEN_AI_TOOL_DEFINITIONS));
    assert!(!has(&s, c::GEN_AI_INPUT_MESSAGES));
}

fn as_map(v: &AnyValue) -> &std::collections::HashMap<Key, AnyValue> {
    match v {
        AnyValue::Map(m) => m,
        other => panic!("not a map: {other:?}"),
    }
}

fn as_list(v: &AnyValue) -> &[AnyValue] {
    match v {
        AnyValue::ListAny(l) => l,
        other => panic!("not a list: {other:?}"),
    }
}

#[tokio::test]
async fn the_details_event_is_one_log_record_per_call_with_structured_messages() {
    let server = common::mock::start().await;
    let client = client(capture(CaptureMode::EventOnly));
    let (root, trace) = common::root("details");
    async {
        post(
            &client,
            &server.url("/v1/chat/completions"),
            json!({"model":"gpt-4o-mini","temperature":0.5,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}),
        )
        .await;
        post(
            &client,
            &server.url("/v1/chat/completions"),
            json!({"model":"error-429","messages":[{"role":"user","content":"again"}]}),
        )
        .await;
    }
    .instrument(root)
    .await;
    let ok = common::span(trace, "chat gpt-4o-mini").await;
    let failed = common::span(trace, "chat error-429").await;
    // EVENT_ONLY: no content on the spans, and no span events of that name.
    for s in [&ok, &failed] {
        assert!(!has(s, c::GEN_AI_INPUT_MESSAGES));
        assert!(s
            .events
            .iter()
            .all(|e| e.name != "gen_ai.client.inference.operation.details"));
    }
    let logs = common::logs(trace);
    let details: Vec<_> = logs
        .iter()
        .filter(|l| l.record.event_name() == Some("gen_ai.client.inference.operation.details"))
        .collect();
    assert_eq!(details.len(), 2, "one event per call: {logs:#?}");
    let of = |span: &SpanData| {
        details
            .iter()
            .find(|l| {
                l.record.trace_context().map(|t| t.span_id) == Some(span.span_context.span_id())
            })
            .copied()
            .unwrap_or_else(|| panic!("no details event for {}", span.name))
    };
    let event = of(&ok);
    assert_eq!(
        event.record.severity_number(),
        Some(opentelemetry::logs::Severity::Debug)
    );
    assert_eq!(
        log_attr(event, c::GEN_AI_OPERATION_NAME),
        Some(&AnyValue::from("chat"))
    );
    assert_eq!(
        log_attr(event, c::GEN_AI_REQUEST_MODEL),
        Some(&AnyValue::from("gpt-4o-mini"))
    );
    assert_eq!(
        log_attr(event, c::GEN_AI_REQUEST_TEMPERATURE),
        Some(&AnyValue::Double(0.5))
    );
    assert_eq!(
        log_attr(event, c::GEN_AI_USAGE_INPUT_TOKENS),
        Some(&AnyValue::Int(1200))
    );
    assert_eq!(
        log_attr(event, c::GEN_AI_RESPONSE_MODEL),
        Some(&AnyValue::from("gpt-4o-mini-2024-07-18"))
    );
    assert!(log_attr(event, c::ERROR_TYPE).is_none());
    let input = as_list(log_attr(event, c::GEN_AI_INPUT_MESSAGES).expect("input messages"));
    assert_eq!(input.len(), 2);
    let first = as_map(&input[0]);
    assert_eq!(
        first.get(&Key::from("role")),
        Some(&AnyValue::from("system"))
    );
    let parts = as_list(first.get(&Key::from("parts")).unwrap());
    assert_eq!(
        as_map(&parts[0]).get(&Key::from("content")),
        Some(&AnyValue::from("be brief"))
    );
    let output = as_list(log_attr(event, c::GEN_AI_OUTPUT_MESSAGES).expect("output messages"));
    assert_eq!(
        as_map(&output[0]).get(&Key::from("finish_reason")),
        Some(&AnyValue::from("stop"))
    );
    let event = of(&failed);
    assert_eq!(
        log_attr(event, c::ERROR_TYPE),
        Some(&AnyValue::from("rate_limit_exceeded"))
    );
    assert_eq!(
        failed.span_context.trace_id(),
        event.record.trace_context().unwrap().trace_id
    );
}

#[tokio::test]
async fn no_details_event_without_event_capture() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("no details");
    post(
        &client(capture(CaptureMode::SpanOnly)),
        &server.url("/v1/chat/completions"),
        json!({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}),
    )
    .instrument(root)
    .await;
    let s = common::span(trace, "chat gpt-4o-mini").await;
    assert!(has(&s, c::GEN_AI_INPUT_MESSAGES));
    assert!(common::logs(trace).is_empty());
}

#[tokio::test]
async fn the_provider_gets_the_call_spans_traceparent() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("propagation");
    post(
        &client(GenAiConfig::default()),
        &server.url("/v1/chat/completions"),
        json!({"model":"gpt-4o-mini","messages":[]}),
    )
    .instrument(root)
    .await;
    let s = common::span(trace, "chat gpt-4o-mini").await;
    let tp = server.last_traceparent();
    assert_eq!(
        tp,
        format!(
            "00-{}-{}-01",
            s.span_context.trace_id(),
            s.span_context.span_id()
        )
    );
    // Off on request.
    let (root, _) = common::root("no propagation");
    post(
        &client(GenAiConfig::default().with_propagation(false)),
        &server.url("/v1/chat/completions"),
        json!({"model":"gpt-4o-mini","messages":[]}),
    )
    .instrument(root)
    .await;
    assert_eq!(server.last_traceparent(), "");
}

#[tokio::test]
async fn scope_values_land_on_every_span_and_the_prompt_on_llm_calls() {
    use aitrace_core::context;
    use opentelemetry::trace::FutureExt as _;
    let server = common::mock::start().await;
    let (root, trace) = common::root("scope");
    let cx = {
        let _entered = root.enter();
        context::scope()
            .session_id("chat-42")
            .user_id("user-7")
            .tag("beta")
            .metadata("plan", "pro")
            .prompt("triage", Some("v3"))
            .context()
    };
    post(
        &client(GenAiConfig::default()),
        &server.url("/v1/chat/completions"),
        json!({"model":"gpt-4o-mini","messages":[]}),
    )
    .with_context(cx)
    .await;
    let s = common::span(trace, "chat gpt-4o-mini").await;
    assert_eq!(string(&s, c::SESSION_ID), "chat-42");
    assert_eq!(string(&s, c::USER_ID), "user-7");
    assert_eq!(strings(&s, c::TAG_TAGS), ["beta"]);
    assert_eq!(strings(&s, c::LANGFUSE_TRACE_TAGS), ["beta"]);
    assert_eq!(string(&s, c::METADATA), r#"{"plan":"pro"}"#);
    assert_eq!(string(&s, "langfuse.trace.metadata.plan"), "pro");
    assert_eq!(string(&s, c::GEN_AI_PROMPT_NAME), "triage");
    assert_eq!(string(&s, c::GEN_AI_PROMPT_VERSION), "v3");
}

#[tokio::test]
async fn evaluation_results_are_log_records_on_the_evaluated_span() {
    use aitrace_core::evaluation::{self, Evaluation};
    let (root, trace) = common::root("evaluation");
    let span_id = root.context().span().span_context().span_id();
    {
        let _entered = root.enter();
        evaluation::record(
            Evaluation::new("relevance")
                .score(0.75)
                .label("relevant")
                .explanation("cites the key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX")
                .response_id("chatcmpl-1"),
        );
    }
    let logs = common::logs(trace);
    assert_eq!(logs.len(), 1, "{logs:#?}");
    let e = &logs[0];
    assert_eq!(e.record.event_name(), Some("gen_ai.evaluation.result"));
    assert_eq!(e.record.trace_context().unwrap().span_id, span_id);
    assert_eq!(
        log_attr(e, c::GEN_AI_EVALUATION_NAME),
        Some(&AnyValue::from("relevance"))
    );
    assert_eq!(
        log_attr(e, c::GEN_AI_EVALUATION_SCORE_VALUE),
        Some(&AnyValue::Double(0.75))
    );
    assert_eq!(
        log_attr(e, c::GEN_AI_EVALUATION_SCORE_LABEL),
        Some(&AnyValue::from("relevant"))
    );
    assert_eq!(
        log_attr(e, c::GEN_AI_RESPONSE_ID),
        Some(&AnyValue::from("chatcmpl-1"))
    );
    let Some(AnyValue::String(why)) = log_attr(e, c::GEN_AI_EVALUATION_EXPLANATION) else {
        panic!("no explanation")
    };
    assert!(!why.as_str().contains("ABCDEFGHIJ"), "{why}");
}

#[tokio::test]
async fn captured_stream_text_is_kept_only_up_to_the_content_limit() {
    use aitrace_core::content::Limits;
    let server = common::mock::start().await;
    let (root, trace) = common::root("long stream");
    let limits = Limits {
        max_string_bytes: 4096,
        ..Limits::default()
    };
    let config = GenAiConfig::default().with_content(
        ContentPolicy::default()
            .with_mode(CaptureMode::SpanOnly)
            .with_limits(limits),
    );
    let body = post(
        &client(config),
        &server.url("/v1/chat/completions"),
        json!({"model":"long-stream","stream":true,"messages":[]}),
    )
    .instrument(root)
    .await;
    // The caller got all 2 MB; the span keeps the limit's worth, marked as cut.
    assert!(body.len() > 2_000_000, "{}", body.len());
    let s = common::span(trace, "chat long-stream").await;
    assert_ok(&s);
    let output: serde_json::Value =
        serde_json::from_str(&string(&s, c::GEN_AI_OUTPUT_MESSAGES)).unwrap();
    let text = output[0]["parts"][0]["content"].as_str().unwrap();
    assert!(text.len() < 4096 + 64, "{}", text.len());
    assert!(text.starts_with("xxxx"));
    assert!(text.contains("truncated"), "{}", &text[text.len() - 40..]);
}
