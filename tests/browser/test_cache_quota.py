"""The wheel cache when the site's storage quota is full, on Chromium's own Cache Storage.

The quota is lowered with the DevTools protocol (``Storage.overrideQuotaForOrigin``): the
browser then refuses a put with its own ``QuotaExceededError``, which the cache must tell
apart, make room for from its least recently used entries, and try once more; and the
order of an install's events then: what the quota left out is known only after the install's
``done`` (the cache writes once the install is over), so it comes as a ``cache-warning``, the
one event documented to follow ``done``, never as a ``warning`` after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from tests.support.browser import PyodideSession
from tests.support.index_server import IndexServer

STEPS = """
import hashlib
from js import caches
from pyemscripten.browser import CacheStorageWheelCache

def wheel(n, size):
    body = (b"wheel %d " % n).ljust(size, b".")
    return hashlib.sha256(body).hexdigest(), body

async def held():
    keys = [str(r.url) for r in (await (await caches.open("quota")).keys()).to_py()]
    return sorted(names[k.split("/")[-1].split("?")[0]] for k in keys if "/sha256/" in k)

names = {wheel(n, size)[0]: n for n, size in [(0, KB * 300), (1, KB * 300), (2, KB * 250), (3, KB * 5000)]}
notes = []
for n in (0, 1):
    c = CacheStorageWheelCache(name="quota")
    await c.put(*wheel(n, KB * 300))
    await c.flush(notes.append)
c = CacheStorageWheelCache(name="quota")
assert await c.get(wheel(0, KB * 300)[0])  # 0 is used again: 1 is the least recently used
c.checked(wheel(0, KB * 300)[0], True)  # as an install does once the body is checked
await c.flush(notes.append)
seen = [await held()]
c = CacheStorageWheelCache(name="quota")
await c.put(*wheel(2, KB * 250))  # over the quota: 1 goes to make room
await c.flush(notes.append)
seen.append(await held())
c = CacheStorageWheelCache(name="quota")
await c.put(*wheel(3, KB * 5000))  # more than the whole quota: not kept, one warning
await c.flush(notes.append)
[seen, len(notes), "quota" in "".join(notes)]
"""


@contextlib.contextmanager
def quota(page: PyodideSession, size: int) -> Iterator[None]:
    """The page's origin held to ``size`` bytes of storage while the block runs."""
    origin = page.page.evaluate("location.origin")
    cdp = page.context.new_cdp_session(page.page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": size})
    try:
        yield
    finally:
        cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin})


def test_a_full_quota_makes_room_in_the_browser(pyodide_factory: Callable[..., PyodideSession],
                                                index_server: IndexServer) -> None:
    page = pyodide_factory()
    with quota(page, 700_000):
        out = page.run(STEPS.replace("KB", "1000"))
    assert out == [[[0, 1], [0, 2]], 1, True]


INSTALL = """
import pyemscripten
events = []
report = await pyemscripten.install("attrs", index_urls=[url], on_progress=events.append)
events.append({"stage": "returned"})
await pyemscripten.wait_for_cache()
[[e["stage"] for e in events], events[-1].get("message", ""), list(report.warnings)]
"""


def test_a_wheel_the_quota_refuses_is_told_after_done(pyodide_factory: Callable[..., PyodideSession],
                                                     index_server: IndexServer) -> None:
    page = pyodide_factory()
    with quota(page, 1000):
        stages, told, warnings = page.run(INSTALL, url=index_server.index_url)
    assert stages[-3:] == ["done", "returned", "cache-warning"] and "warning" not in stages, stages
    assert "could not keep 1 wheel" in told and "quota" in told, told
    assert warnings == []
