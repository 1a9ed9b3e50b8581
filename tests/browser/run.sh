#!/usr/bin/env bash
# The admin web UI in a real browser: Debian's Chromium driven by Playwright for Python, against
# the real binary on 127.0.0.1 with the embedded default config (outbox providers, so sign-in
# codes and messages land in the outbox), axe-core on every page, screenshots saved in
# target/screenshots/. Usage: tests/browser/run.sh [path/to/notify [pytest args, e.g. -k name]]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/debug/notify}"
[ -x "$bin" ] || { echo "notify binary not found at $bin (run cargo build first)" >&2; exit 1; }
# Absolute: the suite runs from its own folder.
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
bash "$root/tests/clients/setup.sh"
[ -x /usr/bin/chromium ] || { echo "Debian's chromium is missing: run .ci/deps as root" >&2; exit 1; }
export NOTIFY_BIN="$bin"
export NOTIFY_SCREENSHOTS="$root/target/screenshots"
export NOTIFY_AXE="$root/tests/clients/node_modules/axe-core/axe.min.js"
mkdir -p "$NOTIFY_SCREENSHOTS"
cd "$here"
exec "$root/tests/clients/.venv/bin/pytest" -q -p no:cacheprovider "$here" "${@:2}"
