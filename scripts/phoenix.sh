#!/usr/bin/env bash
# Arize Phoenix, the real OTLP receiver of the end-to-end tests.
#   scripts/phoenix.sh install   install into a cached venv (~850 MB, once per machine)
#   scripts/phoenix.sh start     start on loopback (ports below), wait for /healthz
#   scripts/phoenix.sh stop      stop what start started
# Ports: PHOENIX_PORT (web UI, REST API and OTLP/HTTP at /v1/traces; default 16006)
#        PHOENIX_GRPC_PORT (OTLP/gRPC; default 16007). Both bound to 127.0.0.1 only.
set -euo pipefail
VERSION=20.26.1
CACHE="${AITRACE_CACHE:-$HOME/.cache/aitrace}"
VENV="$CACHE/phoenix-$VERSION"
RUN="${AITRACE_PHOENIX_RUN:-${TMPDIR:-/tmp}/aitrace-phoenix}"
export PHOENIX_HOST=127.0.0.1
export PHOENIX_PORT="${PHOENIX_PORT:-16006}"
export PHOENIX_GRPC_PORT="${PHOENIX_GRPC_PORT:-16007}"
export PHOENIX_WORKING_DIR="$RUN/data"
export PHOENIX_TELEMETRY_ENABLED=false
export PHOENIX_ALLOW_EXTERNAL_RESOURCES=false
here="$(cd "$(dirname "$0")" && pwd)"

install() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import phoenix" 2>/dev/null; then
    echo "phoenix $VERSION: already installed in $VENV"
    return
  fi
  command -v python3 >/dev/null || { echo "python3 is needed for Phoenix" >&2; exit 1; }
  if ! python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "Phoenix needs Python 3.11 or newer" >&2; exit 1
  fi
  # `venv` without `ensurepip` (Debian's python3-venv not installed) cannot make a venv.
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
  "$VENV/bin/pip" install -q --disable-pip-version-check "arize-phoenix==$VERSION"
  echo "phoenix $VERSION: installed in $VENV"
}

start() {
  mkdir -p "$RUN"
  if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
    echo "phoenix already running (pid $(cat "$RUN/pid"))"
  else
    rm -rf "$PHOENIX_WORKING_DIR"
    mkdir -p "$PHOENIX_WORKING_DIR"
    nohup "$VENV/bin/python" "$here/phoenix/launch.py" >"$RUN/log" 2>&1 &
    echo $! >"$RUN/pid"
  fi
  for _ in $(seq 1 120); do
    if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PHOENIX_PORT/healthz', timeout=2)" >/dev/null 2>&1; then
      echo "phoenix ready: http://127.0.0.1:$PHOENIX_PORT (OTLP/HTTP), 127.0.0.1:$PHOENIX_GRPC_PORT (OTLP/gRPC)"
      return
    fi
    if ! kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
      echo "phoenix exited:" >&2; tail -40 "$RUN/log" >&2; exit 1
    fi
    sleep 1
  done
  echo "phoenix did not become ready in 120 s" >&2; tail -40 "$RUN/log" >&2; exit 1
}

stop() {
  if [ -f "$RUN/pid" ]; then
    pid="$(cat "$RUN/pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$RUN/pid"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
