#!/usr/bin/env bash
# Headless Chromium and its WebDriver (Debian's packages), for the viewer's real-browser
# test (tests/tests/viewer_browser.rs).
#   scripts/chromium.sh install   apt-get install chromium chromium-driver when missing (root)
#   scripts/chromium.sh path      print the chromedriver path (the test reads AITRACE_CHROMEDRIVER)
#   scripts/chromium.sh browser   print the chromium path (AITRACE_CHROMIUM)
set -euo pipefail
CHROMIUM="${AITRACE_CHROMIUM:-/usr/bin/chromium}"
DRIVER="${AITRACE_CHROMEDRIVER:-/usr/bin/chromedriver}"

install() {
  if [ -x "$CHROMIUM" ] && [ -x "$DRIVER" ]; then
    echo "chromium: already installed ($("$DRIVER" --version | head -n 1))"
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }
  else
    echo "chromium or chromedriver is missing: install them (e.g. sudo apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
  echo "chromium: installed ($("$DRIVER" --version | head -n 1))"
}

case "${1:-}" in
  install) install ;;
  path) echo "$DRIVER" ;;
  browser) echo "$CHROMIUM" ;;
  *)
    echo "usage: $0 install|path|browser" >&2
    exit 2
    ;;
esac
