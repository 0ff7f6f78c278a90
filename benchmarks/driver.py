"""Chromium pages with a booted Pyodide, for the benchmark: async, so the heap can be sampled
over CDP while an install runs in the page.

Reuses the test harness's boot and run JavaScript (tests/support/browser.py) so that the
benchmark boots exactly what the browser tests boot: Pyodide plus the working tree's
``pyemscripten`` (and its two pure dependencies) unzipped into site-packages.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.browser import (
    _BOOT_JS,
    _RUN_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DEFAULT_RUNTIME,
    HELPER_SOURCE,
    HarnessError,
    PyodideError,
)


@dataclass(frozen=True)
class Network:
    """A network profile applied with CDP ``Network.emulateNetworkConditions``."""

    name: str
    latency_ms: float = 0.0  # added to every request's round trip
    mbit_per_s: float = 0.0  # 0: unthrottled

    def conditions(self) -> dict[str, Any]:
        throughput = self.mbit_per_s * 1e6 / 8 if self.mbit_per_s else -1
        return {"offline": False, "latency": self.latency_ms,
                "downloadThroughput": throughput, "uploadThroughput": throughput}


NETWORKS = {
    "loopback": Network("loopback"),
    "wan": Network("wan", latency_ms=40, mbit_per_s=50),
}


@dataclass
class Page:
    """One Chromium page with Pyodide booted, plus a CDP session on it."""

    page: Any
    context: Any
    cdp: Any
    owns_context: bool
    console: list[str] = field(default_factory=list)

    async def run(self, code: str, timeout: float = 600.0, **globals_: Any) -> Any:
        """Run Python in the page (top-level await allowed); its last expression, JSON-able."""
        raw = await self.page.evaluate(_RUN_JS, [code, json.dumps(globals_), timeout * 1000])
        outcome = json.loads(raw)
        if not outcome["ok"]:
            raise PyodideError(outcome["error"], code)
        return outcome["value"]

    async def js(self, expression: str, arg: Any = None) -> Any:
        return await self.page.evaluate(expression, arg)

    async def set_network(self, network: Network) -> None:
        await self.cdp.send("Network.emulateNetworkConditions", network.conditions())

    @asynccontextmanager
    async def heap_peak(self, interval: float = 0.02) -> AsyncIterator[dict[str, float]]:
        """Sample ``JSHeapUsedSize`` (CDP ``Performance.getMetrics``) while the body runs.

        Yields a dict that holds ``start``, ``peak`` and ``retained`` (bytes) once the block
        is left, and ``wasm_start``/``wasm_end``: the size of the interpreter's WebAssembly
        memory (bytes) before and after (it only grows, so the end is its peak; not part of
        ``JSHeapUsedSize``). A garbage collection runs first, so both tools start from live
        objects only, and again at the end for ``retained``; the peak includes garbage not
        yet collected, so it depends on when V8 collects. The renderer answers between tasks, so a long
        synchronous stretch is seen at its ends.
        """
        result: dict[str, float] = {}
        await self.cdp.send("HeapProfiler.collectGarbage")
        result["wasm_start"] = await self._wasm_memory()
        result["start"] = await self._heap_used()
        peak = [result["start"]]
        stop = asyncio.Event()

        async def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], await self._heap_used())
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                except TimeoutError:
                    pass

        task = asyncio.ensure_future(sample())
        try:
            yield result
        finally:
            stop.set()
            await task
            peak[0] = max(peak[0], await self._heap_used())
            result["peak"] = peak[0]
            result["wasm_end"] = await self._wasm_memory()
            await self.cdp.send("HeapProfiler.collectGarbage")
            result["retained"] = await self._heap_used()

    async def _wasm_memory(self) -> float:
        return await self.page.evaluate("() => pyodide._module.HEAP8.length")

    async def _heap_used(self) -> float:
        metrics = await self.cdp.send("Performance.getMetrics")
        return next(m["value"] for m in metrics["metrics"] if m["name"] == "JSHeapUsedSize")

    async def close(self) -> None:
        try:
            if self.owns_context:
                await self.context.close()
            else:
                await self.page.close()
        except Exception:  # noqa: BLE001 - already gone with the browser
            pass


class Browser:
    """One headless Chromium for the whole benchmark; every install gets a fresh page.

    ``server``: a :class:`benchmarks.server.ServerHandle` (``url``, ``bootstrap_names``).
    """

    def __init__(self, server: Any, runtime: str = DEFAULT_RUNTIME) -> None:
        self.server = server
        self.runtime = runtime
        self._playwright: Any = None
        self._browser: Any = None

    async def __aenter__(self) -> Browser:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._browser.close()
        await self._playwright.stop()

    async def new_context(self) -> Any:
        return await self._browser.new_context()

    async def page(self, context: Any = None, extra_wheels: tuple[str, ...] = ()) -> Page:
        """A fresh page (in a fresh context unless given) with Pyodide booted.

        ``extra_wheels``: URLs of further wheels to unzip into site-packages at boot
        (micropip for the incumbent's runs).
        """
        owns = context is None
        context = context or await self.new_context()
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        await cdp.send("Network.enable")
        await cdp.send("HeapProfiler.enable")
        result = Page(page, context, cdp, owns)
        page.on("console", lambda msg: result.console.append(f"[{msg.type}] {msg.text}"))
        await page.goto(f"{self.server.url}/page.html")
        bootstrap = [f"{self.server.url}/bootstrap/{n}" for n in sorted(
            self.server.bootstrap_names, key=lambda n: n.startswith("pyemscripten-"))]
        try:
            await page.evaluate(_BOOT_JS, {
                "runtime": f"{self.server.url}/runtimes/{self.runtime}/",
                "bootstrap": bootstrap + list(extra_wheels),
                "helper": HELPER_SOURCE,
            })
        except Exception as exc:
            await result.close()
            raise HarnessError(f"Pyodide {self.runtime} did not boot: {exc}") from exc
        return result


def now() -> float:
    return time.perf_counter()
