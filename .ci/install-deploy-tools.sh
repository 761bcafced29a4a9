#!/usr/bin/env bash
# Tools the deploy/ tests need (test/deploy/*.test.ts), installed ahead of `npm test` so no test
# downloads anything: promtool (Debian package `prometheus`) for the alerting rules, and
# kubernetes-validate (pinned in scripts/deploy-tools/requirements.txt, with the Kubernetes JSON
# schemas inside the package) in a venv under .cache/. Idempotent: skips what is already there.
# Needs Python >= 3.10 with venv (.ci/install-db.sh installs it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if command -v promtool >/dev/null 2>&1; then
  echo "deploy-tools: $(promtool --version 2>&1 | head -1) already present"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "deploy-tools: promtool is missing and apt-get is not available; install Prometheus' promtool" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  echo "deploy-tools: installed $(promtool --version 2>&1 | head -1)"
fi

requirements=scripts/deploy-tools/requirements.txt
dir=.cache/kubernetes-validate
if [ -x "$dir/venv/bin/kubernetes-validate" ] && cmp -s "$requirements" "$dir/installed.txt"; then
  echo "deploy-tools: kubernetes-validate already installed in $dir"
else
  rm -rf "$dir"
  mkdir -p "$dir"
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --disable-pip-version-check --no-input --quiet -r "$requirements"
  cp "$requirements" "$dir/installed.txt"
  echo "deploy-tools: installed $("$dir/venv/bin/kubernetes-validate" --version) into $dir"
fi
