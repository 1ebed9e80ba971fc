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
//! - [`events`]: point-in-time events on the current span.
//! - [`classify`]: how an error becomes `error.type` (shared by every layer).
//! - [`span`]: helpers to set attributes and statuses on `tracing` spans.
//! - [`emit`]: [`OtelSpan`](emit::OtelSpan), the one way the adapters emit spans (and why).
//! - [`run`]: run totals (tokens, cost, calls) collected over agent runs.
//! - [`url`]: URLs made safe to record.
//! - `setup` (feature `setup`, on by default): one-call telemetry setup, OTLP or a local
//!   trace file, and the trace tree printer.
//! - [`tracefile`] and [`insight`] (feature `insight`, implied by `setup`): read trace
//!   files back; span trees with a waterfall, cost reports, Chrome trace export.
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
pub mod conventions;
pub mod cost;
pub mod emit;
pub mod events;
#[cfg(feature = "insight")]
pub mod insight;
pub mod run;
#[cfg(feature = "setup")]
pub mod setup;
pub mod span;
#[cfg(feature = "insight")]
pub mod tracefile;
pub mod url;
pub mod usage;

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
