//! A tool executor behind `ToolLayer`, inside an agent run with a budget: each tool
//! call is an `execute_tool` span, the run an `invoke_agent` span with its totals, and
//! `BudgetLayer` refuses calls once the run is over budget.
//!
//! `cargo run -p aitrace-examples --bin tool_executor`

use std::time::Duration;

use aitrace::core::run::Run;
use aitrace::core::usage::Usage;
use aitrace::tool::agent::{self, AgentInfo};
use aitrace::tool::budget::{Budget, BudgetLayer};
use aitrace::tool::tool::{ToolInvocation, ToolLayer};
use aitrace_examples::demo;
use serde_json::{json, Value};
use tower::{BoxError, ServiceBuilder, ServiceExt};

async fn execute(call: ToolInvocation) -> Result<Value, BoxError> {
    match call.name.as_str() {
        "add" => Ok(json!(
            call.arguments["a"].as_i64().unwrap_or(0) + call.arguments["b"].as_i64().unwrap_or(0)
        )),
        other => Err(format!("no tool named {other}").into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), demo::BoxError> {
    let telemetry = aitrace::Telemetry::builder()
        .service_name("tool-executor-example")
        .init()?;
    let tools = ServiceBuilder::new()
        .timeout(Duration::from_secs(5))
        .layer(ToolLayer::new())
        .layer(BudgetLayer::new(Budget::tokens(1_000)))
        .service_fn(execute);
    let (results, totals) = agent::run(AgentInfo::new("calculator"), async {
        let mut results = Vec::new();
        for i in 0..3 {
            // Stands in for an LLM call of 400 tokens (aitrace-llm's layers do this).
            if let Some(run) = Run::current() {
                run.record_llm_call(Some(Usage::new(300, 100)), None);
            }
            let call = ToolInvocation::new("add", json!({"a": i, "b": 40}))
                .with_call_id(format!("call_{i}"));
            results.push(tools.clone().oneshot(call).await.map_err(|e| e.to_string()));
        }
        results
    })
    .await;
    for r in &results {
        println!("{r:?}");
    }
    println!(
        "run: {} tool calls, {} tokens",
        totals.tool_calls,
        totals.usage.total_tokens()
    );
    drop(telemetry); // the third call was refused: over the 1,000-token budget
    Ok(())
}
