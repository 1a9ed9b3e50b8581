#!/usr/bin/env bash
# Builds the .deb with cargo-deb from [package.metadata.deb] in Cargo.toml and prints its path
# on the last line (target/debian/notify_<version>-1_<arch>.deb).
#
#   packaging/build-deb.sh                                # cargo deb builds the release binary
#   packaging/build-deb.sh --binary target/debug/notify   # package a binary already built
#
# --binary is for CI: it packages the debug binary the tests already built (stripped, with fast
# compression) instead of a release build, which would take longer than the whole test run.
# cargo-deb (pinned below) is installed with `cargo install` when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH]" >&2; exit 2 ;;
  esac
done

if ! cargo deb --version 2>/dev/null | grep -qx "cargo-deb $CARGO_DEB_VERSION"; then
  echo "== installing cargo-deb $CARGO_DEB_VERSION" >&2
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" >&2
fi

# The packaged config is the example with the data in /var/lib/notify, so CLI commands run on
# the server with --config /etc/notify/notify.toml find the service's data, and the environment
# production (a server for others: no developer conveniences).
mkdir -p target/debian-assets
sed -e 's|^data_dir = "./notify-data"$|data_dir = "/var/lib/notify"|' \
  -e 's|^environment = "development"$|environment = "production"|' packaging/notify.toml \
  > target/debian-assets/notify.toml
for line in 'data_dir = "/var/lib/notify"' 'environment = "production"'; do
  if ! grep -qx "$line" target/debian-assets/notify.toml; then
    echo "packaging/notify.toml: could not set '$line'" >&2
    exit 1
  fi
done

rm -rf target/debian
if [ -z "$binary" ]; then
  cargo deb --package notify --locked --output target/debian/ >&2
else
  # cargo-deb takes the binary from <target dir>/release/: stage the given one there.
  stage=target/debian-stage
  rm -rf "$stage"
  mkdir -p "$stage/release"
  cp "$binary" "$stage/release/notify"
  CARGO_TARGET_DIR="$stage" cargo deb --package notify --locked --no-build --strip --fast \
    --output target/debian/ >&2
  rm -rf "$stage"
fi
ls target/debian/*.deb
