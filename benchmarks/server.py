"""The benchmark's index, in a child process.

The test index server (tests/support/index_server.py) is a threaded Python server; run in
the benchmark's own process it would share the GIL with Playwright's driver and the heap
sampler, which shows up as latency on loopback. A child process keeps the two apart.

Both installers see the same index: ``.cache/wheels`` as PEP 691 JSON with PEP 658 metadata
and *absolute* file URLs (micropip 0.11 does not resolve relative ones).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.support.browser import WHEELS_DIR, bootstrap_files
from tests.support.index_server import IndexServer


def _serve(extra: Mapping[str, bytes], ready: Any, stop: Any) -> None:
    with IndexServer(wheel_dirs=[WHEELS_DIR]) as server:
        server.default.absolute_urls = True
        server.mount("/bootstrap/", bootstrap_files())
        server.mount("/extra/", dict(extra))
        server.default.projects()  # hash every wheel now, not during the first measured install
        ready.put((server.url, sorted(server._mounts["/bootstrap/"])))
        stop.wait()


@dataclass
class ServerHandle:
    url: str
    bootstrap_names: list[str]
    process: Any
    stop: Any

    @property
    def index_url(self) -> str:
        return f"{self.url}/simple/"

    def file_url(self, filename: str) -> str:
        return f"{self.url}/files/{filename}"

    def close(self) -> None:
        self.stop.set()
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()


def start_server(extra: Mapping[str, bytes] | None = None) -> ServerHandle:
    """Start the index in a child process; ``extra`` files are served under ``/extra/``."""
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=_serve, args=(dict(extra or {}), ready, stop), daemon=True)
    process.start()
    url, names = ready.get(timeout=120)
    return ServerHandle(url, names, process, stop)
