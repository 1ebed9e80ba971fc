//! The job worker of the jobs demo (the `job-worker` binary): one `process` span per
//! job in the agent's trace; the weather comes from the gRPC worker (a tool), the
//! answer from the LLM; the reply carries the run's totals back.

use std::time::Duration;

use aitrace::core::content::ContentPolicy;
use aitrace::http::ClientMiddleware;
use aitrace::llm::{GenAiConfig, GenAiMiddleware};
use aitrace::messaging::nats::Nats;
use aitrace::tool::tool::{ToolInvocation, ToolLayer};
use futures_util::StreamExt;
use opentelemetry::context::FutureExt;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{json, Value};
use tower::util::BoxCloneSyncService;
use tower::{BoxError as TowerError, ServiceBuilder, ServiceExt};

use super::forecast::ForecastClient;
use crate::demo::agent::streamed_answer;
use crate::demo::llm::MODEL;
use crate::demo::BoxError;

/// Where the worker's dependencies are.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The NATS server (`nats://127.0.0.1:4222`).
    pub nats_url: String,
    /// The subject jobs arrive on.
    pub subject: String,
    /// Base URL of the OpenAI-compatible API (`http://host:port/v1`).
    pub llm_base: String,
    /// Host and port of the gRPC weather worker.
    pub forecast: (String, u16),
    /// Stop after this many jobs (`None`: run until the connection closes).
    pub max_jobs: Option<usize>,
    /// Content capture for LLM and tool spans.
    pub content: ContentPolicy,
}

type Tools = BoxCloneSyncService<ToolInvocation, Value, TowerError>;

/// `get_forecast`: the gRPC weather worker, behind `ToolLayer`.
fn forecast_tools(client: ForecastClient, content: ContentPolicy) -> Tools {
    let service = ServiceBuilder::new()
        .timeout(Duration::from_secs(10))
        .layer(ToolLayer::new().with_content(content))
        .service_fn(move |call: ToolInvocation| {
            let client = client.clone();
            async move {
                let city = call.arguments["city"]
                    .as_str()
                    .unwrap_or("Paris")
                    .to_owned();
                let report = client.forecast(&city).await?;
                Ok::<Value, TowerError>(json!({
                    "city": report.city, "conditions": report.conditions, "celsius": report.celsius,
                }))
            }
        });
    BoxCloneSyncService::new(service)
}

/// Connects, subscribes, calls `ready` once jobs can arrive, and handles jobs until
/// `max_jobs` or the end of the subscription.
pub async fn run(config: WorkerConfig, ready: impl FnOnce()) -> Result<(), BoxError> {
    let client = async_nats::connect(&config.nats_url).await?;
    let nats = Nats::new(client.clone()).carry_run(true);
    let mut jobs = client.subscribe(config.subject.clone()).await?;
    client.flush().await?;
    let llm = ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(
            GenAiConfig::from_env().with_content(config.content.clone()),
        ))
        .with(ClientMiddleware::new())
        .build();
    let tools = forecast_tools(
        ForecastClient::new(&config.forecast.0, config.forecast.1)?,
        config.content.clone(),
    );
    ready();
    let mut handled = 0;
    while let Some(message) = jobs.next().await {
        let process = nats.process(&message);
        let reply = match handle(&llm, &config.llm_base, &tools, &message.payload)
            .with_context(process.context())
            .await
        {
            Ok(answer) => json!({"answer": answer}),
            Err(e) => {
                process.record_error("job", &e.to_string());
                json!({"error": e.to_string()})
            }
        };
        // A failed reply is the agent's timeout to handle; the worker goes on.
        let _ = nats
            .respond(&process, &message, reply.to_string().into())
            .await;
        process.end();
        handled += 1;
        if config.max_jobs.is_some_and(|max| handled >= max) {
            break;
        }
    }
    client.flush().await?;
    Ok(())
}

/// One job: the forecast from the gRPC worker, then the answer from the LLM.
async fn handle(
    llm: &ClientWithMiddleware,
    llm_base: &str,
    tools: &Tools,
    payload: &[u8],
) -> Result<String, BoxError> {
    let job: Value = serde_json::from_slice(payload)?;
    let call_id = job["tool_call_id"].as_str().unwrap_or("call_1").to_owned();
    let arguments = job["arguments"].clone();
    let question = arguments["question"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let invocation = ToolInvocation::new("get_forecast", json!({"city": arguments["city"]}))
        .with_call_id(call_id.clone());
    let report = tools.clone().oneshot(invocation).await?;
    let response = llm
        .post(format!("{llm_base}/chat/completions"))
        .json(&json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are a helpful weather assistant."},
                {"role": "user", "content": question},
                {"role": "assistant", "content": null, "tool_calls": [{
                    "id": call_id, "type": "function",
                    "function": {"name": "get_forecast", "arguments": json!({"city": arguments["city"]}).to_string()}
                }]},
                {"role": "tool", "tool_call_id": call_id, "content": report.to_string()},
            ],
            "stream": true, "stream_options": {"include_usage": true},
        }))
        .send()
        .await?
        .error_for_status()?;
    streamed_answer(response).await
}

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

/// The `job-worker` process: telemetry per the `OTEL_*` variables (service
/// `job-worker`), configuration from `AITRACE_NATS_URL`, `AITRACE_LLM_BASE`,
/// `AITRACE_FORECAST_ADDR` (`host:port`), `AITRACE_JOBS_SUBJECT` and `AITRACE_JOBS_MAX`;
/// prints `ready` once it takes jobs, and flushes its spans before returning.
pub async fn main() -> Result<(), BoxError> {
    let telemetry = aitrace::Telemetry::builder()
        .service_name("job-worker")
        .init()?;
    let forecast = env("AITRACE_FORECAST_ADDR")?;
    let (host, port) = forecast
        .rsplit_once(':')
        .ok_or("AITRACE_FORECAST_ADDR is host:port")?;
    let config = WorkerConfig {
        nats_url: env("AITRACE_NATS_URL")?,
        subject: std::env::var("AITRACE_JOBS_SUBJECT")
            .unwrap_or_else(|_| super::SUBJECT.to_owned()),
        llm_base: env("AITRACE_LLM_BASE")?,
        forecast: (host.to_owned(), port.parse()?),
        max_jobs: std::env::var("AITRACE_JOBS_MAX")
            .ok()
            .and_then(|n| n.parse().ok()),
        content: ContentPolicy::from_env(),
    };
    run(config, || println!("ready")).await?;
    telemetry.shutdown();
    Ok(())
}
