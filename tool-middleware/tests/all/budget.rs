//! `BudgetLayer`: refusing LLM and tool calls once the run is over budget.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aitrace_core::conventions as c;
use aitrace_core::cost::Cost;
use aitrace_tool::agent::{self, AgentInfo};
use aitrace_tool::budget::{
    Budget, BudgetError, BudgetLayer, BudgetLimit, ClassifyBudget, BUDGET_KIND, BUDGET_LIMIT,
    BUDGET_USED,
};
use aitrace_tool::tool::{ToolInvocation, ToolLayer};
use opentelemetry::KeyValue;
use serde_json::json;
use tower::{BoxError, Layer as _, ServiceBuilder, ServiceExt as _};

use crate::helpers::{attr, error_description, event, string, traced, Chat, FakeLlm};

#[tokio::test]
async fn the_budget_guard_stops_the_third_llm_call() {
    let llm = FakeLlm::default();
    let guarded = ServiceBuilder::new()
        .layer(BudgetLayer::new(Budget::tokens(200)))
        .service(llm.clone());

    let ((results, totals), trace) = traced(|| {
        agent::run(AgentInfo::new("spender"), async move {
            let mut results = Vec::new();
            for _ in 0..3 {
                // 100 tokens a call: 0, then 100 used before the first two; 200 before the third.
                let chat = Chat::new("gpt-4o-mini", 80, 20, 1_000_000);
                results.push(guarded.clone().oneshot(chat).await);
            }
            results
        })
    })
    .await;

    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    let Err(BudgetError::Exceeded(exceeded)) = &results[2] else {
        panic!("third call not refused: {:?}", results[2]);
    };
    assert_eq!(exceeded.run, "spender");
    assert_eq!(exceeded.limit, BudgetLimit::Tokens(200));
    assert_eq!(exceeded.totals.usage.total_tokens(), 200);
    assert_eq!(exceeded.totals.llm_calls, 2);
    assert_eq!(
        results[2].as_ref().unwrap_err().to_string(),
        "run `spender` is over budget: 200 tokens used, limit 200"
    );
    assert_eq!(llm.calls(), 2, "the refused call never reached the client");
    assert_eq!(totals.llm_calls, 2);
    assert_eq!(trace.all("chat gpt-4o-mini").len(), 2);

    // With the guard right inside the agent, the refusal marks the agent's span.
    let run = trace.span("invoke_agent spender");
    assert_eq!(
        event(run, "budget_exceeded"),
        &[
            KeyValue::new(BUDGET_KIND, "tokens"),
            KeyValue::new(BUDGET_LIMIT, 200_i64),
            KeyValue::new(BUDGET_USED, 200_i64),
        ]
    );
    assert_eq!(
        string(run, c::ERROR_TYPE).as_deref(),
        Some("budget_exceeded")
    );
    assert_eq!(
        error_description(run),
        "run `spender` is over budget: 200 tokens used, limit 200"
    );
}

#[tokio::test]
async fn the_budget_guard_inside_the_tool_layer_marks_the_refused_tool_span() {
    let llm = FakeLlm::default();
    let executed = Arc::new(AtomicUsize::new(0));
    let tools = ServiceBuilder::new()
        .layer(ToolLayer::new().classify_error(ClassifyBudget::new()))
        .layer(BudgetLayer::new(Budget::cost_usd(0.01)))
        .service_fn({
            let executed = executed.clone();
            move |_call: ToolInvocation| {
                executed.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Infallible>(json!("looked up")) }
            }
        });

    let ((results, totals), trace) = traced(|| {
        agent::run(AgentInfo::new("shopper"), async move {
            let mut results = Vec::new();
            for i in 0..3 {
                // $0.004 a call: $0.004, $0.008, then $0.012 spent before the third tool call.
                llm.clone()
                    .oneshot(Chat::new("gpt-4o", 10, 10, 4_000_000_000))
                    .await
                    .unwrap();
                let call = ToolInvocation::new("lookup", json!({ "i": i }));
                results.push(tools.clone().oneshot(call).await);
            }
            results
        })
    })
    .await;

    assert!(results[0].is_ok() && results[1].is_ok());
    let refused = results[2].as_ref().unwrap_err();
    assert!(refused.is_exceeded());
    assert_eq!(executed.load(Ordering::SeqCst), 2);
    // The refused call was attempted: 3 tool calls, 3 spans.
    assert_eq!(totals.tool_calls, 3);
    assert_eq!(totals.cost, Cost::from_picodollars(12_000_000_000));

    let spans = trace.all("execute_tool lookup");
    assert_eq!(spans.len(), 3);
    assert_eq!(attr(spans[0], c::ERROR_TYPE), None);
    assert_eq!(attr(spans[1], c::ERROR_TYPE), None);
    let third = spans[2];
    assert_eq!(
        string(third, c::ERROR_TYPE).as_deref(),
        Some("budget_exceeded")
    );
    assert_eq!(
        error_description(third),
        "run `shopper` is over budget: $0.012000 spent, limit $0.010000"
    );
    assert_eq!(
        event(third, "budget_exceeded"),
        &[
            KeyValue::new(BUDGET_KIND, "cost"),
            KeyValue::new(BUDGET_LIMIT, 0.01),
            KeyValue::new(BUDGET_USED, 0.012),
        ]
    );
    // The agent itself is not marked: the refusal belongs to the tool call.
    let run = trace.span("invoke_agent shopper");
    assert_eq!(attr(run, c::ERROR_TYPE), None);
    assert!(run.events.is_empty());
}

#[tokio::test]
async fn outside_a_run_calls_pass_and_inner_errors_are_wrapped() {
    // Even a zero budget lets calls through when there is no run to measure.
    let svc =
        BudgetLayer::new(Budget::tokens(0)).layer(tower::service_fn(|fail: bool| async move {
            if fail {
                Err(std::io::Error::other("backend down"))
            } else {
                Ok("fine")
            }
        }));
    assert_eq!(svc.clone().oneshot(false).await.unwrap(), "fine");
    let err = svc.clone().oneshot(true).await.unwrap_err();
    assert!(!err.is_exceeded());
    assert_eq!(err.to_string(), "backend down");
    assert_eq!(
        err.into_inner().map(|e| e.kind()),
        Some(std::io::ErrorKind::Other)
    );

    // Over BoxError services, under a timeout (the error converts into a BoxError).
    let timed = ServiceBuilder::new()
        .timeout(Duration::from_secs(1))
        .layer(BudgetLayer::new(Budget::tokens(0)))
        .service_fn(|_: ()| async { Err::<(), BoxError>("nope".into()) });
    let ((result, _), _) = traced(|| agent::run(AgentInfo::new("boxed"), timed.oneshot(()))).await;
    let err = result.unwrap_err();
    let budget = err
        .downcast_ref::<BudgetError<BoxError>>()
        .expect("the budget error comes through the timeout");
    assert!(budget.is_exceeded());
}

/// 100 concurrent calls of 100 tokens each (80 in, 20 out) under a 1 000-token budget,
/// through `layer` right inside an agent run; spawned on the runtime's threads when
/// `spawn`, else polled together on one task. Returns the calls admitted, the run's
/// tokens as exported on its `invoke_agent` span, and the trace.
async fn hundred_concurrent_calls<E>(
    name: &'static str,
    layer: BudgetLayer<E>,
    spawn: bool,
) -> (usize, i64, crate::helpers::Trace)
where
    E: aitrace_tool::budget::EstimateTokens<Chat> + Clone + Send + Sync + 'static,
{
    use opentelemetry::trace::FutureExt as _;

    let llm = FakeLlm::default();
    let guarded = ServiceBuilder::new().layer(layer).service(llm.clone());
    let (((admitted, reserved_after), _totals), trace) = traced(|| {
        agent::run(AgentInfo::new(name), async move {
            let calls = (0..100).map(|_| {
                let call = guarded
                    .clone()
                    .oneshot(Chat::new("gpt-4o-mini", 80, 20, 1_000_000));
                async move { call.await.is_ok() }
            });
            let results: Vec<bool> = if spawn {
                let tasks: Vec<_> = calls
                    .map(|call| tokio::spawn(call.with_context(opentelemetry::Context::current())))
                    .collect();
                let mut results = Vec::new();
                for task in tasks {
                    results.push(task.await.expect("no panic"));
                }
                results
            } else {
                futures_util::future::join_all(calls).await
            };
            let reserved_after = aitrace_core::run::Run::current().unwrap().reserved();
            (results.iter().filter(|ok| **ok).count(), reserved_after)
        })
    })
    .await;
    assert_eq!(
        reserved_after,
        Default::default(),
        "{name}: reservations released"
    );
    assert_eq!(
        llm.calls(),
        admitted,
        "{name}: refused calls never reach the client"
    );
    assert_eq!(trace.all("chat gpt-4o-mini").len(), admitted, "{name}");
    let run = trace.span(&format!("invoke_agent {name}"));
    let tokens = crate::helpers::int(run, c::GEN_AI_USAGE_INPUT_TOKENS)
        + crate::helpers::int(run, c::GEN_AI_USAGE_OUTPUT_TOKENS);
    (admitted, tokens, trace)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_stay_within_the_documented_bound() {
    const MAX: i64 = 1_000;
    const U: i64 = 100;

    // A reservation that covers each call's usage: never over the budget, and the
    // budget is used to the token (10 calls of 100).
    for spawn in [false, true] {
        let (admitted, tokens, trace) = hundred_concurrent_calls(
            "reserving",
            BudgetLayer::new(Budget::tokens(1_000).with_reserved_tokens(100)),
            spawn,
        )
        .await;
        assert_eq!((admitted, tokens), (10, 1_000), "spawn {spawn}");
        let run = trace.span("invoke_agent reserving");
        let refusals = run
            .events
            .iter()
            .filter(|e| e.name == "budget_exceeded")
            .count();
        assert_eq!(refusals, 90);
    }

    // The reservation computed from the request.
    let (admitted, tokens, _) = hundred_concurrent_calls(
        "estimating",
        BudgetLayer::new(Budget::tokens(1_000))
            .estimate_tokens(|chat: &Chat| chat.usage.total_tokens()),
        true,
    )
    .await;
    assert_eq!((admitted, tokens), (10, 1_000));

    // A reservation of half the usage: over by at most Σ (U - E) over the calls in
    // flight, here 20 calls x 50.
    let (admitted, tokens, _) = hundred_concurrent_calls(
        "underestimating",
        BudgetLayer::new(Budget::tokens(1_000).with_reserved_tokens(50)),
        true,
    )
    .await;
    assert_eq!(admitted, 20);
    assert!(tokens <= MAX + admitted as i64 * (U - 50), "{tokens}");

    // No reservation, at most 4 calls in flight: at most max - 1 + 4 x U.
    let (admitted, tokens, _) = hundred_concurrent_calls(
        "limited",
        BudgetLayer::new(Budget::tokens(1_000).with_max_in_flight(4)),
        false,
    )
    .await;
    assert_eq!(admitted, 4);
    assert!(tokens <= MAX - 1 + 4 * U, "{tokens}");

    // The default (no reservation, no in-flight limit) is bounded only by the calls in
    // flight, as documented: all 100 pass here.
    let (admitted, tokens, _) =
        hundred_concurrent_calls("unreserved", BudgetLayer::new(Budget::tokens(1_000)), false)
            .await;
    assert_eq!(admitted, 100);
    assert!(tokens <= MAX - 1 + admitted as i64 * U);
}

#[tokio::test]
async fn refusals_for_calls_in_flight_say_what_was_reserved() {
    let llm = FakeLlm::default();
    let guarded = ServiceBuilder::new()
        .layer(BudgetLayer::new(
            Budget::tokens(250).with_reserved_tokens(100),
        ))
        .service(llm.clone());
    let (results, _) = traced(|| {
        agent::run(AgentInfo::new("busy"), async move {
            let calls =
                (0..3).map(|_| guarded.clone().oneshot(Chat::new("gpt-4o-mini", 80, 20, 1)));
            futures_util::future::join_all(calls).await
        })
    })
    .await
    .0;
    assert!(results[0].is_ok() && results[1].is_ok());
    let Err(BudgetError::Exceeded(exceeded)) = &results[2] else {
        panic!("third call not refused: {:?}", results[2]);
    };
    assert_eq!(exceeded.reserved.calls, 2);
    assert_eq!(
        exceeded.to_string(),
        "run `busy` is over budget: 0 tokens used, 200 reserved by 2 calls in flight, limit 250"
    );

    // The in-flight limit.
    let guarded = ServiceBuilder::new()
        .layer(BudgetLayer::new(Budget::unlimited().with_max_in_flight(1)))
        .service(FakeLlm::default());
    let (results, _) = traced(|| {
        agent::run(AgentInfo::new("one-at-a-time"), async move {
            let calls = (0..2).map(|_| guarded.clone().oneshot(Chat::new("gpt-4o-mini", 1, 1, 1)));
            futures_util::future::join_all(calls).await
        })
    })
    .await
    .0;
    let Err(BudgetError::Exceeded(exceeded)) = &results[1] else {
        panic!("second call not refused: {:?}", results[1]);
    };
    assert_eq!(exceeded.limit, BudgetLimit::InFlight(1));
    assert_eq!(
        exceeded.to_string(),
        "run `one-at-a-time` is over budget: 1 calls in flight, limit 1"
    );
}
