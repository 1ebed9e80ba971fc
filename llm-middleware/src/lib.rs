//! # aitrace-llm
//!
//! OpenTelemetry GenAI spans for every LLM call, whatever client makes it:
//!
//! - [`GenAiLayer`] / [`GenAiStreamLayer`]: tower layers for any LLM client service
//!   whose request and response types say what they are ([`GenAiRequest`],
//!   [`GenAiResponse`], [`GenAiChunk`]).
//! - [`GenAiMiddleware`] (feature `reqwest`, on by default): reqwest-middleware that
//!   recognises OpenAI(-compatible), Anthropic and Gemini API calls and reads their
//!   JSON and SSE bodies as they pass; [`GenAiHttpLayer`] does the same for tower
//!   services over `http::Request`.
//! - [`async_openai::OpenAiHttpService`] (feature `async-openai`): calls made with the
//!   async-openai crate.
//!
//! Each call becomes a CLIENT span `{operation} {model}` with the GenAI conventions'
//! attributes (provider, model, parameters, response id and model, finish reasons,
//! token usage with cached and reasoning tokens, `gen_ai.usage.cost` from the price
//! table, `gen_ai.response.time_to_first_chunk` for streams, `error.type`), the GenAI
//! client metrics, and an entry in the current agent run's totals
//! ([`aitrace_core::run`]). Content is captured only when the
//! [content policy](aitrace_core::content) says so.
//!
//! Spans are made with [`aitrace_core::emit::OtelSpan`]; with no `tracing`
//! subscriber installed and no agent run collecting totals, calls pass straight
//! through. The metrics go to the global meter provider; with the SDK's provider
//! installed by your own code rather than `aitrace::init()`, call
//! [`aitrace_core::emit::set_sdk_meter_provider`]`(true)` after installing it, and the
//! metric points are recorded through bound instruments (cheaper; see BENCHMARKS.md).
//!
//! ```
//! use aitrace_llm::{GenAiConfig, GenAiMiddleware};
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(GenAiMiddleware::new(GenAiConfig::from_env()))
//!     .build();
//! # let _ = client;
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod config;
pub mod http;
pub mod layer;
mod metrics;
mod recorder;
pub mod sse;
pub mod stream;
mod types;
pub mod wire;

#[cfg(feature = "async-openai")]
pub mod async_openai;
#[cfg(feature = "reqwest")]
mod middleware;

pub use aitrace_core::classify::{ClassifyError, DefaultClassifier};
pub use config::{GenAiConfig, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENT_BYTES};
pub use http::{GenAiHttp, GenAiHttpLayer, ObservedBody};
pub use layer::{GenAi, GenAiLayer, ResponseFuture};
#[cfg(feature = "reqwest")]
pub use middleware::GenAiMiddleware;
pub use stream::{GenAiStream, GenAiStreamLayer, InstrumentedStream, StreamFuture};
pub use types::{
    GenAiChunk, GenAiRequest, GenAiResponse, RequestInfo, RequestParams, ResponseInfo,
};

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
