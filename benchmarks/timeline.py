#!/usr/bin/env python3
"""Where one install's time goes, request by request: a timeline, or a Python profile.

    .venv/bin/python benchmarks/timeline.py [--scenario a] [--network wan] [--reps 1]
        [--profile tottime|cumtime] [--load-split] [--dry-run]

Installs the scenario with pyemscripten on a fresh page (as benchmarks/run.py does) and
prints, in seconds from the start of the install: every request (start, end, bytes), the
progress events, and the timed spans (validation of each wheel, staging, commit) with the
library loader's phases. ``--profile`` runs the install under cProfile inside the page
instead and prints the top functions (everything is about 1.7x slower under it; compare
shares, not seconds). Used to find the tail after the last wheel byte (RESULTS.md, (a) on
the WAN) and the CPU of (a) on loopback. ``--load-split`` adds, after the timeline, each
shared library's load split where the runtime instantiates it, in milliseconds: the
runtime's set-up, the engine's instantiation (with the runtime's import object), "waited"
(from that call to its answer: a compile not yet done) and the linking after it. The
runtime's ``loadWebAssemblyModule`` and the ``WebAssembly.instantiate`` inside it are timed
in the page (RESULTS.md, stop 41).
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

# The runtime's loadWebAssemblyModule and WebAssembly.instantiate, timed (--load-split): one
# record per library, in load order. Installed before the install, so that the loader's own
# wrapper of instantiate calls this one.
LOAD_SPLIT_JS = r"""
() => {
  const M = pyodide._module;
  const records = globalThis.__loadSplit = [];
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = function (...args) {
    const record = records.findLast((r) => r.instantiate === undefined) ?? {};
    record.instantiate = performance.now();
    const made = instantiate.apply(this, args);
    record.called = performance.now();
    return made.then((out) => { record.instantiated = performance.now(); return out; });
  };
  const load = M.loadWebAssemblyModule;
  M.loadWebAssemblyModule = function (bytes, flags, name, ...rest) {
    const record = {name: String(name).split("/").pop(), start: performance.now()};
    records.push(record);
    return Promise.resolve(load.call(this, bytes, flags, name, ...rest))
      .then((out) => { record.linked = performance.now(); return out; });
  };
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


def _print_load_split(records: list[dict[str, Any]]) -> None:
    done = [r for r in records if "instantiated" in r and "linked" in r]
    if not done:
        print("  load split: no library was loaded through loadWebAssemblyModule")
        return
    steps = (("start", "instantiate"), ("instantiate", "called"), ("called", "instantiated"),
             ("instantiated", "linked"))
    print("  load split (ms)               set-up  instantiate  waited    link")
    for r in done:
        print(f"    {r['name'][:28]:28}" + "".join(f" {r[b] - r[a]:{w}.1f}" for (a, b), w in zip(steps, (6, 12, 7, 7))))
    sums = [sum(r[b] - r[a] for r in done) for a, b in steps]
    span = done[-1]["linked"] - done[0]["start"]
    print(f"    {len(done)} libraries, {span:.0f} ms from the first to the last: set-up {sums[0]:.0f},"
          f" instantiate {sums[1]:.0f}, waited {sums[2]:.0f}, link {sums[3]:.0f}")


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
                if args.load_split:
                    await page.js(LOAD_SPLIT_JS)
                values = {"reqs": list(scenario.requirements), "index_url": server.index_url,
                          "dry_run": args.dry_run}
                if args.profile:
                    print(await page.run(PROFILE, sort=args.profile, **values))
                else:
                    _print_timeline(await page.run(TIMELINE, **values))
                if args.load_split:
                    _print_load_split(await page.js("() => globalThis.__loadSplit"))
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
    parser.add_argument("--load-split", action="store_true",
                        help="also split each library's load into set-up, instantiation and linking")
    parser.add_argument("--dry-run", action="store_true", help="resolve only: nothing is fetched")
    asyncio.run(main(parser.parse_args()))
