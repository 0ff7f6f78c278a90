#!/usr/bin/env python3
"""Serve the demo on localhost: the page, the JS module as the npm package ships it, the
Pyodide runtimes, and a simple index of the wheels in ``.cache/wheels``.

    demo/serve.py [--port 8000] [--runtime 314.0.7]

Prints the URL to open; Ctrl-C stops it. ``scripts/demo.sh`` builds ``js/wheels/`` first.
The page's default index is this local one (the wheels the tests use, served offline); type
another index URL in the page, such as https://pypi.org/simple/, to install from there.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.index_server import IndexServer  # noqa: E402 - the repo root is on the path now

WHEELS = ROOT / ".cache" / "wheels"
RUNTIMES = ROOT / ".cache" / "runtimes"
DEFAULT_RUNTIME = "314.0.7"


def check(runtime: str) -> list[str]:
    problems = []
    if not (RUNTIMES / f"pyodide-{runtime}" / "pyodide.mjs").is_file():
        problems.append(f"Pyodide {runtime} is not in {RUNTIMES} (run scripts/setup.sh)")
    manifest = ROOT / "js" / "wheels" / "manifest.mjs"
    if not manifest.is_file():
        problems.append("js/wheels/ is not built (run scripts/build_js.py)")
    elif manifest.stat().st_mtime < (ROOT / "js" / "bootstrap.py").stat().st_mtime:
        # The page runs the copy of js/bootstrap.py the build put in manifest.mjs.
        problems.append("js/bootstrap.py changed since js/wheels/ was built (run scripts/build_js.py)")
    if not any(WHEELS.glob("*.whl")):
        problems.append(f"no wheels in {WHEELS} (run scripts/setup.sh)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--runtime", default=DEFAULT_RUNTIME, help="Pyodide version (default: %(default)s)")
    args = parser.parse_args(argv)
    problems = check(args.runtime)
    if problems:
        print("demo: " + "\n      ".join(problems), file=sys.stderr)
        return 1
    server = IndexServer(wheel_dirs=[WHEELS], runtimes_dir=RUNTIMES, port=args.port)
    server.mount("/demo/", ROOT / "demo")
    server.mount("/js/", ROOT / "js")
    try:
        server.start()
    except OSError as exc:
        print(f"demo: cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); try --port", file=sys.stderr)
        return 1
    query = "" if args.runtime == DEFAULT_RUNTIME else f"?runtime={args.runtime}"
    print(f"pyemscripten demo: open {server.url}/demo/index.html{query}", flush=True)
    print(f"  local index: {server.index_url} ({len(list(WHEELS.glob('*.whl')))} wheels); Ctrl-C stops",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
