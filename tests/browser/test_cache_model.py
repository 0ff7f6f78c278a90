"""The wheel cache against its model in a page, on the browser's own Cache Storage.

tests/unit/test_cache_properties.py generates the sequences against an in-memory Cache
Storage; here a few of them run on the real one: installs of their own instance whose
writes land after the next install read the entry list, a body cut short behind the cache's
back, a clear. Cache calls only (no install: each costs about a second in a page).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.support.browser import PyodideSession
from tests.support.index_server import IndexServer

STEPS = """
import hashlib
from js import Response, caches
from pyemscripten.browser import CacheStorageWheelCache

def wheel(n, size):
    body = (b"wheel %d " % n).ljust(size, b".")
    return hashlib.sha256(body).hexdigest(), body

async def held():
    cache = await caches.open("model")
    # The wheels' entries (not the one of their last uses, CacheStorageWheelCache._USED_KEY)
    keys = [str(r.url) for r in (await cache.keys()).to_py() if "/sha256/" in str(r.url)]
    return sorted([(k.split("/")[-1].split("?")[0], len((await (await cache.match(k)).arrayBuffer()).to_bytes()))
                   for k in keys])

async def install(wheels, before=None):
    # An install: a fresh instance reads the entry list; the writes of the install before
    # (``before``) land only now; its own go once it is done (flush_later).
    cache = CacheStorageWheelCache(name="model", max_bytes=100)
    await cache._index()
    if before is not None:
        before.flush_later()
        await CacheStorageWheelCache.settled()
    for n, size in wheels:
        sha, body = wheel(n, size)
        if await cache.get(sha) != body:
            await cache.put(sha, body)
    return cache

seen = []
a = await install([(0, 60)])  # its writes still to come
b = await install([(1, 50)], before=a)  # b's list did not have 0
b.flush_later()
await CacheStorageWheelCache.settled()
seen.append(await held())  # 60 + 50 > 100: the oldest, 0, goes
c = await install([(2, 40)])
c.flush_later()
await CacheStorageWheelCache.settled()
seen.append(await held())
# Wheel 1's body cut short behind the cache's back: not taken, stored again (the newest).
cache = await caches.open("model")
key = [str(r.url) for r in (await cache.keys()).to_py() if wheel(1, 50)[0] in str(r.url)][0]
await cache.put(key, Response.new("wheel 1"))
d = await install([(1, 50), (3, 30)])  # 40 + 50 + 30 > 100: 2 goes
d.flush_later()
await CacheStorageWheelCache.settled()
seen.append(await held())
await CacheStorageWheelCache(name="model").clear()
seen.append(await held())
names = {wheel(n, size)[0]: n for n, size in [(0, 60), (1, 50), (2, 40), (3, 30)]}
[[[names.get(sha, -1), size] for sha, size in step] for step in seen]
"""


def test_the_cache_follows_its_model_in_a_page(pyodide_factory: Callable[..., PyodideSession],
                                               index_server: IndexServer) -> None:
    page = pyodide_factory()
    out = page.run(STEPS)
    # (wheel, bytes stored) of each entry after each step.
    assert [sorted(tuple(entry) for entry in step) for step in out] == [
        [(1, 50)],  # 0 was stored after the install of 1 read the list: it still counts
        [(1, 50), (2, 40)],
        [(1, 50), (3, 30)],  # 1 whole again; 2, stored longest ago, over the bound
        [],
    ]
