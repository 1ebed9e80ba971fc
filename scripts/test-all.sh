#!/usr/bin/env bash
# The whole test suite: unit, integration and doc tests of every crate.
# (The end-to-end tests against a real OTLP receiver are added by the e2e work.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-features --all-targets
cargo test --workspace --all-features --doc
