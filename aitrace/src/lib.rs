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
//! ## The pipeline
//!
//! [`init`] reads the standard OpenTelemetry variables and installs, in one go: the W3C
//! trace-context propagator, a tracer provider with a bounded batch span processor, a
//! meter provider, a logger provider, and a `tracing` subscriber with the OpenTelemetry
//! layer, a log layer that prints trace and span ids, and a bridge that sends the
//! application's `tracing` events as OTLP log records (with the ids of the span they
//! happen in). It returns a [`TelemetryGuard`] that flushes and shuts everything down
//! when dropped.
//!
//! Where spans, metrics and logs go:
//! - `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) set: OTLP, over gRPC or
//!   HTTP/protobuf per `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc`, `http/protobuf`;
//!   default `http/protobuf` as the specification says). Jaeger all-in-one listens on
//!   4317 (gRPC) and 4318 (HTTP). Logs take `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` if set.
//! - no endpoint: OTLP/JSON lines (one export request per line) in `trace-*`,
//!   `metrics-*` and `logs-*.jsonl` files under `AITRACE_TRACE_DIR` (default
//!   `./traces`), each created with its first record. When the guard drops it prints a
//!   summary from memory, unless `AITRACE_PRINT_TREE=false`: the last few traces as
//!   trees, the totals since start and where the file is.
//! - `OTEL_TRACES_EXPORTER=none`: spans are made (ids propagate) but not exported;
//!   `OTEL_METRICS_EXPORTER=none`, `OTEL_LOGS_EXPORTER=none` turn those off.
//! - `OTEL_SDK_DISABLED=true`: nothing is installed at all.
//!
//! Telemetry never holds the application up: a span's end puts it in a bounded queue
//! (never waiting on the exporter), spans that do not fit are dropped and counted
//! ([`TelemetryGuard::dropped_spans`], [`TelemetryGuard::export_stats`]; logged once,
//! not per span), a failing collector is retried within the export timeout and its
//! lost spans counted, and shutting down waits at most
//! [`Telemetry::shutdown_timeout`] even when the collector is gone.
//!
//! What the collector answers is taken at its word (OTLP/HTTP): a `429`/`503` with
//! `Retry-After` (seconds or a date, up to 10 minutes) is waited out, however much longer
//! than the export timeout, and the batch sent again (the SDK alone would give it up
//! and send the next one into the same overload); meanwhile nothing is sent and new
//! spans wait in the bounded queue. Shutting down ends the wait. Only spans the
//! collector confirmed count as [`ExportStats::exported`]: those its `partial_success`
//! rejected are [`ExportStats::rejected`] (lost), and those sent to an endpoint that
//! answered `2xx` with something other than an OTLP response (a web UI's HTML page) are
//! [`ExportStats::unconfirmed`]; each case is logged once. Over gRPC the SDK's own
//! handling stays: `RetryInfo` is honoured within the export timeout, a longer delay
//! loses the batch (counted as failed).
//!
//! Sampling: `OTEL_TRACES_SAMPLER`/`_ARG` or [`Telemetry::sampling_ratio`]; whatever
//! the sampler, spans started in a force-sampled context ([`core::sampling`], or a
//! request with the server layer's force-sample header) are recorded.
//!
//! Also read: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`,
//! `AITRACE_OPENINFERENCE`, `AITRACE_SPAN_FILTER` (which `tracing` spans are exported,
//! default `info`) and `RUST_LOG` for the log layer and the bridge (default
//! `info`). A builder sets the same things from code (code wins over the environment):
//!
//! ```no_run
//! use aitrace::{Exporter, Telemetry};
//!
//! # fn main() -> Result<(), aitrace::SetupError> {
//! let _guard = Telemetry::builder()
//!     .service_name("my-agent")
//!     .exporter(Exporter::File { dir: "traces".into() })
//!     .sampling_ratio(0.25)
//!     .init()?;
//! # Ok(()) }
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
//! | `mcp` | [`mcp`]: `TracedPeer` and `TracedServer` for rmcp 3.11 MCP clients and servers |
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
    Rotation, SetupError, Telemetry, TelemetryGuard,
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
/// MCP client and server spans, trace context in `params._meta` (`aitrace-mcp`).
#[cfg(feature = "mcp")]
pub use aitrace_mcp as mcp;
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
