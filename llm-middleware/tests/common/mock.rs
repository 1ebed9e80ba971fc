//! A mock LLM provider on loopback: OpenAI chat/responses/embeddings, Anthropic
//! messages and Gemini generateContent, JSON and SSE, with failure modes chosen by the
//! model name in the request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

#[derive(Clone, Default)]
pub struct Mock {
    pub requests: Arc<Mutex<Vec<Value>>>,
    /// The `traceparent` header of each request (empty when absent).
    pub traceparents: Arc<Mutex<Vec<String>>>,
}

pub struct Server {
    pub addr: SocketAddr,
    pub mock: Mock,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn last_request(&self) -> Value {
        self.mock.requests.lock().unwrap().last().cloned().unwrap()
    }

    pub fn last_traceparent(&self) -> String {
        self.mock
            .traceparents
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap()
    }
}

pub async fn start() -> Server {
    let mock = Mock::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(openai_chat))
        .route("/v1/responses", post(openai_responses))
        .route("/v1/embeddings", post(openai_embeddings))
        .route("/v1/messages", post(anthropic))
        .route("/v1beta/models/{action}", post(gemini))
        .layer(axum::middleware::from_fn_with_state(
            mock.clone(),
            record_traceparent,
        ))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { addr, mock }
}

async fn record_traceparent(
    State(mock): State<Mock>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let tp = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    mock.traceparents.lock().unwrap().push(tp);
    next.run(req).await
}

fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", "req-123")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn raw_response(status: StatusCode, content_type: &str, body: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

/// An SSE body from events, each `delay` apart.
fn sse(events: Vec<String>, delay: Duration) -> Response {
    let body = stream::iter(events).then(move |e| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<_, Infallible>(Bytes::from(e))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap()
}

fn data(v: Value) -> String {
    format!("data: {v}\n\n")
}

fn record(mock: &Mock, body: &Bytes) -> Value {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    mock.requests.lock().unwrap().push(v.clone());
    v
}

async fn openai_chat(State(mock): State<Mock>, body: Bytes) -> Response {
    let req = record(&mock, &body);
    let model = req["model"].as_str().unwrap_or_default().to_owned();
    let stream = req["stream"].as_bool().unwrap_or(false);
    match model.as_str() {
        "error-429" => {
            return json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}),
            )
        }
        "malformed" => {
            return raw_response(
                StatusCode::OK,
                "application/json",
                r#"{"id":"x","choices":[{"#,
            )
        }
        "broken-stream" => {
            return sse(
                vec![
                    data(
                        json!({"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"}}]}),
                    ),
                    "data: {\"id\":\"c1\",\"choi".to_owned(),
                ],
                Duration::ZERO,
            )
        }
        _ => {}
    }
    let response_model = if model == "gpt-4o-mini" {
        "gpt-4o-mini-2024-07-18".to_owned()
    } else {
        model.clone()
    };
    let usage = json!({
        "prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1000},
        "completion_tokens_details": {"reasoning_tokens": 100}
    });
    if stream {
        let long_word = "x".repeat(1000);
        let words: Vec<&str> = if model == "slow-stream" {
            vec!["w"; 50]
        } else if model == "long-stream" {
            vec![long_word.as_str(); 2000]
        } else {
            vec!["Hel", "lo", "!"]
        };
        let mut events: Vec<String> = words
            .iter()
            .map(|w| data(json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":response_model,"system_fingerprint":"fp_stream","service_tier":"default","choices":[{"index":0,"delta":{"content":w}}]})))
            .collect();
        events.push(data(json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":response_model,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})));
        if req["stream_options"]["include_usage"].as_bool() == Some(true) {
            events.push(data(
                json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":response_model,"choices":[],"usage":usage}),
            ));
        }
        match model.as_str() {
            // Ends cleanly with neither a finish reason nor `[DONE]`.
            "no-done" => {
                events.retain(|e| !e.contains("finish_reason"));
            }
            // Bytes after `[DONE]` (a misbehaving proxy) must not count.
            "after-done" => {
                events.push("data: [DONE]\n\n".to_owned());
                events.push(data(json!({"id":"chatcmpl-1","model":response_model,"choices":[{"index":0,"delta":{},"finish_reason":"length"}],
                    "usage":{"prompt_tokens":999,"completion_tokens":999}})));
            }
            _ => events.push("data: [DONE]\n\n".to_owned()),
        }
        let delay = if model == "slow-stream" {
            Duration::from_millis(20)
        } else if model == "long-stream" {
            Duration::ZERO
        } else {
            Duration::from_millis(5)
        };
        return sse(events, delay);
    }
    let mut body = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": response_model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
        "usage": usage, "system_fingerprint": "fp_x", "service_tier": "default"
    });
    if model == "tool-call" {
        body["choices"] = json!([{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}]);
    }
    if model == "no-usage" {
        body.as_object_mut().unwrap().remove("usage");
    }
    json_response(StatusCode::OK, body)
}

async fn openai_responses(State(mock): State<Mock>, body: Bytes) -> Response {
    let req = record(&mock, &body);
    let completed = json!({
        "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4.1-2025-04-14",
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]}],
        "usage": {"input_tokens": 500, "output_tokens": 40, "input_tokens_details": {"cached_tokens": 100}, "output_tokens_details": {"reasoning_tokens": 0}}
    });
    if req["stream"].as_bool() == Some(true) {
        let events = vec![
            format!(
                "event: response.created\n{}",
                data(
                    json!({"type":"response.created","response":{"id":"resp_1","model":"gpt-4.1-2025-04-14","status":"in_progress","output":[]}})
                )
            ),
            format!(
                "event: response.output_text.delta\n{}",
                data(json!({"type":"response.output_text.delta","delta":"Done."}))
            ),
            format!(
                "event: response.completed\n{}",
                data(json!({"type":"response.completed","response":completed}))
            ),
        ];
        return sse(events, Duration::from_millis(5));
    }
    json_response(StatusCode::OK, completed)
}

async fn openai_embeddings(State(mock): State<Mock>, body: Bytes) -> Response {
    let req = record(&mock, &body);
    json_response(
        StatusCode::OK,
        json!({"object":"list","model":req["model"],"data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],
               "usage":{"prompt_tokens":8,"total_tokens":8}}),
    )
}

async fn anthropic(State(mock): State<Mock>, body: Bytes) -> Response {
    let req = record(&mock, &body);
    let model = req["model"].as_str().unwrap_or_default().to_owned();
    if model == "overloaded" {
        return json_response(
            StatusCode::from_u16(529).unwrap(),
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
        );
    }
    if req["stream"].as_bool() == Some(true) {
        let ev = |name: &str, v: Value| format!("event: {name}\n{}", data(v));
        let events = vec![
            ev(
                "message_start",
                json!({"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,
                "usage":{"input_tokens":20,"cache_read_input_tokens":1000,"cache_creation_input_tokens":100,"output_tokens":1}}}),
            ),
            ev(
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            ),
            "event: ping\ndata: {\"type\": \"ping\"}\n\n".to_owned(),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Bon"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"jour"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            ev(
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":50}}),
            ),
            ev("message_stop", json!({"type":"message_stop"})),
        ];
        let mut events = events;
        if model == "no-stop" {
            events.pop();
        }
        return sse(events, Duration::from_millis(5));
    }
    json_response(
        StatusCode::OK,
        json!({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
               "content":[{"type":"text","text":"Bonjour"}],"stop_reason":"end_turn",
               "usage":{"input_tokens":20,"cache_read_input_tokens":1000,"cache_creation_input_tokens":100,"output_tokens":50}}),
    )
}

async fn gemini(State(mock): State<Mock>, Path(action): Path<String>, body: Bytes) -> Response {
    record(&mock, &body);
    let usage = json!({"promptTokenCount": 40, "candidatesTokenCount": 12, "thoughtsTokenCount": 8, "cachedContentTokenCount": 16, "totalTokenCount": 60});
    if action.ends_with(":streamGenerateContent") {
        let events = vec![
            data(
                json!({"candidates":[{"content":{"parts":[{"text":"Hal"}],"role":"model"}}],"modelVersion":"gemini-2.5-flash","responseId":"g1",
                        "usageMetadata":{"promptTokenCount":40,"candidatesTokenCount":1}}),
            ),
            data(
                json!({"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"finishReason":"STOP"}],"modelVersion":"gemini-2.5-flash","responseId":"g1",
                        "usageMetadata":usage}),
            ),
        ];
        return sse(events, Duration::from_millis(5));
    }
    json_response(
        StatusCode::OK,
        json!({"candidates":[{"content":{"parts":[{"text":"Hallo"}],"role":"model"},"finishReason":"STOP"}],
               "usageMetadata":usage,"modelVersion":"gemini-2.5-flash","responseId":"g1"}),
    )
}
