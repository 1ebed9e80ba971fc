//! The jobs scenario's worker process (`aitrace_examples::jobs::worker::main`), for the
//! end-to-end test to start.
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), aitrace_examples::demo::BoxError> {
    aitrace_examples::jobs::worker::main().await
}
