//! # aitrace-http
//!
//! HTTP client and server layers with W3C trace-context propagation, so one user
//! request is one trace across services:
//!
//! - [`ServerLayer`]: a tower layer for `http::Request<B>` services (axum, hyper,
//!   tonic). SERVER span `{method} {http.route}`, incoming context extracted, kept open
//!   while the response body streams.
//! - `ClientMiddleware` (feature `reqwest`, on by default): a
//!   `reqwest_middleware::Middleware`. CLIENT span `{method}` or
//!   `{method} {url.template}`, `traceparent` sent, `http.request.resend_count` under
//!   reqwest-retry.
//! - [`ClientLayer`]: the same client span as a tower layer over `http::Request<B>`
//!   services (hyper-util's client, tonic channels).
//! - [`propagation`]: inject/extract for any carrier: HTTP headers, and message-queue
//!   headers as `HashMap<String, String>`.
//!
//! Trace context goes through the global propagator, or W3C Trace Context when none
//! is installed (the default no-op sends nothing). Spans are made with
//! [`OtelSpan`](aitrace_core::emit::OtelSpan): they nest under the user's entered
//! `tracing` span, the user's spans nest under them, and context still propagates
//! when a span is not recorded (filtered, sampled out, no subscriber).
//!
//! Feature `axum` names server spans after axum's `MatchedPath` and reads
//! `client.address` from `ConnectInfo`; feature `hyper-util` classifies hyper-util
//! client errors (`error.type` = `connect`, ...) under [`ClientLayer`].
//!
//! ## Two services, one trace
//!
//! ```
//! use aitrace_http::{ClientMiddleware, ServerLayer};
//! use axum::{extract::State, routing::get, Router};
//! use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Service B.
//! let b = Router::new()
//!     .route("/answer/{id}", get(|| async { "42" }))
//!     .layer(ServerLayer::new());
//! let b_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let b_url = format!("http://{}", b_listener.local_addr()?);
//! tokio::spawn(async move { axum::serve(b_listener, b).await });
//!
//! // Service A calls B through the traced client: B's server span is a child of A's
//! // client span, itself a child of A's server span.
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(ClientMiddleware::new())
//!     .build();
//! let a = Router::new()
//!     .route(
//!         "/ask",
//!         get(|State((client, b_url)): State<(ClientWithMiddleware, String)>| async move {
//!             let answer = client.get(format!("{b_url}/answer/7")).send().await;
//!             answer.map_or_else(|e| e.to_string(), |_| "asked".to_owned())
//!         }),
//!     )
//!     .with_state((client, b_url))
//!     .layer(ServerLayer::new());
//! let a_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let a_url = format!("http://{}/ask", a_listener.local_addr()?);
//! tokio::spawn(async move { axum::serve(a_listener, a).await });
//!
//! let body = reqwest::get(a_url).await?.text().await?;
//! assert_eq!(body, "asked");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod attributes;
pub mod client;
mod error_kind;
mod guard;
pub mod headers;
pub mod propagation;
pub mod server;

#[cfg(feature = "reqwest")]
pub use client::ClientMiddleware;
pub use client::{
    ClientConfig, ClientFuture, ClientLayer, DisablePropagation, SpanName, TracedClient,
    UrlTemplate,
};
pub use server::{
    HttpRoute, RequestFilter, ServerBody, ServerFuture, ServerLayer, SkipPaths, TracedServer,
};

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
