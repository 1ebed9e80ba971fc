//! Which `execute_tool` span is current, so the adapter that carries the same call
//! out (an MCP client, a remote tool) enriches it instead of starting a second span.
//!
//! `aitrace-tool`'s `ToolLayer` marks the context it attaches while a tool runs;
//! `aitrace-mcp`'s client looks the mark up and, when it names the tool being called,
//! claims it: the MCP attributes go on the `execute_tool` span, and only the first
//! claim wins (a second call of the same tool in that run gets its own span).
//!
//! ```
//! use aitrace_core::emit::OtelSpan;
//! use aitrace_core::tool_call::ToolCallSpan;
//! use opentelemetry::trace::SpanKind;
//! use opentelemetry::KeyValue;
//!
//! let span = OtelSpan::start("execute_tool get_weather", SpanKind::Internal, vec![]);
//! let cx = ToolCallSpan::mark(span.context(), "get_weather", &span);
//! let claimed = ToolCallSpan::claim(&cx, "get_weather").expect("marked");
//! claimed.set_attributes([KeyValue::new("mcp.method.name", "tools/call")]);
//! assert!(ToolCallSpan::claim(&cx, "get_weather").is_none(), "claimed once");
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use opentelemetry::Context;

use crate::emit::{OtelSpan, SpanHandle};

/// The mark of an `execute_tool` span in an OpenTelemetry [`Context`].
#[derive(Debug, Clone)]
pub struct ToolCallSpan {
    name: Arc<str>,
    span: SpanHandle,
    claimed: Arc<AtomicBool>,
}

impl ToolCallSpan {
    /// `cx` marked as running the tool `name` inside `span`.
    pub fn mark(cx: Context, name: &str, span: &OtelSpan) -> Context {
        cx.with_value(ToolCallSpan {
            name: Arc::from(name),
            span: span.handle(),
            claimed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The marked span of the tool `name` in `cx`, once: `None` when `cx` runs no
    /// marked tool, another tool, or the span was claimed already.
    pub fn claim(cx: &Context, name: &str) -> Option<SpanHandle> {
        let mark = cx.get::<ToolCallSpan>()?;
        if &*mark.name != name || mark.claimed.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(mark.span.clone())
    }

    /// The name of the marked tool.
    pub fn name(&self) -> &str {
        &self.name
    }
}
