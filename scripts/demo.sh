#!/usr/bin/env bash
# The demo: type requirements, click Install, watch the progress, run Python with them.
#
#   ./scripts/demo.sh                 # first run sets the machine up (scripts/setup.sh)
#   ./scripts/demo.sh --port 9000     # arguments go to demo/serve.py (--port, --runtime)
#   ./scripts/demo.sh --setup         # run scripts/setup.sh again first
#
# Builds the JS package's wheels (scripts/build_js.py), then serves the page, the JS
# module, the Pyodide runtime and a local index of .cache/wheels on 127.0.0.1, and prints
# the URL to open. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

setup=0
if [ "${1:-}" = "--setup" ]; then setup=1; shift; fi
if [ ! -x .venv/bin/python ] || [ ! -f .cache/runtimes/pyodide-314.0.7/pyodide.mjs ] \
   || ! ls .cache/wheels/rich-*.whl >/dev/null 2>&1; then
  setup=1
fi
if [ "$setup" = 1 ]; then
  ./scripts/setup.sh
fi

.venv/bin/python scripts/build_js.py
exec .venv/bin/python demo/serve.py "$@"
