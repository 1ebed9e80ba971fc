//! # aitrace-mcp
//!
//! OpenTelemetry for MCP (Model Context Protocol) clients and servers built with
//! [rmcp](https://docs.rs/rmcp), the official Rust SDK, following the MCP semantic
//! conventions of semantic-conventions-genai:
//!
//! - [`TracedPeer`] (client): a CLIENT span per request, `{mcp.method.name} {target}`
//!   (`tools/call get_weather`, `resources/read`, ...), with `mcp.method.name`,
//!   `mcp.protocol.version`, `jsonrpc.request.id`, `gen_ai.tool.name` and
//!   `gen_ai.operation.name=execute_tool` for `tools/call`, `network.transport`,
//!   `server.address`/`server.port`, and `error.type` (the JSON-RPC error code, or
//!   `tool_error` for an `isError` result). The trace context goes into
//!   `params._meta` (`traceparent`, `tracestate`, `baggage`, SEP-414).
//! - [`TracedServer`] (server): a SERVER span per handled request, parented on that
//!   context, with the handler's own work (LLM calls, HTTP) nested under it.
//! - The `mcp.client.operation.duration` and `mcp.server.operation.duration`
//!   histograms, and `mcp.client.session.duration` / `mcp.server.session.duration`
//!   (a client session: from the first `TracedPeer` to the drop of its last clone; a
//!   server session: from `initialize` to the handler's drop).
//!
//! Tool arguments and results (`gen_ai.tool.call.arguments`/`.result`) are recorded
//! only when the content policy says so (span modes), redacted and cut.
//!
//! ```no_run
//! use aitrace_mcp::{TracedPeer, TracedServer};
//! use rmcp::model::CallToolRequestParams;
//! use rmcp::{ServerHandler, ServiceExt};
//!
//! #[derive(Clone)]
//! struct Weather;
//! impl ServerHandler for Weather {}
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Server side: wrap the handler.
//! let (server_io, client_io) = tokio::io::duplex(64 * 1024);
//! tokio::spawn(async move {
//!     let server = TracedServer::new(Weather).serve(server_io).await?;
//!     server.waiting().await?;
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! // Client side: wrap the running client.
//! let client = ().serve(client_io).await?;
//! let mcp = TracedPeer::stdio(&client);
//! let tools = mcp.list_tools(None).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod attributes;
mod client;
mod meta;
mod metrics;
mod server;

pub use client::TracedPeer;
pub use server::TracedServer;

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
