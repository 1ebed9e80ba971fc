//! Point-in-time events on the current span (`tool_not_found`, `validation_failed`, ...).
//!
//! Events go to the span that is current where they are added: the user's `tracing`
//! span, or one of ours. They carry OpenTelemetry attributes, so they show up on the
//! span's timeline in Jaeger and in the trace file.
//!
//! ```
//! use aitrace_core::events;
//! use opentelemetry::KeyValue;
//!
//! let span = tracing::info_span!("execute_tool lookup");
//! let _entered = span.enter();
//! events::add(events::TOOL_NOT_FOUND, [KeyValue::new("gen_ai.tool.name", "lookup")]);
//! ```

use std::borrow::Cow;

use opentelemetry::trace::TraceContextExt;
use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The model asked for a tool the agent does not have.
pub const TOOL_NOT_FOUND: &str = "tool_not_found";
/// Arguments or output failed validation.
pub const VALIDATION_FAILED: &str = "validation_failed";
/// A call is being retried.
pub const RETRY: &str = "retry";
/// A run went over its token or cost budget.
pub const BUDGET_EXCEEDED: &str = "budget_exceeded";
/// The consumer dropped a stream before it ended.
pub const STREAM_CANCELLED: &str = "stream_cancelled";
/// Captured input content (event form of `gen_ai.input.messages`).
pub const GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS: &str =
    "gen_ai.client.inference.operation.details";

/// Adds an event to the current span.
///
/// That is the span of the current OpenTelemetry context: a span of ours attached to
/// the running future, or the user's entered `tracing` span (tracing-opentelemetry
/// activates its context). Without an active context (context activation turned
/// off), the current `tracing` span is used; with neither, the event is dropped.
pub fn add(name: impl Into<Cow<'static, str>>, attributes: impl IntoIterator<Item = KeyValue>) {
    let attributes: Vec<KeyValue> = attributes.into_iter().collect();
    let cx = opentelemetry::Context::current();
    if cx.has_active_span() {
        cx.span().add_event(name, attributes);
        return;
    }
    let current = tracing::Span::current();
    if !current.is_disabled() {
        current.add_event(name, attributes);
    }
}

/// Adds an event to the given `tracing` span.
pub fn add_to(
    span: &tracing::Span,
    name: impl Into<Cow<'static, str>>,
    attributes: impl IntoIterator<Item = KeyValue>,
) {
    if !span.is_disabled() {
        span.add_event(name, attributes.into_iter().collect());
    }
}
