//! GenAI tower layers for LLM clients (OpenTelemetry GenAI spans, tokens, cost, streaming).
//!
//! This crate is being built; see the workspace README for what is available today.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
