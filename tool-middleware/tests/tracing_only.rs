//! A user whose only setup is a `tracing` subscriber with tracing-opentelemetry (no
//! global tracer provider) still gets the tool and agent spans, nested, with totals
//! and budget marks (OtelSpan's `tracing` fallback).

use std::convert::Infallible;

use aitrace_core::conventions as c;
use aitrace_core::run::Run;
use aitrace_core::usage::Usage;
use aitrace_tool::agent::{self, AgentInfo};
use aitrace_tool::budget::{Budget, BudgetLayer, ClassifyBudget};
use aitrace_tool::tool::{ToolInvocation, ToolLayer};
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt as _};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[test]
fn layers_work_with_only_a_tracing_subscriber() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")));

    let results = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(
            async {
                let tools = ServiceBuilder::new()
                    .layer(ToolLayer::new().classify_error(ClassifyBudget::new()))
                    .layer(BudgetLayer::new(Budget::tokens(100)))
                    .service_fn(|_: ToolInvocation| async { Ok::<_, Infallible>(json!(1)) });
                let (results, totals) = agent::run(AgentInfo::new("fallback"), async {
                    let first = tools
                        .clone()
                        .oneshot(ToolInvocation::new("a", json!({})))
                        .await;
                    // An LLM call (as aitrace-llm reports it) uses the whole budget.
                    Run::current()
                        .unwrap()
                        .record_llm_call(Some(Usage::new(90, 10)), None);
                    let second = tools
                        .clone()
                        .oneshot(ToolInvocation::new("b", json!({})))
                        .await;
                    (first, second)
                })
                .await;
                assert_eq!(totals.tool_calls, 2);
                results
            }
            .instrument(tracing::info_span!("user request")),
        )
    });
    assert!(results.0.is_ok());
    assert!(results.1.unwrap_err().is_exceeded());

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} missing: {spans:#?}"))
    };
    let user = find("user request");
    let run = find("invoke_agent fallback");
    let a = find("execute_tool a");
    let b = find("execute_tool b");
    assert_eq!(run.parent_span_id, user.span_context.span_id());
    assert_eq!(a.parent_span_id, run.span_context.span_id());
    assert_eq!(b.parent_span_id, run.span_context.span_id());
    assert_eq!(run.span_kind, SpanKind::Internal);
    assert_eq!(a.span_kind, SpanKind::Internal);
    for kv in [
        KeyValue::new(c::GEN_AI_AGENT_NAME, "fallback"),
        KeyValue::new(c::GEN_AI_USAGE_INPUT_TOKENS, 90_i64),
        KeyValue::new(c::AITRACE_RUN_LLM_CALLS, 1_i64),
        KeyValue::new(c::AITRACE_RUN_TOOL_CALLS, 2_i64),
        KeyValue::new(c::AITRACE_COST_UNAVAILABLE, "partial"),
    ] {
        assert!(
            run.attributes.contains(&kv),
            "missing {kv:?}: {:#?}",
            run.attributes
        );
    }
    assert!(a
        .attributes
        .contains(&KeyValue::new(c::GEN_AI_TOOL_NAME, "a")));
    assert!(b
        .attributes
        .contains(&KeyValue::new(c::ERROR_TYPE, "budget_exceeded")));
    assert!(b.events.iter().any(|e| e.name == "budget_exceeded"));
}
