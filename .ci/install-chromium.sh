#!/usr/bin/env bash
# Headless Chromium for the dashboard's browser test (test/browser/), from Debian's packages:
# playwright-core drives it at /usr/bin/chromium (no browser download). Idempotent; root only
# when it has to install.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "ci: chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ci: /usr/bin/chromium is missing; install it as root: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium
echo "ci: installed $(/usr/bin/chromium --version)"
