//! # aitrace-grpc
//!
//! Tower layers that trace gRPC calls per the OpenTelemetry RPC conventions, for tonic
//! clients and servers (tonic's channels and servers are tower services over
//! `http::Request`/`http::Response`) and any other http-based gRPC stack:
//!
//! - [`GrpcClientLayer`]: a CLIENT span `{package.Service}/{Method}` per call, its
//!   context injected into the metadata (W3C `traceparent`, or the installed
//!   propagator).
//! - [`GrpcServerLayer`]: a SERVER span per call, parented to the caller's context from
//!   the metadata; missing, garbage or oversized metadata starts a new trace.
//! - The status comes from the trailers, so streaming calls end when their stream
//!   ends, with the status the server sent last; trailers-only responses end at the
//!   headers. A call dropped before its status is `CANCELLED`.
//! - Errors per the gRPC rules: on the client every status but `OK`; on the server
//!   only `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`,
//!   `DATA_LOSS`. `error.type` is the status name (`DEADLINE_EXCEEDED`), `transport`
//!   when the call failed below gRPC, `missing_grpc_status` when a response had none.
//!
//! Attributes (see [`attributes`]): `rpc.system.name`, `rpc.method`
//! (`package.Service/Method`), `rpc.status_code` (`OK`), `server.address`,
//! `server.port`, and the older `rpc.system`, `rpc.service`, `rpc.grpc.status_code`.
//!
//! ```no_run
//! use aitrace_grpc::{GrpcClientLayer, GrpcServerLayer};
//! use tower::ServiceBuilder;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Client: wrap the channel; generated clients take any such service
//! // (`WeatherClient::new(channel)`).
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051")
//!     .connect()
//!     .await?;
//! let channel = ServiceBuilder::new().layer(GrpcClientLayer::new()).service(channel);
//! let _client = tonic::client::Grpc::new(channel);
//!
//! // Server: one layer for every service the server serves.
//! let _server = tonic::transport::Server::builder().layer(GrpcServerLayer::new());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod attributes;
mod body;
mod call;
mod client;
mod metadata;
mod server;
mod status;

pub use body::GrpcBody;
pub use client::{GrpcClient, GrpcClientLayer, ResponseFuture};
pub use server::{GrpcServer, GrpcServerLayer};

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
