//! A local provider for the rig demo that speaks two wire formats, answering as the
//! real APIs do: OpenAI Chat Completions (`POST /v1/chat/completions`) and Anthropic
//! Messages (`POST /v1/messages`), each as one JSON document or, when the request says
//! `"stream": true`, as server-sent events in that provider's format.
//!
//! The model's behaviour is one rule: while the conversation holds no tool result, it
//! asks for `get_weather` for the city named in the last user message; once it has
//! one, it answers from it. Token counts follow the request's size, so they are
//! stable from run to run; cached tokens are reported as each provider does.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::demo::BoxError;

/// The OpenAI model the demo asks for, and the snapshot the provider says answered.
pub const OPENAI_MODEL: &str = "gpt-4o-mini";
/// The snapshot in OpenAI responses.
pub const OPENAI_RESPONSE_MODEL: &str = "gpt-4o-mini-2024-07-18";
/// The Anthropic model the demo asks for (and that answers).
pub const ANTHROPIC_MODEL: &str = "claude-haiku-4-5";

/// Starts the provider on an ephemeral loopback port.
pub async fn start() -> Result<SocketAddr, BoxError> {
    let app = Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// About four bytes a token.
fn tokens_of(v: &Value) -> u64 {
    (v.to_string().len() as u64).div_ceil(4)
}

/// The city named in the conversation's last user text (Paris by default).
fn city_of(messages: &Value) -> &'static str {
    let text = messages.to_string();
    ["Tokyo", "Lisbon", "Oslo"]
        .into_iter()
        .find(|c| text.contains(c))
        .unwrap_or("Paris")
}

/// The tool result's text, in either format: an OpenAI `tool` message's content, or
/// an Anthropic `tool_result` block's content.
fn tool_result(messages: &Value) -> Option<String> {
    let messages = messages.as_array()?;
    for m in messages.iter().rev() {
        if m["role"] == "tool" {
            return Some(text_of(&m["content"]));
        }
        if let Some(blocks) = m["content"].as_array() {
            if let Some(b) = blocks.iter().find(|b| b["type"] == "tool_result") {
                return Some(text_of(&b["content"]));
            }
        }
    }
    None
}

/// A content field as text: a string, or the text of its parts.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

fn answer_from(report: &str) -> String {
    let report: Value = serde_json::from_str(report).unwrap_or(Value::Null);
    format!(
        "It is {} in {} right now, {}°C.",
        report["conditions"].as_str().unwrap_or("unknown"),
        report["city"].as_str().unwrap_or("your city"),
        report["celsius"]
    )
}

/// Server-sent events, a first event after 30 ms and the rest 5 ms apart (a time to
/// first chunk worth seeing).
fn sse(events: Vec<String>) -> Response {
    let body = stream::iter(events.into_iter().enumerate()).then(|(i, e)| async move {
        tokio::time::sleep(Duration::from_millis(if i == 0 { 30 } else { 5 })).await;
        Ok::<_, std::convert::Infallible>(Bytes::from(e))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn words(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

async fn openai(Json(req): Json<Value>) -> Response {
    let messages = &req["messages"];
    let prompt_tokens = tokens_of(messages) + tokens_of(&req["tools"]);
    let stream = req["stream"] == true;
    let include_usage = req["stream_options"]["include_usage"] == true;
    let usage = |completion: u64, cached: u64| {
        json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion,
               "total_tokens": prompt_tokens + completion,
               "prompt_tokens_details": {"cached_tokens": cached}})
    };
    let chunk = |id: &str, delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": 1_763_769_600,
               "model": OPENAI_RESPONSE_MODEL,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let data = |v: Value| format!("data: {v}\n\n");
    match tool_result(messages) {
        None => {
            let arguments = json!({"city": city_of(messages)}).to_string();
            if !stream {
                return Json(json!({
                    "id": "chatcmpl-rig-1", "object": "chat.completion", "created": 1_763_769_600,
                    "model": OPENAI_RESPONSE_MODEL,
                    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                        "role": "assistant", "content": null, "tool_calls": [{
                            "id": "call_rig_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": arguments}}]}}],
                    "usage": usage(17, 64)
                }))
                .into_response();
            }
            let mut events = vec![
                data(chunk(
                    "chatcmpl-rig-1",
                    json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0,
                        "id": "call_rig_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": ""}}]}),
                    Value::Null,
                )),
                data(chunk(
                    "chatcmpl-rig-1",
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]}),
                    Value::Null,
                )),
                data(chunk("chatcmpl-rig-1", json!({}), json!("tool_calls"))),
            ];
            if include_usage {
                events.push(data(
                    json!({"id": "chatcmpl-rig-1", "object": "chat.completion.chunk",
                    "created": 1_763_769_600, "model": OPENAI_RESPONSE_MODEL, "choices": [],
                    "usage": usage(17, 64)}),
                ));
            }
            events.push("data: [DONE]\n\n".to_owned());
            sse(events)
        }
        Some(report) => {
            let answer = answer_from(&report);
            let parts = words(&answer);
            let completion = parts.len() as u64;
            if !stream {
                return Json(json!({
                    "id": "chatcmpl-rig-2", "object": "chat.completion", "created": 1_763_769_601,
                    "model": OPENAI_RESPONSE_MODEL,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer}}],
                    "usage": usage(completion, 128)
                }))
                .into_response();
            }
            let mut events = vec![data(chunk(
                "chatcmpl-rig-2",
                json!({"role": "assistant", "content": ""}),
                Value::Null,
            ))];
            events.extend(
                parts
                    .iter()
                    .map(|w| data(chunk("chatcmpl-rig-2", json!({"content": w}), Value::Null))),
            );
            events.push(data(chunk("chatcmpl-rig-2", json!({}), json!("stop"))));
            if include_usage {
                events.push(data(
                    json!({"id": "chatcmpl-rig-2", "object": "chat.completion.chunk",
                    "created": 1_763_769_601, "model": OPENAI_RESPONSE_MODEL, "choices": [],
                    "usage": usage(completion, 128)}),
                ));
            }
            events.push("data: [DONE]\n\n".to_owned());
            sse(events)
        }
    }
}

async fn anthropic(Json(req): Json<Value>) -> Response {
    let messages = &req["messages"];
    let input = tokens_of(messages) + tokens_of(&req["tools"]) + tokens_of(&req["system"]);
    let stream = req["stream"] == true;
    // Anthropic counts cached input apart from `input_tokens`.
    let (cache_read, cache_write) = (96_u64, 32_u64);
    let event = |name: &str, v: Value| format!("event: {name}\ndata: {v}\n\n");
    let start = |id: &str| {
        event(
            "message_start",
            json!({"type": "message_start", "message": {"id": id, "type": "message",
                "role": "assistant", "model": ANTHROPIC_MODEL, "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input, "output_tokens": 1,
                          "cache_read_input_tokens": cache_read,
                          "cache_creation_input_tokens": cache_write}}}),
        )
    };
    let end = |stop: &str, output: u64| {
        vec![
            event(
                "message_delta",
                json!({"type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": null},
                    "usage": {"output_tokens": output}}),
            ),
            event("message_stop", json!({"type": "message_stop"})),
        ]
    };
    let usage = |output: u64| {
        json!({"input_tokens": input, "output_tokens": output,
               "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_write})
    };
    match tool_result(messages) {
        None => {
            let args = json!({"city": city_of(messages)});
            if !stream {
                return Json(json!({
                    "id": "msg_rig_1", "type": "message", "role": "assistant",
                    "model": ANTHROPIC_MODEL, "stop_reason": "tool_use", "stop_sequence": null,
                    "content": [{"type": "tool_use", "id": "toolu_rig_1", "name": "get_weather",
                                 "input": args}],
                    "usage": usage(21)
                }))
                .into_response();
            }
            let mut events = vec![
                start("msg_rig_1"),
                event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block":
                        {"type": "tool_use", "id": "toolu_rig_1", "name": "get_weather",
                         "input": {}}}),
                ),
                event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta":
                        {"type": "input_json_delta", "partial_json": args.to_string()}}),
                ),
                event(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ),
            ];
            events.extend(end("tool_use", 21));
            sse(events)
        }
        Some(report) => {
            let answer = answer_from(&report);
            let parts = words(&answer);
            let output = parts.len() as u64;
            if !stream {
                return Json(json!({
                    "id": "msg_rig_2", "type": "message", "role": "assistant",
                    "model": ANTHROPIC_MODEL, "stop_reason": "end_turn", "stop_sequence": null,
                    "content": [{"type": "text", "text": answer}],
                    "usage": usage(output)
                }))
                .into_response();
            }
            let mut events = vec![
                start("msg_rig_2"),
                event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0,
                           "content_block": {"type": "text", "text": ""}}),
                ),
            ];
            events.extend(parts.iter().map(|w| {
                event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": w}}),
                )
            }));
            events.push(event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ));
            events.extend(end("end_turn", output));
            sse(events)
        }
    }
}
