//! The agent service: `POST /ask {"question", "session"}` runs a weather agent and
//! answers `{"answer", "trace_id", tokens, calls, cost}`.
//!
//! Every layer of AITrace is here once:
//! - aitrace-http's `ServerLayer` on the endpoint (SERVER span, incoming context);
//! - aitrace-tool's `agent::run` around the agent (`invoke_agent`, run totals);
//! - aitrace-llm's `GenAiMiddleware` then aitrace-http's `ClientMiddleware` on the
//!   LLM client (a `chat` span with tokens and cost, an HTTP CLIENT span under it);
//! - aitrace-tool's `ToolLayer` on the tool executor (`execute_tool`), whose HTTP call
//!   goes through the client middleware to the traced weather service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aitrace::core::content::ContentPolicy;
use aitrace::http::{ClientMiddleware, ServerLayer, UrlTemplate};
use aitrace::llm::sse::SseParser;
use aitrace::llm::{GenAiConfig, GenAiMiddleware};
use aitrace::tool::agent::{self, AgentInfo};
use aitrace::tool::tool::{ToolInvocation, ToolLayer};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use futures_util::StreamExt;
use opentelemetry::trace::TraceContextExt;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::Deserialize;
use serde_json::{json, Value};
use tower::util::BoxCloneSyncService;
use tower::{BoxError as TowerError, ServiceBuilder, ServiceExt};

use super::llm::MODEL;
use super::{AgentAnswer, BoxError};

/// Where the agent's dependencies are, and what it records.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Base URL of the OpenAI-compatible API (`http://host:port/v1`).
    pub llm_base: String,
    /// Base URL of the weather service.
    pub weather_base: String,
    /// Content capture for LLM and tool spans.
    pub content: ContentPolicy,
}

/// The agent's tool executor, boxed.
pub type Tools = BoxCloneSyncService<ToolInvocation, Value, TowerError>;

struct AgentState {
    llm: ClientWithMiddleware,
    llm_base: String,
    tools: Tools,
    content: ContentPolicy,
}

/// Starts the agent service on an ephemeral loopback port.
pub async fn start(config: AgentConfig) -> Result<SocketAddr, BoxError> {
    let llm = ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(
            GenAiConfig::from_env().with_content(config.content.clone()),
        ))
        .with(ClientMiddleware::new())
        .build();
    let state = Arc::new(AgentState {
        llm,
        llm_base: config.llm_base.clone(),
        tools: weather_tools(&config.weather_base, config.content.clone()),
        content: config.content.clone(),
    });
    let app = Router::new()
        .route("/ask", post(ask))
        .with_state(state)
        .layer(ServerLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// The tool executor: `get_weather` calls the weather service at `weather_base`
/// through the HTTP client middleware, behind `ToolLayer` (content per `content`).
pub fn weather_tools(weather_base: &str, content: ContentPolicy) -> Tools {
    let http = ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::new())
        .build();
    let base = weather_base.to_owned();
    let service = ServiceBuilder::new()
        .timeout(Duration::from_secs(10))
        .layer(ToolLayer::new().with_content(content))
        .service_fn(move |call: ToolInvocation| {
            let http = http.clone();
            let base = base.clone();
            async move {
                match call.name.as_str() {
                    "get_weather" => {
                        let city = call.arguments["city"]
                            .as_str()
                            .unwrap_or("Paris")
                            .to_owned();
                        let report: Value = http
                            .get(format!("{base}/weather/{city}"))
                            .with_extension(UrlTemplate::new("/weather/{city}"))
                            .send()
                            .await?
                            .error_for_status()?
                            .json()
                            .await?;
                        Ok::<Value, TowerError>(report)
                    }
                    other => Err(format!("the model asked for an unknown tool `{other}`").into()),
                }
            }
        });
    BoxCloneSyncService::new(service)
}

#[derive(Deserialize)]
struct Ask {
    question: String,
    session: Option<String>,
}

async fn ask(
    State(state): State<Arc<AgentState>>,
    Json(ask): Json<Ask>,
) -> Result<Json<AgentAnswer>, (StatusCode, String)> {
    let trace_id = opentelemetry::Context::current()
        .span()
        .span_context()
        .trace_id()
        .to_string();
    let mut info = AgentInfo::new("weather-agent")
        .with_version("1.0.0")
        .with_description("Answers weather questions with a weather tool")
        .with_content(state.content.clone());
    if let Some(session) = ask.session {
        info = info.with_conversation_id(session);
    }
    let question = ask.question.clone();
    let (answer, totals) = agent::run(info, async {
        // The run's question and answer: on the agent span and the trace's root, as
        // trace lists show them (when content capture is on).
        agent::record_input(&question);
        let answer = answer(&state, &question).await?;
        agent::record_output(&answer);
        Ok::<_, BoxError>(answer)
    })
    .await;
    match answer {
        Ok(answer) => Ok(Json(AgentAnswer::new(answer, trace_id, &totals))),
        Err(e) => Err((StatusCode::BAD_GATEWAY, e.to_string())),
    }
}

/// The agent loop: ask the model, run the tool it asks for, ask again (streaming).
async fn answer(state: &AgentState, question: &str) -> Result<String, BoxError> {
    let url = format!("{}/chat/completions", state.llm_base);
    let tools = json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }
    }]);
    let mut messages = vec![
        json!({"role": "system", "content": "You are a helpful weather assistant."}),
        json!({"role": "user", "content": question}),
    ];
    // The agent's state as it changes (with content capture on, `aitrace view` shows
    // each snapshot and what changed since the previous one).
    agent::record_state(
        &json!({"step": "ask", "messages": messages, "pending_tool_calls": [], "answer": null}),
    );
    let first: Value = state
        .llm
        .post(&url)
        .json(&json!({"model": MODEL, "messages": messages, "tools": tools, "temperature": 0.2}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let message = first["choices"][0]["message"].clone();
    let call = message["tool_calls"][0].clone();
    let arguments: Value = call["function"]["arguments"]
        .as_str()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or(Value::Null);
    let invocation = ToolInvocation::new(
        call["function"]["name"].as_str().unwrap_or_default(),
        arguments.clone(),
    )
    .with_call_id(call["id"].as_str().unwrap_or_default())
    .with_description("Current weather of a city");
    messages.push(message);
    agent::record_state(&json!({
        "step": "tool_call", "messages": messages,
        "pending_tool_calls": [{"id": call["id"], "name": call["function"]["name"], "arguments": arguments}],
        "answer": null,
    }));
    let report = state.tools.clone().oneshot(invocation).await?;
    messages
        .push(json!({"role": "tool", "tool_call_id": call["id"], "content": report.to_string()}));
    agent::record_state(
        &json!({"step": "tool_result", "messages": messages, "pending_tool_calls": [], "answer": null}),
    );

    let response = state
        .llm
        .post(&url)
        .json(&json!({
            "model": MODEL, "messages": messages, "tools": tools, "temperature": 0.2,
            "stream": true, "stream_options": {"include_usage": true}
        }))
        .send()
        .await?
        .error_for_status()?;
    let answer = streamed_answer(response).await?;
    messages.push(json!({"role": "assistant", "content": answer}));
    agent::record_state(
        &json!({"step": "answer", "messages": messages, "pending_tool_calls": [], "answer": answer}),
    );
    Ok(answer)
}

/// The text of a streamed chat completion: the content deltas of its SSE chunks.
pub async fn streamed_answer(response: reqwest::Response) -> Result<String, BoxError> {
    let mut text = String::new();
    let mut parser = SseParser::new(1 << 20);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        parser.feed(&chunk?, |event| {
            if let Ok(v) = serde_json::from_slice::<Value>(event.data) {
                if let Some(delta) = v["choices"][0]["delta"]["content"].as_str() {
                    text.push_str(delta);
                }
            }
        });
    }
    Ok(text)
}
