#!/usr/bin/env bash
# The official clients, unchanged, against the real binary on 127.0.0.1.
# Usage: tests/clients/run.sh [path/to/notify]   (default: target/debug/notify)
# Installs the pinned clients into tests/clients/.venv and tests/clients/node_modules if missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/debug/notify}"
[ -x "$bin" ] || { echo "notify binary not found at $bin (run cargo build first)" >&2; exit 1; }

bash "$here/setup.sh"

work="$(mktemp -d)"
server_pid=""
moto_pid=""
clamd_pid=""
cleanup() {
  for p in "$server_pid" "$moto_pid" "$clamd_pid"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null || true; rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
smtp_port="$(free_port)"
callback_port="$(free_port)"
while [ "$smtp_port" = "$port" ]; do smtp_port="$(free_port)"; done
while [ "$callback_port" = "$port" ] || [ "$callback_port" = "$smtp_port" ]; do callback_port="$(free_port)"; done
export NOTIFY_DATA_DIR="$work/data" NOTIFY_SERVER__LISTEN="127.0.0.1:$port" NOTIFY_LOG__LEVEL=warn

# A self-signed certificate for the SMTP sink (test_delivery.py runs it with STARTTLS required);
# the server trusts it through smtp.ca_file. CA:FALSE so rustls accepts it as a server certificate.
cat > "$work/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
x509_extensions = server
prompt = no
[dn]
CN = localhost
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
CNF
openssl req -x509 -config "$work/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -nodes -keyout "$work/smtp-key.pem" -out "$work/smtp-cert.pem" -days 2 2>/dev/null
admin_secret="$(openssl rand -hex 32)"

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

# Letters: files in an S3 bucket (moto's server) and precompiled uploads scanned by a real clamd
# with the project's test signatures (fixtures/clamav), as an appliance in production would run.
s3_port="$(free_port)"
clamd_port="$(free_port)"
"$here/.venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" > "$work/moto.log" 2>&1 &
moto_pid=$!
mkdir -p "$work/clamav/db"
cp "$root"/fixtures/clamav/*.ndb "$root"/fixtures/clamav/*.hdb "$work/clamav/db/"
cat > "$work/clamav/clamd.conf" <<CONF
DatabaseDirectory $work/clamav/db
TCPSocket $clamd_port
TCPAddr 127.0.0.1
Foreground yes
LogFile $work/clamav/clamd.log
PidFile $work/clamav/clamd.pid
TemporaryDirectory $work/clamav
CONF
/usr/sbin/clamd -c "$work/clamav/clamd.conf" > /dev/null 2>&1 &
clamd_pid=$!
# Wait for both, and create the bucket (python: curl may not be on a fresh machine).
python3 - "$s3_port" "$clamd_port" <<'PY'
import socket, sys, time, urllib.request
s3_port, clamd_port = int(sys.argv[1]), int(sys.argv[2])
def clamd_ready():
    try:
        with socket.create_connection(("127.0.0.1", clamd_port), timeout=2) as s:
            s.sendall(b"zPING\0")
            return s.recv(16).startswith(b"PONG")
    except OSError:
        return False
deadline = time.time() + 60
while True:
    try:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{s3_port}/client-letters", method="PUT"), timeout=2)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("moto_server did not start")
        time.sleep(0.1)
while not clamd_ready():
    if time.time() > deadline:
        sys.exit("clamd did not start")
    time.sleep(0.1)
PY
export NOTIFY_BLOBS__KIND=s3 NOTIFY_BLOBS__S3__BUCKET=client-letters \
  NOTIFY_BLOBS__S3__ENDPOINT="http://127.0.0.1:$s3_port" NOTIFY_BLOBS__S3__ALLOW_HTTP=true \
  NOTIFY_BLOBS__S3__ACCESS_KEY_ID=testing NOTIFY_BLOBS__S3__SECRET_ACCESS_KEY=testing \
  NOTIFY_ANTIVIRUS__ENABLED=true NOTIFY_ANTIVIRUS__CLAMD="127.0.0.1:$clamd_port"

# Emails go to the SMTP sink of test_delivery.py (not running during the other tests: those
# emails stay `created` and are retried every second).
NOTIFY_PROVIDERS__EMAIL=smtp NOTIFY_SMTP__HOST=127.0.0.1 NOTIFY_SMTP__PORT="$smtp_port" \
  NOTIFY_SMTP__TLS=starttls NOTIFY_SMTP__CA_FILE="$work/smtp-cert.pem" \
  NOTIFY_DELIVERY__RETRY_DELAY_SECONDS=1 NOTIFY_ADMIN__SECRET="$admin_secret" \
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
 "pdf": "$root/fixtures/letters/valid-1-page.pdf",
 "service_name": "Client Tests", "email_from_domain": "notify.localhost",
 "smtp": {"host": "127.0.0.1", "port": $smtp_port,
          "cert": "$work/smtp-cert.pem", "key": "$work/smtp-key.pem"},
 "callback_port": $callback_port,
 "s3": {"endpoint": "http://127.0.0.1:$s3_port", "bucket": "client-letters"},
 "admin": {"client_id": "notify-admin", "secret": "$admin_secret"}}
JSON
export NOTIFY_CLIENT_FIXTURE="$work/fixture.json" PYTHONDONTWRITEBYTECODE=1

status=0
echo "== notifications-python-client"
"$here/.venv/bin/pytest" -q -p no:cacheprovider "$here/test_python_client.py" || status=1
echo "== delivery through SMTP (aiosmtpd, STARTTLS)"
"$here/.venv/bin/pytest" -q -p no:cacheprovider "$here/test_delivery.py" || status=1
echo "== notifications-node-client"
(cd "$here" && node --test test_node_client.mjs) || status=1

# The letter tests once more with the files on local disk instead of S3 (same data, clamd still
# scanning): the same statuses and the same names, in <data_dir>/blobs.
echo "== letters with files on local disk"
kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true
env -u NOTIFY_BLOBS__KIND -u NOTIFY_BLOBS__S3__BUCKET -u NOTIFY_BLOBS__S3__ENDPOINT -u NOTIFY_CLIENT_FIXTURE \
  NOTIFY_ADMIN__SECRET="$admin_secret" "$bin" serve > "$work/server-disk.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  n healthcheck --timeout 1 >/dev/null 2>&1 && break
  sleep 0.1
done
python3 - "$work/fixture.json" "$work/fixture-disk.json" "$work/data/blobs" <<'PY'
import json, sys
fix = json.load(open(sys.argv[1]))
del fix["s3"]
fix["blobs_dir"] = sys.argv[3]
json.dump(fix, open(sys.argv[2], "w"))
PY
NOTIFY_CLIENT_FIXTURE="$work/fixture-disk.json" "$here/.venv/bin/pytest" -q -p no:cacheprovider \
  -k "letter or virus" "$here/test_python_client.py" || status=1
if [ "$status" -ne 0 ]; then
  echo "--- server log" >&2; tail -50 "$work/server.log" >&2
  [ -f "$work/server-disk.log" ] && tail -20 "$work/server-disk.log" >&2
fi
exit "$status"
