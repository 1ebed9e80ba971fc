//! End-to-end tests of AITrace against a real OTLP receiver live in `tests/`: they run
//! the demo scenario exporting over OTLP/gRPC and OTLP/HTTP to Arize Phoenix and read
//! the spans back from Phoenix's REST API.
//!
//! They are `#[ignore]`d in a plain `cargo test` (they need Phoenix running);
//! `scripts/test-all.sh` installs and starts Phoenix, then runs them with
//! `--include-ignored`.
//!
//! The reliability and security tests need no Phoenix and run in a plain `cargo test`:
//! `collector_faults` (an OTLP endpoint unreachable, black-holed, slow or restarted,
//! over gRPC and HTTP, against a local receiver in `tests/common/receiver.rs`),
//! `secrets` (planted keys and tokens never reach the trace file or an OTLP receiver)
//! and `span_balance` (every span started is ended, on cancel, timeout and panic).
//!
//! `mcp_interop` (its own `harness = false` binary) runs MCP end to end against that
//! receiver: a traced rmcp client and server over stdio (a child process), and the
//! official Python MCP SDK (openinference-instrumentation-mcp) as client and as server;
//! the Python peers come from `scripts/mcp-python.sh install`.
#![forbid(unsafe_code)]
