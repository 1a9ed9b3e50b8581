#!/usr/bin/env bash
# The .deb on this machine, as an operator would use it: build it from a binary already built
# (default target/debug/notify), `dpkg -i` it, check what it installed (binary, unit, conffile,
# user, data directory), run the installed binary as the notify user, reinstall over an edited
# config, then `dpkg -r` and `dpkg --purge`. Called by .ci/test.
#
# It changes the machine (a package, a system user, /var/lib/notify), so it runs only as root
# (CI runs as root), and never on a machine where a notify package is already installed. What
# it added is removed at the end, also when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-target/debug/notify}"

if [ "$(id -u)" -ne 0 ]; then
  echo "== .deb test skipped: dpkg -i needs root (CI runs as root; run: sudo $0 $binary)"
  exit 0
fi
if dpkg-query -W -f='${Status}' notify 2>/dev/null | grep -q 'installed'; then
  echo "== .deb test skipped: a notify package is installed on this machine; not touching it"
  exit 0
fi

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# Fails unless "$1" (what it is) equals "$2" (got) ... "$3" (wanted).
expect() {
  [ "$2" = "$3" ] || fail "$1: got '$2', wanted '$3'"
  echo "ok: $1 = $3"
}

user_existed=no
getent passwd notify >/dev/null && user_existed=yes
data_existed=no
[ -e /var/lib/notify ] && data_existed=yes
server_pid=""
server_log="$(mktemp)"
cleanup() {
  rm -f "$server_log"
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  if dpkg-query -W -f='${Status}' notify 2>/dev/null | grep -qv 'not-installed'; then
    dpkg --purge notify >/dev/null 2>&1 || true
  fi
  [ "$data_existed" = no ] && rm -rf /var/lib/notify
  if [ "$user_existed" = no ] && getent passwd notify >/dev/null; then
    deluser --system notify >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

echo "== building the .deb from $binary"
deb="$(bash packaging/build-deb.sh --binary "$binary" | tail -n 1)"
[ -f "$deb" ] || fail "build-deb.sh made no .deb"
echo "$deb: $(du -h "$deb" | cut -f1)"

echo "== dpkg -i"
dpkg -i "$deb"
expect "package status" "$(dpkg-query -W -f='${Status}' notify)" "install ok installed"

version="$(/usr/bin/notify --version)"
expect "notify --version" "$version" "notify $(dpkg-query -W -f='${Version}' notify | cut -d- -f1)"

report="$(/usr/bin/notify check-config --config /etc/notify/notify.toml)"
grep -Eq '^data_dir = "/var/lib/notify" +# file /etc/notify/notify.toml$' <<<"$report" \
  || fail "check-config does not show data_dir from the packaged config: $report"
echo "ok: check-config --config /etc/notify/notify.toml"

unit=/usr/lib/systemd/system/notify.service
[ -f "$unit" ] || fail "no $unit"
verify="$(systemd-analyze verify --man=no "$unit" 2>&1)" || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warns: $verify"
echo "ok: systemd-analyze verify $unit"

expect "conffiles" "$(dpkg-query -W -f='${Conffiles}' notify | awk '{print $1}' | xargs)" \
  "/etc/notify/notify.toml"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd notify)
[ "$uid" -lt 1000 ] || fail "notify is not a system user (uid $uid)"
expect "notify's home" "$home" "/var/lib/notify"
expect "notify's shell" "$shell" "/usr/sbin/nologin"
expect "/var/lib/notify owner and mode" "$(stat -c '%U:%G %a' /var/lib/notify)" "notify:notify 700"
expect "/etc/notify owner and mode" "$(stat -c '%U:%G %a' /etc/notify)" "root:notify 750"
expect "/etc/notify/notify.toml owner and mode" \
  "$(stat -c '%U:%G %a' /etc/notify/notify.toml)" "root:notify 640"
expect "the packaged environment" "$(grep '^environment = ' /etc/notify/notify.toml)" \
  'environment = "production"'

echo "== the installed binary serves as the notify user, with the packaged config"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# setpriv execs notify itself (runuser would stand between, and turn SIGTERM into a kill).
setpriv --reuid=notify --regid=notify --init-groups \
  /usr/bin/notify --config /etc/notify/notify.toml serve \
  --listen "127.0.0.1:$port" 2>"$server_log" &
server_pid=$!
for _ in $(seq 1 300); do
  if /usr/bin/notify healthcheck --url "http://127.0.0.1:$port/_status" --timeout 1 >/dev/null 2>&1; then
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || fail "notify serve exited: $(cat "$server_log")"
  sleep 0.1
done
/usr/bin/notify healthcheck --url "http://127.0.0.1:$port/_status" >/dev/null \
  || fail "no answer from the installed binary: $(cat "$server_log")"
kill -TERM "$server_pid"
wait "$server_pid" || fail "notify serve did not stop cleanly: $(cat "$server_log")"
server_pid=""
expect "store owner" "$(stat -c '%U' /var/lib/notify/admin-secret)" "notify"
echo "ok: served on 127.0.0.1:$port as notify, data in /var/lib/notify"

echo "== reinstall over an edited config (the conffile is kept)"
echo '# edited by the operator' >>/etc/notify/notify.toml
dpkg -i "$deb"
grep -qx '# edited by the operator' /etc/notify/notify.toml || fail "the edited config was replaced"
echo "ok: edited /etc/notify/notify.toml kept"

echo "== dpkg -r (config kept)"
dpkg -r notify
[ ! -e /usr/bin/notify ] || fail "/usr/bin/notify still there after dpkg -r"
[ ! -e "$unit" ] || fail "$unit still there after dpkg -r"
[ -f /etc/notify/notify.toml ] || fail "dpkg -r removed the config"
expect "package status" "$(dpkg-query -W -f='${Status}' notify)" "deinstall ok config-files"

echo "== dpkg --purge (config gone, data kept)"
dpkg --purge notify
[ ! -e /etc/notify/notify.toml ] || fail "/etc/notify/notify.toml still there after purge"
if dpkg-statoverride --list | grep -q ' /etc/notify'; then
  fail "statoverrides left after purge: $(dpkg-statoverride --list | grep /etc/notify)"
fi
[ -d /var/lib/notify ] || fail "purge deleted the data directory"
echo "ok: purged; /var/lib/notify kept"
echo "== .deb test passed"
