//! The agent service of the jobs demo: `POST /ask {"question"}` answers
//! `{"answer", "trace_id", tokens, calls, cost}`, the worker's LLM and tool calls
//! included in the totals.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aitrace::core::content::ContentPolicy;
use aitrace::http::{ClientMiddleware, ServerLayer};
use aitrace::llm::{GenAiConfig, GenAiMiddleware};
use aitrace::messaging::nats::Nats;
use aitrace::tool::agent::{self, AgentInfo};
use aitrace::tool::tool::{ToolInvocation, ToolLayer};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use opentelemetry::trace::TraceContextExt;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::Deserialize;
use serde_json::{json, Value};
use tower::util::BoxCloneSyncService;
use tower::{BoxError as TowerError, ServiceBuilder, ServiceExt};

use crate::demo::llm::MODEL;
use crate::demo::{AgentAnswer, BoxError};

/// Where the agent's dependencies are.
#[derive(Debug, Clone)]
pub struct JobsAgentConfig {
    /// Base URL of the OpenAI-compatible API (`http://host:port/v1`).
    pub llm_base: String,
    /// The NATS connection jobs go out on.
    pub nats: async_nats::Client,
    /// The subject jobs are published to.
    pub subject: String,
    /// Content capture for LLM and tool spans.
    pub content: ContentPolicy,
}

type Tools = BoxCloneSyncService<ToolInvocation, Value, TowerError>;

struct AgentState {
    llm: ClientWithMiddleware,
    llm_base: String,
    tools: Tools,
    content: ContentPolicy,
}

/// Starts the agent service on an ephemeral loopback port.
pub async fn start(config: JobsAgentConfig) -> Result<SocketAddr, BoxError> {
    let llm = ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(
            GenAiConfig::from_env().with_content(config.content.clone()),
        ))
        .with(ClientMiddleware::new())
        .build();
    let state = Arc::new(AgentState {
        llm,
        llm_base: config.llm_base.clone(),
        tools: job_tools(
            Nats::new(config.nats.clone()).carry_run(true),
            config.subject.clone(),
            config.content.clone(),
        ),
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

/// `get_weather` as a job: a NATS request (`send {subject}`, the run carried) whose
/// reply is the worker's answer.
fn job_tools(nats: Nats, subject: String, content: ContentPolicy) -> Tools {
    let service = ServiceBuilder::new()
        .timeout(Duration::from_secs(30))
        .layer(ToolLayer::new().with_content(content))
        .service_fn(move |call: ToolInvocation| {
            let nats = nats.clone();
            let subject = subject.clone();
            async move {
                if call.name != "get_weather" {
                    return Err(
                        format!("the model asked for an unknown tool `{}`", call.name).into(),
                    );
                }
                let job = json!({"tool_call_id": call.call_id, "arguments": call.arguments});
                let reply = nats.request(subject, job.to_string().into()).await?;
                let reply: Value = serde_json::from_slice(&reply.payload)?;
                if let Some(error) = reply["error"].as_str() {
                    return Err(format!("the job failed: {error}").into());
                }
                Ok::<Value, TowerError>(reply)
            }
        });
    BoxCloneSyncService::new(service)
}

#[derive(Deserialize)]
struct Ask {
    question: String,
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
    let info = AgentInfo::new("jobs-agent")
        .with_description("Answers weather questions through a job queue")
        .with_content(state.content.clone());
    let question = ask.question.clone();
    let (answer, totals) = agent::try_run(info, async {
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

/// Asks the model, then runs the tool it asks for as a job; the job's reply holds the
/// answer.
async fn answer(state: &AgentState, question: &str) -> Result<String, BoxError> {
    let url = format!("{}/chat/completions", state.llm_base);
    let first: Value = state
        .llm
        .post(&url)
        .json(&json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are a helpful weather assistant."},
                {"role": "user", "content": question},
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather", "description": "Current weather of a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}
            }}],
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let call = &first["choices"][0]["message"]["tool_calls"][0];
    let arguments: Value = call["function"]["arguments"]
        .as_str()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or(Value::Null);
    let mut arguments = arguments;
    arguments["question"] = question.into();
    let invocation = ToolInvocation::new(
        call["function"]["name"].as_str().unwrap_or_default(),
        arguments,
    )
    .with_call_id(call["id"].as_str().unwrap_or_default());
    let reply = state.tools.clone().oneshot(invocation).await?;
    Ok(reply["answer"].as_str().unwrap_or_default().to_owned())
}
