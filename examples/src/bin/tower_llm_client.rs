//! Your own LLM client type behind `GenAiLayer`: implement `GenAiRequest` and
//! `GenAiResponse` on its request and response types, and every call is a GenAI span
//! with tokens and cost, and counts toward the agent run around it.
//!
//! `cargo run -p aitrace-examples --bin tower_llm_client`

use aitrace::core::conventions::{Operation, Provider};
use aitrace::core::usage::Usage;
use aitrace::llm::{
    GenAiConfig, GenAiLayer, GenAiRequest, GenAiResponse, RequestInfo, ResponseInfo,
};
use aitrace::tool::agent::{self, AgentInfo};
use aitrace_examples::demo;
use tower::{service_fn, ServiceBuilder, ServiceExt};

/// A request of your client.
struct Prompt {
    model: &'static str,
    text: String,
}

/// A response of your client.
struct Completion {
    text: String,
    input_tokens: u64,
    output_tokens: u64,
}

impl GenAiRequest for Prompt {
    fn gen_ai_request(&self) -> RequestInfo {
        let mut info = RequestInfo::new(
            Provider::Anthropic,
            Operation::Chat,
            Some(self.model.to_owned()),
        );
        info.params.max_tokens = Some(256);
        info
    }
}

impl GenAiResponse for Completion {
    fn gen_ai_response(&self) -> ResponseInfo {
        ResponseInfo {
            finish_reasons: vec!["end_turn".to_owned()],
            usage: Some(Usage::new(self.input_tokens, self.output_tokens)),
            ..ResponseInfo::default()
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), demo::BoxError> {
    let telemetry = aitrace::Telemetry::builder()
        .service_name("tower-llm-client-example")
        .init()?;
    // Stands in for a real client: any tower service works.
    let client = ServiceBuilder::new()
        .layer(GenAiLayer::new(GenAiConfig::from_env()))
        .service(service_fn(|p: Prompt| async move {
            Ok::<_, std::io::Error>(Completion {
                text: format!("You said: {}", p.text),
                input_tokens: p.text.len() as u64 / 4 + 10,
                output_tokens: 12,
            })
        }));
    let (reply, totals) = agent::run(AgentInfo::new("echo-agent"), async {
        client
            .oneshot(Prompt {
                model: "claude-haiku-4-5",
                text: "Bonjour !".to_owned(),
            })
            .await
    })
    .await;
    println!(
        "{} ({} tokens, {})",
        reply?.text,
        totals.usage.total_tokens(),
        totals.cost
    );
    drop(telemetry);
    Ok(())
}
