//! # aitrace
//!
//! OpenTelemetry for AI applications in Rust, in one dependency: [`init`] sets the
//! telemetry pipeline up (OTLP to any collector, or a local trace file and a trace tree
//! printed at exit when there is none), and the layers trace what your application does:
//! LLM calls ([`llm`]), tool calls and agent runs ([`tool`]), HTTP hops ([`http`]).
//!
//! ```no_run
//! use aitrace::llm::{GenAiConfig, GenAiMiddleware};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Or set OTEL_SERVICE_NAME; OTEL_EXPORTER_OTLP_ENDPOINT picks a collector.
//!     let _telemetry = aitrace::Telemetry::builder().service_name("my-agent").init()?;
//!
//!     let llm = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!         .with(GenAiMiddleware::new(GenAiConfig::from_env()))
//!         .with(aitrace::http::ClientMiddleware::new())
//!         .build();
//!     let reply = llm
//!         .post("http://localhost:11434/v1/chat/completions")
//!         .body(r#"{"model":"llama3.2","messages":[{"role":"user","content":"Hi"}]}"#)
//!         .send()
//!         .await?
//!         .text()
//!         .await?;
//!     println!("{reply}");
//!     Ok(())
//! }
//! ```
//!
//! ## Features
//!
//! | feature | gives |
//! |---|---|
//! | `llm` (default) | [`llm`]: `GenAiLayer`, `GenAiStreamLayer`, `GenAiHttpLayer` |
//! | `reqwest` (default) | `llm::GenAiMiddleware` and `http::ClientMiddleware` for reqwest-middleware |
//! | `async-openai` | `llm::async_openai::OpenAiHttpService` for async-openai 0.43 |
//! | `tool` (default) | [`tool`]: `ToolLayer`, `AgentLayer`, `agent::run`, `BudgetLayer` |
//! | `http` (default) | [`http`]: `ServerLayer`, `ClientLayer`, propagation |
//! | `axum`, `hyper-util` | server spans named by axum's `MatchedPath`; hyper-util client errors |
//! | `tls` (default) = `tls-aws-lc`, or `tls-ring` | `https://` collectors (see below) |
//!
//! The instrumentation crates are also usable alone (`aitrace-core` and an adapter),
//! for instance in a library that must not install a pipeline: [`core`] is their shared
//! ground, [`insight`] reads trace files back.
//!
//! **TLS.** rustls needs a crypto provider. `tls-aws-lc` is the default because
//! reqwest 0.13's default TLS is rustls with aws-lc-rs, so an application on reqwest (or
//! async-openai) already builds it and the binary keeps one provider; building aws-lc-sys
//! needs cmake and a C compiler. `tls-ring` (with `default-features = false`) builds ring
//! instead, which needs only a C compiler; `init()` then installs ring as the process-wide
//! rustls provider unless the application installed one first. Without either feature,
//! only `http://` collectors work.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod pipeline;

pub use pipeline::{
    init, ExportMonitor, ExportStats, Exporter, FileMetricExporter, FileSpanExporter, Protocol,
    SetupError, Telemetry, TelemetryGuard,
};

/// The shared ground of the instrumentation (`aitrace-core`): conventions, usage,
/// cost, content policy, span emission, run totals.
pub use aitrace_core as core;
/// gRPC client and server layers for tonic (`aitrace-grpc`).
#[cfg(feature = "grpc")]
pub use aitrace_grpc as grpc;
/// HTTP client and server spans with W3C propagation (`aitrace-http`).
#[cfg(feature = "http")]
pub use aitrace_http as http;
/// Reading trace files back (`aitrace-insight`): trees, cost reports, Chrome export.
pub use aitrace_insight as insight;
/// GenAI spans for LLM calls (`aitrace-llm`).
#[cfg(feature = "llm")]
pub use aitrace_llm as llm;
/// Message-queue producer and consumer spans, NATS built in (`aitrace-messaging`).
#[cfg(feature = "messaging")]
pub use aitrace_messaging as messaging;
/// Tool-call and agent-run spans (`aitrace-tool`).
#[cfg(feature = "tool")]
pub use aitrace_tool as tool;

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
