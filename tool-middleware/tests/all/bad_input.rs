//! Tools that return what is not JSON: the caller gets the result unchanged, the span
//! records it as a JSON string or a marker, never a panic.

use std::collections::HashMap;
use std::convert::Infallible;

use aitrace_core::content::{CaptureMode, ContentPolicy};
use aitrace_core::conventions as c;
use aitrace_tool::tool::{Json, ToolInvocation, ToolLayer};
use opentelemetry::trace::Status;
use serde_json::{json, Value};
use tower::{ServiceBuilder, ServiceExt as _};

use crate::helpers::{string, traced};

fn captured() -> ToolLayer {
    ToolLayer::new().with_content(ContentPolicy::default().with_mode(CaptureMode::SpanOnly))
}

#[tokio::test]
async fn a_plain_text_result_is_recorded_as_a_json_string() {
    let text = "plain text, not {json: at all ]] \u{0}\u{1b}[31m é";
    let tools = ServiceBuilder::new().layer(captured()).service_fn(
        move |_call: ToolInvocation| async move { Ok::<_, Infallible>(text.to_owned()) },
    );
    let (result, trace) = traced(|| tools.oneshot(ToolInvocation::new("echo", json!({})))).await;
    assert_eq!(
        result.unwrap(),
        text,
        "the caller gets the result unchanged"
    );
    let span = trace.span("execute_tool echo");
    assert_eq!(span.status, Status::Unset);
    let recorded = string(span, c::GEN_AI_TOOL_CALL_RESULT).expect("result recorded");
    // Valid JSON whatever the text: a JSON string holding it.
    let back: Value = serde_json::from_str(&recorded).expect("the recorded result is JSON");
    assert_eq!(back, Value::String(text.to_owned()));
}

#[tokio::test]
async fn a_result_that_cannot_be_serialized_is_marked() {
    // JSON objects need string keys: this map does not serialize.
    let tools =
        ServiceBuilder::new()
            .layer(captured())
            .service_fn(|_call: ToolInvocation| async move {
                let mut map = HashMap::new();
                map.insert((1, 2), "pair keys");
                Ok::<_, Infallible>(Json(map))
            });
    let (result, trace) = traced(|| tools.oneshot(ToolInvocation::new("pairs", json!({})))).await;
    assert_eq!(result.unwrap().0.get(&(1, 2)), Some(&"pair keys"));
    let span = trace.span("execute_tool pairs");
    assert_eq!(span.status, Status::Unset);
    let recorded = string(span, c::GEN_AI_TOOL_CALL_RESULT).expect("result recorded");
    let back: Value = serde_json::from_str(&recorded).expect("still JSON");
    assert!(
        back.as_str()
            .is_some_and(|s| s.starts_with("[unserializable result")),
        "{recorded}"
    );
}

#[tokio::test]
async fn arguments_that_are_not_objects_are_recorded_as_they_are() {
    let tools = ServiceBuilder::new()
        .layer(captured())
        .service_fn(|call: ToolInvocation| async move { Ok::<_, Infallible>(call.arguments) });
    let weird = Value::String("not an object: \"{\\".to_owned());
    let (result, trace) = traced(|| tools.oneshot(ToolInvocation::new("raw", weird.clone()))).await;
    assert_eq!(result.unwrap(), weird);
    let span = trace.span("execute_tool raw");
    let args: Value =
        serde_json::from_str(&string(span, c::GEN_AI_TOOL_CALL_ARGUMENTS).expect("recorded"))
            .expect("JSON");
    assert_eq!(args, weird);
}
