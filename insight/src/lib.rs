//! # aitrace-insight
//!
//! Trace insight: what an agent did and what it cost, from OTLP/JSON trace files (the
//! ones `aitrace::init()` writes when there is no collector, and the OpenTelemetry
//! Collector's file exporter). The consumer side of AITrace: it reads, it never
//! instruments, and it has no exporter or async runtime (except the optional `view`
//! server, feature `view`).
//!
//! The modules depend on each other in one direction only: [`time`] and
//! [`tracefile`] (reading) at the bottom, then [`Trace`] (grouping), [`Filter`] and
//! [`cost`], then the reports [`tree`] and [`chrome`].
//!
//! The pipeline, as the `aitrace` command runs it:
//!
//! 1. [`SpanReader`](crate::tracefile::SpanReader) streams spans from OTLP/JSON lines
//!    (a bounded batch of lines in memory at a time, decoded on every core, bad
//!    lines counted, not fatal);
//! 2. a [`Filter`] keeps spans by trace id and time while reading, then
//!    [`Trace::group`] builds each trace's tree (orphans become extra roots, parent
//!    cycles are cut) and the filter selects by span name and errors;
//! 3. a report: [`tree`] (the waterfall), [`CostReport`] (table or JSON), or
//!    [`chrome`] (Chrome trace event format for Perfetto and `chrome://tracing`).
//!
//! ```
//! use aitrace_insight::{chrome, tree, CostReport, Filter};
//! use aitrace_insight::tracefile::SpanReader;
//!
//! let text = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat gpt-4o","startTimeUnixNano":"1000000","endTimeUnixNano":"251000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}}]}]}]}]}"#;
//! let filter = Filter { name: Some("chat".into()), ..Filter::default() };
//! let mut reader = SpanReader::new(text.as_bytes());
//! let traces = filter.apply(reader.by_ref());
//! assert_eq!(reader.stats().bad_lines, 0);
//!
//! let waterfall = tree::render(&traces, &tree::TreeOptions::default());
//! assert!(waterfall.contains("tokens=12in/0out"));
//! assert_eq!(CostReport::new(&traces).total.input_tokens, 12);
//! assert!(chrome::to_string(&traces).contains("\"ph\":\"X\""));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod chrome;
pub mod cost;
mod filter;
mod text;
pub mod time;
mod trace;
pub mod tracefile;
pub mod tree;
#[cfg(feature = "view")]
pub mod view;

pub use cost::{CostReport, Totals};
pub use filter::Filter;
pub use trace::{Trace, TraceSpan};

use aitrace_core::conventions as c;

/// The span attributes that [`tree`], [`CostReport`] and [`Filter`] read (through
/// [`SpanRecord`](tracefile::SpanRecord)'s helpers: model, operation, errors). A
/// reader keeping only these and no events ([`SpanReader::for_reports`]) gives
/// the same trees and cost reports in less time and memory; [`chrome`] export writes
/// every attribute and event, so it reads them all.
///
/// A report that reads another attribute must list it here, and the sample lines of
/// the test that compares every report read both ways must hold it: that test finds a
/// missing key only where the sample has one.
///
/// ```
/// use aitrace_insight::tracefile::SpanReader;
/// use aitrace_insight::{tree, Filter};
///
/// let line = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat gpt-4o","startTimeUnixNano":"1000000","endTimeUnixNano":"251000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}},{"key":"gen_ai.response.id","value":{"stringValue":"chatcmpl-1"}}]}]}]}]}"#;
/// let read = |reader: SpanReader<&[u8]>| {
///     tree::render(&Filter::default().apply(reader), &tree::TreeOptions::default())
/// };
/// let all = read(SpanReader::new(line.as_bytes()));
/// let some = read(SpanReader::new(line.as_bytes()).for_reports());
/// assert_eq!(all, some);
/// ```
///
/// [`SpanReader::for_reports`]: tracefile::SpanReader::for_reports
pub const REPORT_ATTRIBUTES: &[&str] = &[
    // Kinds of span, and the model.
    c::GEN_AI_OPERATION_NAME,
    c::GEN_AI_RESPONSE_MODEL,
    c::GEN_AI_REQUEST_MODEL,
    c::GEN_AI_PROVIDER_NAME,
    c::GEN_AI_SYSTEM,
    c::GEN_AI_AGENT_NAME,
    c::HTTP_REQUEST_METHOD,
    c::HTTP_RESPONSE_STATUS_CODE,
    c::ERROR_TYPE,
    // Usage and cost (with the older names the reports fall back on).
    c::GEN_AI_USAGE_INPUT_TOKENS,
    c::GEN_AI_USAGE_PROMPT_TOKENS,
    c::GEN_AI_USAGE_OUTPUT_TOKENS,
    c::GEN_AI_USAGE_COMPLETION_TOKENS,
    c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    c::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    c::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    c::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    c::GEN_AI_USAGE_COST,
    c::AITRACE_COST_UNAVAILABLE,
    c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
];

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
