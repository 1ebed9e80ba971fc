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

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
