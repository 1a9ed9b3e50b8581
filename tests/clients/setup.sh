#!/usr/bin/env bash
# Installs what the end-to-end tests run besides cargo: the pinned Python packages (the official
# python client, pytest, aiosmtpd, moto's S3 server, Playwright for the browser suite,
# oidc-provider-mock for the single sign-on tests) into
# tests/clients/.venv and the official node client and axe-core into tests/clients/node_modules.
# Does nothing when they are already current.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# (Re)install when requirements.txt changed since the last install (stamp kept in the venv).
if [ ! -x "$here/.venv/bin/pytest" ] || ! cmp -s "$here/requirements.txt" "$here/.venv/requirements.installed"; then
  [ -x "$here/.venv/bin/pip" ] || python3 -m venv "$here/.venv"
  # pip through the venv's python: a venv copied from another checkout keeps working (its
  # scripts' #! lines name the old path).
  "$here/.venv/bin/python3" -m pip install -q -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$here/.venv/requirements.installed"
fi
# (Re)install when package-lock.json changed since the last install.
if [ ! -d "$here/node_modules/notifications-node-client" ] || ! cmp -s "$here/package-lock.json" "$here/node_modules/.package-lock.installed"; then
  (cd "$here" && npm ci --no-audit --no-fund --silent)
  cp "$here/package-lock.json" "$here/node_modules/.package-lock.installed"
fi
