//! The async-openai crate, unmodified, traced: `OpenAiHttpService` is the HTTP service
//! of the client, and every call (streaming included) becomes a GenAI span.
//!
//! `cargo run -p aitrace-examples --bin async_openai_client`

use aitrace::llm::async_openai::OpenAiHttpService;
use aitrace::llm::GenAiConfig;
use aitrace_examples::demo::{self, llm};
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
};
use async_openai::Client;

#[tokio::main]
async fn main() -> Result<(), demo::BoxError> {
    let telemetry = aitrace::Telemetry::builder()
        .service_name("async-openai-example")
        .init()?;
    let base = format!("http://{}/v1", llm::start().await?);
    let client = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(base)
            .with_api_key("sk-local"),
    )
    .with_http_service(OpenAiHttpService::new(GenAiConfig::from_env()));
    let request = CreateChatCompletionRequestArgs::default()
        .model(llm::MODEL)
        .messages(vec![ChatCompletionRequestUserMessageArgs::default()
            .content("What is the weather in Tokyo?")
            .build()?
            .into()])
        .build()?;
    let response = client.chat().create(request).await?;
    println!("finish reason: {:?}", response.choices[0].finish_reason);
    drop(telemetry);
    Ok(())
}
