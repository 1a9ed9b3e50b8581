#!/usr/bin/env bash
# The official clients, unchanged, against the real binary on 127.0.0.1.
# Usage: tests/clients/run.sh [path/to/notify]   (default: target/debug/notify)
# Installs the pinned clients into tests/clients/.venv and tests/clients/node_modules if missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/debug/notify}"
[ -x "$bin" ] || { echo "notify binary not found at $bin (run cargo build first)" >&2; exit 1; }

if [ ! -x "$here/.venv/bin/pytest" ]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
fi
if [ ! -d "$here/node_modules/notifications-node-client" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent)
fi

work="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export NOTIFY_DATA_DIR="$work/data" NOTIFY_SERVER__LISTEN="127.0.0.1:$port" NOTIFY_LOG__LEVEL=warn

n() { "$bin" "$@"; }
service="$(n service create --name "Client Tests")"
printf 'Hello ((name))' > "$work/sms.txt"
printf 'Dear ((name))' > "$work/email.txt"
printf 'Letter body for ((name))' > "$work/letter.txt"
sms="$(n template create --service "$service" --type sms --name "A sms" --body-file "$work/sms.txt")"
email="$(n template create --service "$service" --type email --name "B email" --subject 'Hi ((name))' --body-file "$work/email.txt")"
letter="$(n template create --service "$service" --type letter --name "C letter" --subject 'Letter for ((name))' --body-file "$work/letter.txt")"
normal="$(n api-key create --service "$service" --name normal --type normal)"
team="$(n api-key create --service "$service" --name team --type team)"
test_key="$(n api-key create --service "$service" --name test --type test)"

"$bin" serve > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  n healthcheck --timeout 1 >/dev/null 2>&1 && break
  sleep 0.1
done
n healthcheck --timeout 2 >/dev/null

cat > "$work/fixture.json" <<JSON
{"base_url": "http://127.0.0.1:$port", "service_id": "$service",
 "keys": {"normal": "$normal", "team": "$team", "test": "$test_key"},
 "templates": {"sms": "$sms", "email": "$email", "letter": "$letter"},
 "pdf": "$root/fixtures/letters/one-page-a4.pdf"}
JSON
export NOTIFY_CLIENT_FIXTURE="$work/fixture.json"

status=0
echo "== notifications-python-client"
"$here/.venv/bin/pytest" -q -p no:cacheprovider "$here/test_python_client.py" || status=1
echo "== notifications-node-client"
(cd "$here" && node --test test_node_client.mjs) || status=1
if [ "$status" -ne 0 ]; then
  echo "--- server log" >&2; tail -50 "$work/server.log" >&2
fi
exit "$status"
