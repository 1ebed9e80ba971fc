//! `ToolLayer`: the execute_tool span, content capture, errors, panics, timeouts,
//! cancellation, retries, and tower semantics.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aitrace_core::content::{CaptureMode, ContentPolicy, Limits};
use aitrace_core::conventions::{self as c, ToolType};
use aitrace_tool::agent::{self, AgentInfo};
use aitrace_tool::tool::{Json, ToolCall, ToolInvocation, ToolLayer, ToolService};
use futures_util::FutureExt as _;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::KeyValue;
use serde_json::{json, Value};
use tower::{BoxError, Layer as _, Service, ServiceBuilder, ServiceExt as _};

use crate::helpers::{attr, error_description, event, int, string, traced};

fn weather_call() -> ToolInvocation {
    ToolInvocation::new(
        "get_weather",
        json!({"city": "Paris", "api_key": "hunter2-secret", "note": "token sk-proj-abcdefghijklmnopqrstuvwx"}),
    )
    .with_call_id("call_abc123")
    .with_tool_type(ToolType::Datastore)
    .with_description("Current weather for a city")
}

fn capture(mode: CaptureMode) -> ContentPolicy {
    ContentPolicy::default().with_mode(mode)
}

#[tokio::test]
async fn tool_span_has_every_attribute() {
    let tools = ServiceBuilder::new()
        .layer(
            ToolLayer::new()
                .with_content(capture(CaptureMode::SpanOnly))
                .with_openinference(true),
        )
        .service_fn(|call: ToolInvocation| async move {
            // The user's own span inside the tool nests under the tool span.
            let _inner = tracing::info_span!("fetch forecast").entered();
            Ok::<_, Infallible>(json!({"city": call.arguments["city"], "celsius": 21}))
        });

    let (result, trace) = traced(|| tools.oneshot(weather_call())).await;
    assert_eq!(result.unwrap()["celsius"], 21);

    let span = trace.span("execute_tool get_weather");
    assert_eq!(span.span_kind, SpanKind::Internal);
    assert_eq!(span.parent_span_id, trace.root().span_context.span_id());
    assert_eq!(span.instrumentation_scope.name(), "aitrace");
    assert_eq!(span.status, Status::Unset);
    let expected = [
        KeyValue::new(c::GEN_AI_OPERATION_NAME, "execute_tool"),
        KeyValue::new(c::GEN_AI_TOOL_NAME, "get_weather"),
        KeyValue::new(c::GEN_AI_TOOL_CALL_ID, "call_abc123"),
        KeyValue::new(c::GEN_AI_TOOL_TYPE, "datastore"),
        KeyValue::new(c::GEN_AI_TOOL_DESCRIPTION, "Current weather for a city"),
        KeyValue::new(c::OPENINFERENCE_SPAN_KIND, "TOOL"),
        KeyValue::new(c::TOOL_NAME, "get_weather"),
    ];
    for kv in &expected {
        assert!(
            span.attributes.contains(kv),
            "missing {kv:?} in {:#?}",
            span.attributes
        );
    }
    // JSON content, compared as JSON (key order follows serde_json's features).
    let json_of = |key: &str| -> serde_json::Value {
        let value = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .unwrap_or_else(|| panic!("missing {key} in {:#?}", span.attributes))
            .value
            .as_str()
            .into_owned();
        serde_json::from_str(&value).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {value}"))
    };
    // Redacted: the secret key's value and the token in the text.
    assert_eq!(
        json_of(c::GEN_AI_TOOL_CALL_ARGUMENTS),
        json!({"api_key": "[REDACTED]", "city": "Paris", "note": "token [REDACTED]"})
    );
    assert_eq!(
        json_of(c::GEN_AI_TOOL_CALL_RESULT),
        json!({"celsius": 21, "city": "Paris"})
    );
    assert_eq!(
        span.attributes.len(),
        expected.len() + 2,
        "{:#?}",
        span.attributes
    );
    assert!(span.events.is_empty());

    let inner = trace.span("fetch forecast");
    assert_eq!(inner.parent_span_id, span.span_context.span_id());
}

#[tokio::test]
async fn content_is_not_captured_unless_the_policy_says_so() {
    let echo = |call: ToolInvocation| async move { Ok::<_, Infallible>(call.arguments) };

    // Off: no arguments, no result, no events.
    let tools = ToolLayer::new()
        .with_content(capture(CaptureMode::NoContent))
        .layer(tower::service_fn(echo));
    let (_, trace) = traced(|| tools.oneshot(weather_call())).await;
    let span = trace.span("execute_tool get_weather");
    assert_eq!(attr(span, c::GEN_AI_TOOL_CALL_ARGUMENTS), None);
    assert_eq!(attr(span, c::GEN_AI_TOOL_CALL_RESULT), None);
    assert_eq!(attr(span, c::OPENINFERENCE_SPAN_KIND), None);
    assert!(span.events.is_empty());
    assert_eq!(
        string(span, c::GEN_AI_TOOL_NAME).as_deref(),
        Some("get_weather")
    );

    // Events only: content in events of the attributes' names, not in attributes.
    let tools = ToolLayer::new()
        .with_content(capture(CaptureMode::EventOnly))
        .layer(tower::service_fn(echo));
    let (_, trace) =
        traced(|| tools.oneshot(ToolInvocation::new("echo", json!({"q": "hi"})))).await;
    let span = trace.span("execute_tool echo");
    assert_eq!(attr(span, c::GEN_AI_TOOL_CALL_ARGUMENTS), None);
    assert_eq!(
        event(span, c::GEN_AI_TOOL_CALL_ARGUMENTS),
        &[KeyValue::new(
            c::GEN_AI_TOOL_CALL_ARGUMENTS,
            r#"{"q":"hi"}"#
        )]
    );
    assert_eq!(
        event(span, c::GEN_AI_TOOL_CALL_RESULT),
        &[KeyValue::new(c::GEN_AI_TOOL_CALL_RESULT, r#"{"q":"hi"}"#)]
    );

    // Both.
    let tools = ToolLayer::new()
        .with_content(capture(CaptureMode::SpanAndEvent))
        .layer(tower::service_fn(echo));
    let (_, trace) = traced(|| tools.oneshot(ToolInvocation::new("echo", json!(7)))).await;
    let span = trace.span("execute_tool echo");
    assert_eq!(
        string(span, c::GEN_AI_TOOL_CALL_ARGUMENTS).as_deref(),
        Some("7")
    );
    assert_eq!(
        string(span, c::GEN_AI_TOOL_CALL_RESULT).as_deref(),
        Some("7")
    );
    assert_eq!(
        event(span, c::GEN_AI_TOOL_CALL_RESULT),
        &[KeyValue::new(c::GEN_AI_TOOL_CALL_RESULT, "7")]
    );

    // Truncated to the policy's limits, still valid JSON; any Serialize via `Json`.
    #[derive(serde::Serialize)]
    struct Rows {
        rows: Vec<u32>,
    }
    let policy = capture(CaptureMode::SpanOnly).with_limits(Limits {
        max_list_len: 2,
        ..Limits::default()
    });
    let tools = ToolLayer::new()
        .with_content(policy)
        .layer(tower::service_fn(|_: ToolInvocation| async {
            Ok::<_, Infallible>(Json(Rows {
                rows: vec![1, 2, 3, 4, 5],
            }))
        }));
    let (_, trace) = traced(|| tools.oneshot(ToolInvocation::new("sql", json!([1, 2, 3])))).await;
    let span = trace.span("execute_tool sql");
    assert_eq!(
        string(span, c::GEN_AI_TOOL_CALL_ARGUMENTS).as_deref(),
        Some(r#"[1,2,"[truncated: 1 more items]"]"#)
    );
    assert_eq!(
        string(span, c::GEN_AI_TOOL_CALL_RESULT).as_deref(),
        Some(r#"{"rows":[1,2,"[truncated: 3 more items]"]}"#)
    );
}

#[derive(Debug)]
enum ToolError {
    NotFound(String),
    Failed,
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolError::NotFound(name) => write!(f, "no tool named {name}"),
            ToolError::Failed => f.write_str("failed with key sk-proj-abcdefghijklmnopqrstuvwx"),
        }
    }
}

#[tokio::test]
async fn errors_set_error_type_from_the_classifier() {
    let failing = |call: ToolInvocation| async move {
        match call.name.as_str() {
            "fail" => Err::<Value, _>(ToolError::Failed),
            other => Err(ToolError::NotFound(other.to_owned())),
        }
    };

    // Default: `_OTHER`; the message (redacted) in the status.
    let tools = ToolLayer::new().layer(tower::service_fn(failing));
    let (result, trace) = traced(|| tools.oneshot(ToolInvocation::new("fail", json!({})))).await;
    assert!(
        matches!(result, Err(ToolError::Failed)),
        "the inner error type comes back"
    );
    let span = trace.span("execute_tool fail");
    assert_eq!(string(span, c::ERROR_TYPE).as_deref(), Some("_OTHER"));
    assert_eq!(error_description(span), "failed with key [REDACTED]");

    // A closure.
    let tools = ToolLayer::new()
        .classify_error(|e: &ToolError| match e {
            ToolError::NotFound(_) => "tool_not_found",
            ToolError::Failed => "tool_failed",
        })
        .layer(tower::service_fn(failing));
    let (_, trace) = traced(|| tools.oneshot(ToolInvocation::new("nope", json!({})))).await;
    let span = trace.span("execute_tool nope");
    assert_eq!(
        string(span, c::ERROR_TYPE).as_deref(),
        Some("tool_not_found")
    );
    assert_eq!(error_description(span), "no tool named nope");
}

#[tokio::test]
async fn a_panicking_tool_is_recorded_and_the_panic_continues() {
    let tools = ToolLayer::new().layer(tower::service_fn(|call: ToolInvocation| async move {
        tokio::task::yield_now().await;
        if call.name == "explode" {
            panic!("tool exploded on {}", call.arguments["city"]);
        }
        Ok::<_, Infallible>(json!(null))
    }));
    let call = ToolInvocation::new("explode", json!({"city": "Paris"}));
    let (outcome, trace) =
        traced(|| std::panic::AssertUnwindSafe(tools.oneshot(call)).catch_unwind()).await;

    // The caller sees the very same panic.
    let payload = outcome.expect_err("the panic continues");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some(r#"tool exploded on "Paris""#)
    );
    let span = trace.span("execute_tool explode");
    assert_eq!(string(span, c::ERROR_TYPE).as_deref(), Some("panic"));
    assert_eq!(
        error_description(span),
        r#"panicked: tool exploded on "Paris""#
    );
    assert_eq!(
        event(span, "exception"),
        &[
            KeyValue::new("exception.type", "panic"),
            KeyValue::new("exception.message", r#"tool exploded on "Paris""#),
        ]
    );
}

/// A service whose `call` itself panics (before any future exists).
#[derive(Clone)]
struct PanicsInCall;

impl Service<ToolInvocation> for PanicsInCall {
    type Response = ();
    type Error = Infallible;
    type Future = std::future::Ready<Result<(), Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _call: ToolInvocation) -> Self::Future {
        panic!("bad call")
    }
}

#[tokio::test]
async fn a_panic_in_the_inner_call_is_recorded_too() {
    let mut tools = ToolLayer::new().layer(PanicsInCall);
    let (outcome, trace) = traced(|| async move {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tools.call(ToolInvocation::new("broken", json!({})))
        }))
        .map(drop)
    })
    .await;
    let payload = outcome.expect_err("the panic continues");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"bad call"));
    let span = trace.span("execute_tool broken");
    assert_eq!(string(span, c::ERROR_TYPE).as_deref(), Some("panic"));
    assert_eq!(error_description(span), "panicked: bad call");
}

async fn slow_tool(_call: ToolInvocation) -> Result<&'static str, BoxError> {
    tracing::info_span!("slow step").in_scope(|| {});
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok("too late")
}

#[tokio::test]
async fn a_timeout_outside_the_layer_cancels_the_span() {
    let tools = ServiceBuilder::new()
        .timeout(Duration::from_millis(20))
        .layer(ToolLayer::new())
        .service_fn(slow_tool);
    let (result, trace) = traced(|| tools.oneshot(ToolInvocation::new("slow", json!({})))).await;
    let error = result.expect_err("timed out");
    assert!(error.is::<tower::timeout::error::Elapsed>(), "{error}");

    let span = trace.span("execute_tool slow");
    assert_eq!(string(span, c::ERROR_TYPE).as_deref(), Some("cancelled"));
    assert_eq!(
        error_description(span),
        "cancelled: the call was dropped before it completed"
    );
    assert_eq!(span.parent_span_id, trace.root().span_context.span_id());
    let duration = span.end_time.duration_since(span.start_time).unwrap();
    assert!(
        duration >= Duration::from_millis(15) && duration < Duration::from_secs(10),
        "{duration:?}"
    );
}

#[tokio::test]
async fn a_timeout_inside_the_layer_is_a_classified_error() {
    let tools = ServiceBuilder::new()
        .layer(ToolLayer::new().classify_error(|e: &BoxError| {
            if e.is::<tower::timeout::error::Elapsed>() {
                "timeout"
            } else {
                "_OTHER"
            }
        }))
        .timeout(Duration::from_millis(20))
        .service_fn(slow_tool);
    let (result, trace) = traced(|| tools.oneshot(ToolInvocation::new("slow", json!({})))).await;
    assert!(result.is_err());
    let span = trace.span("execute_tool slow");
    assert_eq!(string(span, c::ERROR_TYPE).as_deref(), Some("timeout"));
    assert_eq!(error_description(span), "request timed out");
}

#[tokio::test]
async fn a_dropped_call_ends_its_span_as_cancelled() {
    let mut tools = ToolLayer::new().layer(tower::service_fn(slow_tool));
    let ((), trace) = traced(|| async move {
        let call = tools.call(ToolInvocation::new("slow", json!({})));
        // Poll it once (the tool starts, enters its own span), then give up on it.
        tokio::select! {
            _ = call => panic!("the tool cannot finish this fast"),
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    })
    .await;
    let span = trace.span("execute_tool slow");
    assert_eq!(string(span, c::ERROR_TYPE).as_deref(), Some("cancelled"));
    assert!(matches!(span.status, Status::Error { .. }));
    // What the tool did before it was dropped nests under it.
    assert_eq!(
        trace.span("slow step").parent_span_id,
        span.span_context.span_id()
    );
}

/// Retries a failed call once.
#[derive(Clone)]
struct RetryOnce(usize);

impl tower::retry::Policy<ToolInvocation, &'static str, BoxError> for RetryOnce {
    type Future = std::future::Ready<()>;

    fn retry(
        &mut self,
        _req: &mut ToolInvocation,
        result: &mut Result<&'static str, BoxError>,
    ) -> Option<Self::Future> {
        if result.is_err() && self.0 > 0 {
            self.0 -= 1;
            Some(std::future::ready(()))
        } else {
            None
        }
    }

    fn clone_request(&mut self, req: &ToolInvocation) -> Option<ToolInvocation> {
        Some(req.clone())
    }
}

#[tokio::test]
async fn retries_and_timeouts_stack_one_span_per_attempt() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let tools = ServiceBuilder::new()
        .retry(RetryOnce(1))
        .timeout(Duration::from_secs(5))
        .layer(ToolLayer::new())
        .service_fn(move |_call: ToolInvocation| {
            let attempt = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if attempt == 0 {
                    Err::<&'static str, BoxError>("flaky backend".into())
                } else {
                    Ok("ok")
                }
            }
        });
    let ((result, totals), trace) = traced(|| {
        agent::run(AgentInfo::new("retrier"), async {
            tools.oneshot(ToolInvocation::new("flaky", json!({}))).await
        })
    })
    .await;
    assert_eq!(result.unwrap(), "ok");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(totals.tool_calls, 2, "each attempt is a tool call");

    let agent_span = trace.span("invoke_agent retrier");
    let spans = trace.all("execute_tool flaky");
    assert_eq!(spans.len(), 2);
    assert_eq!(string(spans[0], c::ERROR_TYPE).as_deref(), Some("_OTHER"));
    assert_eq!(error_description(spans[0]), "flaky backend");
    assert_eq!(attr(spans[1], c::ERROR_TYPE), None);
    for span in &spans {
        assert_eq!(span.parent_span_id, agent_span.span_context.span_id());
    }
    assert_eq!(int(agent_span, c::AITRACE_RUN_TOOL_CALLS), 2);
}

/// Ready only on the second poll; its errors are typed.
#[derive(Clone, Default)]
struct SlowToStart {
    polls: Arc<AtomicUsize>,
    fail_ready: bool,
}

#[derive(Debug, PartialEq)]
struct NotReady;

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not ready")
    }
}

impl Service<ToolInvocation> for SlowToStart {
    type Response = Value;
    type Error = NotReady;
    type Future = Pin<Box<dyn Future<Output = Result<Value, NotReady>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), NotReady>> {
        if self.fail_ready {
            return Poll::Ready(Err(NotReady));
        }
        if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _call: ToolInvocation) -> Self::Future {
        Box::pin(async { Ok(Value::from("done")) })
    }
}

fn assert_clone<T: Clone>(_: &T) {}

#[tokio::test]
async fn the_layer_keeps_poll_ready_clone_and_error_types() {
    let inner = SlowToStart::default();
    let polls = inner.polls.clone();
    let mut tools: ToolService<SlowToStart> = ToolService::new(inner);
    assert_clone(&tools);
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    assert!(
        tools.poll_ready(&mut cx).is_pending(),
        "pending passes through"
    );
    assert_eq!(polls.load(Ordering::SeqCst), 1);
    let done = tools
        .ready()
        .await
        .unwrap()
        .call(ToolInvocation::new("t", json!(1)))
        .await;
    assert_eq!(done, Ok(Value::from("done")));
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    assert_eq!(tools.get_ref().polls.load(Ordering::SeqCst), 2);

    let mut failing = ToolService::new(SlowToStart {
        fail_ready: true,
        ..SlowToStart::default()
    });
    assert_eq!(failing.ready().await.err(), Some(NotReady));
}

/// A request type of the user's own, through the trait.
struct Lookup {
    key: String,
}

impl ToolCall for Lookup {
    fn tool_name(&self) -> &str {
        "kv_lookup"
    }
}

#[tokio::test]
async fn any_request_implementing_tool_call_works() {
    let tools = ToolLayer::new()
        .with_content(capture(CaptureMode::SpanOnly))
        .layer(tower::service_fn(|req: Lookup| async move {
            Ok::<_, Infallible>(format!("value of {}", req.key))
        }));
    let (result, trace) = traced(|| tools.oneshot(Lookup { key: "a".into() })).await;
    assert_eq!(result.unwrap(), "value of a");
    let span = trace.span("execute_tool kv_lookup");
    // Defaults: function, no id, no description, no arguments.
    assert_eq!(
        string(span, c::GEN_AI_TOOL_TYPE).as_deref(),
        Some("function")
    );
    assert_eq!(attr(span, c::GEN_AI_TOOL_CALL_ID), None);
    assert_eq!(attr(span, c::GEN_AI_TOOL_DESCRIPTION), None);
    assert_eq!(attr(span, c::GEN_AI_TOOL_CALL_ARGUMENTS), None);
    assert_eq!(
        string(span, c::GEN_AI_TOOL_CALL_RESULT).as_deref(),
        Some(r#""value of a""#)
    );
}

/// A tool whose `call` does work before returning its future.
#[derive(Clone)]
struct PreparesInCall;

impl Service<ToolInvocation> for PreparesInCall {
    type Response = ();
    type Error = Infallible;
    type Future = std::future::Ready<Result<(), Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _call: ToolInvocation) -> Self::Future {
        tracing::info_span!("prepare").in_scope(|| {});
        std::future::ready(Ok(()))
    }
}

#[tokio::test]
async fn work_done_in_the_inner_call_nests_under_the_tool_span() {
    let tools = ToolLayer::new().layer(PreparesInCall);
    let (result, trace) = traced(|| tools.oneshot(ToolInvocation::new("prep", json!({})))).await;
    result.unwrap();
    let span = trace.span("execute_tool prep");
    assert_eq!(
        trace.span("prepare").parent_span_id,
        span.span_context.span_id()
    );
    assert_eq!(span.status, Status::Unset);
}
