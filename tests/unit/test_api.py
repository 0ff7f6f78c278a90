"""The whole pipeline natively: resolve, download, verify, commit, freeze, lock round trip.

The seams are faked by subclassing (an in-memory index, a temporary site-packages); the
browser tier runs the same pipeline for real.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import dataclasses
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from pyemscripten import api, errors, installation
from pyemscripten.downloads import WheelTasks, _metadata_file
from pyemscripten.index_client import RetryPolicy
from pyemscripten.installation import Scheme
from pyemscripten.seams import Hasher, NoLibraryLoader, Response, WheelCache
from pyemscripten.target import Target
from tests.support.page_state import padded
from tests.support.wheels import make_wheel

from .fake_index import BASE, FakeIndex

TARGET = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14.2")


def real(name: str, version: str, requires: tuple[str, ...] = ()) -> dict:
    module = name.replace("-", "_")
    body = make_wheel(name, version, {f"{module}/__init__.py": f"V = {version!r}\n"}, requires=list(requires))
    return {"body": bytes(body), "requires": list(requires)}


class MemoryCache(WheelCache):
    holds_checked_wheels = True  # filled by the installs of the tests only

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    async def get(self, sha256: str) -> bytes | None:
        return self.store.get(sha256)

    async def put(self, sha256: str, data: bytes, kept: object = None) -> None:
        self.store[sha256] = data


@pytest.fixture
def session(tmp_path: Path):
    site = tmp_path / "site-packages"
    site.mkdir()
    scheme = Scheme(str(site), str(site), str(tmp_path / "bin"), str(tmp_path / "include"), str(tmp_path))
    index = FakeIndex({"app": {"1.0": real("app", "1.0", ("lib>=1",))}, "lib": {"1.0": real("lib", "1.0")}})
    return api.Session(target=TARGET, transport=index, loader=NoLibraryLoader(), scheme=scheme,
                       retry=RetryPolicy(attempts=2, backoff=0), distribution_url="", cache=MemoryCache())


def uncached_session(tmp_path: Path, index: FakeIndex) -> api.Session:
    """A session on ``index`` with an empty site-packages under ``tmp_path`` and no wheel cache."""
    site = tmp_path / "site-packages"
    site.mkdir()
    return api.Session(target=TARGET, transport=index, loader=NoLibraryLoader(),
                       scheme=Scheme(str(site), str(site), str(tmp_path / "bin"), str(tmp_path / "inc"), str(tmp_path)),
                       distribution_url="", use_cache=False)


class CountingHasher(Hasher):
    def __init__(self) -> None:
        self.blobs = 0

    async def sha256(self, blobs):  # type: ignore[no-untyped-def]
        self.blobs += len(blobs)
        return await super().sha256(blobs)


def test_the_cache_keeps_only_checked_wheels_and_trusts_their_record(session: api.Session) -> None:
    # A wheel whose RECORD does not match its files is refused, and not kept in the cache.
    session.transport.add_project("bad", {"1.0": {"body": bytes(make_wheel("bad", "1.0", {"bad/x.py": b"x"},
                                                                          bad_record=True))}})
    with pytest.raises(errors.RecordError):
        asyncio.run(api.install("bad", [BASE], session=session, quiet=True))
    assert session.cache.store == {}
    # A good one is kept once it passed every check ...
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    assert len(session.cache.store) == 1
    api.uninstall(["lib"], session)
    # ... and installed from the cache, its body is hashed again but its members are not:
    # the RECORD this very body had when it was checked gives their sha256s.
    session.hasher = CountingHasher()
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    assert session.hasher.blobs == 1
    assert api.list_installed(session) == {"lib": "1.0"}
    # A cache that does not say it holds only checked wheels gets every member hashed.
    api.uninstall(["lib"], session)
    session.cache.holds_checked_wheels = False
    session.hasher = CountingHasher()
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    assert session.hasher.blobs > 1


def _hashes_given(index: FakeIndex, project: str, **hashes: str) -> tuple[str, bytes]:
    """Make the index give ``hashes`` (hex, by algorithm) for ``project``'s one wheel: its
    file name and body."""
    import json

    url = f"{BASE}{project}/"
    page = json.loads(index.routes[url].body)
    entry = page["files"][0]
    entry["hashes"] = hashes
    index.routes[url] = dataclasses.replace(index.routes[url], body=json.dumps(page).encode())
    return entry["filename"], index.routes[f"https://index.test/files/{entry['filename']}"].body


def test_a_wrong_sha256_beside_a_good_sha512_is_reported_and_never_keys_the_cache(session: api.Session) -> None:
    # The index gives both, the sha256 wrong: the wheel is checked against the sha512 (the
    # strongest), installed, and the mismatch told, naming the file. The cache keys the
    # body by its own sha256, never by the index's; an entry an earlier version left under
    # the wrong one is not taken for the wheel: it is fetched (and checked) again.
    body = session.transport.routes[next(u for u in session.transport.routes if u.endswith(".whl") and "/lib-" in u)].body
    wrong = hashlib.sha256(b"not the wheel").hexdigest()
    filename, body = _hashes_given(session.transport, "lib", sha256=wrong, sha512=hashlib.sha512(body).hexdigest())
    session.cache.store[wrong] = body  # as the earlier version kept it
    report = asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    assert [url for url in session.transport.requests if url.endswith(".whl")] == [f"https://index.test/files/{filename}"]
    notes = [note for note in report.warnings if filename in note]
    assert len(notes) == 1 and wrong in notes[0] and hashlib.sha256(body).hexdigest() in notes[0], report.warnings
    assert set(session.cache.store) == {wrong, hashlib.sha256(body).hexdigest()}


def test_a_hash_in_capitals_is_one_cache_key(session: api.Session) -> None:
    # Hex digests are compared and kept in lower case: an index giving SHA256=ABC... makes
    # no second entry, and finds the one there.
    filename, body = _hashes_given(session.transport, "lib", SHA256=hashlib.sha256(b"").hexdigest())
    _hashes_given(session.transport, "lib", SHA256=hashlib.sha256(body).hexdigest().upper())
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    api.uninstall(["lib"], session)
    session.transport.requests.clear()
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    assert list(session.cache.store) == [hashlib.sha256(body).hexdigest()]
    assert not [url for url in session.transport.requests if url.endswith(".whl")]


class WriteBehindCache(MemoryCache):
    """Queues what an install puts, as the browser's cache does, and notes when it is told
    to write: an install must not wait for the cache, and must hand it over once done."""

    def __init__(self, site: Path) -> None:
        super().__init__()
        self.site = site
        self.queued: list[str] = []
        self.told: list[list[str]] = []  # site-packages' listing at each flush_later()

    async def put(self, sha256: str, data: bytes, kept: object = None) -> None:
        self.queued.append(sha256)

    async def flush(self, warn: object = None) -> None:
        raise AssertionError("an install does not wait for the cache's writes")

    def flush_later(self, warn: object = None) -> None:
        self.told.append(sorted(os.listdir(self.site)))


def test_the_cache_is_written_after_the_install_not_during_it(session: api.Session) -> None:
    site = Path(session.scheme.purelib)
    session.cache = WriteBehindCache(site)
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert len(session.cache.queued) == 2
    assert session.cache.told == [["app", "app-1.0.dist-info", "lib", "lib-1.0.dist-info"]]


class OldSeamCache(MemoryCache):
    """A cache written against the seam before ``flush`` and ``flush_later`` took ``warn``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def flush(self) -> None:  # type: ignore[override]
        self.calls.append("flush")

    def flush_later(self) -> None:  # type: ignore[override]
        self.calls.append("flush_later")


class NewSeamCache(MemoryCache):
    """One that takes ``warn``, and uses it at once (it stores as it is told to)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def flush(self, warn: Callable[[str], None] | None = None) -> None:
        self.calls.append("flush")
        if warn is not None:
            warn("flushed")

    def flush_later(self, warn: Callable[[str], None] | None = None) -> None:
        self.calls.append("flush_later")
        if warn is not None:
            warn("flushed later")


@pytest.mark.parametrize("shape", [OldSeamCache, NewSeamCache])
def test_a_cache_of_either_seam_shape_is_flushed(session: api.Session, shape: type[OldSeamCache]) -> None:
    # A cache of one's own written when flush() and flush_later() took no argument is
    # called that way (the install used to raise TypeError after its commit); one that
    # takes warn is given it.
    session.cache = cache = shape()
    events: list[dict] = []
    report = asyncio.run(api.install("app", [BASE], session=session, quiet=True, on_progress=events.append))
    asyncio.run(api.wait_for_cache(session))
    assert {n for n, _ in report.installed} == {"app", "lib"}
    assert cache.calls == ["flush_later", "flush"]
    # A warning known before the install's end (this cache stores at once) is one of its
    # warnings, before "done"; wait_for_cache(session) tells the session's own listeners.
    told = [(e["stage"], e.get("message")) for e in events if e["stage"] in ("warning", "cache-warning", "done")]
    assert told[:-1] == ([] if shape is OldSeamCache else [("warning", "flushed later")]) and told[-1][0] == "done"
    assert report.warnings == (() if shape is OldSeamCache else ("flushed later",))


def test_a_cache_whose_checked_raises_is_a_cache_that_misses(session: api.Session) -> None:
    # checked() must not raise, says the seam; one that does is ignored as a failing get() is:
    # the second install takes its wheels from the cache all the same, and succeeds.
    class Raising(MemoryCache):
        def checked(self, sha256: str, good: bool) -> None:
            raise RuntimeError("broken cache")

    session.cache = Raising()
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    asyncio.run(api.wait_for_cache(session))
    api.uninstall(["app", "lib"], session=session)
    report = asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert {n for n, _ in report.installed} == {"app", "lib"}


def test_a_cache_whose_prepare_or_flush_later_raises_does_not_fail_the_install(session: api.Session) -> None:
    # The seam says they must not raise; one that does is told as a warning, and the install
    # (committed before flush_later runs) is not reported as failed.
    class Raising(MemoryCache):
        def prepare(self) -> None:
            raise RuntimeError("no storage")

        def flush_later(self, warn=None) -> None:  # type: ignore[no-untyped-def]
            raise RuntimeError("broken flush")

    session.cache = Raising()
    events: list[dict] = []
    report = asyncio.run(api.install("app", [BASE], session=session, quiet=True, on_progress=events.append))
    assert {n for n, _ in report.installed} == {"app", "lib"}
    told = [e["message"] for e in events if e["stage"] == "warning"]
    assert any("could not get ready (RuntimeError: no storage)" in m for m in told), told
    assert any("could not store this install's wheels (RuntimeError: broken flush)" in m for m in told), told
    assert [e["stage"] for e in events][-1] == "done"


def test_the_cache_is_given_the_transports_own_copy_of_each_body(session: api.Session) -> None:
    # The browser's transport keeps each body in JavaScript too (Response.kept); the cache
    # stores from that copy, so the interpreter's can go before the install ends.
    class Keeping(type(session.transport)):  # type: ignore[misc]
        async def get(self, url, headers=None, on_progress=None, on_data=None):  # type: ignore[no-untyped-def]
            response = await super().get(url, headers, on_progress, on_data)
            return dataclasses.replace(response, kept=("copy of", url))

    class Noting(MemoryCache):
        kept: list[object] = []

        async def put(self, sha256: str, data: bytes, kept: object = None) -> None:
            self.kept.append(kept)

    session.transport.__class__ = Keeping
    session.cache = Noting()
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert sorted(url.rsplit("/", 1)[1] for _, url in Noting.kept) == ["app-1.0-py3-none-any.whl",
                                                                       "lib-1.0-py3-none-any.whl"]


def listing(root: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_install_then_freeze_then_install_lock(session: api.Session, tmp_path: Path) -> None:
    events: list[dict] = []
    report = asyncio.run(api.install("app", [BASE], session=session, quiet=True, on_progress=events.append))
    assert report.installed == (("lib", "1.0"), ("app", "1.0"))
    assert {"resolving", "resolved", "downloading", "unpacking", "installing", "done"} <= {e["stage"] for e in events}
    assert api.list_installed(session) == {"app": "1.0", "lib": "1.0"}
    site = session.scheme.purelib
    assert (Path(site) / "app" / "__init__.py").read_text() == "V = '1.0'\n"
    assert (Path(site) / "app-1.0.dist-info" / "INSTALLER").read_text().strip() == "pyemscripten"
    assert (Path(site) / "app-1.0.dist-info" / "REQUESTED").exists()
    assert not (Path(site) / "lib-1.0.dist-info" / "REQUESTED").exists()

    lock = api.freeze(session)
    assert 'name = "app"' in lock and "sha256" in lock

    api.uninstall(["app", "lib"], session)
    assert listing(site) == []
    session.transport.requests.clear()
    events.clear()
    again = asyncio.run(api.install_lock(lock, session=session, quiet=True, on_progress=events.append))
    assert {n for n, _ in again.installed} == {"app", "lib"}
    # No resolution (no page, no metadata) and, with the cache warm, no wheel download either:
    # the progress says where the wheels came from.
    assert session.transport.requests == []
    assert {(e["package"], e["message"]) for e in events if e["stage"] == "downloading"} == {
        ("app", "from the cache"), ("lib", "from the cache")}
    # A lock's URL may hold the words "lock-version": it is fetched, not read as TOML.
    url = "https://index.test/lock-versions/pylock.toml"
    session.transport.routes[url] = Response(url, 200, lock.encode(), {})
    api.uninstall(["app", "lib"], session)
    assert {n for n, _ in asyncio.run(api.install_lock(url, session=session, quiet=True)).installed} == {"app", "lib"}
    api.uninstall("app", session)
    partly = asyncio.run(api.install_lock(lock, session=session, quiet=True))
    assert (partly.installed, partly.already) == ((("app", "1.0"),), (("lib", "1.0"),))
    assert str(partly) == "Installed app-1.0 (1 already satisfied)"
    # Text on one line that is no URL (it has spaces) is read as a lock, not fetched.
    with pytest.raises(errors.LockError) as info:
        asyncio.run(api.install_lock("this is not toml [", session=session, quiet=True))
    assert "given as text" in str(info.value) and session.transport.requests[-1:] != ["this is not toml ["]


def test_a_dependency_asked_for_by_name_later_gets_requested(session: api.Session) -> None:
    # Recording installed projects: "If a distribution that was already installed on the
    # system as a dependency is later installed by name, tools should create the REQUESTED
    # file in the .dist-info directory of the existing installation" (and RECORD lists it).
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    info = Path(session.scheme.purelib) / "lib-1.0.dist-info"
    assert not (info / "REQUESTED").exists()
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True, dry_run=True))
    assert not (info / "REQUESTED").exists()
    report = asyncio.run(api.install(["lib", "app"], [BASE], session=session, quiet=True))
    assert report.already == (("lib", "1.0"), ("app", "1.0")) and (info / "REQUESTED").read_bytes() == b""
    assert (info / "RECORD").read_text().endswith(
        "lib-1.0.dist-info/RECORD,,\nlib-1.0.dist-info/REQUESTED,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n")
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    assert (info / "RECORD").read_text().count("REQUESTED") == 1
    api.uninstall("lib", session)
    assert not info.exists()


def test_a_lock_marks_what_it_installs_requested_as_pip_marks_each_line_of_a_pinned_list(
        session: api.Session) -> None:
    # A lock records no roots (PEP 751 has no such field): each package it installs is one
    # the user named, as each line of `pip install -r` of a fully pinned list is; what was
    # installed already is left as it is (pip leaves an already satisfied line's REQUESTED).
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    lock, site = api.freeze(session), Path(session.scheme.purelib)
    api.uninstall("app", session)
    asyncio.run(api.install_lock(lock, session=session, quiet=True))
    assert (site / "app-1.0.dist-info" / "REQUESTED").exists() and not (site / "lib-1.0.dist-info" / "REQUESTED").exists()
    api.uninstall(["app", "lib"], session)
    asyncio.run(api.install_lock(lock, session=session, quiet=True))
    assert all((site / f"{name}-1.0.dist-info" / "REQUESTED").exists() for name in ("app", "lib"))


def _others() -> list[str]:
    """The tasks of the running loop other than the current one, by name of their coroutine."""
    return [t.get_coro().__qualname__ for t in asyncio.all_tasks() if t is not asyncio.current_task()]


def test_nothing_the_install_started_outlives_it(tmp_path: Path) -> None:
    # Metadata of older versions asked for ahead by a backtrack (lib 3.0 needs a project no
    # index has), answered slowly: the install, or dry run, returns with none still running.
    class Slow(FakeIndex):
        async def get(self, url, *args, **kwargs):  # type: ignore[no-untyped-def]
            if url.endswith(("lib-1.0-py3-none-any.whl.metadata", "lib-1.1-py3-none-any.whl.metadata")):
                await asyncio.sleep(1)
            return await super().get(url, *args, **kwargs)

    index = Slow({"app": {"1.0": real("app", "1.0", ("lib",))},
                  "lib": {"1.0": real("lib", "1.0"), "1.1": real("lib", "1.1"), "2.0": real("lib", "2.0"),
                          "3.0": real("lib", "3.0", ("nothere",))}})

    async def scenario(dry_run: bool) -> list[str]:
        (tmp_path / str(dry_run)).mkdir()
        report = await api.install("app", [BASE], session=uncached_session(tmp_path / str(dry_run), index),
                                   quiet=True, dry_run=dry_run)
        assert [d["version"] for d in report.plan if d["name"] == "lib"] == ["2.0"] if dry_run else \
            report.installed == (("lib", "2.0"), ("app", "1.0"))
        return _others()

    assert asyncio.run(scenario(False)) == [] and asyncio.run(scenario(True)) == []


def test_a_failing_listener_stops_the_crawl_and_the_downloads(tmp_path: Path) -> None:
    # A listener raising while the crawl runs (b's page) or while a guessed download's held
    # events are told: the install raises, and nothing it started runs on or asks for more.
    class Slow(FakeIndex):
        async def get(self, url, *args, **kwargs):  # type: ignore[no-untyped-def]
            if url.endswith("/simple/a/"):
                await asyncio.sleep(0.01)
            return await super().get(url, *args, **kwargs)

    index = Slow({"a": {"1.0": real("a", "1.0", ("x", "y"))}, "b": {"1.0": real("b", "1.0")},
                  "x": {"1.0": real("x", "1.0")}, "y": {"1.0": real("y", "1.0")}})

    def on_page(event: dict) -> None:
        if event["stage"] == "resolving" and event.get("package") == "b":
            raise RuntimeError("display failed")

    def on_download(event: dict) -> None:
        if event["stage"] == "downloading":
            raise RuntimeError("display failed")

    async def scenario(listener: Callable[[dict], None], folder: str) -> tuple[list[str], list[str]]:
        (tmp_path / folder).mkdir()
        session = uncached_session(tmp_path / folder, index)
        with pytest.raises(RuntimeError, match="display failed"):
            await api.install(["a", "b"], [BASE], session=session, quiet=True, on_progress=listener)
        left, asked = _others(), len(index.requests)
        await asyncio.sleep(0.05)
        assert os.listdir(session.scheme.purelib) == []
        return left, index.requests[asked:]

    assert asyncio.run(scenario(on_page, "page")) == ([], [])
    assert asyncio.run(scenario(on_download, "download")) == ([], [])


@pytest.mark.parametrize("fails", ["get", "put"])
def test_a_cache_that_fails_is_a_cache_that_misses(session: api.Session, fails: str) -> None:
    # Full (quota) or gone: the install goes on without it.
    async def broken(*args: object) -> None:
        raise OSError("quota exceeded")

    setattr(session.cache, fails, broken)
    report = asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert report.installed == (("lib", "1.0"), ("app", "1.0"))


def test_a_newer_wheel_and_files_of_another_distribution_are_warned_of(session: api.Session) -> None:
    newer = make_wheel("newer", "1.0", {"newer/__init__.py": b"", "lib/__init__.py": b"newer's"},
                       wheel_file="Wheel-Version: 1.1\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    session.transport.add_project("newer", {"1.0": {"body": bytes(newer)}})
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    events: list[dict] = []
    report = asyncio.run(api.install("newer", [BASE], session=session, quiet=True, on_progress=events.append))
    lib = os.path.join(session.scheme.purelib, "lib", "__init__.py")
    expected = (
        "newer-1.0-py3-none-any.whl: Wheel-Version 1.1 is newer than this installer knows (1.0): installed as a "
        "1.0 wheel; a newer pyemscripten may know what it adds",
        f"newer 1.0 overwrote 1 file of lib 1.0 ({lib}): both list it now, with newer 1.0's content, and lib may "
        "not work as before; keep only one of the two")
    assert report.warnings == expected
    assert tuple(e["message"] for e in events if e["stage"] == "warning") == expected
    assert [e.get("package") for e in events if e["stage"] == "warning"] == ["newer", None]


def test_a_newer_lock_version_is_installed_with_a_warning(session: api.Session) -> None:
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    lock = api.freeze(session).replace('lock-version = "1.0"', 'lock-version = "1.2"')
    api.uninstall(["lib"], session)
    events: list[dict] = []
    report = asyncio.run(api.install_lock(lock, session=session, quiet=True, on_progress=events.append))
    told = "lock-version 1.2 is newer than this installer reads (1.0): it is read as 1.0"
    assert report.installed == (("lib", "1.0"),) and report.warnings == (told,)
    assert [e["message"] for e in events if e["stage"] == "warning"] == [told]


def test_a_locks_relative_paths_follow_from_where_a_redirect_found_it(session: api.Session) -> None:
    # PEP 751: a relative path is relative to the location of the lock file: after a
    # redirect, the URL it was found at (as index pages' links are read).
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    lock = api.freeze(session).replace('url = "https://index.test/files/', 'path = "../files/')
    assert 'path = "../files/lib-1.0-py3-none-any.whl"' in lock
    api.uninstall(["lib"], session)
    session.cache.store.clear()  # type: ignore[union-attr]
    session.transport.requests.clear()
    asked, found = "https://index.test/a/b/c/latest-lock", "https://index.test/releases/pylock.toml"
    session.transport.routes[asked] = Response(found, 200, lock.encode(), {})
    report = asyncio.run(api.install_lock(asked, session=session, quiet=True))
    assert report.installed == (("lib", "1.0"),)
    assert session.transport.requests == [asked, "https://index.test/files/lib-1.0-py3-none-any.whl"]


def test_natively_a_locks_file_name_is_no_url(session: api.Session) -> None:
    # No page for it to be relative to: the error says to pass a Path, not that a request failed.
    with pytest.raises(errors.LockError, match=r"Cannot use the lock file pylock.toml: it is no http\(s\) or file: URL, .* "
                                               r"read when given as a path .*\(pathlib.Path\('pylock.toml'\)\)"):
        asyncio.run(api.install_lock("pylock.toml", session=session, quiet=True))
    assert session.transport.requests == []


def test_a_lock_installs_the_extras_and_groups_asked_for(session: api.Session) -> None:
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    frozen = api.freeze(session)
    api.uninstall(["app", "lib"], session)
    lock = frozen.replace('name = "app"', 'name = "app"\nmarker = "\'ui\' in extras"').replace(
        'created-by = "pyemscripten"', 'created-by = "pyemscripten"\nextras = ["ui"]')
    assert {n for n, _ in asyncio.run(api.install_lock(lock, session=session, quiet=True)).installed} == {"lib"}
    report = asyncio.run(api.install_lock(lock, extras="ui", session=session, quiet=True))
    assert report.installed == (("app", "1.0"),)
    with pytest.raises(TypeError, match="install_lock\\(\\): groups must be a string or a list of strings"):
        asyncio.run(api.install_lock(lock, groups=3, session=session, quiet=True))  # type: ignore[arg-type]


def test_a_wheel_whose_metadata_excludes_this_python_is_passed_over_or_refused(tmp_path: Path) -> None:
    # Resolution passes over a version whose METADATA excludes this Python, with or without
    # dependencies (the index does not say; only METADATA does). A wheel whose own METADATA
    # says so where its .metadata file did not is refused before anything is written.
    body = bytes(make_wheel("new", "1.0", {"new/__init__.py": b""}, requires_python=">=3.15"))
    index = FakeIndex({"new": {"1.0": {"body": body, "requires_python": ">=3.15", "requires_python_in_index": False}},
                       "app": {"1.0": real("app", "1.0")}})
    session = uncached_session(tmp_path, index)
    for deps in (True, False):
        with pytest.raises(errors.ResolutionImpossibleError, match="you → new 1.0 requires Python >=3.15"):
            asyncio.run(api.install(["app", "new"], [BASE], session=session, quiet=True, deps=deps))
    # A lock brings no metadata: the wheel's own is checked before anything is written.
    url = BASE.replace("simple/", "files/") + "new-1.0-py3-none-any.whl"
    lock = (f'lock-version = "1.0"\n[[packages]]\nname = "new"\nversion = "1.0"\n[[packages.wheels]]\n'
            f'url = "{url}"\nhashes = {{sha256 = "{hashlib.sha256(body).hexdigest()}"}}\n')
    with pytest.raises(errors.MetadataError) as info:
        asyncio.run(api.install_lock(lock, session=session, quiet=True))
    assert str(info.value) == ("Bad metadata in new-1.0-py3-none-any.whl (new): Requires-Python >=3.15 excludes "
                               "this runtime's Python 3.14.2. Install a version of new made for it.")
    assert listing(session.scheme.purelib) == []


def test_freeze_leaves_out_what_has_no_hash_to_pin_it_by(tmp_path: Path) -> None:
    # Installed with allow_unhashed from an index that gives no hash: a lock could not pin
    # it, so freeze names it in the comment instead of writing an unusable lock.
    index = FakeIndex({"bare": {"1.0": {**real("bare", "1.0"), "hashed": False}}, "app": {"1.0": real("app", "1.0")}})
    session = uncached_session(tmp_path, index)
    asyncio.run(api.install(["bare", "app"], [BASE], session=session, quiet=True, allow_unhashed=True))
    frozen = api.freeze(session)
    assert frozen.startswith("# Not locked (origin or hash unknown, e.g. preloaded): bare==1.0\n")
    assert 'name = "app"' in frozen and 'name = "bare"' not in frozen


def test_freeze_leaves_out_a_dist_info_whose_version_is_no_version(session: api.Session) -> None:
    # Its METADATA gone (removed by hand, or by another tool), the folder's name gives the
    # version, and that one is no PEP 440 version: named in the comment, not an InvalidVersion.
    asyncio.run(api.install(["app"], [BASE], session=session, quiet=True))
    site = Path(session.scheme.purelib)
    (site / "lib-1.0.dist-info").rename(site / "lib-latest.dist-info")
    (site / "lib-latest.dist-info" / "METADATA").unlink()
    frozen = api.freeze(session)
    assert frozen.startswith("# Not locked (origin or hash unknown, e.g. preloaded): lib==latest\n")
    assert 'name = "app"' in frozen and 'name = "lib"' not in frozen


def test_second_install_is_already_satisfied(session: api.Session) -> None:
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    report = asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert report.installed == () and dict(report.already) == {"app": "1.0", "lib": "1.0"}


def test_dry_run_installs_nothing(session: api.Session) -> None:
    events: list[dict] = []
    report = asyncio.run(api.install("app", [BASE], session=session, quiet=True, dry_run=True,
                                     on_progress=events.append))
    assert [p["name"] for p in report.plan] == ["lib", "app"] and listing(session.scheme.purelib) == []
    assert "Would install 2 packages" in str(report)
    assert events[-1] == {"stage": "done", "message": str(report)}  # a progress display sees the end


def test_a_cancelled_install_ends_with_an_error_event(session: api.Session) -> None:
    events: list[dict] = []

    async def cancel_soon() -> None:
        task = asyncio.ensure_future(api.install("app", [BASE], session=session, quiet=True,
                                                 on_progress=events.append))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_soon())
    assert events[-1]["stage"] == "error" and "CancelledError" in events[-1]["message"]
    assert listing(session.scheme.purelib) == []


def test_installs_started_together_take_turns(session: api.Session) -> None:
    # Two at once would commit over each other's files (and a rollback of one would take
    # away what the other installed): the second waits, says so, and finds the first's work.
    events: list[tuple[str, str]] = []

    async def both() -> list[api.InstallReport]:
        return await asyncio.gather(
            api.install("app", [BASE], session=session, quiet=True, on_progress=lambda e: events.append(("1", e["stage"]))),
            api.install("lib", [BASE], session=session, quiet=True,
                        on_progress=lambda e: events.append(("2", e["stage"] + ":" + e.get("message", "")))))

    first, second = asyncio.run(both())
    assert dict(first.installed) == {"app": "1.0", "lib": "1.0"}
    assert second.installed == () and dict(second.already) == {"lib": "1.0"}
    done = events.index(("1", "done"))
    assert all(who == "1" or "Waiting for the install under way in this page to end" in what
               for who, what in events[:done])
    assert ("2", "resolving:Waiting for the install under way in this page to end") in events[:done]


def test_installs_in_one_turn_run_in_it_and_an_install_from_elsewhere_waits(session: api.Session) -> None:
    order: list[str] = []

    async def elsewhere() -> api.InstallReport:  # a task of its own, not started in the block
        await asyncio.sleep(0)  # the block has taken the turn
        return await api.install("lib", [BASE], session=session, quiet=True,
                                 on_progress=lambda e: order.append(f"lib:{e['stage']}"))

    async def block() -> None:
        async with api.install_turn(quiet=True):
            await asyncio.sleep(0)
            async with api.install_turn(quiet=True):  # nested: the block's own turn
                await api.install("app", [BASE], session=session, quiet=True,
                                  on_progress=lambda e: order.append(f"app:{e['stage']}"))
            with pytest.raises(errors.UninstallError, match="an install is under way"):
                api.uninstall("app", session)
            order.append("block ends")

    async def both() -> api.InstallReport:
        _, other = await asyncio.gather(block(), elsewhere())
        return other

    assert asyncio.run(both()).already == (("lib", "1.0"),)
    assert order.index("block ends") < order.index("lib:resolved") and order[-1] == "lib:done", order
    assert not api._Turn.under_way()


def test_installs_gathered_in_one_turn_run_in_it_one_after_the_other(session: api.Session) -> None:
    # asyncio.gather runs each in a task of its own: tasks started in the block (they copy
    # its context) are in its turn, and still never run at the same time as each other.
    index = FakeIndex({"app": {"1.0": real("app", "1.0", ("lib>=1",))}, "lib": {"1.0": real("lib", "1.0")},
                       "other": {"1.0": real("other", "1.0")}})
    session = dataclasses.replace(session, transport=index)
    events: list[tuple[str, str]] = []

    def told(who: str) -> Callable[[dict], None]:
        return lambda e: events.append((who, e["stage"] if e["stage"] != "resolving" else e.get("message") or ""))

    async def block() -> list[api.InstallReport]:
        async with api.install_turn(quiet=True):
            outside = asyncio.get_running_loop().create_task(  # started outside the block's context
                api.install("other", [BASE], session=session, quiet=True, on_progress=told("other")),
                context=contextvars.Context())
            await asyncio.sleep(0)
            reports = await asyncio.wait_for(asyncio.gather(
                api.install("app", [BASE], session=session, quiet=True, on_progress=told("app")),
                api.install("lib", [BASE], session=session, quiet=True, on_progress=told("lib"))), 5)
            async with api.install_turn(quiet=True):  # nested, in a task of the turn
                reports.append(await api.install("app", [BASE], session=session, quiet=True))
            # started in the block, awaited after it: still in its turn, before the one from outside
            late = asyncio.ensure_future(api.install("lib", [BASE], session=session, quiet=True,
                                                     on_progress=told("late")))
            await asyncio.sleep(0)
            events.append(("block", "ends"))
        await outside
        await late
        return reports

    first, second, third = asyncio.run(block())
    assert dict(first.installed) == {"app": "1.0", "lib": "1.0"}
    assert second.already == (("lib", "1.0"),) and third.installed == ()
    wait = "Waiting for the install under way in this page to end"
    app_done, lib_done = events.index(("app", "done")), events.index(("lib", "done"))
    assert all(who in ("app", "other") or what == wait for who, what in events[:app_done]), events  # one at a time
    assert ("lib", wait) in events[:app_done] and ("other", wait) in events[:app_done]
    ends = events.index(("block", "ends"))  # the install from outside the block waited for its end
    assert [what for who, what in events[:ends] if who == "other"] == [wait] and events[-1] == ("other", "done")
    assert events.index(("late", "done")) < events.index(("other", "resolved"))
    assert app_done < lib_done
    assert not api._Turn.under_way()


def test_an_install_arriving_as_the_turn_is_handed_on_is_told_it_waits() -> None:
    # Between one install's end and the next waiter's waking the lock shows free, yet a
    # newcomer (a task started eagerly, as in a page) waits behind that waiter: it says so.
    class Told:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def emit(self, stage: str, **fields: object) -> None:
            self.lines.append(f"{stage}:{fields.get('message')}")

    async def handed_on() -> list[list[str]]:
        told = [Told(), Told(), Told()]
        first, second, third = api._Turn(), api._Turn(), api._Turn()
        await first.take(told[0])
        waiting = asyncio.ensure_future(second.take(told[1]))
        await asyncio.sleep(0)
        first.give_back()  # the second is woken, and has not run yet
        arriving = third.take(told[2])
        arriving.send(None)  # its first step, run at once: up to its wait for the lock
        arriving.close()  # given up while waiting: it leaves no count behind
        await waiting
        second.give_back()
        assert not api._Turn.under_way() and not any(api._Turn._queued.values())
        return [t.lines for t in told]

    wait = "resolving:Waiting for the install under way in this page to end"
    assert asyncio.run(handed_on()) == [[], [wait], [wait]]


def test_uninstall_takes_names_and_waits_for_no_install(session: api.Session) -> None:
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    with pytest.raises(errors.UninstallError) as info:
        api.uninstall("app==1.0", session)
    assert str(info.value) == ("Could not uninstall app==1.0: uninstall takes project names, not requirements or "
                               "files: uninstall('app'); nothing was removed")

    async def during_an_install() -> None:
        task = asyncio.ensure_future(api.install("lib", [BASE], session=session, quiet=True))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        with pytest.raises(errors.UninstallError, match="an install is under way in this page: uninstall once it "
                                                        "has ended"):
            api.uninstall("app", session)
        await task

    asyncio.run(during_an_install())
    assert api.uninstall("app", session) == ["app"]


def test_an_error_after_the_commit_says_the_packages_stay(session: api.Session) -> None:
    events: list[dict] = []

    def listener(event: dict) -> None:
        events.append(event)
        if event["stage"] == "done":
            raise RuntimeError("a display that fails")

    with pytest.raises(RuntimeError):
        asyncio.run(api.install("app", [BASE], session=session, quiet=True, on_progress=listener))
    assert api.list_installed(session) == {"app": "1.0", "lib": "1.0"}
    # The listener failed on "done": it is the last event, not an "error" that says otherwise.
    assert [e["stage"] for e in events][-1] == "done"
    assert api._error_line(asyncio.CancelledError(), committed=True) == (
        "Install stopped (CancelledError) after its packages were installed: they stay installed")


def test_tampered_wheel_leaves_nothing(session: api.Session) -> None:
    url = BASE.replace("simple/", "files/") + "lib-1.0-py3-none-any.whl"
    good = session.transport.routes[url]
    session.transport.routes[url] = type(good)(url, 200, good.body[:-1] + b"!", good.headers)
    with pytest.raises(errors.HashMismatchError) as info:
        asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert "lib-1.0-py3-none-any.whl" in str(info.value)
    assert listing(session.scheme.purelib) == []


def test_uninstall_unknown(session: api.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.NotInstalledError):
        api.uninstall("nothing", session)
    # Several names: every one is looked up before anything is removed.
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    with pytest.raises(errors.NotInstalledError, match="nothing"):
        api.uninstall(["app", "nothing"], session)
    with pytest.raises(errors.NotInstalledError) as info:
        api.uninstall("apq", session)
    assert str(info.value) == ("'apq' is not installed: nothing was uninstalled. Did you mean 'app'? "
                               "pyemscripten.list_installed() shows what is.")
    assert api.list_installed(session) == {"app": "1.0", "lib": "1.0"}
    scans = []
    real = installation.installed_distributions
    monkeypatch.setattr(installation, "installed_distributions", lambda scheme: scans.append(1) or real(scheme))
    assert api.uninstall(["App", "lib", "app"], session) == ["app", "lib"]
    assert len(scans) == 1  # one scan of the scheme for every name, not one more for each
    assert api.list_installed(session) == {}


def test_wheels_guessed_while_resolving_are_fetched_once_and_unused_ones_unheard(tmp_path: Path) -> None:
    # The crawl follows "lib" (newest: 2.0) from app and "lib<2" (1.0) from the user: both
    # wheels may start early; the plan keeps 1.0, so 2.0 is neither reported nor installed.
    index = FakeIndex({"app": {"1.0": real("app", "1.0", ("lib",))},
                       "lib": {"1.0": real("lib", "1.0"), "2.0": real("lib", "2.0")}})
    s = uncached_session(tmp_path, index)
    events: list[dict] = []
    report = asyncio.run(api.install(["app", "lib<2"], [BASE], session=s, quiet=True, on_progress=events.append))
    assert dict(report.installed) == {"app": "1.0", "lib": "1.0"}
    wheels = [u for u in index.requests if u.endswith(".whl")]
    assert sorted(set(wheels)) == sorted(wheels)  # none twice
    assert {u.rsplit("/", 1)[1] for u in wheels} >= {"app-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl"}
    lib1 = len(index.routes[BASE.replace("simple/", "files/") + "lib-1.0-py3-none-any.whl"].body)
    assert {(e["package"], e["total"]) for e in events if e["stage"] == "downloading" and e["package"] == "lib"} \
        == {("lib", lib1)}
    assert api.list_installed(s) == {"app": "1.0", "lib": "1.0"}


def test_a_request_made_again_is_a_warning_that_names_the_package(tmp_path: Path) -> None:
    # app's page and lib 1.0's wheel fail once each and are tried again: each retry is a
    # "warning" event naming the package (a notebook sees its line while the wait lasts).
    # lib 2.0, which the crawl guesses and the plan does not use, fails too: unheard.
    index = FakeIndex({"app": {"1.0": real("app", "1.0", ("lib",))},
                       "lib": {"1.0": real("lib", "1.0"), "2.0": real("lib", "2.0")}})
    files = BASE.replace("simple/", "files/")
    index.fail(BASE + "app/", "reset")
    index.fail(files + "lib-1.0-py3-none-any.whl", 503)
    index.fail(files + "lib-2.0-py3-none-any.whl", 503, 503, 503, 503)
    s = dataclasses.replace(uncached_session(tmp_path, index), retry=RetryPolicy(attempts=3, backoff=0))
    events: list[dict] = []
    report = asyncio.run(api.install(["app", "lib<2"], [BASE], session=s, quiet=True, on_progress=events.append))
    assert dict(report.installed) == {"app": "1.0", "lib": "1.0"}
    assert index.requests.count(files + "lib-2.0-py3-none-any.whl") == 3  # guessed, tried again twice
    warnings = [(e.get("package"), e["message"]) for e in events if e["stage"] == "warning"]
    assert warnings == [
        ("app", f"app: project page {BASE}app/ failed (connection reset); trying again in 0 s (try 2 of 3)"),
        ("lib", f"lib: wheel {files}lib-1.0-py3-none-any.whl failed (HTTP 503); trying again in 0 s (try 2 of 3)"),
    ]


def test_small_guessed_wheels_give_their_metadata_themselves(session: api.Session) -> None:
    # The crawl fetches these wheels anyway (guesses), and they are small: their METADATA is
    # read from them, verified and checked, instead of asking for the .metadata files.
    report = asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert dict(report.installed) == {"app": "1.0", "lib": "1.0"}
    requests = session.transport.requests
    assert not [u for u in requests if u.endswith(".metadata")]
    assert sorted(u.rsplit("/", 1)[1] for u in requests if u.endswith(".whl")) == [
        "app-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl"]


def test_larger_wheels_are_resolved_from_their_metadata_files(session: api.Session, monkeypatch) -> None:
    monkeypatch.setattr(WheelTasks, "SMALL", 100)  # every wheel here is larger
    report = asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert dict(report.installed) == {"app": "1.0", "lib": "1.0"}
    requests = session.transport.requests
    assert sorted(u.rsplit("/", 1)[1] for u in requests if u.endswith(".metadata")) == [
        "app-1.0-py3-none-any.whl.metadata", "lib-1.0-py3-none-any.whl.metadata"]
    assert len([u for u in requests if u.endswith(".whl")]) == 2


def test_a_tampered_small_wheel_steers_nothing(tmp_path: Path) -> None:
    # Its METADATA would add a dependency: the wheel fails its hash before anything reads it,
    # resolution goes on with the .metadata file, and the download stage refuses the wheel.
    honest, evil = real("lib", "1.0"), real("lib", "1.0", ("attacker-choice",))
    size = max(len(honest["body"]), len(evil["body"]))  # the same size: only the hash can tell
    index = FakeIndex({"app": {"1.0": real("app", "1.0", ("lib",))},
                       "lib": {"1.0": {**honest, "body": padded(honest["body"], size)}}})
    url = BASE.replace("simple/", "files/") + "lib-1.0-py3-none-any.whl"
    good = index.routes[url]
    index.routes[url] = type(good)(url, 200, padded(evil["body"], size), good.headers)
    s = uncached_session(tmp_path, index)
    with pytest.raises(errors.HashMismatchError) as info:
        asyncio.run(api.install("app", [BASE], session=s, quiet=True))
    assert "lib-1.0-py3-none-any.whl" in str(info.value)
    assert not [u for u in index.requests if "attacker" in u]
    assert f"{url}.metadata" in index.requests
    assert listing(s.scheme.purelib) == []


def test_a_broken_newest_small_wheel_that_resolution_passes_over_stops_nothing(tmp_path: Path) -> None:
    # lib 2.0 (the crawl's guess) cannot be fetched, and resolution would not keep it anyway
    # (it needs dep>=2, the user asks for dep<2): as with its .metadata file alone, lib 1.0 is
    # installed.
    index = FakeIndex({"app": {"1.0": real("app", "1.0", ("lib",))},
                       "lib": {"1.0": real("lib", "1.0"), "2.0": real("lib", "2.0", ("dep>=2",))},
                       "dep": {"1.0": real("dep", "1.0"), "2.0": real("dep", "2.0")}})
    broken = BASE.replace("simple/", "files/") + "lib-2.0-py3-none-any.whl"
    index.routes[broken] = type(index.routes[broken])(broken, 404, b"", {})
    s = uncached_session(tmp_path, index)
    report = asyncio.run(api.install(["app", "dep<2"], [BASE], session=s, quiet=True))
    assert dict(report.installed) == {"app": "1.0", "lib": "1.0", "dep": "1.0"}
    assert broken in index.requests and f"{broken}.metadata" in index.requests


def test_a_cancelled_guess_gives_no_metadata_and_a_cancelled_reader_leaves_the_guess() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        guess = loop.create_future()
        reader = asyncio.ensure_future(_metadata_file(guess))
        await asyncio.sleep(0)
        guess.cancel()
        assert await reader is None  # the crawl asks for the .metadata file instead
        guess = loop.create_future()
        reader = asyncio.ensure_future(_metadata_file(guess))
        await asyncio.sleep(0)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        assert not guess.cancelled()  # the download goes on (it may be planned)

    asyncio.run(main())


def test_dry_run_fetches_no_wheel(session: api.Session) -> None:
    asyncio.run(api.install("app", [BASE], session=session, quiet=True, dry_run=True))
    assert not [u for u in session.transport.requests if u.endswith(".whl")]


def test_damaged_cache_entry_is_fetched_again_and_replaced(session: api.Session) -> None:
    url = BASE.replace("simple/", "files/") + "lib-1.0-py3-none-any.whl"
    import hashlib

    good = session.transport.routes[url].body
    sha = hashlib.sha256(good).hexdigest()
    session.cache.store[sha] = good[:-1] + b"!"
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert session.transport.requests.count(url) == 1
    assert session.cache.store[sha] == good
    session.transport.requests.clear()
    api.uninstall(["app", "lib"], session)
    asyncio.run(api.install("app", [BASE], session=session, quiet=True))
    assert url not in session.transport.requests  # now a good entry: no download


def test_root_pages_are_requested_before_the_target_is_read(session: api.Session, monkeypatch) -> None:
    seen_at_target: list[list[str]] = []

    def current_target() -> Target:
        seen_at_target.append(list(session.transport.requests))
        return TARGET

    monkeypatch.setattr(api, "current_target", current_target)
    session.target = None
    report = asyncio.run(api.install(["app", "other; sys_platform == 'win32'"], [BASE], session=session, quiet=True))
    assert report.installed == (("lib", "1.0"), ("app", "1.0"))
    # Read once, with the root page already requested; a root with a marker waits for it.
    assert seen_at_target == [[f"{BASE}app/"]]
    assert session.transport.requests.count(f"{BASE}app/") == 1


def test_installed_distributions_are_parsed_when_looked_up(tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site-packages"
    for stem, body in {
        "alpha-1.0": "Metadata-Version: 2.1\nName: Alpha\nVersion: 1.0\nRequires-Dist: beta>=2\n",
        "beta-2.0": "Metadata-Version: 2.1\nName: beta\nVersion: 2.0\n",
        "broken-1.0": "Metadata-Version: 2.1\nName: broken\nVersion: 1.0.\n",  # not a version
        "oddreq-1.0": "Metadata-Version: 2.1\nName: oddreq\nVersion: 1.0\nRequires-Dist: ???\nRequires-Dist: beta\n",
        "twice-1.0": "Metadata-Version: 2.1\nName: twice\nVersion: 1.0\n",
        "twice-2.0": "Metadata-Version: 2.1\nName: twice\nVersion: 2.0\n",
    }.items():
        (site / f"{stem}.dist-info").mkdir(parents=True)
        (site / f"{stem}.dist-info" / "METADATA").write_text(body)
    scheme = Scheme(purelib=str(site), platlib=str(site), scripts=str(tmp_path / "bin"),
                    headers=str(tmp_path / "include"), data=str(tmp_path))
    parsed: list[str] = []
    real_parse = api.parse_metadata
    monkeypatch.setattr(api, "parse_metadata", lambda data, project, filename, installed=False: parsed.append(project)
                        or real_parse(data, project, filename, installed))
    installed = api.installed_map(scheme)
    assert parsed == []  # nothing parsed before a lookup
    assert [str(r) for r in installed["alpha"].requires] == ["beta>=2"]
    assert "nothing" not in installed and installed.get("nothing") is None
    assert parsed == ["alpha"]
    # A dist-info that does not parse satisfies nothing (it can be reinstalled); of two for
    # one name, the last readable one counts, as before. One Requires-Dist that does not parse
    # is left out, not the distribution, which is installed whatever its metadata says.
    assert "broken" not in installed
    assert [str(r) for r in installed["oddreq"].requires] == ["beta"]
    assert str(installed["twice"].version) == "2.0"
    assert list(installed) == ["alpha", "beta", "oddreq", "twice"]
    assert api.list_installed(api.Session(scheme=scheme)) == {"alpha": "1.0", "beta": "2.0", "oddreq": "1.0",
                                                              "twice": "2.0"}


def test_progress_lines_are_whole_lines_and_need_no_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from pyemscripten.progress import ProgressEvent, TextReporter

    stream = io.StringIO()
    writes: list[str] = []
    monkeypatch.setattr(stream, "write", lambda text: writes.append(text) or len(text))
    TextReporter(stream)(ProgressEvent("resolved", message="Resolved: a==1"))
    TextReporter(stream)(ProgressEvent("cache-warning", message="The wheel cache could not keep 1 wheel"))
    assert writes == ["Resolved: a==1\n", "The wheel cache could not keep 1 wheel\n"]
    monkeypatch.setattr(sys, "stdout", None)
    TextReporter()(ProgressEvent("done", message="Installed a-1"))  # nothing to write to: no error


def test_fetched_lines_give_sizes_rounded_in_kb_or_tenths_of_mb() -> None:
    import io

    from pyemscripten.progress import ProgressEvent, TextReporter, megabytes

    stream = io.StringIO()
    report = TextReporter(stream)
    sizes = {"a": 0, "b": 499, "c": 111_991, "d": 999_499, "e": 999_999, "f": 1_000_000, "g": 11_790_256,
             "h": 1_049_999, "i": 1_050_000}
    for name, size in sizes.items():
        report(ProgressEvent("downloading", package=name, done=size, total=size))
        report(ProgressEvent("downloading", package=name, done=size, total=size))  # once per wheel
    assert stream.getvalue().splitlines() == [
        "  fetched a (0 kB)", "  fetched b (0 kB)", "  fetched c (112 kB)", "  fetched d (999 kB)",
        "  fetched e (1000 kB)", "  fetched f (1.0 MB)", "  fetched g (11.8 MB)", "  fetched h (1.0 MB)",
        "  fetched i (1.1 MB)"]
    # A wheel the cache gave: said so.
    stream.truncate(0)
    stream.seek(0)
    report(ProgressEvent("downloading", package="j", done=68_000, total=68_000, message="from the cache"))
    assert stream.getvalue() == "  j from the cache (68 kB)\n"
    # The megabytes of other lines.
    assert [megabytes(n) for n in (1, 49_999, 50_000, 383_611, 11_790_256)] == [
        "0.0 MB", "0.0 MB", "0.1 MB", "0.4 MB", "11.8 MB"]


def test_walking_back_and_a_missing_extra_are_told_as_events(tmp_path: Path) -> None:
    # app 2 to 20 need native (no wheel for a browser); app 1 does not, and has no extra
    # "fast": resolution says it walks back, then that the extra is missing and why app 1.
    native = {"native": {"1.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}}}
    app = {str(v): real("app", str(v), ("native",) if v > 1 else ()) for v in range(1, 21)}
    s = uncached_session(tmp_path, FakeIndex({"app": app, **native}))
    events: list[dict] = []
    report = asyncio.run(api.install(["app[fast]"], [BASE], session=s, quiet=True, on_progress=events.append))
    assert dict(report.installed) == {"app": "1"}
    held = "app 1 is chosen, not its newest version 20: 20 needs native (directly or through its dependencies), " \
           "which has no wheel for this runtime"
    assert report.warnings == ("app 1 does not provide the extra 'fast'; it is installed without it", held)
    told = [(e["stage"], e.get("message")) for e in events if e["stage"] in ("resolving", "warning") and "package" not in e]
    assert told == [
        ("resolving", "Resolving app[fast]"),
        ("resolving", "Looking at older versions of app for one that fits the other requirements and this runtime; this can take a while"),
        ("warning", "app 1 does not provide the extra 'fast'; it is installed without it"),
        ("warning", held),
    ]


def test_a_distribution_wheel_that_cannot_be_fetched_says_why_it_was_taken(tmp_path: Path) -> None:
    # A runtime served without its packages (npm's pyodide is the core only): the wheel the
    # resolution took from its lock answers 404. The error says where it came from and why.
    import json

    from pyemscripten.seams import Response

    lock_url = "https://cdn.test/full/pyodide-lock.json"
    lock = {"packages": {n: {"name": n, "version": "2.0", "file_name": f"{n}-2.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
                             "sha256": "0" * 64, "depends": []} for n in ("native", "lib")}}
    index = FakeIndex({"app": {"1.0": real("app", "1.0", ("native", "lib"))}, "lib": {"1.0": real("lib", "1.0")}})
    index.routes[lock_url] = Response(lock_url, 200, json.dumps(lock).encode(), {"content-type": "application/json"})
    index.fail(BASE + "lib/", 503, 503)  # the index fails for lib: the distribution's is taken
    session = dataclasses.replace(uncached_session(tmp_path, index), distribution_url=lock_url,
                                  retry=RetryPolicy(attempts=2, backoff=0))
    with pytest.raises(errors.DistributionFileError) as info:
        asyncio.run(api.install(["app"], BASE, session=session, quiet=True))
    text = str(info.value)
    assert text.startswith(f"native 2.0 (needed by app 1.0) was to come from the runtime's distribution ({lock_url}), "
                           "because no index has it; but its wheel is not there: HTTP 404") or \
        text.startswith(f"lib 2.0 (needed by app 1.0) was to come from the runtime's distribution ({lock_url}), because "
                        "the index failed for it (HTTP 503"), text
    assert info.value.needed_by == ["app 1.0"]
    assert "Serve the full Pyodide distribution where the runtime looks for its packages" in text
    assert isinstance(info.value.__cause__, errors.IndexHTTPError)
    assert list((tmp_path / "site-packages").iterdir()) == []  # nothing half-installed
    # A transient failure is said as it is: the distribution is not missing anything.
    index.fail(BASE + "lib/")
    wheel_url = "https://cdn.test/full/native-2.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    index.fail(wheel_url, 503, 503)
    with pytest.raises(errors.IndexHTTPError) as failed:
        asyncio.run(api.install(["native"], BASE, session=session, quiet=True))
    assert failed.value.status == 503


def test_replacing_an_installed_version_warns_for_what_it_breaks_and_what_was_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    index = FakeIndex({"app": {"1.0": real("app", "1.0", ("lib>=2",))},
                       "lib": {"1.0": real("lib", "1.0"), "2.0": real("lib", "2.0")},
                       "packaging": {"22.0": real("packaging", "22.0"), "26.4": real("packaging", "26.4"),
                                     "27.0": real("packaging", "27.0")}})
    session = uncached_session(tmp_path, index)
    asyncio.run(api.install(["app", "packaging==26.4"], BASE, session=session, quiet=True))
    imported = types.ModuleType("lib")  # the page imported lib, from its files
    imported.__file__ = str(tmp_path / "site-packages" / "lib" / "__init__.py")
    monkeypatch.setitem(sys.modules, "lib", imported)
    monkeypatch.setitem(sys.modules, "lib_elsewhere", types.ModuleType("lib_elsewhere"))  # no file of lib's
    broken = ("app 1.0 (installed) requires lib>=2, but lib 1.0 is being installed: app may not work. To get "
              "versions that fit together, install both at once ('app' and 'lib==1.0')")
    dry = asyncio.run(api.install(["lib==1.0"], BASE, session=session, quiet=True, dry_run=True))
    assert dry.warnings == (broken,)  # a dry run says it too
    events: list = []
    report = asyncio.run(api.install(["lib==1.0"], BASE, session=session, quiet=True, on_progress=events.append))
    imported = ("lib 2.0 was replaced by 1.0, but this page had imported lib: what it imported stays in use until "
                "the page is reloaded")
    assert report.warnings == (broken, imported)
    assert [e["message"] for e in events if e["stage"] == "warning"] == [broken, imported]
    assert api.list_installed(session)["lib"] == "1.0"
    # What the installer runs on, imported from this site-packages, is kept as it is.
    running = types.ModuleType("packaging")
    running.__file__ = str(tmp_path / "site-packages" / "packaging" / "__init__.py")
    monkeypatch.setitem(sys.modules, "packaging", running)
    with pytest.raises(errors.ResolutionImpossibleError) as info:
        asyncio.run(api.install(["packaging==22.0"], BASE, session=session, quiet=True, dry_run=True))
    assert "packaging: 26.4 is installed and kept: pyemscripten itself runs on it in this page" in str(info.value)
    assert api.list_installed(session)["packaging"] == "26.4"
    # reinstall=True takes the newest of everything else, and still keeps it.
    index.add_project("tool", {"1.0": real("tool", "1.0", ("packaging",))})
    report = asyncio.run(api.install(["tool"], BASE, session=session, quiet=True, reinstall=True))
    assert dict(report.installed) == {"tool": "1.0"}  # not packaging 27.0
    assert api.list_installed(session)["packaging"] == "26.4"
    # It is not uninstalled, nor frozen (as pip freeze leaves out pip) ...
    with pytest.raises(errors.UninstallError, match="pyemscripten itself runs on it in this page"):
        api.uninstall(["tool", "packaging"], session)
    assert "tool" in api.list_installed(session)  # nothing was removed
    frozen = api.freeze(session)
    assert 'name = "tool"' in frozen and 'name = "packaging"' not in frozen
    # ... and a lock that names another version of it leaves it as it is, and says so.
    from packaging.version import Version

    from pyemscripten.index_pages import IndexFile
    from pyemscripten.locks import LockedWheel, dump_lock

    wheel_url = "https://index.test/files/packaging-27.0-py3-none-any.whl"
    body = index.routes[wheel_url].body
    lock = dump_lock([LockedWheel("packaging", Version("27.0"), IndexFile(
        "packaging-27.0-py3-none-any.whl", wheel_url, (("sha256", hashlib.sha256(body).hexdigest()),)))], TARGET)
    report = asyncio.run(api.install_lock(lock, session=session, quiet=True))
    assert report.installed == () and report.warnings == (
        "The lock names packaging 27.0; this page keeps packaging 26.4, which pyemscripten itself runs on",)


def test_a_wheel_named_by_its_file_url_is_the_transports_to_read(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from pyemscripten.browser import FetchTransport
    from pyemscripten.seams import Response

    # "name @ file:///..." was refused by the core ("only http and https URLs"): a direct
    # reference is the user's own words. A transport that reads files installs it (Node's,
    # the lock command's); a page's says why it cannot, naming the URL.
    body = real("app", "1.0", ("lib>=1",))["body"]
    wheel = tmp_path / "dist" / "app-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(body)
    url = wheel.as_uri()
    index = FakeIndex({"lib": {"1.0": real("lib", "1.0")}})
    index.routes[url] = Response(url, 200, body, {})  # as Node reads it
    session = uncached_session(tmp_path, index)
    requirement = f"app @ {url}#sha256={hashlib.sha256(body).hexdigest()}"
    report = asyncio.run(api.install([requirement], BASE, session=session, quiet=True))
    assert dict(report.installed) == {"app": "1.0", "lib": "1.0"}
    assert json.loads((tmp_path / "site-packages" / "app-1.0.dist-info" / "direct_url.json").read_text())["url"] == url
    # In a page (no Node process), before any fetch: not tried again, and what to do instead.
    js = types.ModuleType("js")
    ffi = types.SimpleNamespace(create_proxy=None, to_js=None, JsProxy=type("JsProxy", (), {}))
    for name, module in (("js", js), ("pyodide", types.SimpleNamespace(ffi=ffi)), ("pyodide.ffi", ffi)):
        monkeypatch.setitem(sys.modules, name, module)
    def refusal() -> str:
        with pytest.raises(errors.NetworkError) as info:
            asyncio.run(FetchTransport().get(url))
        assert not info.value.transient
        return str(info.value)

    assert refusal() == (
        f"Network error fetching {url}: a browser's fetch reads no file: URL. A page cannot read the files of this "
        "machine: serve it over http(s) (e.g. python -m http.server, from a folder that holds it) and give its "
        "http(s) URL.")
    # In a Node older than 20.16 / 22.3 (a process, but no getBuiltinModule): what that Node lacks.
    js.process = types.SimpleNamespace(versions=types.SimpleNamespace(node="18.20.4"))  # type: ignore[attr-defined]
    assert refusal() == (
        f"Network error fetching {url}: Node 18.20.4 reads no file: URL. Node reads file: URLs from version 20.16 (or "
        "22.3) on: run a newer Node, or serve the file over http(s) (e.g. python -m http.server, from a folder that "
        "holds it) and give its URL.")


def test_a_wheel_named_by_its_url(tmp_path: Path) -> None:
    import json

    from pyemscripten.seams import Response

    body = real("app", "1.0", ("lib>=1",))["body"]
    digest = hashlib.sha256(body).hexdigest()
    url = "https://files.test/build/app-1.0-py3-none-any.whl"
    index = FakeIndex({"lib": {"1.0": real("lib", "1.0")}})
    index.routes[url] = Response(url, 200, body, {})
    for folder in "abc":
        (tmp_path / folder).mkdir()
    # Without a hash: refused, saying how to give one.
    with pytest.raises(errors.MissingHashError) as info:
        asyncio.run(api.install([url], BASE, session=uncached_session(tmp_path / "a", index), quiet=True))
    assert "#sha256=<hex digest> at the end of the URL" in str(info.value)
    assert url not in index.requests  # refused before anything was fetched
    # With one: that file, its dependencies from the index; the project's page is never asked for.
    session = uncached_session(tmp_path / "b", index)
    report = asyncio.run(api.install([f"app[extra] @ {url}#sha256={digest}"], BASE, session=session, quiet=True))
    assert dict(report.installed) == {"app": "1.0", "lib": "1.0"}
    assert BASE + "app/" not in index.requests
    info_dir = tmp_path / "b" / "site-packages" / "app-1.0.dist-info"
    assert json.loads((info_dir / "direct_url.json").read_text()) == {
        "url": url, "archive_info": {"hashes": {"sha256": digest}}}
    assert (info_dir / "REQUESTED").exists()
    # A lock of it states the file's size, which no index page gave.
    assert f"size = {len(body)}" in api.freeze(session).split("name = \"app-1.0-py3-none-any.whl\"")[1]
    # A wrong hash is a mismatch; nothing is installed.
    session = uncached_session(tmp_path / "c", index)
    with pytest.raises(errors.HashMismatchError):
        asyncio.run(api.install([f"{url}#sha256={'0' * 64}"], BASE, session=session, quiet=True))
    assert api.list_installed(session) == {}
    # Another requirement on the project must fit the file's version.
    with pytest.raises(errors.ResolutionImpossibleError):
        asyncio.run(api.install([f"{url}#sha256={digest}", "app>=2"], BASE, session=session, quiet=True))
    # Two URLs for one project: refused.
    with pytest.raises(errors.InvalidRequirementError, match="asked for from two URLs"):
        asyncio.run(api.install([f"{url}#sha256={digest}", url.replace("build", "other") + f"#sha256={digest}"], BASE,
                                session=session, quiet=True))


def test_a_loader_written_before_the_loading_events(tmp_path: Path) -> None:
    """A custom loader whose ``load`` takes no ``on_loaded`` still loads (no per-library
    events); a TypeError of its own is not taken for that (no second call), and nothing is
    installed."""
    import posixpath

    from pyemscripten.seams import LibraryLoader
    from tests.unit.test_libraries import so

    class OldLoader(LibraryLoader):
        def __init__(self) -> None:
            self.loaded_paths: list[str] = []

        async def load(self, libraries):  # type: ignore[no-untyped-def,override]
            self.loaded_paths += [posixpath.basename(lib.path) for lib in libraries]

    class BrokenLoader(LibraryLoader):
        calls = 0

        def load(self, libraries, on_loaded=None):  # type: ignore[no-untyped-def,override]
            self.calls += 1
            raise TypeError("a bug of the loader's own: helper() got an unexpected keyword argument 'on_loaded'")

    body = bytes(make_wheel("native", "1.0", {"native/__init__.py": "", "native/_core.so": so()}))
    index = FakeIndex({"native": {"1.0": {"body": body, "requires": []}}})
    for folder, loader in (("old", OldLoader()), ("broken", BrokenLoader())):
        (tmp_path / folder).mkdir()
        session = uncached_session(tmp_path / folder, index)
        session.loader = loader
        if isinstance(loader, OldLoader):
            asyncio.run(api.install(["native"], BASE, session=session, quiet=True))
            assert loader.loaded_paths == ["_core.so"] and api.list_installed(session) == {"native": "1.0"}
        else:
            with pytest.raises(TypeError, match="of the loader's own"):
                asyncio.run(api.install(["native"], BASE, session=session, quiet=True))
            assert loader.calls == 1 and api.list_installed(session) == {}  # not called again without on_loaded


def test_the_plan_finds_each_library_where_its_scheme_put_it_and_skips_other_pythons(tmp_path: Path) -> None:
    # A purelib wheel with a library under .data/platlib, where the two folders differ; and an
    # extension module built for another CPython, which Python never imports and Pyodide's
    # own loader does not load.
    from pyemscripten.seams import LibraryToLoad
    from tests.unit.test_dylink import module

    class Recording(NoLibraryLoader):
        planned: list[LibraryToLoad] = []

        async def load(self, libraries, on_loaded=None):  # type: ignore[no-untyped-def]
            self.planned += libraries

    folders = {key: tmp_path / key for key in ("purelib", "platlib", "bin", "inc", "data")}
    for folder in folders.values():
        folder.mkdir()
    scheme = Scheme(*(str(folders[k]) for k in ("purelib", "platlib", "bin", "inc", "data")))
    index = FakeIndex({"lib": {"1.0": {"body": bytes(make_wheel("lib", "1.0", {
        "lib/__init__.py": b"", "lib/_old.cpython-313-wasm32-emscripten.so": module()},
        data_files={"platlib/lib/_ext.so": module()}))}}})
    loader = Recording()
    s = api.Session(target=TARGET, transport=index, loader=loader, scheme=scheme, distribution_url="", use_cache=False)
    asyncio.run(api.install("lib", [BASE], session=s, quiet=True))
    assert [(lib.path, lib.project) for lib in loader.planned] == [(str(folders["platlib"] / "lib" / "_ext.so"), "lib")]
    assert (folders["purelib"] / "lib" / "_old.cpython-313-wasm32-emscripten.so").exists()  # installed, not loaded


def test_wrong_types_are_said_before_anything_starts(session: api.Session, tmp_path: Path) -> None:
    for call, says in (
            (lambda: api.install(None, [BASE], session=session), "install(): requirements must be a string or a list "
                                                                 "of strings, not NoneType"),
            (lambda: api.install(["lib", None], [BASE], session=session), "install(): requirements must be a string "
                                                                          "or a list of strings, not a list holding "
                                                                          "NoneType"),
            (lambda: api.install("lib", [b"https://x/simple/"], session=session), "install(): index_urls must be a "
                                                                                  "string or a list of strings, not a "
                                                                                  "list holding bytes"),
            (lambda: api.install_lock(b"lock", session=session), "install_lock(): lock must be the lock's URL, its "
                                                                 "text or a path, not bytes")):
        with pytest.raises(TypeError, match=says.replace("(", r"\(").replace(")", r"\)")):
            asyncio.run(call())
    with pytest.raises(TypeError, match=r"uninstall\(\): names must be a string or a list of strings, not NoneType"):
        api.uninstall(None, session)  # type: ignore[arg-type]


def test_a_failure_before_the_first_step_is_told_as_one_error_event(session: api.Session) -> None:
    # The listener is known: it hears how the call ended, as for a later failure (never "done").
    native = api.Session(target=TARGET)  # natively, without the browser's seams
    for call, error in (
            (lambda told: api.install(42, on_progress=told, session=session), TypeError),  # type: ignore[arg-type]
            (lambda told: api.install("lib", 5, on_progress=told, session=session), TypeError),  # type: ignore[arg-type]
            (lambda told: api.install("lib", ["http://["], on_progress=told, session=session),
             errors.ProjectNotFoundError),
            (lambda told: api.install("lib", on_progress=told, session=native), errors.NotInABrowserError),
            (lambda told: api.install_lock(42, on_progress=told, session=session), TypeError),  # type: ignore[arg-type]
            (lambda told: api.install_lock("x", extras=5, on_progress=told, session=session), TypeError),  # type: ignore[arg-type]
            (lambda told: api.install_lock("a lock", on_progress=told, session=native), errors.NotInABrowserError)):
        events: list[dict] = []
        with pytest.raises(error) as info:
            asyncio.run(call(events.append))
        assert [e["stage"] for e in events if e["stage"] != "resolving"] == ["error"], (info.value, events)
        assert events[-1]["message"] == str(info.value)
    # A listener that is not one is refused as such, before anything starts.
    with pytest.raises(TypeError, match=r"install\(\): on_progress must be a function that takes an event dict, "
                                        "not str"):
        asyncio.run(api.install("lib", on_progress="print", session=session))  # type: ignore[arg-type]


def test_one_constraint_may_be_given_as_a_string(tmp_path: Path) -> None:
    index = FakeIndex({"lib": {"1.0": real("lib", "1.0"), "2.0": real("lib", "2.0")}})
    report = asyncio.run(api.install("lib", [BASE], constraints="lib==1.0", session=uncached_session(tmp_path, index),
                                     quiet=True))
    assert report.installed == (("lib", "1.0"),)


def test_uninstall_off_a_browser_needs_a_scheme_and_names(session: api.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    # Natively the default scheme is this interpreter's own site-packages: never its target.
    with pytest.raises(errors.UninstallError, match="Could not uninstall pytest: this interpreter runs on .* here it "
                                                    r"would remove this interpreter's own; give Session\(scheme=...\)"):
        api.uninstall("pytest")
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    with pytest.raises(errors.UninstallError, match="an empty one was given; nothing was removed"):
        api.uninstall(["lib", " "], session)
    assert api.uninstall("lib", session) == ["lib"]


def test_a_lock_is_read_from_a_path_and_said_when_empty_or_not_utf8(session: api.Session, tmp_path: Path) -> None:
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    lock = api.freeze(session)
    api.uninstall("lib", session)
    path = tmp_path / "pylock.toml"
    path.write_text("\ufeff" + lock, encoding="utf-8")  # a byte-order mark, as some editors write
    assert asyncio.run(api.install_lock(path, session=session, quiet=True)).installed == (("lib", "1.0"),)
    with pytest.raises(errors.LockError, match="it is empty: give the lock's URL"):
        asyncio.run(api.install_lock(" ", session=session, quiet=True))
    path.write_text(lock, encoding="utf-16")
    with pytest.raises(errors.LockError, match=f"Cannot use the lock file {path}: it is UTF-16 text"):
        asyncio.run(api.install_lock(path, session=session, quiet=True))
    with pytest.raises(errors.LockError, match="cannot read it"):
        asyncio.run(api.install_lock(tmp_path / "none.toml", session=session, quiet=True))
    path.write_text('lock-version = "1.0"\nrequires-python = ">=4"\n')
    with pytest.raises(errors.LockError, match=f"Cannot use the lock file {path}: it requires Python >=4"):
        asyncio.run(api.install_lock(path, session=session, quiet=True))


def test_files_overwritten_are_told_only_once_the_install_stands(session: api.Session) -> None:
    # The load of beta's library fails: the rollback gives alpha its file back, and nothing
    # says it was overwritten.
    from pyemscripten.seams import LibraryToLoad
    from tests.unit.test_dylink import module

    class Failing(NoLibraryLoader):
        async def load(self, libraries: list[LibraryToLoad], on_loaded=None) -> None:  # type: ignore[no-untyped-def]
            raise errors.LibraryLoadError(libraries[0].path, "refused", libraries[0].project)

    session.transport.add_project("alpha", {"1.0": {"body": bytes(make_wheel("alpha", "1.0", {"shared/x.py": b"A = 1\n"}))}})
    session.transport.add_project("beta", {"1.0": {"body": bytes(make_wheel("beta", "1.0", {
        "shared/x.py": b"B = 1\n", "beta/_x.so": module()}, tag="cp314-cp314-pyemscripten_2026_0_wasm32"))}})
    asyncio.run(api.install("alpha", [BASE], session=session, quiet=True))
    session.loader = Failing()
    events: list[dict] = []
    with pytest.raises(errors.LibraryLoadError):
        asyncio.run(api.install("beta", [BASE], session=session, quiet=True, on_progress=events.append))
    assert [e for e in events if e["stage"] == "warning"] == []
    assert (Path(session.scheme.purelib) / "shared" / "x.py").read_bytes() == b"A = 1\n"


def test_an_install_natively_without_the_browsers_seams_says_what_to_do() -> None:
    # The seams a browser's Pyodide fills (its fetch, its runtime's distribution) are not
    # here: said as such, not as a ModuleNotFoundError of pyodide.
    with pytest.raises(errors.NotInABrowserError) as info:
        asyncio.run(api.install("six", dry_run=True, session=api.Session(target=TARGET)))
    assert info.value.seam == "transport" and isinstance(info.value, errors.PyemscriptenError)
    assert str(info.value).endswith("to resolve for one from here, lock: `python -m pyemscripten lock REQUIREMENT "
                                    "--platform TAG`")
    # Given a transport, a native session runs without a runtime's distribution.
    given = api.Session(target=TARGET, transport=FakeIndex({}), use_cache=False).resolved(interpreter=False)
    assert given.distribution_url == ""


def test_listing_freezing_and_uninstalling_natively_need_the_site_packages_named(session: api.Session) -> None:
    # Off Pyodide, the default site-packages is this interpreter's own (pytest, pip): the three
    # refuse it alike, saying what to give, instead of listing the host's packages.
    for call, error in ((lambda s: api.list_installed(s), errors.NoSitePackagesError),
                        (lambda s: api.freeze(s), errors.NoSitePackagesError),
                        (lambda s: api.uninstall("pytest", s), errors.UninstallError)):
        for given in (None, api.Session(target=TARGET)):
            with pytest.raises(error) as info:
                call(given)
            assert "Session(scheme=..." in str(info.value) and "not emscripten" in str(info.value)
    # freeze() with neither says both at once (it said scheme, then, once given, target).
    with pytest.raises(errors.NoSitePackagesError, match=r"give Session\(scheme=..., target=...\)"):
        api.freeze()
    # freeze() also needs the runtime the lock is for; given both, each reads that folder.
    with pytest.raises(errors.NoSitePackagesError, match=r"give Session\(scheme=..., target=...\)"):
        api.freeze(api.Session(scheme=session.scheme))
    assert api.list_installed(api.Session(scheme=session.scheme)) == {}
    assert "packages = []" in api.freeze(session) and api.list_installed(session) == {}


def _runtime_without_a_page(monkeypatch: pytest.MonkeyPatch, lock_url: str | None,
                            index_url: str = "/srv/app/node_modules/pyodide/") -> types.ModuleType:
    """Pyodide as Node runs it: ``js`` (its globalThis) with no ``location`` and no
    ``caches``, and a runtime config naming its files by path. Returns the ``js`` module."""
    config = types.SimpleNamespace(lockFileURL=lock_url, indexURL=index_url, packageBaseUrl=None)
    monkeypatch.setitem(sys.modules, "pyodide_js", types.SimpleNamespace(_api=types.SimpleNamespace(config=config)))
    js = types.ModuleType("js")
    monkeypatch.setitem(sys.modules, "js", js)
    monkeypatch.setattr(sys, "platform", "emscripten")
    return js


def _session_of_the_runtime() -> api.Session:
    return api.Session(target=TARGET, transport=FakeIndex({}), hasher=Hasher(), loader=NoLibraryLoader(),
                       file_ops=installation.FileOps()).resolved(interpreter=False)


def test_a_runtime_lock_that_fetch_cannot_read_is_no_source(monkeypatch: pytest.MonkeyPatch) -> None:
    # Node's Pyodide names its pyodide-lock.json by path (or file: URL), which it reads
    # from the file system and fetch cannot: asked for, every resolution that needed it
    # failed each try with a warning ("Failed to parse URL from /srv/...").
    _runtime_without_a_page(monkeypatch, None)
    assert _session_of_the_runtime().distribution_url == ""
    _runtime_without_a_page(monkeypatch, "file:///srv/app/pyodide-lock.json")
    assert _session_of_the_runtime().distribution_url == ""
    _runtime_without_a_page(monkeypatch, "C:\\app\\pyodide-lock.json")
    assert _session_of_the_runtime().distribution_url == ""
    # An http(s) URL is fetched wherever it runs; in a page, a path is relative to it.
    _runtime_without_a_page(monkeypatch, None, "http://127.0.0.1:8000/pyodide/")
    assert _session_of_the_runtime().distribution_url == "http://127.0.0.1:8000/pyodide/pyodide-lock.json"
    js = _runtime_without_a_page(monkeypatch, "/dist/pyodide-lock.json")
    js.location = types.SimpleNamespace(href="https://app.example/")  # type: ignore[attr-defined]
    assert _session_of_the_runtime().distribution_url == "/dist/pyodide-lock.json"


def test_no_default_cache_where_there_is_no_cache_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    # Node (and a page outside a secure context) has no Cache Storage: a default cache there
    # held every wheel's body until its write failed, after each install.
    from pyemscripten.browser import CacheStorageWheelCache

    js = _runtime_without_a_page(monkeypatch, None)
    assert _session_of_the_runtime().cache is None
    js.caches = object()  # type: ignore[attr-defined]
    assert isinstance(_session_of_the_runtime().cache, CacheStorageWheelCache)
