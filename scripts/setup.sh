#!/usr/bin/env bash
# Installs everything the demo, the tests and the benchmark need on a fresh Debian machine:
# Debian's Chromium and clang/lld 19, a Python venv with the project and its test tools,
# the Pyodide runtimes from npm, and real wheels from PyPI for the local test index.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v clang-19 >/dev/null 2>&1 || need_apt+=(clang-19)
command -v wasm-ld-19 >/dev/null 2>&1 || need_apt+=(lld-19)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)  # npm pack fetches the Pyodide runtimes
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$ROOT/.venv/bin/python" ]; then
  echo "[setup] creating .venv"
  python3 -m venv "$ROOT/.venv"
fi
"$ROOT/.venv/bin/python" -m pip install -q --upgrade pip
"$ROOT/.venv/bin/python" -m pip install -q -e "$ROOT[test]"

echo "[setup] Pyodide runtimes and wheels"
"$ROOT/.venv/bin/python" "$ROOT/scripts/fetch_fixtures.py" "$@"
echo "[setup] done"
