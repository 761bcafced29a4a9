#!/usr/bin/env bash
# OS packages the test database needs (docs/database.md): Python >= 3.10 with venv and pip,
# for the SecantusDB that scripts/lib/secantusdb.ts installs into .cache/. Idempotent: does
# nothing when a suitable python3 is already there. The SecantusDB install itself is done by
# the project's code on first use, not here.
set -euo pipefail

have_python() {
  python3 -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null
}

if have_python; then
  echo "install-db: $(python3 --version) with venv already present"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-db: need Python >= 3.10 with the venv module, and apt-get is not available" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip >/dev/null

if ! have_python; then
  echo "install-db: python3 from apt is older than 3.10 or lacks venv: $(python3 --version 2>&1)" >&2
  exit 1
fi
echo "install-db: installed $(python3 --version) with venv"
