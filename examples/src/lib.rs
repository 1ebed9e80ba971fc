//! Runnable AITrace demos, and the demo scenario itself as a library so the
//! end-to-end tests run exactly what the demo runs.
//!
//! - `agent-demo` (the README's first command): [`demo`].
//! - `job-worker`: the worker process of [`jobs`] (HTTP -> agent -> NATS -> worker ->
//!   Python gRPC worker, one trace).
//! - `quickstart`: setup, usage and cost with no service at all.
//! - `reqwest_client`, `axum_server`, `tower_llm_client`, `async_openai_client`,
//!   `tool_executor`: one focused example per crate.
//! - `rig_agent` (feature `rig`): a rig agent traced through the middleware, [`rig_demo`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod demo;
pub mod jobs;
#[cfg(feature = "rig")]
pub mod rig_demo;

// The workspace README's examples compile (it is not part of any published crate).
// Its rig section needs the rig crates: the README is doctested with `rig` on (CI runs
// the doctests with every feature).
#[cfg(all(doctest, feature = "rig"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
