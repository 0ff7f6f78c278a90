#!/usr/bin/env python3
"""A/B one change in the browser: core files from a git ref against the working tree.

    .venv/bin/python benchmarks/ab.py --files api.py,installation.py [--ref HEAD]
        [--scenario a] [--network loopback|wan] [--mode install|warm] [--reps 4]

Each repetition measures both variants on fresh pages, alternating which goes first, so
drift on a shared machine hits both alike. For the "ref" variant, the named files of
``src/pyemscripten`` are taken from ``--ref`` and written over the page's copy before
``pyemscripten`` is imported (and the working tree's, for the other: both take the same
steps). ``--mode warm`` installs the scenario's lock once in a page,
then measures a second install from it in another page of the same context. Prints every
measurement and the medians of the breakdown (see benchmarks/page_code.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import page_code  # noqa: E402
from benchmarks.driver import NETWORKS, Browser  # noqa: E402
from benchmarks.run import SCENARIOS, make_lock  # noqa: E402
from benchmarks.server import ServerHandle, start_server  # noqa: E402

OVERWRITE = r"""
import os, site
base = os.path.join(site.getsitepackages()[0], "pyemscripten")
for name, text in files.items():
    with open(os.path.join(base, name), "w") as out:
        out.write(text)
"""


def variant_files(ref: str, names: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The text of each of ``names`` (files of ``src/pyemscripten``) at the git ``ref``, and
    in the working tree: what OVERWRITE writes over the page's copy for each variant."""
    at_ref = {name: subprocess.run(["git", "show", f"{ref}:src/pyemscripten/{name}"], capture_output=True,
                                   text=True, cwd=ROOT, check=True).stdout for name in names}
    work = {name: (ROOT / "src" / "pyemscripten" / name).read_text() for name in names}
    return at_ref, work


async def measure(browser: Browser, server: ServerHandle, files: dict[str, str], args: argparse.Namespace,
                  lock: str) -> dict[str, Any]:
    context = await browser.new_context()
    try:
        if args.mode == "warm":
            first = await browser.page(context=context)
            if files:
                await first.run(OVERWRITE, files=files)
            await first.run(page_code.PREPARE_OURS)
            await first.run(page_code.INSTALL_LOCK_OURS, lock=lock)
            await first.run(page_code.WAIT_FOR_CACHE_OURS)
            await first.close()
        page = await browser.page(context=context)
        if files:
            await page.run(OVERWRITE, files=files)
        await page.run(page_code.PREPARE_OURS)
        await page.set_network(NETWORKS[args.network])
        async with page.heap_peak() as heap:
            if args.mode == "install":
                result = await page.run(page_code.INSTALL_OURS, reqs=list(SCENARIOS[args.scenario].requirements),
                                        index_url=server.index_url)
            else:
                result = await page.run(page_code.INSTALL_LOCK_OURS, lock=lock)
        await page.set_network(NETWORKS["loopback"])
        scenario = SCENARIOS[args.scenario]
        verify = await page.run(page_code.VERIFY, imports=list(scenario.imports), present=list(scenario.present))
        await page.run(page_code.WAIT_FOR_CACHE_OURS)
        await page.close()
        return {**result, "heap_peak_mb": heap["peak"] / 1e6, "import_after": verify}
    finally:
        await context.close()


async def run(args: argparse.Namespace) -> None:
    # The working tree's copies are written over the page's too, so that both variants take
    # the same steps before the clock. Two A/A runs (the same code on both sides, (a) on
    # loopback, 5 pairs, stop 35) gave 1.009 against 0.961 s with only the ref's files
    # written and 1.103 against 1.026 s with both: a median of 5 pairs moves by about 8 %.
    ref_files, work_files = variant_files(args.ref, args.files.split(","))
    server = start_server()
    try:
        lock = make_lock(SCENARIOS[args.scenario], server.index_url)
        results: dict[str, list[dict[str, Any]]] = {"ref": [], "work": []}
        async with Browser(server) as browser:
            for rep in range(args.reps):
                order = [("ref", ref_files), ("work", work_files)]
                for name, files in order if rep % 2 == 0 else order[::-1]:
                    result = await measure(browser, server, files, args, lock)
                    results[name].append(result)
                    print(name, {k: round(v, 3) for k, v in result.items() if isinstance(v, float)}, flush=True)
        for name, rows in results.items():
            keys = [k for k, v in rows[0].items() if isinstance(v, float)]
            print(f"{name} ({args.ref if name == 'ref' else 'working tree'}) medians:",
                  {k: round(statistics.median(r[k] for r in rows), 3) for k in keys})
    finally:
        server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", required=True, help="comma-separated files of src/pyemscripten")
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--scenario", default="a", choices=sorted(SCENARIOS))
    parser.add_argument("--network", default="loopback", choices=sorted(NETWORKS))
    parser.add_argument("--mode", default="install", choices=["install", "warm"])
    parser.add_argument("--reps", type=int, default=4)
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
