#!/usr/bin/env bash
# Installs what the end-to-end tests run besides cargo: the pinned Python packages (the official
# python client, pytest, aiosmtpd, moto's S3 server) into tests/clients/.venv and the official
# node client into tests/clients/node_modules. Does nothing when they are already current.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# (Re)install when requirements.txt changed since the last install (stamp kept in the venv).
if [ ! -x "$here/.venv/bin/pytest" ] || ! cmp -s "$here/requirements.txt" "$here/.venv/requirements.installed"; then
  [ -x "$here/.venv/bin/pip" ] || python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$here/.venv/requirements.installed"
fi
if [ ! -d "$here/node_modules/notifications-node-client" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent)
fi
