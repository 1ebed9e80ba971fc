#!/usr/bin/env bash
# nats-server (Debian's package), the real broker of the messaging tests.
#   scripts/nats.sh install   apt-get install nats-server (once per machine; root)
#   scripts/nats.sh start     start on 127.0.0.1:$AITRACE_NATS_PORT with JetStream, wait until it answers
#   scripts/nats.sh stop      stop what start started
#   scripts/nats.sh url       print the URL the tests read from AITRACE_NATS_URL
# Port: AITRACE_NATS_PORT (default 14222), loopback only; JetStream data in a temp dir.
set -euo pipefail
PORT="${AITRACE_NATS_PORT:-14222}"
RUN="${AITRACE_NATS_RUN:-${TMPDIR:-/tmp}/aitrace-nats}"

install() {
  if command -v nats-server >/dev/null; then
    echo "nats-server: already installed ($(nats-server --version))"
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq nats-server >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq nats-server; }
  else
    echo "nats-server is missing: install it (e.g. sudo apt-get install nats-server)" >&2
    exit 1
  fi
  echo "nats-server: installed ($(nats-server --version))"
}

start() {
  mkdir -p "$RUN"
  if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
    echo "nats-server already running (pid $(cat "$RUN/pid"))"
  else
    rm -rf "$RUN/js"
    nohup nats-server -a 127.0.0.1 -p "$PORT" -js -sd "$RUN/js" >"$RUN/log" 2>&1 &
    echo $! >"$RUN/pid"
  fi
  for _ in $(seq 1 50); do
    # The server greets every connection with an INFO line.
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT" && head -c 4 <&3) 2>/dev/null | grep -q INFO; then
      echo "nats-server ready: $(url)"
      return
    fi
    if ! kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
      echo "nats-server exited:" >&2; tail -20 "$RUN/log" >&2; exit 1
    fi
    sleep 0.2
  done
  echo "nats-server did not become ready in 10 s" >&2; tail -20 "$RUN/log" >&2; exit 1
}

stop() {
  if [ -f "$RUN/pid" ]; then
    pid="$(cat "$RUN/pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$RUN/pid"
  fi
}

url() { echo "nats://127.0.0.1:$PORT"; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: $0 install|start|stop|url" >&2; exit 2 ;;
esac
