//! # aitrace-tool
//!
//! Tower layers that trace what an AI agent does besides talking to models, following
//! the OpenTelemetry GenAI conventions:
//!
//! - [`tool`]: [`ToolLayer`](tool::ToolLayer), one `execute_tool {name}` span per tool
//!   call, with arguments and results captured only under the content policy; panics,
//!   errors, timeouts and cancellations all end the span with a clear status.
//! - [`agent`]: [`AgentLayer`](agent::AgentLayer) and [`agent::run`], one
//!   `invoke_agent {name}` (or `invoke_workflow {name}`) span per run, carrying the
//!   run's totals: tokens, cost, LLM calls and tool calls, sub-agents included (also
//!   across spawned tasks), readable from code when the run ends.
//! - [`budget`]: [`BudgetLayer`](budget::BudgetLayer), refusing LLM or tool calls with
//!   a typed error once the run is over its token or cost budget.
//! - [`classify`]: how errors become `error.type`.
//!
//! The run totals themselves live in [`aitrace_core::run`]: aitrace-llm's layers feed
//! them, this crate counts tool calls and records the totals, and neither crate
//! depends on the other.
//!
//! ```
//! use std::convert::Infallible;
//! use aitrace_tool::agent::{self, AgentInfo};
//! use aitrace_tool::tool::{ToolInvocation, ToolLayer};
//! use serde_json::json;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let tools = ServiceBuilder::new()
//!     .layer(ToolLayer::new())
//!     .service_fn(|call: ToolInvocation| async move {
//!         Ok::<_, Infallible>(json!({ "echo": call.arguments }))
//!     });
//!
//! let (reply, totals) = agent::run(AgentInfo::new("echo-agent"), async {
//!     tools.oneshot(ToolInvocation::new("echo", json!("hi"))).await
//! })
//! .await;
//! assert_eq!(reply.unwrap()["echo"], "hi");
//! assert_eq!(totals.tool_calls, 1);
//! # }
//! ```
//!
//! # Emission
//! Spans are made with [`aitrace_core::emit::OtelSpan`] (OpenTelemetry SDK spans
//! parented on the current context, about 4x cheaper than `tracing` spans bridged by
//! tracing-opentelemetry; see that module for the measurements and the `tracing`
//! fallback). While a tool or an agent runs, its span's context (and the run) is
//! attached, both while the inner service's `call` runs and while its future is
//! polled, so the user's `tracing` spans, LLM spans and sub-agents inside nest under
//! ours.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod agent;
pub mod budget;
pub mod classify;
mod guard;
pub mod tool;

use aitrace_core::conventions::OPENINFERENCE_KIND_AGENT as OPENINFERENCE_AGENT;
use aitrace_core::conventions::OPENINFERENCE_KIND_CHAIN as OPENINFERENCE_CHAIN;
use aitrace_core::conventions::OPENINFERENCE_KIND_TOOL as OPENINFERENCE_TOOL;
