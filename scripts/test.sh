#!/usr/bin/env bash
# The project's test command: unit tests and the browser tier (real Pyodide in Chromium).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not browser"` for the fast tier.
# pytest's exit code 5 ("no tests collected") counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then set -- tests; fi  # options alone still run tests/ (testpaths)
.venv/bin/python -m pytest -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "[test] pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"
