"""The browser's wheel cache (``browser.CacheStorageWheelCache``) against a model, natively.

Cache Storage is faked in memory (``js.caches``, with what the class calls of ``Response``
and ``Uint8Array``): a dict of key URL -> body per cache name, in insertion order as the
browser lists keys, each call a turn of the event loop, and a quota past which ``put``
raises as the browser's does. The model is what the class documents: entries by sha256
with their sizes; once a flush leaves more than ``max_bytes``, the entries used longest ago
(read by ``get``, or stored) go first; a newer body under the same sha256 replaces the
entry; ``clear`` empties it.

Generated: sequences of installs (each a fresh instance, as ``api.install`` makes one per
call, whose queue is flushed once it is done, sometimes only after the next install has read
the entry list), the same wheel again, clears, an entry's bytes changed or cut short behind
the cache's back, and a full quota. After every step the stored entries, their total and
what ``get`` answers must match the model. The browser tier runs a few such sequences in a
page against the real Cache Storage (tests/browser/test_cache_model.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pyemscripten import api, browser
from pyemscripten.browser import CacheStorageWheelCache
from pyemscripten.index_client import RetryPolicy
from pyemscripten.installation import Scheme
from pyemscripten.seams import NoLibraryLoader
from tests.unit.fake_index import BASE, FakeIndex
from tests.unit.test_api import TARGET, _hashes_given, real

FILES = BASE.replace("simple/", "files/")

PREFIX = CacheStorageWheelCache._PREFIX
NAME = "model"


# -- the fake Cache Storage ---------------------------------------------------------------

class QuotaExceededError(Exception):
    pass


class FakeBytes:
    """A ``Uint8Array``: ``new(n)``, ``assign``, ``length``; also what ``arrayBuffer()`` gives."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)

    @classmethod
    def new(cls, n: int) -> FakeBytes:
        return cls(bytes(n))

    def assign(self, data: bytes) -> None:
        self.data = bytes(data)

    @property
    def length(self) -> int:
        return len(self.data)

    def to_bytes(self) -> bytes:
        return self.data


class FakeResponse:
    def __init__(self, body: Any) -> None:
        self.body = body.data if isinstance(body, FakeBytes) else body.encode() if isinstance(body, str) else bytes(body)

    @classmethod
    def new(cls, body: Any) -> FakeResponse:
        return cls(body)

    async def arrayBuffer(self) -> FakeBytes:  # noqa: N802 - the JavaScript name
        await asyncio.sleep(0)
        return FakeBytes(self.body)


@dataclass
class FakeRequest:
    url: str


class FakeList(list):  # type: ignore[type-arg]
    def to_py(self) -> list[Any]:
        return list(self)


@dataclass
class FakeCache:
    storage: FakeCacheStorage
    store: dict[str, bytes] = field(default_factory=dict)

    async def keys(self) -> FakeList:
        await asyncio.sleep(0)
        return FakeList(FakeRequest(url) for url in self.store)

    async def match(self, url: str) -> FakeResponse | None:
        await asyncio.sleep(0)
        return FakeResponse(self.store[url]) if url in self.store else None

    async def put(self, url: str, response: FakeResponse) -> None:
        await asyncio.sleep(0)
        used = self.storage.used() - len(self.store.get(url, b""))
        if self.storage.quota is not None and used + len(response.body) > self.storage.quota:
            raise QuotaExceededError(url)
        self.store.pop(url, None)
        self.store[url] = response.body
        self.storage.put_log.append(url)

    async def delete(self, url: str) -> bool:
        await asyncio.sleep(0)
        if self.storage.gate is not None:  # held up (a slow browser), while another tab goes on
            self.storage.waiting += 1
            await self.storage.gate.wait()
        return self.store.pop(url, None) is not None


@dataclass
class FakeCacheStorage:
    quota: int | None = None
    caches: dict[str, FakeCache] = field(default_factory=dict)
    put_log: list[str] = field(default_factory=list)  # the keys put, in order
    gate: asyncio.Event | None = None  # set: a delete waits for it
    waiting: int = 0  # deletes that waited for the gate

    def used(self) -> int:
        return sum(len(body) for cache in self.caches.values() for body in cache.store.values())

    async def open(self, name: str) -> FakeCache:
        await asyncio.sleep(0)
        return self.caches.setdefault(name, FakeCache(self))

    async def delete(self, name: str) -> bool:
        await asyncio.sleep(0)
        return self.caches.pop(name, None) is not None

    async def has(self, name: str) -> bool:
        return name in self.caches

    def entries(self, name: str = NAME) -> dict[str, bytes]:
        """sha256 -> body of the cache's checked entries."""
        cache = self.caches.get(name)
        return {} if cache is None else {url[len(PREFIX):].split("?")[0]: body
                                          for url, body in cache.store.items() if url.startswith(PREFIX)}


@pytest.fixture
def fake_js(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCacheStorage]:
    """A page of its own: a fresh Cache Storage, and the class's per-page state reset."""
    storage = FakeCacheStorage()
    module = types.ModuleType("js")
    module.caches = storage  # type: ignore[attr-defined]
    module.Response = FakeResponse  # type: ignore[attr-defined]
    module.Uint8Array = FakeBytes  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "js", module)
    clock = iter(range(1, 1 << 30))
    monkeypatch.setattr(browser, "_now", lambda: float(next(clock)))  # distinct, increasing
    monkeypatch.setattr(CacheStorageWheelCache, "_retiring", None)
    monkeypatch.setattr(CacheStorageWheelCache, "_background", set())
    yield storage


def new_page(storage: FakeCacheStorage) -> None:
    """Hypothesis runs many examples in one fixture: each starts as a fresh page would."""
    storage.caches.clear()
    storage.quota = None
    CacheStorageWheelCache._retiring = None
    CacheStorageWheelCache._background = set()


# -- the model ----------------------------------------------------------------------------

@dataclass
class Model:
    max_bytes: int
    entries: dict[str, bytes] = field(default_factory=dict)  # sha256 -> body, used longest ago first
    counted: dict[str, int] = field(default_factory=dict)  # the size its key gives (the bytes stored)

    def store(self, sha256: str, body: bytes) -> None:
        self.entries.pop(sha256, None)
        self.entries[sha256] = body
        self.counted[sha256] = len(body)

    def touch(self, sha256: str) -> None:
        if sha256 in self.entries:
            self.entries[sha256] = self.entries.pop(sha256)

    def trim(self) -> None:
        while sum(self.counted[sha] for sha in self.entries) > self.max_bytes:
            del self.entries[next(iter(self.entries))]


def wheel(n: int, size: int) -> tuple[str, bytes]:
    body = (b"wheel %d " % n).ljust(size, b".")[:max(size, 1)]
    return hashlib.sha256(body).hexdigest(), body


# Steps: ("install", [(n, size), ...], overlapped), ("clear",), ("corrupt", i, how), ("quota", bytes | None)
install = st.tuples(st.just("install"), st.lists(st.tuples(st.integers(0, 5), st.integers(1, 60)), max_size=3),
                    st.booleans())
corrupt = st.tuples(st.just("corrupt"), st.integers(0, 5), st.sampled_from(["bytes", "truncated", "other"]))
steps = st.lists(st.one_of(install, install, st.tuples(st.just("clear")), corrupt,
                           st.tuples(st.just("quota"), st.one_of(st.none(), st.integers(0, 150)))), max_size=8)


def flush_later(storage: FakeCacheStorage, cache: CacheStorageWheelCache) -> None:
    """What an install does once it is done: its writes go on in the background."""
    storage.put_log.clear()
    cache.flush_later()


async def settled(storage: FakeCacheStorage, model: Model, queued: list[tuple[str, bytes]]) -> None:
    """Wait for the page's writes (``wait_for_cache()``) and bring the model along: what the
    browser took (all of it, without a quota) is stored, in the order queued, then the
    oldest go over the bound."""
    await CacheStorageWheelCache.settled()
    landed = [url[len(PREFIX):].split("?")[0] for url in storage.put_log if url.startswith(PREFIX)]
    if storage.quota is None:
        assert landed == [sha for sha, _ in queued]
    bodies = dict(queued)
    for sha in landed:
        model.store(sha, bodies[sha])
    if storage.quota is not None:
        # Room made for what the quota refused: older entries went (one just stored goes
        # only over the bound, as the model's trim says).
        for sha in [sha for sha in model.entries if sha not in storage.entries() and sha not in landed]:
            del model.entries[sha]
    model.trim()


async def run_steps(storage: FakeCacheStorage, max_bytes: int, todo: list[tuple[Any, ...]]) -> None:
    model = Model(max_bytes)
    pending: list[tuple[str, bytes]] | None = None  # the writes of an install, still under way
    for step in todo:
        if step[0] == "install":
            # One install: a fresh instance reads the entry list, takes what it holds whole
            # and intact, and queues the rest (as WheelTasks does, after its checks).
            cache = CacheStorageWheelCache(name=NAME, max_bytes=max_bytes)
            cache.prepare()
            await cache._index()
            if pending is not None:  # the last install's writes land after this one read the list
                await settled(storage, model, pending)
                pending = None
            queued: list[tuple[str, bytes]] = []
            for n, size in step[1]:
                sha, body = wheel(n, size)
                got = await cache.get(sha)
                assert got is None or got == storage.entries().get(sha), "only what is stored"
                if got is not None:  # the caller's check: a use if good, else the entry goes
                    good = hashlib.sha256(got).hexdigest() == sha
                    cache.checked(sha, good)
                    if good:
                        model.touch(sha)
                    else:
                        del model.entries[sha]
                if got != body and sha not in dict(queued):
                    await cache.put(sha, body)
                    queued.append((sha, body))
            flush_later(storage, cache)
            if step[2]:
                pending = queued
                continue  # compared once its writes are in
            await settled(storage, model, queued)
        elif step[0] == "clear":
            pending = None  # clear() waits for the page's writes first: they go too
            await CacheStorageWheelCache(name=NAME, max_bytes=max_bytes).clear()
            model.entries.clear()
        elif step[0] == "corrupt":
            shas = list(storage.entries())
            if not shas or pending is not None:
                continue
            sha = shas[step[1] % len(shas)]
            cache_store = storage.caches[NAME].store
            url = next(u for u in cache_store if u.startswith(PREFIX + sha))
            body = cache_store[url]
            if step[2] == "bytes":
                cache_store[url] = bytes(b ^ 1 for b in body)
            elif step[2] == "truncated":
                cache_store[url] = body[:len(body) // 2]
            else:  # the body of another wheel under this key
                cache_store[url] = wheel(99, len(body))[1]
            model.entries[sha] = cache_store[url]
        else:
            storage.quota = step[1]
        if pending is not None:
            continue
        # What is stored is what the model holds, within the bound; a fresh page's cache
        # (a new visit) reads it back, each entry as stored (the caller checks its hash).
        keys = [k for k in storage.caches[NAME].store if k.startswith(PREFIX)] if NAME in storage.caches else []
        assert storage.entries() == model.entries and len(keys) == len(model.entries), keys
        assert sum(int(key.rsplit("size=", 1)[1].split("&")[0]) for key in keys) <= max_bytes
        fresh = CacheStorageWheelCache(name=NAME, max_bytes=max_bytes)
        for sha, body in model.entries.items():
            assert await fresh.get(sha) == body


@example(max_bytes=100, todo=[("install", [(0, 60)], True), ("install", [(1, 60)], False)])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(max_bytes=st.integers(0, 150), todo=steps)
def test_the_cache_matches_its_model(fake_js: FakeCacheStorage, max_bytes: int, todo: list[tuple[Any, ...]]) -> None:
    new_page(fake_js)
    asyncio.run(run_steps(fake_js, max_bytes, todo))


def test_a_wheel_used_on_every_visit_outlives_one_stored_later_and_never_used(fake_js: FakeCacheStorage) -> None:
    # Eviction goes by last use: each visit reads "used" (a hit), and its time is written
    # once, at the flush, in one entry for all hits (no write per hit, no rewrite of a body).
    used, unused, new = wheel(0, 40), wheel(1, 40), wheel(2, 40)

    async def visits() -> list[str]:
        first = CacheStorageWheelCache(NAME, max_bytes=100)
        await first.put(*used)
        await first.flush()
        later = CacheStorageWheelCache(NAME, max_bytes=100)
        await later.put(*unused)
        await later.flush()
        again = CacheStorageWheelCache(NAME, max_bytes=100)
        for _ in range(2):
            assert await again.get(used[0]) == used[1]
            again.checked(used[0], True)  # as the install does, once the body is checked
        fake_js.put_log.clear()
        again.flush_later()
        await CacheStorageWheelCache.settled()
        writes = list(fake_js.put_log)
        last = CacheStorageWheelCache(NAME, max_bytes=100)
        await last.put(*new)
        await last.flush()  # 120 > 100: one goes, the one used longest ago
        assert len(writes) == 1 and not writes[0].startswith(PREFIX), writes  # two hits, one small write
        return sorted(fake_js.entries())

    assert asyncio.run(visits()) == sorted([used[0], new[0]])


def test_two_tabs_flushing_at_once_keep_both_their_uses(fake_js: FakeCacheStorage) -> None:
    # Two tabs of one site: each read a wheel (a use), and their flushes overlap. The one
    # whose flush also deletes (its new wheel took the cache over its bound) used to write
    # the last-use times it read before its deletes, after them: the other tab's write, in
    # between, was lost. The times are written as soon as they are read and merged.
    old, x, y, z = wheel(0, 40), wheel(1, 40), wheel(2, 40), wheel(3, 40)

    async def tabs() -> dict[str, float]:
        first = CacheStorageWheelCache(NAME)
        for body in (old, x, y):
            await first.put(*body)
        await first.flush()
        b = CacheStorageWheelCache(NAME, max_bytes=130)  # with z: 160, over the bound: old goes
        a = CacheStorageWheelCache(NAME)
        for tab, body in ((b, x), (a, y)):
            assert await tab.get(body[0]) == body[1]
            tab.checked(body[0], True)
        await b.put(*z)
        fake_js.gate = asyncio.Event()  # b's deletes wait until a's flush is done
        b_flush = asyncio.ensure_future(b.flush())
        while not fake_js.waiting:
            await asyncio.sleep(0)
        await a.flush()
        fake_js.gate.set()
        await b_flush
        return json.loads(fake_js.caches[NAME].store[CacheStorageWheelCache._USED_KEY])

    times = asyncio.run(tabs())
    assert sorted(fake_js.entries()) == sorted([x[0], y[0], z[0]])
    assert sorted(times) == sorted([x[0], y[0]]), times


def test_a_hash_spelled_in_capitals_is_the_same_entry(fake_js: FakeCacheStorage) -> None:
    sha, body = wheel(0, 40)

    async def visits() -> list[Any]:
        cache = CacheStorageWheelCache(NAME)
        await cache.put(sha.upper(), body)
        await cache.flush()
        again = CacheStorageWheelCache(NAME)
        got = [await again.get(sha), await again.get(sha.upper())]
        await again.put(sha, body)
        await again.flush()
        return [*got, list(fake_js.entries())]

    assert asyncio.run(visits()) == [body, body, [sha]]


def test_a_full_quota_makes_room_from_the_least_recently_used(fake_js: FakeCacheStorage) -> None:
    # The site's quota fills before the bound: the put refused for it is tried once more
    # after the least recently used entries, as many as its size, are deleted; what still
    # does not fit is not kept, and one warning says so.
    older, used, new, huge = wheel(0, 40), wheel(1, 40), wheel(2, 40), wheel(3, 500)
    notes: list[str] = []

    async def visits() -> list[str]:
        for body in (older, used):
            cache = CacheStorageWheelCache(NAME)
            await cache.put(*body)
            await cache.flush()
        cache = CacheStorageWheelCache(NAME)
        assert await cache.get(used[0]) == used[1]
        cache.checked(used[0], True)
        await cache.flush(notes.append)
        fake_js.quota = fake_js.used() + 10  # room for the times entry, not for a wheel
        cache = CacheStorageWheelCache(NAME)
        await cache.put(*new)
        await cache.flush(notes.append)
        kept = sorted(fake_js.entries())
        cache = CacheStorageWheelCache(NAME)
        await cache.put(*huge)
        await cache.put(*wheel(4, 600))
        await cache.flush(notes.append)  # deleting every other entry does not make room
        return kept

    assert asyncio.run(visits()) == sorted([used[0], new[0]])
    assert not fake_js.entries() or huge[0] not in fake_js.entries()
    assert len(notes) == 1 and "could not keep 2 wheels (1 kB" in notes[0] and huge[0][:12] in notes[0], notes


# -- installs through the cache -----------------------------------------------------------

def _session(tmp: Path, index: FakeIndex, cache: CacheStorageWheelCache) -> api.Session:
    site = tmp / "site-packages"
    site.mkdir(parents=True)
    return api.Session(target=TARGET, transport=index, loader=NoLibraryLoader(),
                       scheme=Scheme(str(site), str(site), str(tmp / "bin"), str(tmp / "inc"), str(tmp)),
                       retry=RetryPolicy(attempts=1, backoff=0), distribution_url="", cache=cache)


PROJECTS = ("one", "two", "three")
damage = st.sampled_from(["intact", "bytes", "truncated", "other", "empty"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damages=st.tuples(damage, damage, damage), max_bytes=st.sampled_from([0, 3000, 1 << 20]))
def test_a_damaged_entry_is_never_installed(fake_js: FakeCacheStorage, tmp_path_factory: pytest.TempPathFactory,
                                            damages: tuple[str, str, str], max_bytes: int) -> None:
    # A warm start after the cache's entries were changed behind its back: each wheel comes
    # from the cache only if intact, else from the index again, with no warning; its files
    # are the wheel's own; and the entry holds the good body again (within the bound).
    new_page(fake_js)
    index = FakeIndex({name: {"1.0": real(name, "1.0")} for name in PROJECTS})
    bodies = {name: index.routes[f"{FILES}{name}-1.0-py3-none-any.whl"].body for name in PROJECTS}
    shas = {name: hashlib.sha256(body).hexdigest() for name, body in bodies.items()}

    async def visit(folder: str) -> tuple[api.InstallReport, list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        session = _session(tmp_path_factory.mktemp(folder), index, CacheStorageWheelCache(NAME, max_bytes))
        report = await api.install(list(PROJECTS), [BASE], session=session, quiet=True, on_progress=events.append)
        await api.wait_for_cache()
        for name in PROJECTS:
            assert (Path(session.scheme.purelib) / name / "__init__.py").read_text() == "V = '1.0'\n"
        return report, events

    asyncio.run(visit("first"))
    held = fake_js.entries()
    store = fake_js.caches[NAME].store
    for name, how in zip(PROJECTS, damages):
        url = next((u for u in store if u.startswith(PREFIX + shas[name])), None)
        if url is None or how == "intact":
            continue
        body = store[url]
        store[url] = {"bytes": body[:-5] + bytes(b ^ 1 for b in body[-5:]), "truncated": body[:len(body) // 2],
                      "other": bodies[PROJECTS[(PROJECTS.index(name) + 1) % 3]], "empty": b""}[how]
    index.requests.clear()
    report, events = asyncio.run(visit("second"))
    assert not report.warnings
    fetched = {url.rsplit("/", 1)[1].split("-")[0] for url in index.requests if url.endswith(".whl")}
    from_cache = {e["package"] for e in events if e["stage"] == "downloading" and e["message"] == "from the cache"}
    intact = {name for name, how in zip(PROJECTS, damages) if shas[name] in held and how == "intact"}
    assert from_cache == intact and fetched == set(PROJECTS) - intact
    assert all(body == bodies[name] for name, body in zip(PROJECTS, map(fake_js.entries().get, shas.values()))
               if body is not None)
    assert sum(map(len, fake_js.entries().values())) <= max_bytes


def test_an_entry_under_a_key_not_its_own_is_dropped_not_marked_used(fake_js: FakeCacheStorage, tmp_path: Path) -> None:
    # An earlier version keyed a body by the sha256 the index gave, which was wrong (the
    # index also gives a sha512, which the wheel matches): that entry is never the wheel's,
    # so the install fetches it again, and the entry is not counted as used (that kept it
    # from eviction for good, each visit reading it) but dropped.
    index = FakeIndex({"one": {"1.0": real("one", "1.0")}})
    wrong = hashlib.sha256(b"not the wheel").hexdigest()
    body = index.routes[f"{FILES}one-1.0-py3-none-any.whl"].body
    _hashes_given(index, "one", sha256=wrong, sha512=hashlib.sha512(body).hexdigest())
    right = hashlib.sha256(body).hexdigest()

    async def visit() -> list[dict[str, Any]]:
        store = (await fake_js.open(NAME)).store
        store[f"{PREFIX}{wrong}?size={len(body)}&stored=0.5"] = body  # as the earlier version kept it
        events: list[dict[str, Any]] = []
        session = _session(tmp_path, index, CacheStorageWheelCache(NAME))
        await api.install("one", [BASE], session=session, quiet=True, on_progress=events.append)
        await api.wait_for_cache()
        return events

    events = asyncio.run(visit())
    assert not [e for e in events if e["stage"] == "downloading" and e.get("message") == "from the cache"]
    used = fake_js.caches[NAME].store.get(CacheStorageWheelCache._USED_KEY, b"{}")
    assert wrong not in used.decode(), used
    assert fake_js.entries() == {right: body}


def test_an_install_the_quota_leaves_out_of_the_cache_says_so_once(fake_js: FakeCacheStorage, tmp_path: Path) -> None:
    # The install succeeds; the cache's writes come after it, and their one warning is an
    # event for the install's listeners (wait_for_cache() waits for it): a "cache-warning",
    # the one kind documented to come after "done" (no "warning" follows "done": listeners
    # take "done" as the install's end).
    fake_js.quota = 100
    index = FakeIndex({name: {"1.0": real(name, "1.0")} for name in PROJECTS})
    events: list[dict[str, Any]] = []

    async def visit() -> api.InstallReport:
        session = _session(tmp_path, index, CacheStorageWheelCache(NAME))
        report = await api.install(list(PROJECTS), [BASE], session=session, quiet=True, on_progress=events.append)
        events.append({"stage": "returned"})
        await api.wait_for_cache()
        return report

    report = asyncio.run(visit())
    assert sorted(name for name, _ in report.installed) == sorted(PROJECTS) and not report.warnings
    stages = [e["stage"] for e in events]
    assert stages[-3:] == ["done", "returned", "cache-warning"] and "warning" not in stages, stages
    told = events[-1]["message"]
    assert "could not keep 3 wheels" in told and "quota" in told, told
    assert fake_js.entries() == {}
