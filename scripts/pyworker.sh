#!/usr/bin/env bash
# The Python gRPC worker of the cross-language tests (scripts/pyworker/worker.py): a
# real grpcio server instrumented by opentelemetry-instrumentation-grpc, exporting
# OTLP/HTTP to the endpoint the test gives it.
#   scripts/pyworker.sh install   install into a cached venv (once per machine)
#   scripts/pyworker.sh python    print the venv's python (the tests start the worker with it)
# The worker's stubs are generated from scripts/pyworker/weather.proto by grpcio-tools
# when it starts, into a temporary directory; nothing generated is kept in the repo.
set -euo pipefail
# Versions that fit together (grpcio-tools pins its protobuf; the OpenTelemetry
# instrumentation's 0.x-beta line goes with the SDK's 1.x line).
GRPCIO=1.85.1
OTEL=1.45.2
OTEL_INSTRUMENTATION=0.66b2
CACHE="${AITRACE_CACHE:-$HOME/.cache/aitrace}"
VENV="$CACHE/pyworker-grpc$GRPCIO-otel$OTEL"

install() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import grpc, grpc_tools, opentelemetry.instrumentation.grpc, opentelemetry.exporter.otlp.proto.http" 2>/dev/null; then
    echo "pyworker: already installed in $VENV"
    return
  fi
  command -v python3 >/dev/null || { echo "python3 is needed for the gRPC worker" >&2; exit 1; }
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
    "grpcio==$GRPCIO" "grpcio-tools==$GRPCIO" \
    "opentelemetry-api==$OTEL" "opentelemetry-sdk==$OTEL" \
    "opentelemetry-exporter-otlp-proto-http==$OTEL" \
    "opentelemetry-instrumentation-grpc==$OTEL_INSTRUMENTATION"
  echo "pyworker: installed in $VENV"
}

case "${1:-}" in
  install) install ;;
  python) echo "$VENV/bin/python" ;;
  *) echo "usage: $0 install|python" >&2; exit 2 ;;
esac
