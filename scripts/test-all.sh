#!/usr/bin/env bash
# The whole test suite: unit, integration, doc and end-to-end tests of every crate.
# The end-to-end tests need a real OTLP receiver: this script installs Arize Phoenix
# into a cached venv (first run: about a minute and ~850 MB), starts it on loopback,
# runs everything (the e2e tests are #[ignore]d in a plain `cargo test`), and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/phoenix.sh install
# The Python MCP SDK peers of the MCP interop tests (tests/tests/mcp_interop.rs).
bash scripts/mcp-python.sh install
export AITRACE_REQUIRE_MCP_PYTHON=1
# Set before starting, so a Phoenix that fails to become ready is stopped too.
trap 'bash scripts/phoenix.sh stop' EXIT
bash scripts/phoenix.sh start
cargo test --workspace --all-features --all-targets -- --include-ignored
cargo test --workspace --all-features --doc
