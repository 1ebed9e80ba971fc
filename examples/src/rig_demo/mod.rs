//! A rig agent, unmodified, traced by AITrace (feature `rig` of this package; rig-core,
//! rig-agent and rig-reqwest 0.44).
//!
//! rig's provider clients take any HTTP transport (`OpenAIConfig::connect`), and
//! rig-reqwest's `ReqwestMiddlewareClient` wraps a `reqwest_middleware` client: so the
//! agent's model calls go through [`GenAiMiddleware`] (a `chat {model}` span with
//! tokens, cached tokens, cost, time to first chunk and finish reasons, fed to the run
//! totals) and [`ClientMiddleware`] (the HTTP span and W3C propagation to the
//! provider). The tool's own HTTP call goes through `ClientMiddleware` too.
//!
//! What of rig's own `tracing` spans to keep (the recommended setup, see the README's
//! "rig" section):
//! - rig's `execute_tool` spans: keep them (tool name, call id, arguments; the tool's
//!   work nests under them);
//! - rig's `chat` spans (targets `rig::agent_chat` and `rig::completions`): turn them
//!   off with [`RIG_SPAN_FILTER`]. Each wraps one of our `chat` spans for the same
//!   call, with the same usage and no cost: a backend that sums usage would count
//!   every call twice. (`aitrace`'s own readers count only the innermost of nested
//!   LLM spans, so its totals stay right either way.)
//! - rig's `invoke_agent`: rig makes one with **no parent** (a new trace) unless a
//!   `tracing` span is current when the prompt is sent, which it then adopts. Run the
//!   agent in [`aitrace::tool::agent::run`] (the `invoke_agent` span with the run's
//!   totals and cost) and give rig a span to adopt, as [`ask`] does.

mod provider;
mod tool;

use std::future::IntoFuture;
use std::net::SocketAddr;

use aitrace::core::run::RunTotals;
use aitrace::http::ClientMiddleware;
use aitrace::llm::{GenAiConfig, GenAiMiddleware};
use aitrace::tool::agent::{self, AgentInfo};
use futures_util::StreamExt;
use reqwest_middleware::ClientBuilder;
use rig_agent::agent::MultiTurnStreamItem;
use rig_agent::{Agent, AgentBuilder};
use rig_core::providers::{anthropic, openai};
use rig_reqwest::ReqwestMiddlewareClient;
use tracing::Instrument;

pub use provider::{start as start_provider, ANTHROPIC_MODEL, OPENAI_MODEL, OPENAI_RESPONSE_MODEL};
pub use tool::WeatherTool;

use crate::demo::BoxError;

/// The span filter (`RUST_LOG` syntax) that drops rig's `chat` spans from export and
/// keeps everything else at `info`: pass it to `Telemetry::span_filter` or set
/// `AITRACE_SPAN_FILTER`.
pub const RIG_SPAN_FILTER: &str = "info,rig::agent_chat=off,rig::completions=off";

/// The one HTTP client rig sends through: GenAI spans, then HTTP spans.
pub fn traced_transport() -> ReqwestMiddlewareClient {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(GenAiConfig::default()))
        .with(ClientMiddleware::new())
        .build();
    ReqwestMiddlewareClient::from(client)
}

/// Which provider the agent talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// A rig agent with the weather tool, on the local provider at `provider` (its
/// OpenAI or Anthropic endpoint), sending through [`traced_transport`].
pub fn weather_agent(which: Provider, provider: SocketAddr, weather: SocketAddr) -> Agent {
    let base = format!("http://{provider}");
    let builder = match which {
        Provider::OpenAi => AgentBuilder::new(
            openai::OpenAIConfig::new("demo-key")
                .with_base_url(format!("{base}/v1"))
                .with_route(openai::Route::Chat)
                .connect(traced_transport())
                .completion(OPENAI_MODEL),
        ),
        Provider::Anthropic => AgentBuilder::new(
            anthropic::AnthropicConfig::new("demo-key")
                .with_base_url(&base)
                .connect(traced_transport())
                .completion(ANTHROPIC_MODEL),
        ),
    };
    builder
        .name("rig-weather-agent")
        .preamble("You answer questions about the weather with the get_weather tool.")
        .max_tokens(256)
        .tool(WeatherTool::new(&format!("http://{weather}")))
        .build()
}

/// Asks the agent (multi-turn: the tool call, then the answer) inside an AITrace
/// agent run; returns the answer and the run's totals.
pub async fn ask(agent: &Agent, question: &str) -> Result<(String, RunTotals), BoxError> {
    let (answer, totals) = agent::try_run(AgentInfo::new("rig-weather-agent"), async {
        agent::record_input(question);
        // The span rig adopts as its agent span (else it starts a new trace): current
        // when the prompt is sent and while it runs.
        let span = tracing::info_span!("rig agent loop");
        let prompt = {
            let _entered = span.enter();
            agent.prompt(question).max_turns(3).into_future()
        };
        let response = prompt.instrument(span).await?;
        let answer = response.output().to_owned();
        agent::record_output(&answer);
        Ok::<_, BoxError>(answer)
    })
    .await;
    Ok((answer?, totals))
}

/// The same as [`ask`], with every model call streamed.
pub async fn ask_streaming(agent: &Agent, question: &str) -> Result<(String, RunTotals), BoxError> {
    let (answer, totals) = agent::try_run(AgentInfo::new("rig-weather-agent"), async {
        agent::record_input(question);
        let span = tracing::info_span!("rig agent loop");
        let mut stream = {
            let _entered = span.enter();
            agent.prompt(question).max_turns(3).stream()
        };
        let mut answer = None;
        while let Some(item) = stream.next().await {
            if let MultiTurnStreamItem::FinalResponse(last) = item? {
                answer = Some(last.output().to_owned());
            }
        }
        let answer = answer.ok_or("the stream ended without a final response")?;
        agent::record_output(&answer);
        Ok::<_, BoxError>(answer)
    })
    .await;
    Ok((answer?, totals))
}
