//! A local OpenAI-compatible LLM server that answers deterministically.
//!
//! `POST /v1/chat/completions`: when the conversation has no tool result yet, the
//! model asks for `get_weather` (a JSON response); once it has one, it streams the
//! final answer (SSE), with usage in the last chunk when the request asks for it.
//! Token counts are computed from the request, so they are stable run to run.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use super::BoxError;

/// The model the demo asks for.
pub const MODEL: &str = "gpt-4o-mini";
/// The dated snapshot the server says answered.
pub const RESPONSE_MODEL: &str = "gpt-4o-mini-2024-07-18";

/// Starts the server on an ephemeral loopback port.
pub async fn start() -> Result<SocketAddr, BoxError> {
    let app = Router::new().route("/v1/chat/completions", post(chat));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// A stable stand-in for a tokenizer: about four bytes a token.
fn tokens_of(messages: &Value) -> u64 {
    (messages.to_string().len() as u64).div_ceil(4)
}

async fn chat(Json(req): Json<Value>) -> Response {
    let messages = req["messages"].clone();
    let prompt_tokens = tokens_of(&messages) + 180; // + the tool definitions
    let has_tool_result = messages
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
    if !has_tool_result {
        let city = if messages.to_string().contains("Tokyo") {
            "Tokyo"
        } else {
            "Paris"
        };
        let body = json!({
            "id": "chatcmpl-demo-1", "object": "chat.completion", "created": 1_763_769_600, "model": RESPONSE_MODEL,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": null, "tool_calls": [{
                    "id": "call_weather_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": json!({"city": city}).to_string()}
                }]},
                "finish_reason": "tool_calls"
            }],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 18, "total_tokens": prompt_tokens + 18,
                      "prompt_tokens_details": {"cached_tokens": 128}}
        });
        return Json(body).into_response();
    }
    let report = messages
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "tool"))
        .and_then(|m| m["content"].as_str())
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .unwrap_or(Value::Null);
    let answer = format!(
        "It is {} in {} right now, {}°C. Enjoy your day!",
        report["conditions"].as_str().unwrap_or("unknown"),
        report["city"].as_str().unwrap_or("your city"),
        report["celsius"]
    );
    let words: Vec<String> = answer.split_inclusive(' ').map(str::to_owned).collect();
    let completion_tokens = words.len() as u64;
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-demo-2", "object": "chat.completion.chunk", "created": 1_763_769_601,
               "model": RESPONSE_MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events: Vec<String> = vec![format!(
        "data: {}\n\n",
        chunk(json!({"role": "assistant", "content": ""}), Value::Null)
    )];
    events.extend(
        words
            .iter()
            .map(|w| format!("data: {}\n\n", chunk(json!({"content": w}), Value::Null))),
    );
    events.push(format!("data: {}\n\n", chunk(json!({}), json!("stop"))));
    if req["stream_options"]["include_usage"] == true {
        events.push(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-demo-2", "object": "chat.completion.chunk", "created": 1_763_769_601, "model": RESPONSE_MODEL,
                   "choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                   "total_tokens": prompt_tokens + completion_tokens, "prompt_tokens_details": {"cached_tokens": 256}}})
        ));
    }
    events.push("data: [DONE]\n\n".to_owned());
    // A first token after 40 ms, then one every 8 ms: a visible time to first chunk.
    let body = stream::iter(events.into_iter().enumerate()).then(|(i, e)| async move {
        tokio::time::sleep(Duration::from_millis(if i == 0 { 40 } else { 8 })).await;
        Ok::<_, std::convert::Infallible>(Bytes::from(e))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
