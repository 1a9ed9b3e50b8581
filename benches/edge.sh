#!/usr/bin/env bash
# The HTTP edge's costs on the accept path, as interleaved A/B runs of `notify load` against a
# release server on 127.0.0.1 (a fresh server per run, the same data directory throughout):
#   tls:    plain HTTP vs HTTPS (a test CA made here with openssl), access log on in both;
#   access: access log on vs off (`info` vs `info,notify::access=off`), plain HTTP;
#   metrics: /metrics off (no token) vs on (a token, and a scrape every SCRAPE_SECONDS), plain
#            HTTP, access log off in both;
#   ops:     metrics and access log both off vs both on (the issue's ≤ 3% budget), plain HTTP.
# Prints each run and the medians. Usage: benches/edge.sh [tls|access|metrics|ops|both|all]
# Knobs: RUNS (5 per side), SECONDS_PER_RUN (10), CONNECTIONS (64), NOTIFY (target/release/notify).
set -euo pipefail
cd "$(dirname "$0")/.."
which_bench="${1:-both}"
N="${NOTIFY:-target/release/notify}"
RUNS="${RUNS:-5}"
SECS="${SECONDS_PER_RUN:-10}"
CONNS="${CONNECTIONS:-64}"
SCRAPE="${SCRAPE_SECONDS:-5}"
METRICS_TOKEN="bench-metrics-token-0123456789"
[ -x "$N" ] || { echo "build the server first: cargo build --release" >&2; exit 1; }

work="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export NOTIFY_DATA_DIR="$work/data" NOTIFY_SERVER__LISTEN="127.0.0.1:$port"
unset RUST_LOG

# A test CA and a server certificate for 127.0.0.1 (ECDSA P-256, as a modern deployment).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=bench CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/key.pem" -out "$work/req.pem" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$work/ext"
openssl x509 -req -in "$work/req.pem" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -extfile "$work/ext" -out "$work/cert.pem" 2>/dev/null

S=$("$N" service create --name Load)
"$N" service update --service "$S" --rate-limit 100000000 --email-limit 100000000 >/dev/null
K=$("$N" api-key create --service "$S" --name load --type normal)
printf 'Dear ((name))' > "$work/b.txt"
T=$("$N" template create --service "$S" --type email --name e --subject Hi --body-file "$work/b.txt")

# run LABEL SCHEME LOG_LEVEL [METRICS]: one server, one load run; prints the load line.
# METRICS=on sets a bearer token and scrapes /metrics every SCRAPE seconds during the run.
run() {
  local label="$1" scheme="$2" level="$3" metrics="${4:-off}" tls_env=() url="http://127.0.0.1:$port" ca=()
  local scraper="" scraped=""
  : > "$work/scrapes"
  if [ "$metrics" = on ]; then tls_env+=(NOTIFY_METRICS__BEARER_TOKEN="$METRICS_TOKEN"); fi
  if [ "$scheme" = https ]; then
    tls_env+=(NOTIFY_SERVER__TLS__CERT_FILE="$work/cert.pem" NOTIFY_SERVER__TLS__KEY_FILE="$work/key.pem")
    url="https://127.0.0.1:$port"; ca=(--tls-ca "$work/ca.pem")
  fi
  env "${tls_env[@]}" NOTIFY_LOG__LEVEL="$level" "$N" serve 2>"$work/server-$label.log" &
  server_pid=$!
  for _ in $(seq 1 300); do
    env "${tls_env[@]}" "$N" healthcheck --timeout 1 >/dev/null 2>&1 && break
    sleep 0.1
  done
  if [ "$metrics" = on ]; then
    ( while sleep "$SCRAPE"; do
        curl -sf -o /dev/null -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$port/metrics" \
          && echo >> "$work/scrapes"
      done ) &
    scraper=$!
  fi
  local line
  line=$("$N" load --url "$url" "${ca[@]}" --key "$K" --template "$T" --type email \
    --connections "$CONNS" --seconds "$SECS" --server-pid "$server_pid")
  if [ -n "$scraper" ]; then
    kill "$scraper"; wait "$scraper" 2>/dev/null || true
    scraped=" scrapes=$(wc -l < "$work/scrapes")"
  fi
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  echo "$label $line$scraped"
}

rate_of() { sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# ab NAME A_LABEL A_SCHEME A_LEVEL B_LABEL B_SCHEME B_LEVEL [A_METRICS B_METRICS]
ab() {
  local name="$1" a_label="$2" a_scheme="$3" a_level="$4" b_label="$5" b_scheme="$6" b_level="$7"
  local a_metrics="${8:-off}" b_metrics="${9:-off}"
  : > "$work/$name.a"; : > "$work/$name.b"
  for i in $(seq 1 "$RUNS"); do
    # Alternate which side goes first, so neither always meets a fresher store.
    if [ $((i % 2)) -eq 1 ]; then
      run "$a_label" "$a_scheme" "$a_level" "$a_metrics" | tee -a "$work/$name.a.lines" | rate_of >> "$work/$name.a"
      run "$b_label" "$b_scheme" "$b_level" "$b_metrics" | tee -a "$work/$name.b.lines" | rate_of >> "$work/$name.b"
    else
      run "$b_label" "$b_scheme" "$b_level" "$b_metrics" | tee -a "$work/$name.b.lines" | rate_of >> "$work/$name.b"
      run "$a_label" "$a_scheme" "$a_level" "$a_metrics" | tee -a "$work/$name.a.lines" | rate_of >> "$work/$name.a"
    fi
  done
  cat "$work/$name.a.lines" "$work/$name.b.lines"
  local a b
  a=$(median < "$work/$name.a"); b=$(median < "$work/$name.b")
  echo "== $name: median $a_label $a/s, $b_label $b/s, $b_label/$a_label = $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.1f%%", 100*b/a}')"
}

case "$which_bench" in
  tls) ab tls plain http info https https info ;;
  access) ab access log-on http info log-off http "info,notify::access=off" ;;
  metrics) ab metrics metrics-off http "info,notify::access=off" metrics-on http "info,notify::access=off" off on ;;
  ops) ab ops both-off http "info,notify::access=off" both-on http info off on ;;
  both)
    ab tls plain http info https https info
    ab access log-on http info log-off http "info,notify::access=off"
    ;;
  all)
    ab tls plain http info https https info
    ab access log-on http info log-off http "info,notify::access=off"
    ab metrics metrics-off http "info,notify::access=off" metrics-on http "info,notify::access=off" off on
    ab ops both-off http "info,notify::access=off" both-on http info off on
    ;;
  *) echo "usage: $0 [tls|access|metrics|ops|both|all]" >&2; exit 2 ;;
esac
