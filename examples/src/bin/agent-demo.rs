//! The AITrace demo: an agent service answering one question, traced end to end.
//!
//! `cargo run -p aitrace-examples --bin agent-demo`
//!
//! It starts, on loopback, a local OpenAI-compatible LLM server, a weather service
//! and the agent service; sends the agent one question; prints the answer, the run
//! totals and (with no collector configured) the trace tree, and writes the trace
//! file under `traces/`. With `OTEL_EXPORTER_OTLP_ENDPOINT` set it exports to that
//! collector (Jaeger, Phoenix, any OTLP receiver) instead.

use aitrace::Telemetry;
use aitrace_examples::demo::{self, DemoOptions};

#[tokio::main]
async fn main() -> Result<(), demo::BoxError> {
    let telemetry = Telemetry::builder().service_name("aitrace-demo").init()?;
    let answer = demo::run(DemoOptions::default()).await?;
    println!("answer: {}", answer.answer);
    println!(
        "run: {} LLM calls, {} tool call(s), {} input + {} output tokens, cost {}",
        answer.llm_calls,
        answer.tool_calls,
        answer.input_tokens,
        answer.output_tokens,
        answer
            .cost_usd
            .map_or_else(|| "unknown".to_owned(), |usd| format!("${usd:.6}")),
    );
    println!("trace id: {}\n", answer.trace_id);
    let to_file = telemetry.trace_file().is_some();
    let monitor = telemetry.export_monitor();
    // Flushes; with the local default, prints the trace tree and the trace file.
    drop(telemetry);
    if let (false, Some(monitor)) = (to_file, monitor) {
        let stats = monitor.stats();
        if stats.exported > 0 {
            println!("{} spans exported over OTLP", stats.exported);
        } else if stats.dropped() > 0 {
            println!(
                "{} spans could not be exported: is the collector at OTEL_EXPORTER_OTLP_ENDPOINT up?",
                stats.dropped()
            );
        } else {
            println!("no span exported (OTEL_TRACES_EXPORTER=none?)");
        }
    }
    Ok(())
}
