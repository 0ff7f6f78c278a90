#!/usr/bin/env python3
"""JavaScript allocations during one install, ours against micropip's, and where they come from.

    .venv/bin/python benchmarks/allocations.py [--scenario a,b,c] [--network loopback] [--top 8]

The peak heap that ``benchmarks/run.py`` reports depends on when V8's young-generation
collections happen to fall. This counts what each install allocates in all instead: CDP
``HeapProfiler`` sampling (one sample per 4 kB allocated, objects collected by minor and
major GCs included), started after a forced GC, stopped when the install returns. Each
tool installs the scenario once on a fresh page, as in ``run.py``; the sampling slows the
install, so no time is reported. Prints, per scenario, the total for each tool and the
functions that allocated most.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import page_code  # noqa: E402
from benchmarks.driver import NETWORKS, Browser  # noqa: E402
from benchmarks.run import MICROPIP_WHEEL, SCENARIOS  # noqa: E402
from benchmarks.server import start_server  # noqa: E402

SAMPLING = {"samplingInterval": 4096, "includeObjectsCollectedByMajorGC": True,
            "includeObjectsCollectedByMinorGC": True}


def by_function(node: dict[str, Any], into: Counter[str]) -> Counter[str]:
    """Bytes allocated by each function (self size), over the sampling profile's call tree."""
    frame = node["callFrame"]
    into[f"{frame['functionName'] or '(anonymous)'} ({frame['url'].rsplit('/', 1)[-1] or 'native'})"] += \
        node.get("selfSize", 0)
    for child in node.get("children", []):
        by_function(child, into)
    return into


async def allocated(browser: Browser, server: Any, tool: str, scenario: str, network: str) -> Counter[str]:
    micropip = tool == "micropip"
    page = await browser.page(extra_wheels=(server.file_url(MICROPIP_WHEEL),) if micropip else ())
    try:
        await page.run(page_code.PREPARE_MICROPIP if micropip else page_code.PREPARE_OURS)
        await page.set_network(NETWORKS[network])
        await page.cdp.send("HeapProfiler.collectGarbage")
        await page.cdp.send("HeapProfiler.startSampling", SAMPLING)
        await page.run(page_code.INSTALL_MICROPIP if micropip else page_code.INSTALL_OURS,
                       reqs=list(SCENARIOS[scenario].requirements), index_url=server.index_url)
        profile = await page.cdp.send("HeapProfiler.stopSampling")
        return by_function(profile["profile"]["head"], Counter())
    finally:
        await page.close()


async def main(args: argparse.Namespace) -> None:
    server = start_server()
    try:
        async with Browser(server) as browser:
            for scenario in args.scenario.split(","):
                for network in args.network.split(","):
                    print(f"\n({scenario}) {SCENARIOS[scenario].title}, {network}")
                    for tool in ("micropip", "pyemscripten"):
                        counts = await allocated(browser, server, tool, scenario, network)
                        print(f"  {tool}: {sum(counts.values()) / 1e6:.1f} MB allocated")
                        for name, size in counts.most_common(args.top):
                            print(f"    {size / 1e6:6.2f} MB  {name}")
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="a,b,c")
    parser.add_argument("--network", default="loopback")
    parser.add_argument("--top", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
