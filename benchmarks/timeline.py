#!/usr/bin/env python3
"""Where one install's time goes, request by request: a timeline, or a Python profile.

    .venv/bin/python benchmarks/timeline.py [--scenario a] [--network wan] [--reps 1]
        [--profile tottime|cumtime] [--dry-run]

Installs the scenario with pyemscripten on a fresh page (as benchmarks/run.py does) and
prints, in seconds from the start of the install: every request (start, end, bytes), the
progress events, and the timed spans (validation of each wheel, staging, commit) with the
library loader's phases. ``--profile`` runs the install under cProfile inside the page
instead and prints the top functions (everything is about 1.7x slower under it; compare
shares, not seconds). Used to find the tail after the last wheel byte (RESULTS.md, (a) on
the WAN) and the CPU of (a) on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import page_code  # noqa: E402
from benchmarks.driver import NETWORKS, Browser  # noqa: E402
from benchmarks.run import SCENARIOS  # noqa: E402
from benchmarks.server import start_server  # noqa: E402

TIMELINE = r"""
_requests.clear(); _spans.clear(); _events.clear()
_session = _new_session()
_T0 = time.perf_counter()
await pyemscripten.install(reqs, index_urls=[index_url], session=_session, on_progress=_on_progress,
                           dry_run=dry_run)
{
    "breakdown": _breakdown(_session, time.perf_counter() - _T0),
    "requests": [(url.rstrip("/").rsplit("/", 1)[-1], start, end, size) for url, start, end, size in _requests],
    "events": list(_events),
    "spans": list(_spans),
    "loader": dict(getattr(_session.loader, "timings", {}) or {}),
}
"""

PROFILE = r"""
import cProfile, io, pstats
_requests.clear(); _spans.clear(); _events.clear()
_session = _new_session()
_profile = cProfile.Profile()
_T0 = time.perf_counter()
_profile.enable()
await pyemscripten.install(reqs, index_urls=[index_url], session=_session, on_progress=_on_progress,
                           dry_run=dry_run)
_profile.disable()
_out = io.StringIO()
pstats.Stats(_profile, stream=_out).sort_stats(sort).print_stats(40)
f"{_breakdown(_session, time.perf_counter() - _T0)}\n{_out.getvalue()}"
"""


def _print_timeline(result: dict[str, Any]) -> None:
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in result["breakdown"].items()})
    rows = [(start, f"request {name}  {start:7.3f} -> {end:7.3f}  {size:>10,} B")
            for name, start, end, size in result["requests"]]
    rows += [(at, f"event   {stage:<12} {at:7.3f}") for stage, at in result["events"]]
    rows += [(start, f"span    {name:<12} {start:7.3f} -> {end:7.3f}") for name, start, end in result["spans"]]
    for _, line in sorted(rows):
        print("  " + line)
    if result["loader"]:
        print("  loader", {k: round(v, 3) for k, v in result["loader"].items()})


async def main(args: argparse.Namespace) -> None:
    server = start_server()
    scenario = SCENARIOS[args.scenario]
    try:
        async with Browser(server) as browser:
            for _ in range(args.reps):
                context = await browser.new_context()  # an empty Cache Storage each time
                page = await browser.page(context=context)
                await page.run(page_code.PREPARE_OURS)
                await page.set_network(NETWORKS[args.network])
                values = {"reqs": list(scenario.requirements), "index_url": server.index_url,
                          "dry_run": args.dry_run}
                if args.profile:
                    print(await page.run(PROFILE, sort=args.profile, **values))
                else:
                    _print_timeline(await page.run(TIMELINE, **values))
                await page.close()
                await context.close()
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="a", choices=sorted(SCENARIOS))
    parser.add_argument("--network", default="wan", choices=sorted(NETWORKS))
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--profile", choices=("tottime", "cumtime"), default=None)
    parser.add_argument("--dry-run", action="store_true", help="resolve only: nothing is fetched")
    asyncio.run(main(parser.parse_args()))
