//! The jobs demo's worker process: takes weather jobs from NATS, calls the gRPC
//! weather worker and the LLM, replies (see `aitrace_examples::jobs`).
//!
//! `AITRACE_NATS_URL=nats://127.0.0.1:14222 AITRACE_LLM_BASE=http://127.0.0.1:PORT/v1
//! AITRACE_FORECAST_ADDR=127.0.0.1:PORT cargo run -p aitrace-examples --bin job-worker`
//!
//! Optional: `AITRACE_JOBS_SUBJECT` (default `jobs.weather`), `AITRACE_JOBS_MAX` (stop
//! after that many jobs). Exports per the `OTEL_*` variables. Prints `ready` once it
//! takes jobs.

use aitrace_examples::demo::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    aitrace_examples::jobs::worker::main().await
}
