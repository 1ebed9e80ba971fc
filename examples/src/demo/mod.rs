//! The demo: a small but real agent service, with everything it talks to running on
//! loopback, so it needs no network and no API key.
//!
//! - [`llm`]: a local OpenAI-compatible LLM server that answers deterministically:
//!   first a tool call, then (streamed, with usage) the final answer.
//! - [`weather`]: a downstream HTTP service the tool calls.
//! - [`agent`]: the agent service: an axum endpoint (server layer) that runs an agent
//!   (agent-run span) calling the LLM through the GenAI + HTTP client middleware,
//!   executing the tool (tool layer; the tool calls the weather service with the HTTP
//!   client middleware), calling the LLM again (streaming), and answering.
//!
//! [`run`] starts the three and sends the agent one question.

pub mod agent;
pub mod llm;
pub mod weather;

use aitrace::core::content::ContentPolicy;
use aitrace::core::run::RunTotals;
use serde::{Deserialize, Serialize};

/// Errors of the demo.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// The question asked (default: the weather in Paris).
    pub question: Option<String>,
    /// Content capture (default: from the environment, off unless set).
    pub content: Option<ContentPolicy>,
}

/// What the agent answered, as its HTTP response says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentAnswer {
    /// The answer text.
    pub answer: String,
    /// Trace id of the request (W3C hex).
    pub trace_id: String,
    /// Tokens used by the run.
    pub input_tokens: u64,
    /// Tokens generated in the run.
    pub output_tokens: u64,
    /// LLM calls in the run.
    pub llm_calls: u64,
    /// Tool calls in the run.
    pub tool_calls: u64,
    /// Cost of the run in USD, when every call's model is priced.
    pub cost_usd: Option<f64>,
}

impl AgentAnswer {
    pub(crate) fn new(answer: String, trace_id: String, totals: &RunTotals) -> AgentAnswer {
        AgentAnswer {
            answer,
            trace_id,
            input_tokens: totals.usage.input_tokens,
            output_tokens: totals.usage.output_tokens,
            llm_calls: totals.llm_calls,
            tool_calls: totals.tool_calls,
            cost_usd: (totals.calls_without_cost == 0).then(|| totals.cost.usd()),
        }
    }
}

/// Starts the LLM server, the weather service and the agent service on loopback,
/// asks the agent one question over HTTP, and returns its answer.
///
/// Telemetry must be set up by the caller (the binary uses
/// `aitrace::init`); the servers keep running until the runtime stops.
pub async fn run(options: DemoOptions) -> Result<AgentAnswer, BoxError> {
    let llm = llm::start().await?;
    let weather = weather::start().await?;
    let agent = agent::start(agent::AgentConfig {
        llm_base: format!("http://{llm}/v1"),
        weather_base: format!("http://{weather}"),
        content: options.content.unwrap_or_else(ContentPolicy::from_env),
    })
    .await?;
    let question = options
        .question
        .unwrap_or_else(|| "What is the weather in Paris today?".to_owned());
    // The user's request: a plain client, as a browser or curl would be.
    let response = reqwest::Client::new()
        .post(format!("http://{agent}/ask"))
        .json(&serde_json::json!({ "question": question, "session": "demo-session-1" }))
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the agent answered {status}: {}", response.text().await?).into());
    }
    Ok(response.json().await?)
}
