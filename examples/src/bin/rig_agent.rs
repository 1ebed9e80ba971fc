//! A rig agent traced by AITrace: the model calls through `GenAiMiddleware` and
//! `ClientMiddleware` (rig-reqwest's middleware client), rig's `chat` spans left out
//! of export (our `chat` spans carry the same calls with cost and time to first chunk).
//!
//! `cargo run -p aitrace-examples --features rig --bin rig_agent`
//!
//! No network, no API key: a local provider answers in the OpenAI and Anthropic wire
//! formats. Prints the answers and run totals, then the trace trees; writes the trace
//! file under `traces/` (or `AITRACE_TRACE_DIR`).

use aitrace::Telemetry;
use aitrace_examples::demo::{self, BoxError};
use aitrace_examples::rig_demo::{self, Provider, RIG_SPAN_FILTER};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let _telemetry = Telemetry::builder()
        .service_name("aitrace-rig-demo")
        .span_filter(RIG_SPAN_FILTER)
        .init()?;
    let provider = rig_demo::start_provider().await?;
    let weather = demo::weather::start().await?;
    for which in [Provider::OpenAi, Provider::Anthropic] {
        let agent = rig_demo::weather_agent(which, provider, weather);
        let (answer, totals) = rig_demo::ask(&agent, "What is the weather in Tokyo?").await?;
        println!("{which:?}, multi-turn: {answer}\n  {}", summary(&totals));
        let (answer, totals) =
            rig_demo::ask_streaming(&agent, "What is the weather in Oslo?").await?;
        println!("{which:?}, streamed: {answer}\n  {}", summary(&totals));
    }
    Ok(())
}

fn summary(t: &aitrace::core::run::RunTotals) -> String {
    format!(
        "{} LLM call(s), {} tool call(s), {} input + {} output tokens ({} cached), ${:.6}",
        t.llm_calls,
        t.tool_calls,
        t.usage.input_tokens,
        t.usage.output_tokens,
        t.usage.cache_read_input_tokens,
        t.cost.usd()
    )
}
