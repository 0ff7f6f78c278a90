#!/usr/bin/env python3
"""pyemscripten against micropip 0.11.1, in one headless Chromium, on the same local index.

    .venv/bin/python benchmarks/run.py [--reps N] [--scenario a,b,c] [--network loopback,wan]

Every install runs on a fresh page (fresh browser context: empty Cache Storage) with
Pyodide 314.0.7 booted; the installers are imported before the clock starts; the clock runs
inside the page around the one ``await`` of the install. Both installers fetch from the
same index (tests/support/index_server.py, in a child process) serving ``.cache/wheels``.
The emulated WAN (40 ms latency, 50 Mbit/s) is switched on after boot with CDP
``Network.emulateNetworkConditions``. Peak JS heap: CDP ``Performance.getMetrics``
(``JSHeapUsedSize``) sampled every 20 ms during the install, after a forced GC; beside it
the interpreter's WebAssembly memory before and after, and each tool's import time.

Also measured: the floor (every wheel fetched at once, unpacked, its libraries compiled
with ``WebAssembly.compile``, no resolution), a warm install of (a) from a lock file in a
second page of the same context (wheels from Cache Storage), and parsing a synthetic
15,000-file project page, natively and in Pyodide.

Writes the tables to stdout and to ``benchmarks/results/latest.md`` (plus the raw
records as JSON beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import page_code, report  # noqa: E402
from benchmarks.driver import NETWORKS, Browser, Network, Page  # noqa: E402
from benchmarks.large_page import native_parse_times, synthetic_page  # noqa: E402
from benchmarks.server import ServerHandle, start_server  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MICROPIP_WHEEL = "micropip-0.11.1-py3-none-any.whl"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    requirements: tuple[str, ...]
    imports: tuple[str, ...]  # imported after each install, by both tools (timed apart)
    present: tuple[str, ...] = ()  # only checked to be importable (find_spec)


SCENARIOS = {
    "a": Scenario("a", "9 requirements, 24 dists, mostly pure",
                  ("pydantic", "rich", "typer", "sympy", "networkx", "python-dateutil", "requests",
                   "attrs", "click"),
                  imports=("pydantic", "requests"),
                  present=("rich", "typer", "sympy", "networkx", "dateutil", "attrs", "click",
                           "pydantic_core", "charset_normalizer")),
    "b": Scenario("b", "grill-usd-core: 1 wheel, 30 shared libraries", ("grill-usd-core",),
                  imports=("pxr.Usd",)),
    "c": Scenario("c", "jiter + luau-wasm: 2 small binary wheels", ("jiter", "luau-wasm"),
                  imports=("jiter", "luau_wasm")),
}


# --- one measurement each ------------------------------------------------------------------


async def once_more_if_crashed(what: str, measure: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """``measure()``, taken again once on fresh pages where a page's renderer crashed.

    Chromium's renderer crashed once here ("Target crashed", 2026-12-07, while a fresh page
    imported pyemscripten before the clock), and the exception ended a run of several minutes.
    A second crash in the same measurement ends the run: that is no accident. The record of a
    measurement taken again says so (``crashed_before``), and so does the report.
    """
    try:
        return await measure()
    except PlaywrightError as exc:
        if "crashed" not in str(exc):
            raise
        said = str(exc).strip().splitlines()[0]
    print(f"  {what}: a page crashed ({said}); measured again on fresh pages", flush=True)
    return {**await measure(), "crashed_before": said}


async def measure_install(browser: Browser, server: ServerHandle, tool: str, scenario: Scenario,
                          network: Network) -> dict[str, Any]:
    micropip = tool == "micropip"
    page = await browser.page(extra_wheels=(server.file_url(MICROPIP_WHEEL),) if micropip else ())
    try:
        prepare = await page.run(page_code.PREPARE_MICROPIP if micropip else page_code.PREPARE_OURS)
        await page.set_network(network)
        async with page.heap_peak() as heap:
            result = await page.run(page_code.INSTALL_MICROPIP if micropip else page_code.INSTALL_OURS,
                                    reqs=list(scenario.requirements), index_url=server.index_url)
        await page.set_network(NETWORKS["loopback"])
        verify = await page.run(page_code.VERIFY, imports=list(scenario.imports),
                                present=list(scenario.present))
        if not micropip:
            await page.run(page_code.WAIT_FOR_CACHE_OURS)
    finally:
        await page.close()
    return {**result, "prepare": prepare, "verify": verify, "heap_peak": heap["peak"],
            "heap_start": heap["start"], "heap_retained": heap["retained"],
            "wasm_start": heap["wasm_start"], "wasm_end": heap["wasm_end"]}


async def measure_floor(browser: Browser, urls: Sequence[str], network: Network) -> dict[str, Any]:
    page = await browser.page()
    try:
        await page.set_network(network)
        async with page.heap_peak() as heap:
            result = await page.run(page_code.FLOOR, floor_js=page_code.FLOOR_JS, urls=list(urls))
    finally:
        await page.close()
    return {**result, "heap_peak": heap["peak"]}


async def measure_warm(browser: Browser, lock: str, network: Network) -> dict[str, Any]:
    """Install from ``lock`` in one page, then again in a second page of the same context."""
    context = await browser.new_context()
    try:
        first = await browser.page(context=context)
        await first.run(page_code.PREPARE_OURS)
        await first.set_network(network)
        cold = await first.run(page_code.INSTALL_LOCK_OURS, lock=lock)
        await first.run(page_code.WAIT_FOR_CACHE_OURS)
        await first.close()
        second = await browser.page(context=context)
        await second.run(page_code.PREPARE_OURS)
        await second.set_network(network)
        async with second.heap_peak() as heap:
            warm = await second.run(page_code.INSTALL_LOCK_OURS, lock=lock)
        await second.close()
    finally:
        await context.close()
    return {**warm, "cold_lock_total": cold["total"], "heap_peak": heap["peak"]}


async def measure_large_page(browser: Browser, server: ServerHandle, reps: int = 3) -> dict[str, Any]:
    page = await browser.page()
    try:
        return await page.run(page_code.PARSE_PAGE, page_url=f"{server.url}/extra/big.json", reps=reps)
    finally:
        await page.close()


# --- locks ------------------------------------------------------------------------------------


def make_lock(scenario: Scenario, index_url: str) -> str:
    """``python -m pyemscripten lock`` for the scenario, natively, against the same index."""
    out = subprocess.run([sys.executable, "-m", "pyemscripten", "lock", *scenario.requirements,
                          "--index-url", index_url, "-o", "-"],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return out.stdout


def lock_urls(lock: str) -> list[str]:
    data = tomllib.loads(lock)
    return [w["url"] for p in data["packages"] for w in p.get("wheels", [])]


# --- the run ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    scenarios = [SCENARIOS[k] for k in args.scenario]
    networks = [NETWORKS[n] for n in args.network]
    big = synthetic_page(15_000)
    server = start_server({"big.json": big})
    records: list[dict[str, Any]] = []

    def keep(kind: str, **fields: Any) -> None:
        records.append({"kind": kind, **fields})
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in fields.items()
                 if k in ("tool", "scenario", "network", "rep", "total", "verify", "heap_peak")}
        print(f"  {kind}: {shown}", flush=True)

    try:
        locks = {s.key: make_lock(s, server.index_url) for s in scenarios}
        async with Browser(server) as browser:
            if not args.no_large_page:
                native = native_parse_times(big)
                in_page = await once_more_if_crashed("large page", lambda: measure_large_page(browser, server))
                crashed = {"crashed_before": in_page.pop("crashed_before")} if "crashed_before" in in_page else {}
                keep("large_page", native=native, pyodide=in_page, **crashed)
            for network in networks:
                for scenario in scenarios:
                    for rep in range(args.reps):
                        # Alternate who goes first, so drift over the run hits both alike.
                        tools = ("micropip", "pyemscripten") if rep % 2 == 0 else ("pyemscripten", "micropip")
                        for tool in tools:
                            result = await once_more_if_crashed(
                                f"{tool} ({scenario.key}) {network.name}",
                                lambda: measure_install(browser, server, tool, scenario, network))  # noqa: B023
                            keep("install", tool=tool, scenario=scenario.key, network=network.name,
                                 rep=rep, **result)
                        floor = await once_more_if_crashed(
                            f"floor ({scenario.key}) {network.name}",
                            lambda: measure_floor(browser, lock_urls(locks[scenario.key]), network))  # noqa: B023
                        keep("floor", scenario=scenario.key, network=network.name, rep=rep, **floor)
                if "a" in args.scenario and not args.no_warm:
                    for rep in range(args.reps):
                        warm = await once_more_if_crashed(
                            f"warm (a) {network.name}", lambda: measure_warm(browser, locks["a"], network))  # noqa: B023
                        keep("warm", scenario="a", network=network.name, rep=rep, **warm)
    finally:
        server.close()
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each install (default 3)")
    parser.add_argument("--scenario", default="a,b,c", help="comma-separated: a,b,c")
    parser.add_argument("--network", default="loopback,wan", help="comma-separated: loopback,wan")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm start from a lock")
    parser.add_argument("--no-large-page", action="store_true", help="skip the 15,000-file page")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.md", help="where to write the tables")
    args = parser.parse_args(argv)
    args.scenario = [s for s in args.scenario.split(",") if s]
    args.network = [n for n in args.network.split(",") if n]
    unknown = [s for s in args.scenario if s not in SCENARIOS] + [n for n in args.network if n not in NETWORKS]
    if unknown:
        parser.error(f"unknown scenario or network: {', '.join(unknown)}")

    started = time.perf_counter()
    records = asyncio.run(run(args))
    text = report.render(records, SCENARIOS, reps=args.reps, seconds=time.perf_counter() - started)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(records, indent=1))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
