#!/usr/bin/env bash
# The official Python MCP SDK with OpenTelemetry, the peer of the MCP interop tests
# (tests/tests/mcp_interop.rs):
#   scripts/mcp-python.sh install   install into a cached venv (once per machine)
#   scripts/mcp-python.sh python    print the venv's python (what the tests run)
# openinference-instrumentation-mcp carries the trace context in params._meta both
# ways; the OpenTelemetry SDK exports the Python side's spans over OTLP/HTTP.
set -euo pipefail
MCP_VERSION=2.3.0
OPENINFERENCE_VERSION=2.0.13
CACHE="${AITRACE_CACHE:-$HOME/.cache/aitrace}"
VENV="$CACHE/mcp-python-$MCP_VERSION-$OPENINFERENCE_VERSION"

install() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import mcp, openinference.instrumentation.mcp, opentelemetry.exporter.otlp.proto.http" 2>/dev/null; then
    echo "mcp-python: already installed in $VENV"
    return
  fi
  command -v python3 >/dev/null || { echo "python3 is needed for the MCP interop tests" >&2; exit 1; }
  if ! python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    echo "the Python MCP SDK needs Python 3.10 or newer" >&2; exit 1
  fi
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv
    else
      echo "Python's venv module is missing: install it (e.g. sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "mcp==$MCP_VERSION" \
    "openinference-instrumentation-mcp==$OPENINFERENCE_VERSION" \
    opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
  echo "mcp-python: installed in $VENV"
}

case "${1:-}" in
  install) install ;;
  python) echo "$VENV/bin/python" ;;
  *) echo "usage: $0 install|python" >&2; exit 2 ;;
esac
