#!/usr/bin/env bash
# The whole test suite: unit, integration, doc and end-to-end tests of every crate.
# The end-to-end tests need a real OTLP receiver: this script installs Arize Phoenix
# into a cached venv (first run: about a minute and ~850 MB), starts it on loopback,
# runs everything (the e2e tests are #[ignore]d in a plain `cargo test`), and stops it.
# The messaging tests need nats-server: installed from Debian's packages, started the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/phoenix.sh install
# The Python MCP SDK peers of the MCP interop tests (tests/tests/mcp_interop.rs).
bash scripts/mcp-python.sh install
export AITRACE_REQUIRE_MCP_PYTHON=1
bash scripts/nats.sh install
# The Python gRPC worker of the cross-language tests (a cached venv, like Phoenix).
bash scripts/pyworker.sh install
AITRACE_PYWORKER_PYTHON="$(bash scripts/pyworker.sh python)"
export AITRACE_PYWORKER_PYTHON
# Headless Chromium and chromedriver (Debian's packages) for the viewer's real-browser
# test (tests/tests/viewer_browser.rs); required here, skipped elsewhere when missing.
bash scripts/chromium.sh install
export AITRACE_REQUIRE_BROWSER=1
# Set before starting, so a Phoenix that fails to become ready is stopped too.
trap 'bash scripts/phoenix.sh stop; bash scripts/nats.sh stop' EXIT
bash scripts/phoenix.sh start
# nats-server (Debian's package) on loopback: the messaging tests' broker.
bash scripts/nats.sh start
AITRACE_NATS_URL="$(bash scripts/nats.sh url)"
export AITRACE_NATS_URL
cargo test --workspace --all-features --all-targets -- --include-ignored
cargo test --workspace --all-features --doc
