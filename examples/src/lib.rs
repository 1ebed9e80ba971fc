//! Runnable AITrace demos, and the demo scenario itself as a library so the
//! end-to-end tests run exactly what the demo runs.
//!
//! - `agent-demo` (the README's first command): [`demo`].
//! - `quickstart`: setup, usage and cost with no service at all.
//! - `reqwest_client`, `axum_server`, `tower_llm_client`, `async_openai_client`,
//!   `tool_executor`: one focused example per crate.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod demo;
