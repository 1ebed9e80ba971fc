//! The jobs demo: one trace across an HTTP service, a message queue, a worker process
//! and a worker in another language.
//!
//! - [`agent`]: `POST /ask` runs an agent (`invoke_agent`) that asks the LLM, which asks
//!   for `get_weather`; the tool publishes a job to NATS (a request whose reply the
//!   agent waits for, carrying the run) and answers with the worker's reply.
//! - [`worker`] (the `job-worker` binary, another process): takes each job (`process`
//!   span in the agent's trace), calls the weather worker over gRPC as a tool
//!   (`execute_tool get_forecast`, a gRPC CLIENT span), asks the LLM for the answer
//!   (streamed), and replies with it and with the run's totals, so the agent's run
//!   counts the worker's LLM and tool calls.
//! - The weather worker is Python (`scripts/pyworker/worker.py`, grpcio traced by
//!   opentelemetry-instrumentation-grpc): its server span is a child of the Rust
//!   client span.
//!
//! The end-to-end test (`tests/tests/e2e_jobs.rs`) runs all of it against a real
//! nats-server and the real Python worker and checks the one trace they export.

pub mod agent;
pub mod forecast;
pub mod worker;

/// The subject jobs are published to (the tests use their own).
pub const SUBJECT: &str = "jobs.weather";
