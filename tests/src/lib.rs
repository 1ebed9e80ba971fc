//! End-to-end tests of AITrace against a real OTLP receiver live in `tests/`: they run
//! the demo scenario exporting over OTLP/gRPC and OTLP/HTTP to Arize Phoenix and read
//! the spans back from Phoenix's REST API.
//!
//! They are `#[ignore]`d in a plain `cargo test` (they need Phoenix running);
//! `scripts/test-all.sh` installs and starts Phoenix, then runs them with
//! `--include-ignored`.
#![forbid(unsafe_code)]
