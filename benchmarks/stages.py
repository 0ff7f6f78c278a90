#!/usr/bin/env python3
"""The page's CPU for a scenario's wheels, stage by stage, without the network or resolution.

    .venv/bin/python benchmarks/stages.py [--scenario a] [--reps 6] [--pages 2]
        [--ref REV --files installation.py,wheels.py]

On each fresh page (as ``run.py`` makes them), the scenario's wheels are fetched from the
local index first; then, ``--reps`` times over, each wheel's body is fed to a
``MemberStream`` in 256 kB pieces with the browser's hasher and a staging sink, as a
download does ("stream": inflating, hashing started, prestaged writes), opened
("open": the central directory, the checks, waiting for the digests), staged ("add") and
committed into a scratch folder ("commit"). The first repetition of each page is left
out (it also pays the page's first calls into code never run before). Prints the
fastest and the median of the rest. With ``--ref``, the pages alternate between those files
of ``src/pyemscripten`` as they are at that git ref and as they are in the working tree
(written over the page's copy, as ``ab.py`` does), and both are printed.

An install's clock moves by 5-10 % from run to run on this machine; this moves by 1-2 %,
so a change of a few percent of these stages shows here when an A/B of whole installs
cannot tell it from noise (benchmarks/RESULTS.md, stop 36). It measures our code only,
not what it waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import page_code  # noqa: E402
from benchmarks.ab import OVERWRITE, variant_files  # noqa: E402
from benchmarks.driver import Browser  # noqa: E402
from benchmarks.server import start_server  # noqa: E402

# The wheels each scenario installs (the plan of benchmarks/run.py's scenarios), by the
# start of their file names in .cache/wheels.
WHEELS = {
    "a": ("annotated_doc-", "annotated_types-", "attrs-", "certifi-", "charset_normalizer-", "click-", "idna-",
          "markdown_it_py-", "mdurl-", "mpmath-", "networkx-", "pydantic-", "pydantic_core-", "pygments-",
          "python_dateutil-", "requests-", "rich-", "shellingham-", "sympy-", "typer-", "typing_extensions-",
          "typing_inspection-", "tzdata-", "urllib3-"),
    "b": ("grill_usd_core-",),
    "c": ("jiter-", "luau_wasm-"),
}

STAGES = r"""
import os, shutil, time
from pyodide.http import pyfetch
from pyemscripten.browser import MemfsFileOps, WebCryptoHasher
from pyemscripten.installation import Scheme, Staging
from pyemscripten.wheels import MemberStream, open_wheel_async

bodies = []
for name in names:
    response = await pyfetch(base + name)
    bodies.append((name, await response.bytes()))
results = []
for rep in range(reps):
    scratch = f"/tmp/stages{rep}"
    os.makedirs(scratch + "/site")
    scheme = Scheme(scratch + "/site", scratch + "/site", scratch + "/bin", scratch + "/include", scratch)
    hasher = WebCryptoHasher()
    staging = Staging(scheme, ops=MemfsFileOps())
    staging.write_early([name for name, _ in bodies])
    times = {"stream": 0.0, "open": 0.0}
    wheels = []
    for name, body in bodies:
        start = time.perf_counter()
        stream = MemberStream(hasher, sink=staging.prestage(name))
        for at in range(0, len(body), 262144):
            stream.feed(at, body[at:at + 262144])
        streamed = time.perf_counter()
        wheels.append((name, await open_wheel_async(name, body, hasher, streamed=stream)))
        stream.close()
        times["stream"] += streamed - start
        times["open"] += time.perf_counter() - streamed
    start = time.perf_counter()
    for name, wheel in wheels:
        staging.add(wheel, key=name)
    added = time.perf_counter()
    staging.commit()
    times.update(add=added - start, commit=time.perf_counter() - added)
    results.append(times)
    shutil.rmtree(scratch, ignore_errors=True)
results
"""


def wheel_names(scenario: str) -> list[str]:
    names = sorted(p.name for p in (ROOT / ".cache" / "wheels").glob("*.whl"))
    return [n for n in names if n.startswith(WHEELS[scenario])]


def sources(ref: str | None, files: str) -> dict[str, dict[str, str]]:
    """The files to write over the page's copy, by variant (none: the page's own)."""
    if ref is None:
        return {"working tree": {}}
    at_ref, work = variant_files(ref, files.split(","))
    return {ref: at_ref, "working tree": work}


async def main(args: argparse.Namespace) -> None:
    names = wheel_names(args.scenario)
    variants = sources(args.ref, args.files)
    runs: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
    server = start_server()
    try:
        async with Browser(server) as browser:
            for number in range(args.pages):
                order = list(variants.items())
                for variant, files in order if number % 2 == 0 else order[::-1]:
                    page = await browser.page()
                    try:
                        if files:
                            await page.run(OVERWRITE, files=files)
                        await page.run(page_code.PREPARE_OURS)
                        got: list[dict[str, Any]] = await page.run(STAGES, names=names,
                                                                  base=server.file_url(""), reps=args.reps)
                    finally:
                        await page.close()
                    runs[variant] += got[1:]
    finally:
        server.close()
    print(f"({args.scenario}): {len(names)} wheels; ms")
    for variant, rows in runs.items():
        if not rows:
            raise SystemExit("no repetitions left: use --reps 2 or more")
        print(f"{variant}, {len(rows)} repetitions:")
        for label, pick in (("fastest", min), ("median", statistics.median)):
            cells = {stage: pick(row[stage] for row in rows) * 1000 for stage in rows[0]}
            total = pick(sum(row.values()) for row in rows) * 1000
            print(f"  {label:8s}" + "".join(f"  {stage} {value:6.1f}" for stage, value in cells.items())
                  + f"  all {total:6.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=sorted(WHEELS), default="a")
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument("--ref", default=None, help="a git ref to compare the working tree with")
    parser.add_argument("--files", default="installation.py,wheels.py,browser.py,seams.py",
                        help="with --ref: comma-separated files of src/pyemscripten")
    asyncio.run(main(parser.parse_args()))
