//! Tool executors: one `execute_tool {name}` span per tool call.
//!
//! [`ToolLayer`] wraps any `tower::Service<Req>` whose request implements [`ToolCall`]
//! (or use [`ToolInvocation`]) and whose response implements [`ToolResponse`]. Each
//! call becomes an INTERNAL span named `execute_tool {gen_ai.tool.name}` with
//! `gen_ai.operation.name = execute_tool`, `gen_ai.tool.{name, call.id, type,
//! description}`, and counts as a tool call of the current agent run
//! ([`Run::record_tool_call`](aitrace_core::run::Run::record_tool_call)).
//!
//! ```
//! use std::time::Duration;
//! use aitrace_tool::tool::{ToolInvocation, ToolLayer};
//! use serde_json::{json, Value};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! #[derive(Debug)]
//! struct ToolError(String);
//! impl std::fmt::Display for ToolError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) }
//! }
//! impl std::error::Error for ToolError {}
//!
//! // The tool executor you already have.
//! async fn execute(call: ToolInvocation) -> Result<Value, ToolError> {
//!     match call.name.as_str() {
//!         "get_weather" => Ok(json!({ "city": call.arguments["city"], "celsius": 21 })),
//!         other => Err(ToolError(format!("no tool named {other}"))),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let tools = ServiceBuilder::new()
//!     // A timeout outside the layer drops the call: its span ends marked `cancelled`.
//!     .timeout(Duration::from_secs(30))
//!     .layer(
//!         ToolLayer::new()
//!             .classify_error(|_: &ToolError| "tool_error")
//!             .with_openinference(true),
//!     )
//!     .service_fn(execute);
//!
//! let call = ToolInvocation::new("get_weather", json!({ "city": "Paris" }))
//!     .with_call_id("call_abc123")
//!     .with_description("Current weather for a city");
//! let result = tools.oneshot(call).await?;
//! assert_eq!(result["celsius"], 21);
//! # Ok(())
//! # }
//! ```
//!
//! # What the span records
//! - **Success**: status unset (the conventions' choice for success); the result as
//!   `gen_ai.tool.call.result` when captured.
//! - **Error**: `error.type` from the classifier (`_OTHER` by default, see
//!   [`classify`](crate::classify)), error status with the error's message (redacted,
//!   cut to 1 KiB).
//! - **Panic**: `error.type = panic`, an `exception` event with `exception.type = panic`
//!   and `exception.message`, error status; then the panic continues unwinding to the
//!   caller exactly as it would without the layer.
//! - **Cancellation** (the response future is dropped before it completes: a
//!   `tower::timeout` or a deadline outside the layer, a `select!`, a client that went
//!   away): `error.type = cancelled` and an error status saying so. A timeout *inside*
//!   the layer is an ordinary error of the inner service: classify it (e.g. as
//!   `timeout`) with [`ToolLayer::classify_error`].
//!
//! Retries outside the layer (`tower::retry`) make one span per attempt, each counted
//! as a tool call.
//!
//! # Content
//! Arguments and results are content: recorded only when the [`ContentPolicy`]
//! captures content (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` or
//! [`ToolLayer::with_content`]), as JSON truncated to the policy's limits with
//! secrets redacted. `SPAN_ONLY` puts them in the attributes
//! `gen_ai.tool.call.arguments` / `gen_ai.tool.call.result`; `EVENT_ONLY` puts them in
//! span events of the same names (each carrying one attribute of that name), for
//! backends that limit attribute sizes; `SPAN_AND_EVENT` does both.
//!
//! [`ContentPolicy`]: aitrace_core::content::ContentPolicy

mod call;
mod future;
mod layer;
mod response;

pub use call::{ToolCall, ToolInvocation};
pub use future::ToolFuture;
pub use layer::{ToolLayer, ToolService};
pub use response::{Json, ToolResponse};

mod capture {
    use aitrace_core::content::ContentPolicy;
    use aitrace_core::emit::OtelSpan;
    use opentelemetry::KeyValue;

    /// Where captured content goes: `(attribute, event)` as the policy says.
    pub(super) fn split(
        captured: Option<String>,
        policy: &ContentPolicy,
    ) -> (Option<String>, Option<String>) {
        let mode = policy.mode();
        match (mode.on_span(), mode.on_events()) {
            (true, true) => (captured.clone(), captured),
            (true, false) => (captured, None),
            (false, true) => (None, captured),
            (false, false) => (None, None),
        }
    }

    /// Adds captured content as an event named after its attribute, carrying it.
    pub(super) fn event(span: &OtelSpan, key: &'static str, value: String) {
        span.add_event(key, vec![KeyValue::new(key, value)]);
    }
}
