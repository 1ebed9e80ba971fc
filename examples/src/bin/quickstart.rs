//! The smallest AITrace program: one-call setup, an agent span with an LLM call that
//! records usage and cost, and the trace tree printed when the guard drops.
//!
//! Run with `cargo run -p aitrace-examples --bin quickstart`. With no collector it
//! writes `traces/trace-*.jsonl`; with `OTEL_EXPORTER_OTLP_ENDPOINT` set it exports
//! over OTLP instead.

use aitrace::core::conventions::{self as c, NameSet, Operation, Provider};
use aitrace::core::cost::PriceTable;
use aitrace::core::span;
use aitrace::core::usage::Usage;
use opentelemetry::KeyValue;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = aitrace::Telemetry::builder()
        .service_name("aitrace-quickstart")
        .init()?;

    let agent = tracing::info_span!("invoke_agent planner", otel.kind = "internal");
    agent.in_scope(|| {
        let model = "gpt-4o-mini";
        let name = c::inference_span_name(Operation::Chat, Some(model));
        let call = tracing::info_span!("llm", otel.name = %name, otel.kind = "client");
        span::set_attributes(
            &call,
            [
                KeyValue::new(c::GEN_AI_OPERATION_NAME, Operation::Chat.as_str()),
                KeyValue::new(
                    c::GEN_AI_PROVIDER_NAME,
                    Provider::OpenAi.as_str().to_owned(),
                ),
                KeyValue::new(c::GEN_AI_REQUEST_MODEL, model),
            ],
        );
        // A real application gets these from the provider's response.
        let usage = Usage::new(1_250, 320).with_cache_read(1_024);
        usage.record(&call, NameSet::from_env());
        match PriceTable::embedded().cost(Some(&Provider::OpenAi), model, &usage) {
            Ok(cost) => {
                span::set_attributes(&call, [KeyValue::new(c::GEN_AI_USAGE_COST, cost.usd())])
            }
            Err(why) => span::set_attributes(
                &call,
                [KeyValue::new(c::AITRACE_COST_UNAVAILABLE, why.reason())],
            ),
        }
        call.in_scope(|| tracing::info!("the model answered"));
    });
    drop(agent);
    drop(guard); // flushes; prints the tree when writing a local trace file
    Ok(())
}
