"""Warm start: wheels kept in Cache Storage by sha256, across pages of one browser context.

The index server counts requests, so "no wheel fetched again" is asserted on the wire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pytest

from tests.support.browser import WHEELS_DIR, PyodideSession
from tests.support.index_server import IndexServer

WHEEL_REQUESTS = r"^/files/[^/]+\.whl$"  # not the bootstrap's /bootstrap/*.whl
PROJECTS = ["attrs", "click"]

# An install writes its wheels to the cache in the background once it is done;
# wait_for_cache() waits for those writes (a second page opened sooner may not find them).
INSTALL = """
import pyemscripten
report = await pyemscripten.install(reqs, index_urls=[url], quiet=True)
import attrs, click
await pyemscripten.wait_for_cache()
sorted(n for n, _ in report.installed)
"""


def _sha256(pattern: str) -> str:
    found = sorted(WHEELS_DIR.glob(pattern))
    if not found:
        pytest.skip(f"no {pattern} in {WHEELS_DIR}: run scripts/fetch_fixtures.py")
    return hashlib.sha256(found[-1].read_bytes()).hexdigest()


@pytest.fixture
def context(browser: object) -> Iterator[object]:
    """One browser context: its pages share Cache Storage, like two visits to one site."""
    ctx = browser.new_context()  # type: ignore[attr-defined]
    yield ctx
    ctx.close()


def test_second_page_fetches_no_wheel_again(pyodide_factory: Callable[..., PyodideSession],
                                            index_server: IndexServer, context: object) -> None:
    first = pyodide_factory(context=context)
    assert first.run(INSTALL, reqs=PROJECTS, url=index_server.index_url) == PROJECTS
    assert index_server.count(regex=WHEEL_REQUESTS) == 2
    lock = first.run("pyemscripten.freeze()")
    index_server.reset_counts()

    second = pyodide_factory(context=context)
    assert second.run(INSTALL, reqs=PROJECTS, url=index_server.index_url) == PROJECTS
    assert index_server.count(regex=WHEEL_REQUESTS) == 0
    assert index_server.count(regex=r"^/simple/") > 0  # resolution still asks the index
    # ... but not for the .metadata files of these small wheels: the crawl takes their
    # METADATA from the guessed downloads, which the cache answered.
    assert index_server.count(suffix=".metadata") == 0

    # From a lock file the index is not asked at all.
    index_server.reset_counts()
    third = pyodide_factory(context=context)
    out = third.run("import pyemscripten\nr = await pyemscripten.install_lock(lock, quiet=True)\n"
                    "import attrs, click\nsorted(n for n, _ in r.installed)", lock=lock)
    assert set(PROJECTS) <= set(out)
    assert index_server.count(regex=r"^/(files|simple)/") == 0


WRITE_BEHIND = """
import pyemscripten
from js import caches
from pyemscripten.browser import CacheStorageWheelCache
report = await pyemscripten.install(reqs, index_urls=[url], quiet=True)
# install() has returned: the writes are still to come, kept for this page.
left_running = len(CacheStorageWheelCache._background)
await pyemscripten.wait_for_cache()
keys = (await (await caches.open("pyemscripten-wheels-v3")).keys()).to_py()
[left_running, len(CacheStorageWheelCache._background), len(keys)]
"""


def test_install_returns_before_the_cache_is_written(pyodide_factory: Callable[..., PyodideSession],
                                                     index_server: IndexServer, context: object) -> None:
    # Writing the bodies while the install ran cost it about a tenth of its time: they are
    # written once it is done, and wait_for_cache() waits for them.
    page = pyodide_factory(context=context)
    assert page.run(WRITE_BEHIND, reqs=PROJECTS, url=index_server.index_url) == [1, 0, 2]


OWN_CACHE = """
import pyemscripten
from js import caches
from pyemscripten.browser import CacheStorageWheelCache
s = pyemscripten.Session(cache=CacheStorageWheelCache(name="own"))
await pyemscripten.install(reqs, index_urls=[url], quiet=True, session=s)
await pyemscripten.wait_for_cache(s)
[len(CacheStorageWheelCache._background), len((await (await caches.open("own")).keys()).to_py())]
"""


def test_wait_for_cache_waits_for_a_sessions_own_cache(pyodide_factory: Callable[..., PyodideSession],
                                                       index_server: IndexServer, context: object) -> None:
    # The install already handed that cache's queue to a background flush: waiting for it
    # means waiting for that flush, not flushing an empty queue. (On loopback the writes
    # of two small wheels usually finish first anyway, so this does not force the case.)
    page = pyodide_factory(context=context)
    assert page.run(OWN_CACHE, reqs=PROJECTS, url=index_server.index_url) == [0, 2]


def test_cached_body_with_wrong_hash_is_not_used(pyodide_factory: Callable[..., PyodideSession],
                                                 index_server: IndexServer, context: object) -> None:
    sha = _sha256("attrs-*-py3-none-any.whl")
    page = pyodide_factory(context=context)
    # Someone (or a bug) left other bytes under attrs' key.
    page.run("from pyemscripten.browser import CacheStorageWheelCache\n"
             "bad = CacheStorageWheelCache()\n"
             "await bad.put(sha, b'PK not the wheel')\n"
             "await bad.flush()", sha=sha)
    out = page.run("""
import hashlib, pyemscripten
from pyemscripten.browser import CacheStorageWheelCache
report = await pyemscripten.install("attrs", index_urls=[url], quiet=True)
import attrs
await pyemscripten.wait_for_cache()
cached = await CacheStorageWheelCache().get(sha)
[sorted(n for n, _ in report.installed), hashlib.sha256(cached).hexdigest()]
""", url=index_server.index_url, sha=sha)
    assert out[0] == ["attrs"]
    assert index_server.count(regex=r"^/files/attrs-.*\.whl$") == 1  # fetched, not taken from the cache
    assert out[1] == sha  # and the bad entry was replaced by the verified body


def test_clear_cache_and_opting_out(pyodide_factory: Callable[..., PyodideSession],
                                    index_server: IndexServer, context: object) -> None:
    first = pyodide_factory(context=context)
    first.run("import pyemscripten\nawait pyemscripten.install('attrs', index_urls=[url], quiet=True)",
              url=index_server.index_url)
    first.run("await pyemscripten.clear_cache()")
    index_server.reset_counts()

    second = pyodide_factory(context=context)
    second.run("import pyemscripten\n"
               "s = pyemscripten.Session(use_cache=False)\n"
               "await pyemscripten.install('attrs', index_urls=[url], quiet=True, session=s)",
               url=index_server.index_url)
    assert index_server.count(regex=WHEEL_REQUESTS) == 1  # cleared: fetched again
    index_server.reset_counts()

    third = pyodide_factory(context=context)
    third.run("import pyemscripten\nawait pyemscripten.install('attrs', index_urls=[url], quiet=True)",
              url=index_server.index_url)
    assert index_server.count(regex=WHEEL_REQUESTS) == 1  # use_cache=False stored nothing


def test_cache_keeps_the_newest_within_its_bound(pyodide_factory: Callable[..., PyodideSession],
                                                 index_server: IndexServer, context: object) -> None:
    page = pyodide_factory(context=context)
    out = page.run("""
from js import caches
from pyemscripten.browser import CacheStorageWheelCache
c = CacheStorageWheelCache(name="bounded", max_bytes=100)
for sha in ("a" * 64, "b" * 64, "c" * 64):
    await c.put(sha, sha[:1].encode() * 60)
    await c.flush()
await c.put("c" * 64, b"C" * 40)  # a newer body under the same key replaces the entry
await c.flush()
fresh = CacheStorageWheelCache(name="bounded", max_bytes=100)
keys = (await (await caches.open("bounded")).keys()).to_py()
[await fresh.get("a" * 64), await fresh.get("b" * 64), await fresh.get("c" * 64), len(keys)]
""")
    assert out == [None, None, "C" * 40, 1]


def test_one_wheel_stored_twice_at_once_is_kept_once(pyodide_factory: Callable[..., PyodideSession],
                                                     index_server: IndexServer, context: object) -> None:
    # Two installs (two tabs) that stored the same wheel at once leave two keys for it: the
    # next page keeps the newer, deletes the other, and counts its bytes once against the bound.
    page = pyodide_factory(context=context)
    out = page.run("""
from js import Response, caches
from pyemscripten.browser import CacheStorageWheelCache
prefix = "https://pyemscripten.invalid/checked/sha256/" + "d" * 64
cache = await caches.open("twice")
await cache.put(prefix + "?size=3&stored=1", Response.new("old"))
await cache.put(prefix + "?size=3&stored=2", Response.new("new"))
fresh = CacheStorageWheelCache(name="twice", max_bytes=100)
got = await fresh.get("d" * 64)
await CacheStorageWheelCache._retiring
keys = [str(r.url).split("&")[-1] for r in (await cache.keys()).to_py()]
[got, keys]
""")
    assert out == ["new", ["stored=2"]]


def test_clear_where_there_is_no_cache_storage(pyodide_factory: Callable[..., PyodideSession],
                                               index_server: IndexServer, context: object) -> None:
    # Not a secure context, or an opaque origin: no Cache Storage. Clearing has nothing to do.
    page = pyodide_factory(context=context)
    assert page.run("""
import js, pyemscripten
saved = js.caches
js.eval("delete globalThis.caches")
try:
    await pyemscripten.clear_cache()
    result = "cleared"
finally:
    js.globalThis.caches = saved
result
""") == "cleared"


EARLIER = """
from js import Response, caches
attrs_sha = sha
old = await caches.open("pyemscripten-wheels-v2")
await old.put("https://pyemscripten.invalid/sha256/x?size=1&stored=1", Response.new("x"))
# An entry of an earlier version in today's cache, under the key the wheel would have had.
current = await caches.open("pyemscripten-wheels-v3")
await current.put(f"https://pyemscripten.invalid/sha256/{attrs_sha}?size=3&stored=1", Response.new("old"))
"""

AFTER = """
from js import caches
from pyemscripten.browser import CacheStorageWheelCache
await CacheStorageWheelCache._retiring
keys = [str(r.url) for r in (await (await caches.open("pyemscripten-wheels-v3")).keys()).to_py()]
[bool(await caches.has("pyemscripten-wheels-v2")), sorted(k.split("/")[3] for k in keys)]
"""


def test_entries_of_earlier_versions_are_not_read_and_go(pyodide_factory: Callable[..., PyodideSession],
                                                          index_server: IndexServer, context: object) -> None:
    # Earlier versions also kept wheels that were then refused: their entries are not
    # trusted (nor read at all), and they are deleted once a cache is used.
    page = pyodide_factory(context=context)
    page.run(EARLIER, sha=_sha256("attrs-*.whl"))
    assert page.run(INSTALL, reqs=PROJECTS, url=index_server.index_url) == PROJECTS
    assert index_server.count(regex=WHEEL_REQUESTS) == 2  # fetched, not taken from the old entry
    # v2 is gone; in v3 only the two wheels just checked, under keys of their own.
    assert page.run(AFTER) == [False, ["checked", "checked"]]
