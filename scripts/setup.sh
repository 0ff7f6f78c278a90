#!/usr/bin/env bash
# Installs everything the demo, the tests and the benchmark need on a fresh Debian machine:
# Debian's Chromium and clang/lld 19, a Python venv with the project and its test tools,
# the Pyodide runtimes, Vite, esbuild, webpack and TypeScript (for web-app tests) from npm,
# and real wheels from PyPI for the local test index.
# Idempotent: system packages, runtimes and wheels are fetched only when missing; pip checks
# the venv's packages each time (quick when nothing changed). Run it as root, or with sudo
# available.
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
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need_apt+=(python3-venv)  # Debian splits venv out
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${need_apt[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$ROOT/.venv/bin/python" ]; then
  echo "[setup] creating .venv"
  python3 -m venv "$ROOT/.venv"
fi
"$ROOT/.venv/bin/python" -m pip install -q --upgrade pip
"$ROOT/.venv/bin/python" -m pip install -q -e "$ROOT[test]"

echo "[setup] Pyodide runtimes, wheels and bundlers"
"$ROOT/.venv/bin/python" "$ROOT/scripts/fetch_fixtures.py" "$@"
echo "[setup] done"
