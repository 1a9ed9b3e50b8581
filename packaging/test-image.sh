#!/usr/bin/env bash
# The container image on this machine: build it (packaging/build-image.sh) from a binary already
# built (default target/debug/notify), start it on a new volume with its port published on
# 127.0.0.1, wait until its HEALTHCHECK (`notify healthcheck`) says healthy, ask /_status through
# the published port, check it runs as notify (10001) with the volume owned by it (0700), stop it
# with SIGTERM and check it exited 0. Called by .ci/test.
#
# Runs as root with podman (.ci/deps installs podman and runc when root); otherwise it says it
# skips. What it made (container, volume, image) is removed at the end, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-target/debug/notify}"

if [ "$(id -u)" -ne 0 ]; then
  echo "== container test skipped: it runs podman as root (CI runs as root)"
  exit 0
fi
if ! command -v podman >/dev/null; then
  echo "== container test skipped: no podman (Debian: apt-get install podman runc)"
  exit 0
fi

# On a machine with cgroups v1 / hybrid (this one), crun cannot start containers: runc can.
podman_run=(podman)
command -v runc >/dev/null && podman_run+=(--runtime runc)
# podman raises RLIMIT_NOFILE/NPROC by default, which needs CAP_SYS_RESOURCE outside a plain
# VM (e.g. in a sandbox); lowering them always works.
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

name="notify-test-$$"
tag="localhost/notify:test-$$"
fail() {
  echo "FAIL: $*" >&2
  "${podman_run[@]}" logs "$name" 2>&1 | tail -n 20 >&2 || true
  exit 1
}
cleanup() {
  "${podman_run[@]}" rm --force --time 45 "$name" >/dev/null 2>&1 || true
  "${podman_run[@]}" volume rm --force "$name" >/dev/null 2>&1 || true
  "${podman_run[@]}" rmi --force "$tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== building the image from $binary"
build_log="$(mktemp)"
bash packaging/build-image.sh --binary "$binary" --tag "$tag" >/dev/null 2>"$build_log" \
  || { cat "$build_log" >&2; fail "packaging/build-image.sh"; }
rm -f "$build_log"
echo "ok: built $tag ($("${podman_run[@]}" image inspect "$tag" --format '{{.Size}}') bytes)"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"${podman_run[@]}" volume create "$name" >/dev/null
# podman's periodic health checks need systemd timers; `podman healthcheck run` runs the
# image's HEALTHCHECK command on demand, which is what is tested here.
# The volume lives on the host's disk: pass on the test command's low-disk setting (.ci/test).
disk_env=()
[ -n "${NOTIFY_DISK__MIN_FREE_MB:-}" ] && disk_env=(--env "NOTIFY_DISK__MIN_FREE_MB=$NOTIFY_DISK__MIN_FREE_MB")
"${podman_run[@]}" run --detach --name "$name" "${limits[@]}" "${disk_env[@]}" \
  --publish "127.0.0.1:$port:6011" --volume "$name:/var/lib/notify" "$tag" >/dev/null 2>&1 \
  || fail "podman run"

healthy=no
for _ in $(seq 1 300); do
  if "${podman_run[@]}" healthcheck run "$name" >/dev/null 2>&1; then
    healthy=yes
    break
  fi
  [ "$("${podman_run[@]}" inspect "$name" --format '{{.State.Running}}')" = true ] \
    || fail "the container stopped"
  sleep 0.2
done
[ "$healthy" = yes ] || fail "the HEALTHCHECK never passed"
echo "ok: HEALTHCHECK (notify healthcheck) passes"

status="$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/_status', timeout=10).read().decode())")"
grep -q '"status":"ok"' <<<"$status" || fail "/_status through the published port: $status"
echo "ok: /_status through 127.0.0.1:$port -> 6011 in the container"

user="$("${podman_run[@]}" top "$name" huser 2>/dev/null | tail -n 1 | tr -d ' ')"
[ "$user" = 10001 ] || fail "the server runs as '$user', not 10001"
echo "ok: runs as uid 10001"
volume="$("${podman_run[@]}" volume inspect "$name" --format '{{.Mountpoint}}')"
[ "$(stat -c '%u:%g %a' "$volume")" = "10001:10001 700" ] \
  || fail "volume: $(stat -c '%u:%g %a' "$volume")"
[ -f "$volume/notify.redb" ] || fail "no store in the volume"
echo "ok: data in the volume, 10001:10001 0700"

"${podman_run[@]}" stop --time 45 "$name" >/dev/null 2>&1
code="$("${podman_run[@]}" inspect "$name" --format '{{.State.ExitCode}}')"
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
echo "ok: stopped by SIGTERM, exit 0"
echo "== container test passed"
