#!/usr/bin/env bash
# Builds the container image (packaging/Containerfile) with podman, offline: the image is FROM
# scratch, and its file tree is staged here from this machine (Debian): the notify binary, the
# shared libraries it links (as ldd lists them, with the dynamic loader), the CA certificates,
# /etc/passwd and /etc/group with the notify user (10001), /tmp, and the data directory.
#
#   packaging/build-image.sh                                  # builds the release binary first
#   packaging/build-image.sh --binary target/debug/notify     # an already built binary
#   packaging/build-image.sh --tag notify:test ...            # image name (default notify:latest)
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
tag="notify:latest"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a name}"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--tag NAME]" >&2; exit 2 ;;
  esac
done
command -v podman >/dev/null || { echo "podman is needed (Debian: apt-get install podman)" >&2; exit 1; }
if [ -z "$binary" ]; then
  cargo build --release --locked --bin notify
  binary=target/release/notify
fi

ctx=target/container
rm -rf "$ctx"
mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/var/lib" "$ctx/data/notify"
install -m 0755 "$binary" "$ctx/rootfs/usr/bin/notify"
# Debug information is no use in the image; line tables stay in a release binary's panics.
strip --strip-debug "$ctx/rootfs/usr/bin/notify"

# Each library at the path ldd names (the loader at its PT_INTERP path), as a regular file.
ldd "$binary" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done

cp -L /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnotify:x:10001:10001:notify:/var/lib/notify:/sbin/nologin\n' \
  >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nnotify:x:10001:\n' >"$ctx/rootfs/etc/group"
install -d -m 1777 "$ctx/rootfs/tmp"
chmod 0700 "$ctx/data/notify"

podman build --format docker --file packaging/Containerfile --tag "$tag" "$ctx" >&2
echo "$tag"
