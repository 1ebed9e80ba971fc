//! Tower layers for agent tool executors and agent runs (execute_tool / invoke_agent spans).
//!
//! This crate is being built; see the workspace README for what is available today.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
