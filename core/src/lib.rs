//! # aitrace-core
//!
//! The shared ground of AITrace, OpenTelemetry instrumentation for AI applications:
//!
//! - [`conventions`]: GenAI and HTTP attribute, span and metric names, the
//!   [`Operation`](conventions::Operation) and [`Provider`](conventions::Provider) enums,
//!   span-name builders.
//! - [`usage`]: token usage with the conventions' counting rules.
//! - [`bound`]: caller-controlled names bounded in length, metric attributes in
//!   cardinality.
//! - [`cost`]: an embedded, dated model price table and exact cost arithmetic.
//! - [`content`]: the opt-in content capture policy, truncation and secret redaction.
//! - [`context`]: session, user, tags, metadata and prompt put on every span in a scope.
//! - [`evaluation`]: `gen_ai.evaluation.result` events for scored answers.
//! - [`events`]: point-in-time events on the current span.
//! - [`classify`]: how an error becomes `error.type` (shared by every layer).
//! - [`span`]: helpers to set attributes and statuses on `tracing` spans.
//! - [`emit`]: [`OtelSpan`](emit::OtelSpan), the one way the adapters emit spans (and why).
//! - [`logs`]: events as OpenTelemetry log records (structured attributes, trace ids).
//! - [`propagation`]: trace context in and out of carriers (W3C when no propagator).
//! - [`run`]: run totals (tokens, cost, calls) collected over agent runs.
//! - [`url`]: URLs made safe to record.
//! - [`openinference`]: the process-wide switch for OpenInference attributes.
//! - [`sampling`]: force-sampling marks for what must be recorded whatever the ratio.
//! - [`tool_call`]: the mark of the current `execute_tool` span, for adapters that
//!   carry the same call out (MCP).
//!
//! No I/O, no exporters, no async runtime: this crate is what instrumentation (the
//! `aitrace-llm`, `aitrace-tool` and `aitrace-http` adapters, and new ones) depends on.
//! Applications add the `aitrace` crate instead, which installs the telemetry pipeline
//! (`aitrace::init()`) and re-exports the layers; `aitrace-insight` reads trace files
//! back.
//!
//! ```
//! use aitrace_core::{conventions::Provider, cost::PriceTable, usage::Usage};
//!
//! let usage = Usage::new(1_000, 200).with_cache_read(600);
//! let cost = PriceTable::embedded()
//!     .cost(Some(&Provider::OpenAi), "gpt-4o-mini", &usage)
//!     .expect("gpt-4o-mini is priced");
//! println!("{} tokens cost {cost}", usage.total_tokens());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod bound;
pub mod classify;
pub mod content;
pub mod context;
pub mod conventions;
pub mod cost;
pub mod emit;
pub mod evaluation;
pub mod events;
pub mod json;
pub mod logs;
pub mod openinference;
pub mod propagation;
pub mod run;
pub mod sampling;
pub mod span;
pub mod tool_call;
pub mod url;
pub mod usage;

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
