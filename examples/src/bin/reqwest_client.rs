//! An LLM API called with reqwest: `GenAiMiddleware` makes a GenAI span of the call,
//! `ClientMiddleware` an HTTP span under it and the `traceparent` header.
//!
//! `cargo run -p aitrace-examples --bin reqwest_client` (talks to a local
//! OpenAI-compatible server; point `base` at a real provider with a key to try it live).

use aitrace::http::ClientMiddleware;
use aitrace::llm::{GenAiConfig, GenAiMiddleware};
use aitrace_examples::demo::{self, llm};
use reqwest_middleware::ClientBuilder;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), demo::BoxError> {
    let telemetry = aitrace::Telemetry::builder()
        .service_name("reqwest-client-example")
        .init()?;
    let base = format!("http://{}/v1", llm::start().await?);

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(GenAiConfig::from_env()))
        .with(ClientMiddleware::new())
        .build();
    let reply: serde_json::Value = client
        .post(format!("{base}/chat/completions"))
        .json(&json!({"model": llm::MODEL, "messages": [{"role": "user", "content": "Weather in Paris?"}]}))
        .send()
        .await?
        .json()
        .await?;
    println!(
        "the model asked for: {}",
        reply["choices"][0]["message"]["tool_calls"][0]["function"]
    );
    drop(telemetry);
    Ok(())
}
